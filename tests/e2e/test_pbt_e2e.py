"""Population Based Training end to end: a real local Ray, Ray's PBT, the tiny model and the
real HF Trainer; trials copy each other's checkpoints and the refit replays the winner."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import driver_env, start_search, tiny_config

from hpo_ray.config.loading import dump_config
from hpo_ray.layout import BASELINE_METRICS, SEARCH_ARTIFACTS, SEARCH_MODEL, TRIAL_LOG, trial_dir
from hpo_ray.results.trials import SearchResults
from hpo_ray.train.schedule import values_at
from hpo_ray.workflows.search import run_search

pytestmark = pytest.mark.e2e

EPOCHS = 4


def pbt_config(tmp, csv, model, scheduler="pbt", **run):
    # A constant learning rate, so every logged rate is the value its epoch trained with; the
    # loss as the metric, so trials do not tie at F1 1.0 on the easy corpus.
    return tiny_config(
        tmp,
        csv,
        model,
        training={
            "num_train_epochs": EPOCHS,
            "early_stopping_patience": 0,
            "learning_rate": 1e-3,
            "lr_scheduler_type": "constant",
            "warmup_ratio": 0.0,
        },
        data={"test_size": 0.2},
        search={
            "metric": "loss",
            "scheduler": scheduler,
            "num_samples": 4,
            "pbt": {"interval": 1, "quantile_fraction": 0.5},
            "space": {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True}},
        },
        run={"refit": "retrain", **run},
    )


@pytest.fixture(scope="module")
def pbt_run(tmp_path_factory, corpus_csv, tiny_model, ray_local):
    cfg = pbt_config(tmp_path_factory.mktemp("pbt"), corpus_csv, tiny_model)
    run_search(cfg)
    return cfg, SearchResults.load(cfg.experiment_dir)


def last_segment_start(lineage: str) -> float:
    return float(lineage.split()[-1].rsplit("@", 1)[1])


def test_trials_copy_each_other_and_every_result_is_kept(pbt_run):
    cfg, results = pbt_run
    frame = results.frame.set_index("trial_id")
    assert len(frame) == 4 and (frame["status"] == "completed").all()
    assert frame["copies"].sum() >= 1, "no trial copied another's checkpoint"
    base = frame[frame["baseline"]]
    assert len(base) == 1 and base["copies"].iloc[0] == 0  # the defaults are never replaced
    for trial_id, hist in results.history.items():
        assert hist["epoch"].iloc[-1] == EPOCHS
        # A restarted trial's earlier results survive (Tune's logger put back an older copy).
        assert hist["epoch"].iloc[0] == 1.0, trial_id
        if frame.loc[trial_id, "copies"] == 0:
            assert list(hist["epoch"]) == [1.0, 2.0, 3.0, 4.0], trial_id


def test_a_trial_trains_on_from_a_copy_with_its_new_values(pbt_run):
    cfg, results = pbt_run
    copied = results.frame[results.frame["copies"] > 0]
    for _, row in copied.iterrows():
        start = last_segment_start(row["lineage"])
        log = json.loads((trial_dir(cfg.experiment_dir, row["trial_id"]) / TRIAL_LOG).read_text())
        after = [
            e["learning_rate"] for e in log if "learning_rate" in e and e["epoch"] > start + 1e-9
        ]
        assert after, row["trial_id"]
        assert after == pytest.approx([row["learning_rate"]] * len(after), rel=1e-6)


def test_the_refit_replays_the_winners_schedule_and_keeps_the_searchs_model(pbt_run):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    cfg, results = pbt_run
    best = results.best_row()
    kept = json.loads(
        (
            trial_dir(cfg.experiment_dir, best["trial_id"]) / "best_model" / "best_model.json"
        ).read_text()
    )
    schedule = kept["schedule"]
    assert schedule[-1]["trial_id"] == best["trial_id"] or len(schedule) == 1
    model = cfg.trained_path
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["made_by"].startswith(f"replayed trial {best['trial_id']}'s schedule")
    log = json.loads((model / "training_log.json").read_text())
    rates = [(e["epoch"], e["learning_rate"]) for e in log if "learning_rate" in e]
    assert rates and max(epoch for epoch, _ in rates) <= math.ceil(kept["epoch"]) + 1e-9
    for epoch, rate in rates:  # each step trained with the value its epoch had in the search
        expected = values_at(schedule, max(0, math.ceil(epoch - 1e-9) - 1))["learning_rate"]
        assert rate == pytest.approx(expected, rel=1e-6), (epoch, rate, schedule)
    # The replay comes back to the search's own weights (CPU, same seed, same data order).
    own = metrics["search_model"]
    assert metrics["validation"]["eval_loss"] == pytest.approx(
        own["validation"]["eval_loss"], abs=1e-4
    )
    assert metrics["test"]["test_loss"] == pytest.approx(own["test"]["test_loss"], abs=1e-4)
    # The baseline is never copied into: its replay is its own training, scored once.
    base = json.loads((model / BASELINE_METRICS).read_text())["training"]
    assert "test" in base and "search_model" not in base
    for folder in (model, model / SEARCH_MODEL):
        loaded = AutoModelForSequenceClassification.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        logits = loaded(**tokenizer(["a great film"], return_tensors="pt")).logits
        assert logits.shape == (1, 2)


def test_the_report_shows_the_population_and_the_replay(pbt_run):
    cfg, results = pbt_run
    out = cfg.experiment_dir / SEARCH_ARTIFACTS
    summary = (out / "summary.txt").read_text()
    assert "searcher: random" in summary and "scheduler: pbt" in summary
    copies = int(results.frame["copies"].sum())
    assert f"population: {copies} copies between trials" in summary
    assert "replay against the search's own model (search_model/), loss: validation" in summary
    assert (out / "population.png").stat().st_size > 0
    assert (out / "winner_schedule.png").stat().st_size > 0
    assert {"copies", "lineage", "schedule"} <= set(results.frame.columns)
    assert results.frame["schedule"].str.startswith("@0 learning_rate=").all()


def test_a_killed_population_search_resumes(tmp_path, corpus_csv, tiny_model, ray_local):
    cfg = pbt_config(tmp_path, corpus_csv, tiny_model, name="pbt_killed", verbose=0)
    path = tmp_path / "pbt.yaml"
    dump_config(cfg, path)
    exp = cfg.experiment_dir
    driver = start_search(path)

    def copies_made() -> int:
        log = exp / "pbt_global.txt"
        return len(log.read_text().splitlines()) if log.is_file() else 0

    deadline = time.time() + 300
    # Killed after the second copy: the trials are past the first generation boundary, which a
    # fresh scheduler would wait for forever (they must go on from where they were).
    while copies_made() < 2 and driver.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    assert driver.poll() is None, "the search ended before it could be killed"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    time.sleep(3)
    with contextlib.suppress(ProcessLookupError):  # Ray's processes follow their driver down
        os.killpg(driver.pid, signal.SIGKILL)
    assert not cfg.trained_path.exists()

    # In a process of its own with a time limit: a resume that waits forever fails the test.
    try:
        resumed = subprocess.run(
            [sys.executable, "-m", "hpo_ray.cli", "resume", str(exp)],
            env=driver_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired as hung:
        tail = (hung.stderr or b"")[-4000:]
        pytest.fail(f"the resume ran past 600 s; its last words:\n{tail.decode(errors='replace')}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    frame = SearchResults.load(exp).frame
    assert len(frame) == 4 and (frame["status"] == "completed").all()
    assert (frame["epochs_run"] == EPOCHS).all()
    metrics = json.loads((cfg.trained_path / "metrics.json").read_text())
    assert metrics["made_by"].startswith("replayed trial")


def test_pb2_picks_values_inside_the_ranges_and_saves_the_model(
    tmp_path, corpus_csv, tiny_model, ray_local
):
    cfg = pbt_config(tmp_path, corpus_csv, tiny_model, scheduler="pb2", name="pb2", refit="keep")
    run_search(cfg)
    frame = SearchResults.load(cfg.experiment_dir).frame
    assert len(frame) == 4 and (frame["status"] == "completed").all()
    assert frame["copies"].sum() >= 1, "no trial copied another's checkpoint"
    low, high = 1e-5, 1e-2  # PB2's Gaussian-process bandit picks inside the space's bounds
    assert frame["learning_rate"].between(low, high).all()
    summary = (cfg.experiment_dir / SEARCH_ARTIFACTS / "summary.txt").read_text()
    assert "scheduler: pb2" in summary
    metrics = json.loads((cfg.trained_path / "metrics.json").read_text())
    assert metrics["made_by"].startswith("kept: trial")
