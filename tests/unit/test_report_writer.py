"""The report writer's parts that need no Tune folder: the atomic CSV, the sections that are
left out when there is nothing to say, and the SQLite study mirror brought up to date."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pandas as pd
import pytest

from hpo_ray.config.loading import from_dict
from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.layout import STUDY_FILE
from hpo_ray.report.writer import (
    atomic_csv,
    sync_study,
    write_comparison,
    write_reseed_report,
)
from hpo_ray.results.trials import SearchResults

LR_SPACE = {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True}}

State = optuna.trial.TrialState


def config(tmp_path: Path, **search: object) -> ExperimentConfig:
    return from_dict(
        {"search": {"space": LR_SPACE, **search}, "run": {"name": "w", "storage": str(tmp_path)}}
    )


def test_atomic_csv_round_trips_and_leaves_no_temp_file(tmp_path):
    frame = pd.DataFrame(
        {"trial": [0, 1, 2], "trial_id": ["a", "b", "c"], "objective": [0.5, math.nan, 0.75]}
    )
    path = tmp_path / "trials.csv"
    path.write_text("old,content\n1,2\n")
    atomic_csv(frame, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trials.csv"]
    back = pd.read_csv(path)
    pd.testing.assert_frame_equal(back, frame)
    atomic_csv(frame.iloc[:1], path)  # replaced whole, not appended
    assert len(pd.read_csv(path)) == 1
    assert not list(tmp_path.glob("*.tmp"))


def finished_frame(space_cols: dict[str, list[object]]) -> pd.DataFrame:
    n = len(next(iter(space_cols.values())))
    return pd.DataFrame(
        {
            "trial": list(range(n)),
            "trial_id": [f"t{i}" for i in range(n)],
            **space_cols,
            "objective": [0.6 + 0.01 * i for i in range(n)],
            "eval_f1": [0.6 + 0.01 * i for i in range(n)],
            "eval_accuracy": [0.65] * n,
            "status": ["completed"] * n,
        }
    )


def test_write_comparison_is_empty_without_compared_axes(tmp_path):
    cfg = config(tmp_path)
    results = SearchResults(
        cfg, finished_frame({"learning_rate": [1e-4, 2e-4]}), history={}, overrides={}
    )
    out = tmp_path / "out"
    out.mkdir()
    assert write_comparison(results, out) == ""
    assert list(out.iterdir()) == []


def test_write_comparison_is_empty_without_a_finished_trial(tmp_path):
    space = {"finetune": {"type": "categorical", "values": ["full", "lora"]}}
    cfg = config(tmp_path, searcher="grid", space=space)
    frame = finished_frame({"finetune": ["full", "lora"]})
    frame["objective"] = math.nan
    results = SearchResults(cfg, frame, history={}, overrides={})
    out = tmp_path / "out"
    out.mkdir()
    assert write_comparison(results, out) == ""
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("top_k", [0, 2])
def test_write_reseed_report_is_empty_without_reseed_runs(tmp_path, top_k):
    cfg = config(tmp_path, reseed={"top_k": top_k})
    out = tmp_path / "out"
    out.mkdir()
    assert write_reseed_report(cfg, out) == ""
    assert list(out.iterdir()) == []


def study_results(cfg: ExperimentConfig, statuses: dict[str, str]) -> SearchResults:
    """One trial per (id, status); each finished one has an objective curve in its history."""
    curves = {
        "done": [0.5, 0.7, 0.7],
        "patience": [0.6, 0.65],
        "stopped": [0.4],
        "failed": [],
        "running": [0.3],
        "pending": [],
        "no_eval": [],
        "done_no_curve": [],
    }
    lrs = {tid: 1e-5 * 10 ** (i % 3) for i, tid in enumerate(curves)}
    rows, history, overrides = [], {}, {}
    for number, (tid, status) in enumerate(statuses.items()):
        curve = curves[tid]
        rows.append(
            {
                "trial": number,
                "trial_id": tid,
                "learning_rate": lrs[tid],
                "objective": max(curve) if curve else math.nan,
                "status": status,
            }
        )
        history[tid] = (
            pd.DataFrame({"objective": curve, "epoch": [float(e + 1) for e in range(len(curve))]})
            if curve
            else pd.DataFrame()
        )
        overrides[tid] = {"learning_rate": lrs[tid], "num_train_epochs": 3}
    return SearchResults(cfg, pd.DataFrame(rows), history=history, overrides=overrides)


STATUSES = {
    "done": "completed",
    "patience": "patience_stop",
    "stopped": "scheduler_stop",
    "failed": "failed",
    "running": "running",
    "pending": "pending",
    "no_eval": "not_evaluated",
    "done_no_curve": "completed",
}


def stored(db: Path, name: str = "w") -> dict[str, optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    return {t.user_attrs["ray_trial_id"]: t for t in study.trials}


def test_sync_study_stores_ended_trials_with_their_states(tmp_path):
    cfg = config(tmp_path)
    db = tmp_path / STUDY_FILE
    study = sync_study(study_results(cfg, STATUSES), db)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    trials = stored(db)
    assert {"done", "patience", "stopped", "failed", "done_no_curve"} <= set(trials)
    assert not {"running", "pending"} & set(trials)  # added once they end

    assert trials["done"].state == State.COMPLETE
    assert trials["done"].value == 0.7
    assert trials["done"].intermediate_values == {1: 0.5, 2: 0.7, 3: 0.7}
    assert trials["done"].params == {"learning_rate": 1e-5}  # only searched values
    assert trials["patience"].state == State.COMPLETE and trials["patience"].value == 0.65
    assert trials["stopped"].state == State.PRUNED
    assert trials["stopped"].value is None
    assert trials["stopped"].intermediate_values == {1: 0.4}
    assert trials["failed"].state == State.FAIL
    # completed without a single evaluation on record: nothing to rank it by
    assert trials["done_no_curve"].state == State.FAIL


def test_sync_study_is_idempotent_and_adds_trials_as_they_end(tmp_path):
    cfg = config(tmp_path)
    db = tmp_path / STUDY_FILE
    first = study_results(cfg, STATUSES)
    sync_study(first, db)
    before = stored(db)
    sync_study(first, db)
    after = stored(db)
    assert len(after) == len(before) >= 5
    assert {k: (t.number, t.state, t.value) for k, t in after.items()} == {
        k: (t.number, t.state, t.value) for k, t in before.items()
    }

    ended = study_results(cfg, {**STATUSES, "running": "scheduler_stop"})
    sync_study(ended, db)
    final = stored(db)
    assert len(final) == len(before) + 1
    assert final["running"].state == State.PRUNED
    assert final["running"].intermediate_values == {1: 0.3}


def test_sync_study_minimises_the_loss(tmp_path):
    cfg = config(tmp_path, metric="loss")
    db = tmp_path / STUDY_FILE
    study = sync_study(study_results(cfg, {"done": "completed"}), db)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert stored(db)["done"].state == State.COMPLETE
