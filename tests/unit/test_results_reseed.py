"""Seed-robust selection, read side, without any reseed run: the fresh seeds, the candidates
taken from a fixed trial table, and the answers for folders the runs never started in."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hpo_ray.config.loading import dump_config, from_dict
from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.layout import CONFIG_FILE, RESEED_DIR
from hpo_ray.results.reseed import (
    finished_reseed_runs,
    fresh_seeds,
    reseed_candidates,
    reseed_dir,
    reseed_table,
)
from hpo_ray.results.trials import SearchResults

LR_SPACE = {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True}}


def config(tmp_path: Path | None = None, **reseed: Any) -> ExperimentConfig:
    run: dict[str, Any] = {"name": "r"}
    if tmp_path is not None:
        run["storage"] = str(tmp_path)
    return from_dict(
        {
            "training": {"seed": 7},
            "search": {"space": LR_SPACE, "reseed": reseed},
            "run": run,
        }
    )


def fixed_results(cfg: ExperimentConfig) -> SearchResults:
    rows = [
        (0, "a", 0.60, 1e-4),
        (1, "b", 0.80, 2e-4),
        (2, "c", math.nan, 3e-4),  # failed: never a candidate
        (3, "d", 0.70, 4e-4),
        (4, "e", 0.80, 5e-4),  # ties with b, but later
    ]
    frame = pd.DataFrame(
        [
            {"trial": n, "trial_id": t, "objective": o, "learning_rate": lr, "status": "x"}
            for n, t, o, lr in rows
        ]
    )
    overrides = {t: {"learning_rate": lr} for _, t, _, lr in rows}
    return SearchResults(cfg, frame, history={}, overrides=overrides)


@pytest.mark.parametrize(("seeds", "expected"), [(2, [1007, 2007]), (4, [1007, 2007, 3007, 4007])])
def test_fresh_seeds_step_away_from_the_training_seed(seeds, expected):
    cfg = config(top_k=1, seeds=seeds)
    got = fresh_seeds(cfg)
    assert got == expected
    assert cfg.training.seed not in got


def test_reseed_candidates_are_the_best_trials_in_rank_order():
    res = fixed_results(config(top_k=3))
    candidates = reseed_candidates(res, 3)
    assert candidates == [
        {"rank": 1, "trial_id": "b", "params": {"learning_rate": 2e-4}, "baseline": False},
        {"rank": 2, "trial_id": "e", "params": {"learning_rate": 5e-4}, "baseline": False},
        {"rank": 3, "trial_id": "d", "params": {"learning_rate": 4e-4}, "baseline": False},
    ]


def test_the_baseline_is_reseeded_after_the_best_when_not_among_them():
    res = fixed_results(config(top_k=2))
    res.frame["baseline"] = res.frame["trial_id"] == "a"  # the weakest finished trial
    candidates = reseed_candidates(res, 2)
    assert [(c["trial_id"], c["rank"], c["baseline"]) for c in candidates] == [
        ("b", 1, False),
        ("e", 2, False),
        ("a", 3, True),
    ]
    res.frame["baseline"] = res.frame["trial_id"] == "e"  # among the best: not added twice
    assert [c["trial_id"] for c in reseed_candidates(res, 2)] == ["b", "e"]
    assert reseed_candidates(res, 2)[1]["baseline"] is True


def test_reseed_candidates_never_exceed_the_finished_trials():
    res = fixed_results(config(top_k=10))
    candidates = reseed_candidates(res, 10)
    assert [c["trial_id"] for c in candidates] == ["b", "e", "d", "a"]
    assert [c["rank"] for c in candidates] == [1, 2, 3, 4]
    assert reseed_candidates(res, 0) == []


def test_finished_reseed_runs_of_folders_without_runs(tmp_path):
    assert finished_reseed_runs(tmp_path / "missing") == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert finished_reseed_runs(empty) == 0
    configured = tmp_path / "configured"  # config written, but Tune never saved a state
    configured.mkdir()
    dump_config(config(top_k=2), configured / CONFIG_FILE)
    assert finished_reseed_runs(configured) == 0


def test_reseed_dir_is_inside_the_experiment(tmp_path):
    cfg = config(tmp_path, top_k=2)
    assert reseed_dir(cfg) == tmp_path / "r" / RESEED_DIR


def test_reseed_table_is_none_when_reseed_is_off_or_never_ran(tmp_path):
    off = config(tmp_path, top_k=0)
    assert reseed_table(off) is None
    on_but_not_run = config(tmp_path, top_k=2)
    assert reseed_table(on_but_not_run) is None
    reseed_dir(on_but_not_run).mkdir(parents=True)
    assert reseed_table(on_but_not_run) is None
