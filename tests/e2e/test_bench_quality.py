"""Smoke test of scripts/bench_quality.py: every method once, tiny model, tiny budget."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from hpo_ray.layout import CONFIG_FILE, MODEL_METRICS

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_quality.py"
BUDGET, EPOCHS, CONCURRENT = 4, 2, 2
METHODS = ["default", "ofat", "auto_soup", "pbt"]
"""One of each code path of the script: refit only, the OFAT sweep, a budgeted search (hpo_ray's
default with a soup refit; auto, random, tpe, tpe_asha and tpe_median differ from it only in
searcher, scheduler, sampler, baseline and refit settings), a population (its own config and a
replay). Each Tune run
costs ~20 s of worker start-up and imports, so the test keeps to these."""


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_quality", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench(
    tmp_path_factory: pytest.TempPathFactory, corpus_csv: Path, tiny_model: Path, ray_local: Any
) -> tuple[ModuleType, Path, Path, float]:
    tmp = tmp_path_factory.mktemp("quality")
    module = load_script()
    started = time.perf_counter()
    module.main(
        [
            "--out",
            str(tmp / "out"),
            "--work",
            str(tmp / "work"),
            "--seeds",
            "7",
            "--methods",
            *METHODS,
            "--budget",
            str(BUDGET),
            "--epochs",
            str(EPOCHS),
            "--concurrent",
            str(CONCURRENT),
            "--max-rows",
            "200",
            "--val-rows",
            "50",
            "--test-rows",
            "50",
            "--max-length",
            "32",
            "--batch",
            "8",
            "--base-lr",
            "1e-3",
            "--model",
            str(tiny_model),
            "--data",
            str(corpus_csv),
        ]
    )
    return module, tmp / "out", tmp / "work", time.perf_counter() - started


def test_one_row_per_method_and_seed(bench: tuple[ModuleType, Path, Path, float]) -> None:
    _, out, _, _ = bench
    rows = pd.read_csv(out / "quality.csv")
    assert sorted(zip(rows["method"], rows["seed"], strict=True)) == sorted((m, 7) for m in METHODS)
    for col in ("best_val_f1", "refit_val_f1", "refit_test_f1"):
        assert rows[col].between(0.0, 1.0).all(), col
    assert (rows["wall_s"] > 0).all()


def test_searches_spend_the_budget_and_no_more(bench: tuple[ModuleType, Path, Path, float]) -> None:
    _, out, _, _ = bench
    rows = {r["method"]: r for r in pd.read_csv(out / "quality.csv").to_dict("records")}
    for method in [m for m in METHODS if m not in ("default", "ofat")]:
        spent = rows[method]["compute_epochs"]
        # The budget, not num_samples, ends the search. Tune checks it after every report, so
        # at most one more epoch, reported by another running trial, can land on top.
        assert BUDGET <= spent <= BUDGET + (CONCURRENT - 1), (method, spent)
        assert rows[method]["trials"] >= BUDGET / EPOCHS
    assert rows["default"]["compute_epochs"] == EPOCHS
    assert rows["default"]["trials"] == 1
    # OFAT: the base plus budget / epochs - 1 variants, each trained to its end.
    assert rows["ofat"]["compute_epochs"] == BUDGET
    assert rows["ofat"]["trials"] == BUDGET // EPOCHS


def test_refits_hold_test_scores_and_outputs_stay_in_work(
    bench: tuple[ModuleType, Path, Path, float],
) -> None:
    _, out, work, _ = bench
    rows = pd.read_csv(out / "quality.csv")
    for row in rows.to_dict("records"):
        metrics = json.loads((Path(row["trained_dir"]) / MODEL_METRICS).read_text())
        if row["method"] == "pbt":  # the search's own model; the replay is reported beside it
            assert metrics["test"]["test_f1"] == pytest.approx(row["replay_test_f1"])
            metrics = metrics["search_model"]
        assert metrics["test"]["test_f1"] == pytest.approx(row["refit_test_f1"])
        assert Path(row["trained_dir"]).is_relative_to(work)
    assert (work / "ray_results" / "auto_soup-s7" / CONFIG_FILE).is_file()


def test_summary_json_and_plot(bench: tuple[ModuleType, Path, Path, float]) -> None:
    _, out, _, _ = bench
    summary = pd.read_csv(out / "quality_summary.csv")
    assert list(summary["method"]) == METHODS
    for name in ("best_val_f1", "refit_test_f1", "compute_epochs", "wall_s"):
        assert {f"{name}_mean", f"{name}_sd"} <= set(summary.columns)
    assert (summary["seeds"] == 1).all()
    report = json.loads((out / "quality.json").read_text())
    assert len(report["runs"]) == len(METHODS)
    soup = next(r for r in report["runs"] if r["method"] == "auto_soup")
    assert set(soup["models"]) == {"soup", "best_single", "uniform", "training", "trainer"}
    assert soup["models"]["soup"]["test_f1"] == pytest.approx(soup["refit_test_f1"])
    assert all(0.0 <= m["test_f1"] <= 1.0 for m in soup["models"].values())
    for run in report["runs"]:
        curve = run["curve"]
        assert curve, run["method"]
        spent = [p[0] for p in curve]
        best = [p[1] for p in curve]
        assert spent == sorted(spent) and best == sorted(best)  # cumulative, running best
        assert spent[-1] == pytest.approx(run["compute_epochs"])
        assert best[-1] == pytest.approx(run["best_val_f1"])
    assert (out / "quality_vs_compute.png").stat().st_size > 5_000


def test_curve_orders_reports_by_time() -> None:
    module = load_script()
    history = {
        "a": pd.DataFrame({"epoch": [1.0, 2.0], "eval_f1": [0.5, 0.9], "timestamp": [10, 30]}),
        "b": pd.DataFrame({"epoch": [1.0, 2.0], "eval_f1": [0.7, 0.6], "timestamp": [20, 40]}),
        "c": pd.DataFrame(),  # never reported
    }
    assert module.best_so_far_curve(history, ["a", "b", "c"]) == [
        [1.0, 0.5],
        [2.0, 0.7],
        [3.0, 0.9],
        [4.0, 0.9],
    ]


def test_ofat_grid_fills_the_budget() -> None:
    from hpo_ray.config.loading import from_dict

    module = load_script()
    base = from_dict({"training": {"learning_rate": 1e-4}}).base_params()
    grid = module.ofat_grid(base, budget=8, epochs=2)
    variants = [(p, v) for p, values in grid.items() for v in values if v != base[p]]
    assert len(variants) == 3  # 4 trainings of 2 epochs: the base and 3 variants
    assert all(values[0] == base[p] for p, values in grid.items())
    assert ("learning_rate", 1e-4) not in variants
