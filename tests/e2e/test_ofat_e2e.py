"""An OFAT sweep end to end: real Ray, tiny random-init BERT, real HF Trainer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from fault_callbacks import FailOn
from helpers import tiny_config
from PIL import Image

from hpo_ray.cli import main
from hpo_ray.config.loading import dump_config
from hpo_ray.layout import CONFIG_FILE, GRID_FILE
from hpo_ray.layout import OFAT_ARTIFACTS as ARTIFACTS
from hpo_ray.report.writer import write_report
from hpo_ray.workflows.search import run_ofat

pytestmark = pytest.mark.e2e

GRID = {"learning_rate": [3e-4, 1e-3, 3e-3], "lr_scheduler_type": ["linear", "cosine"]}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, corpus_csv, tiny_model, ray_local):
    tmp = tmp_path_factory.mktemp("ofat")
    cfg = tiny_config(
        tmp,
        corpus_csv,
        tiny_model,
        training={"learning_rate": 1e-3, "num_train_epochs": 2, "lr_scheduler_type": "linear"},
        ofat={"grid": GRID},
        run={"name": "sweep", "refit": False},
    )
    # 5 (param, value) pairs; lr 1e-3 and linear are the base: 4 trainings. 3e-4 is made to fail.
    outcome = run_ofat(cfg, trainer_callbacks=[FailOn(learning_rate=3e-4)])
    return cfg, outcome


def test_table_has_a_row_per_grid_value_in_order(sweep):
    cfg, outcome = sweep
    table = pd.read_csv(outcome.artifacts_dir / "ofat_results.csv")
    for col in ("param", "value", "accuracy", "f1", "macro_f1", "loss", "time_min", "status"):
        assert col in table.columns
    assert list(zip(table["param"], table["value"], strict=True)) == [
        ("learning_rate", "0.0003"),
        ("learning_rate", "0.001"),
        ("learning_rate", "0.003"),
        ("lr_scheduler_type", "linear"),
        ("lr_scheduler_type", "cosine"),
    ]
    # Four trainings in all: the base stands for lr 1e-3 and linear, and the table says so.
    assert table["trial_id"].dropna().nunique() == 4
    base = table[table["shared_base"]]
    assert list(base["value"]) == ["0.001", "linear"] and base["trial_id"].nunique() == 1
    assert (base["variant"] == "base").all()
    # trials are numbered from 0 in creation order, the base first (a grid's Tune tags start
    # at 0 where a searcher's start at 1)
    assert (base["trial"] == 0).all()
    assert sorted(table.drop_duplicates("variant")["trial"]) == [0, 1, 2, 3]
    failed = table[table["value"] == "0.0003"].iloc[0]
    assert failed["status"] == "failed" and "injected failure" in failed["error"]
    ok = table[table["status"] != "failed"]
    assert ok["f1"].between(0, 1).all() and (ok["time_min"] > 0).all()
    assert ok["f1"].max() > 0.8


def test_no_scheduler_cut_the_grid(sweep):
    _, outcome = sweep
    table = pd.read_csv(outcome.artifacts_dir / "ofat_results.csv")
    ran = table[table["status"] != "failed"]
    assert set(ran["status"]) <= {"completed", "patience_stop"}


def test_plots_are_grayscale(sweep):
    _, outcome = sweep
    out = outcome.artifacts_dir
    names = [
        "learning_rate_metrics_bw.png",
        "lr_scheduler_type_metrics_bw.png",
        "ofat_overview.png",
    ]
    for name in names:
        pixels = np.asarray(Image.open(out / name).convert("RGB")).astype(int)
        assert pixels.shape[0] > 100, name
        assert (pixels[..., 0] == pixels[..., 1]).all() and (
            pixels[..., 1] == pixels[..., 2]
        ).all(), name
        assert pixels.min() < 64, f"{name} has no dark ink"


def test_summary_ranks_sensitivity(sweep):
    _, outcome = sweep
    summary = (outcome.artifacts_dir / "summary.txt").read_text()
    assert "4 distinct trainings" in summary
    assert "sensitivity" in summary and "learning_rate:" in summary
    assert "failed 1" in summary
    best = yaml.safe_load((outcome.artifacts_dir / "best_params.yaml").read_text())
    assert best["learning_rate"] in (1e-3, 3e-3)


def test_cli_report_regenerates_and_marks_unrun_values(sweep, capsys):
    cfg, outcome = sweep
    before = pd.read_csv(outcome.artifacts_dir / "ofat_results.csv")
    (outcome.artifacts_dir / "ofat_results.csv").unlink()
    assert main(["report", str(outcome.experiment_dir)]) == 0
    again = pd.read_csv(outcome.experiment_dir / ARTIFACTS / "ofat_results.csv")
    pd.testing.assert_frame_equal(before, again)
    assert "one factor at a time" in capsys.readouterr().out
    # A grid value the sweep never reached (as after an interruption) is a row marked not_run;
    # everything that did finish is still reported.
    cfg.ofat.grid["learning_rate"].append(1e-2)
    dump_config(cfg, outcome.experiment_dir / CONFIG_FILE)
    write_report(outcome.experiment_dir)  # an OFAT folder: the OFAT report
    table = pd.read_csv(outcome.artifacts_dir / "ofat_results.csv")
    assert len(table) == 6
    assert table.iloc[3]["status"] == "not_run" and table.iloc[3]["value"] == "0.01"
    assert (
        table.drop(index=3).reset_index(drop=True)["f1"].fillna(-1) == before["f1"].fillna(-1)
    ).all()


def test_cli_ofat_refuses_to_overwrite_and_rejects_a_bad_grid(sweep, tmp_path, capsys):
    cfg, outcome = sweep
    path = tmp_path / "sweep.yaml"
    dump_config(cfg, path)
    assert main(["ofat", str(path)]) == 2
    assert "already holds results" in capsys.readouterr().err
    assert (outcome.experiment_dir / GRID_FILE).is_file()
    assert main(["ofat", str(path), "run.name=other", "ofat.grid.warmup_ratio=[0.5,2]"]) == 2
    assert "ofat.grid.warmup_ratio=2.0 must be in [0, 1)" in capsys.readouterr().err
    assert not (tmp_path / "ray_results" / "other").exists()


def test_the_sweep_has_its_report_page(sweep):
    _, outcome = sweep
    page = (outcome.experiment_dir / "report.html").read_text()
    assert "one factor at a time" in page and "ofat_overview" in page
    table = pd.read_csv(outcome.artifacts_dir / "ofat_results.csv")
    for param in table["param"].unique():
        assert f"{param}_metrics_bw" in page  # every sensitivity panel inlined
    assert page.count("<tr class=") >= len(table)  # a row per (parameter, value)
    assert "cost: " in (outcome.artifacts_dir / "summary.txt").read_text()
