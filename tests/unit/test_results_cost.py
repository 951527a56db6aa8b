"""What a search cost, from a fixed trial table and its reports (no Ray)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from hpo_ray.config.loading import from_dict
from hpo_ray.results.cost import search_cost, wall_seconds
from hpo_ray.results.trials import SearchResults


def results(tmp_path, **search) -> SearchResults:
    cfg = from_dict(
        {
            "training": {"num_train_epochs": 3},
            "search": {"num_samples": 4, **search},
            "resources": {"cpu": 2, "gpu": 0.5},
            "run": {
                "name": "c",
                "storage": str(tmp_path / "rr"),
                "trained_dir": str(tmp_path / "t"),
            },
        }
    )
    frame = pd.DataFrame(
        {
            "trial": [0, 1, 2],
            "trial_id": ["a", "b", "c"],
            "objective": [0.7, 0.6, math.nan],
            "status": ["completed", "scheduler_stop", "failed"],
            "time_s": [120.0, 60.0, 30.0],
            "epochs_run": [3.0, 1.0, math.nan],
        }
    )
    history = {
        # reports: unix time and Tune's time so far; a starts at 1000, b at 1010
        "a": pd.DataFrame({"timestamp": [1040, 1080, 1120], "time_total_s": [40.0, 80.0, 120.0]}),
        "b": pd.DataFrame({"timestamp": [1070], "time_total_s": [60.0]}),
        "c": pd.DataFrame(),
    }
    return SearchResults(cfg, frame, history=history, overrides={})


def test_the_cost_of_a_small_search(tmp_path):
    res = results(tmp_path)
    (tmp_path / "rr" / "c").mkdir(parents=True)
    (tmp_path / "rr" / "c" / "x.bin").write_bytes(b"0" * 2_000_000)
    cost = search_cost(res)
    assert cost.trials == 3 and cost.wall_s == 120.0  # 1000 .. 1120
    assert cost.trial_s == 210.0
    assert cost.cpu_minutes == pytest.approx(210 * 2 / 60)
    assert cost.gpu_minutes == pytest.approx(210 * 0.5 / 60)
    assert cost.trials_per_hour == pytest.approx(3 / (120 / 3600))
    assert cost.epochs_trained == 4.0 and cost.epochs_planned == 12.0  # 4 trials x 3 epochs
    assert cost.lost_cut_s == 60.0 and cost.lost_failed_s == 30.0
    assert cost.experiment_bytes == 2_000_000 and cost.model_bytes == 0
    lines = cost.lines()
    assert lines[0] == "cost: 2.0 min wall, 7.0 CPU-min, 1.8 GPU-min, 90 trials/hour"
    assert "epochs trained: 4 of 12 planned" in lines[1]
    assert "experiment 2.0 MB, model 0.0 MB" in lines[2]


def test_an_epoch_budget_is_the_plan(tmp_path):
    assert search_cost(results(tmp_path, epoch_budget=9)).epochs_planned == 9.0


def test_no_reports_no_wall_time():
    assert math.isnan(wall_seconds({"a": pd.DataFrame()}))
