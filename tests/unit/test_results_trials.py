"""The trial table read side, on hand-made tables: how a trial's Tune status and last result
become its status, and how finished trials are ranked and turned into training values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hpo_ray.config.loading import from_dict
from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.errors import ExperimentError
from hpo_ray.results.trials import SearchResults, trial_status

LR_SPACE = {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True}}


def config(**search: Any) -> ExperimentConfig:
    return from_dict({"search": {"space": LR_SPACE, **search}, "run": {"name": "t"}})


def results(cfg: ExperimentConfig, rows: list[tuple[int, str, float, str, float]]) -> SearchResults:
    """Rows of (trial, trial_id, objective, status, learning_rate); f1 = accuracy = objective."""
    frame = pd.DataFrame(
        [
            {
                "trial": trial,
                "trial_id": trial_id,
                "learning_rate": lr,
                "objective": objective,
                "eval_f1": objective,
                "eval_accuracy": objective,
                "status": status,
            }
            for trial, trial_id, objective, status, lr in rows
        ]
    )
    overrides = {row[1]: {"learning_rate": row[4]} for row in rows}
    return SearchResults(cfg, frame, history={}, overrides=overrides)


@pytest.mark.parametrize(
    ("tune_status", "last", "expected"),
    [
        ("ERROR", {}, "failed"),
        ("ERROR", {"train_done": True}, "failed"),  # an error wins over a finished training
        ("TERMINATED", {"train_done": True, "_planned_more": False}, "completed"),
        ("TERMINATED", {"train_done": True}, "completed"),
        ("TERMINATED", {"train_done": True, "_planned_more": True}, "patience_stop"),
        ("TERMINATED", {"train_done": False, "objective": 0.5}, "scheduler_stop"),
        ("TERMINATED", {"objective": 0.5}, "scheduler_stop"),
        ("TERMINATED", {}, "not_evaluated"),
        ("RUNNING", {"objective": 0.5}, "running"),
        ("RUNNING", {}, "running"),
        ("PENDING", {}, "pending"),
        ("PAUSED", {"objective": 0.5}, "paused"),
    ],
)
def test_trial_status(tune_status, last, expected):
    assert trial_status(tune_status, last) == expected


def test_finished_leaves_out_trials_without_an_objective():
    res = results(
        config(),
        [
            (0, "a", 0.6, "completed", 1e-4),
            (1, "b", math.nan, "failed", 2e-4),
            (2, "c", 0.7, "scheduler_stop", 3e-4),
            (3, "d", math.nan, "running", 4e-4),
        ],
    )
    assert list(res.finished["trial_id"]) == ["a", "c"]
    assert len(res.frame) == 4  # the frame itself is left whole


def test_ranked_maximises_and_breaks_ties_by_the_earlier_trial():
    # Rows out of trial order, so a tie broken by row position would come out wrong.
    res = results(
        config(),
        [
            (3, "late_tie", 0.8, "completed", 1e-4),
            (0, "low", 0.5, "completed", 2e-4),
            (1, "early_tie", 0.8, "completed", 3e-4),
            (2, "failed", math.nan, "failed", 4e-4),
            (4, "mid", 0.7, "scheduler_stop", 5e-4),
        ],
    )
    assert res.cfg.search.mode == "max"
    assert list(res.ranked()["trial_id"]) == ["early_tie", "late_tie", "mid", "low"]
    assert res.best_row()["trial_id"] == "early_tie"


def test_ranked_minimises_the_loss_and_breaks_ties_by_the_earlier_trial():
    cfg = config(metric="loss")
    assert cfg.search.mode == "min"
    res = results(
        cfg,
        [
            (0, "high", 0.9, "completed", 1e-4),
            (2, "late_tie", 0.3, "completed", 2e-4),
            (1, "early_tie", 0.3, "completed", 3e-4),
            (3, "mid", 0.5, "completed", 4e-4),
        ],
    )
    assert list(res.ranked()["trial_id"]) == ["early_tie", "late_tie", "mid", "high"]
    assert res.best_row()["objective"] == 0.3


@pytest.mark.parametrize("statuses", [[], ["failed", "running"]])
def test_best_row_without_a_finished_trial_raises(statuses):
    rows = [(i, f"t{i}", math.nan, s, 1e-4) for i, s in enumerate(statuses)]
    cfg = config()
    res = (
        results(cfg, rows)
        if rows
        else SearchResults(
            cfg,
            pd.DataFrame(columns=["trial", "trial_id", "objective", "status"]),
            history={},
            overrides={},
        )
    )
    assert res.ranked().empty
    with pytest.raises(ExperimentError, match="no trial finished"):
        res.best_row()
    with pytest.raises(ExperimentError):
        res.best_params()


def test_params_of_lays_the_overrides_over_the_base():
    cfg = from_dict(
        {
            "model": {"name": "some/encoder"},
            "training": {"learning_rate": 2e-5, "num_train_epochs": 3, "weight_decay": 0.05},
            "search": {"space": LR_SPACE},
            "run": {"name": "t"},
        }
    )
    frame = pd.DataFrame(
        [
            {"trial": 0, "trial_id": "a", "objective": 0.6, "status": "completed"},
            {"trial": 1, "trial_id": "b", "objective": 0.9, "status": "completed"},
        ]
    )
    overrides = {
        "a": {"learning_rate": 1e-4},
        # numpy scalars (as Tune hands them over) and a key that is no training value
        "b": {"learning_rate": np.float64(3e-4), "num_train_epochs": np.int64(5), "bogus": 1},
    }
    res = SearchResults(cfg, frame, history={}, overrides=overrides)
    base = cfg.base_params()

    a = res.params_of("a")
    assert a == {**base, "learning_rate": 1e-4}
    assert base["learning_rate"] == 2e-5  # the base itself is not changed

    b = res.best_params()
    assert b == res.params_of("b")
    assert b["learning_rate"] == 3e-4 and type(b["learning_rate"]) is float
    assert b["num_train_epochs"] == 5 and type(b["num_train_epochs"]) is int
    assert "bogus" not in b
    assert b["weight_decay"] == 0.05 and b["model_name"] == "some/encoder"
    assert set(b) == set(base)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ({"searcher": "optuna", "num_samples": 7}, 7),
        ({"searcher": "random", "num_samples": 5}, 5),
        (
            {
                "searcher": "grid",
                "num_samples": 99,
                "space": {
                    "learning_rate": {"type": "categorical", "values": [1e-5, 1e-4]},
                    "lr_scheduler_type": {"type": "categorical", "values": ["linear", "cosine"]},
                    "weight_decay": {"type": "categorical", "values": [0.0, 0.01, 0.1]},
                },
            },
            12,
        ),
    ],
)
def test_requested_is_the_grid_size_or_num_samples(search, expected):
    cfg = from_dict({"search": {"space": LR_SPACE, **search}, "run": {"name": "t"}})
    res = SearchResults(cfg, pd.DataFrame(), history={}, overrides={})
    assert res.requested() == expected
