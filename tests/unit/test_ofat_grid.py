"""OFAT grid expansion and its config checks (pure, no Ray run)."""

import pytest
from ray.tune.search.variant_generator import generate_variants

from hpo_ray.config.loading import from_dict, load_config
from hpo_ray.config.trials import BASE, ofat_rows, ofat_variants, trial_overrides
from hpo_ray.errors import ConfigError
from hpo_ray.tuning.space import ofat_param_space

BASE_TRAINING = {
    "learning_rate": 2e-5,
    "num_train_epochs": 3,
    "lr_scheduler_type": "linear",
}


def grid_config(grid, **training):
    return from_dict({"training": {**BASE_TRAINING, **training}, "ofat": {"grid": grid}})


def test_values_keep_their_types():
    # PyYAML reads 1e-5 as a string: the grid converts it to the field's type.
    cfg = grid_config(
        {
            "learning_rate": ["1e-5", 2e-5],
            "lr_scheduler_type": ["cosine", "linear"],
            "num_train_epochs": [2, "4"],
        }
    )
    grid = cfg.ofat.grid
    assert grid["learning_rate"] == [1e-5, 2e-5] and all(
        type(v) is float for v in grid["learning_rate"]
    )
    assert grid["lr_scheduler_type"] == ["cosine", "linear"]
    assert grid["num_train_epochs"] == [2, 4] and all(
        type(v) is int for v in grid["num_train_epochs"]
    )


def test_base_values_are_trained_once():
    cfg = grid_config(
        {
            "learning_rate": [1e-5, 2e-5, 5e-5],
            "num_train_epochs": [2, 3],
            "lr_scheduler_type": ["linear", "cosine"],
        }
    )
    variants = ofat_variants(cfg.base_params(), cfg.ofat.grid)
    assert variants[0] == {"param": BASE, "value": None}
    # 7 (param, value) pairs, three of them equal to the base: 4 variants + the base run.
    assert len(variants) == 5
    assert {"param": "learning_rate", "value": 2e-5} not in variants
    rows = ofat_rows(cfg.base_params(), cfg.ofat.grid)
    assert [(r["param"], r["value"]) for r in rows] == [
        ("learning_rate", 1e-5),
        ("learning_rate", 2e-5),
        ("learning_rate", 5e-5),
        ("num_train_epochs", 2),
        ("num_train_epochs", 3),
        ("lr_scheduler_type", "linear"),
        ("lr_scheduler_type", "cosine"),
    ]
    shared = [r for r in rows if r["is_base"]]
    assert [r["value"] for r in shared] == [2e-5, 3, "linear"]
    assert {r["variant"] for r in shared} == {BASE}


def test_the_classic_grid():
    cfg = load_config("configs/ofat.yaml")
    rows = ofat_rows(cfg.base_params(), cfg.ofat.grid)
    assert len(rows) == 10 + 3 + 8 + 8 + 6 + 4 + 4
    assert sum(r["is_base"] for r in rows) == 7  # the base value is on every axis
    assert len(ofat_variants(cfg.base_params(), cfg.ofat.grid)) == 43 - 7 + 1
    assert cfg.training.early_stopping_patience == 1


def test_demo_twin_is_small():
    cfg = load_config("configs/ofat_demo.yaml")
    assert len(ofat_variants(cfg.base_params(), cfg.ofat.grid)) <= 8


def test_tune_expands_one_trial_per_variant():
    cfg = grid_config({"learning_rate": [1e-5, 2e-5], "lr_scheduler_type": ["cosine"]})
    space = ofat_param_space(cfg.base_params(), cfg.ofat.grid)
    configs = [config for _, config in generate_variants(space)]
    overrides = [trial_overrides(c) for c in configs]
    assert overrides == [{}, {"learning_rate": 1e-5}, {"lr_scheduler_type": "cosine"}]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (
            {"learning_rat": [1e-5]},
            r"ofat.grid.learning_rat is not a training parameter; did you mean 'learning_rate'",
        ),
        ({"learning_rate": []}, r"ofat.grid.learning_rate must list at least one value"),
        ({"learning_rate": [1e-5, "1e-5"]}, r"ofat.grid.learning_rate lists 1e-05 twice"),
        ({"warmup_ratio": [0.1, 1.5]}, r"ofat.grid.warmup_ratio=1.5 must be in \[0, 1\)"),
        (
            {"lr_scheduler_type": ["cosine", "cosin"]},
            r"ofat.grid.lr_scheduler_type='cosin' is not known",
        ),
        ({"num_train_epochs": [2, 2.5]}, r"ofat.grid.num_train_epochs must be an integer, got 2.5"),
        ({"learning_rate": "1e-5"}, r"ofat.grid.learning_rate must be a list"),
    ],
)
def test_bad_grids_are_refused(grid, message):
    with pytest.raises(ConfigError, match=message):
        grid_config(grid)
