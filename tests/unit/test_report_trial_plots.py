"""Per-trial plots, drawn by the report from the numbers a trial wrote into its folder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpo_ray.config.loading import from_dict
from hpo_ray.layout import (
    CONFUSION_PNG,
    TRIAL_DATA_FILES,
    TRIAL_LOG,
    TRIAL_PLOT_FILES,
    TRIAL_PREDICTIONS,
    trial_dir,
)
from hpo_ray.report.trial_plots import draw_best_trial_plots, draw_trial_plots
from hpo_ray.results.trials import SearchResults
from hpo_ray.train.trial_files import write_trial_artifacts

LOG_HISTORY = [
    {"loss": 0.7, "learning_rate": 1e-3, "epoch": 0.5, "step": 5},
    {"loss": 0.6, "learning_rate": 5e-4, "epoch": 1.0, "step": 10},
    {"eval_loss": 0.55, "eval_f1": 0.7, "epoch": 1.0, "step": 10},
    {"loss": 0.4, "learning_rate": 1e-4, "epoch": 2.0, "step": 20},
    {"eval_loss": 0.5, "eval_f1": 0.8, "epoch": 2.0, "step": 20},
]


def write_numbers(folder: Path, predictions: bool = True) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(20, 2)).astype(np.float32)
    labels = np.arange(20) % 2
    write_trial_artifacts(
        folder,
        LOG_HISTORY,
        {"eval_f1": np.float64(0.8), "objective": 0.8, "trainable_params": 1234},
        (logits, labels) if predictions else None,
        ["negative", "positive"],
    )


def assert_pngs(folder: Path, names: tuple[str, ...]) -> None:
    import matplotlib.image

    for name in names:
        path = folder / name
        assert path.is_file() and path.stat().st_size > 0, name
        assert matplotlib.image.imread(path).ndim == 3


def test_write_trial_artifacts_writes_the_numbers(tmp_path):
    folder = tmp_path / "trial_x"
    write_numbers(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(TRIAL_DATA_FILES)
    with np.load(folder / TRIAL_PREDICTIONS) as saved:
        assert saved["logits"].shape == (20, 2)
        assert list(saved["label_names"]) == ["negative", "positive"]


def test_draw_trial_plots_draws_the_three_pngs(tmp_path):
    folder = tmp_path / "trial_x"
    write_numbers(folder)
    assert draw_trial_plots(folder) is True
    assert_pngs(folder, TRIAL_PLOT_FILES)
    stamps = {name: (folder / name).stat().st_mtime_ns for name in TRIAL_PLOT_FILES}
    assert draw_trial_plots(folder) is True  # already drawn: nothing is redrawn
    assert {name: (folder / name).stat().st_mtime_ns for name in TRIAL_PLOT_FILES} == stamps


def test_draw_trial_plots_without_predictions_draws_the_losses_only(tmp_path):
    folder = tmp_path / "trial_x"
    write_numbers(folder, predictions=False)
    assert draw_trial_plots(folder) is True
    assert not (folder / CONFUSION_PNG).exists()
    assert_pngs(folder, tuple(n for n in TRIAL_PLOT_FILES if n != CONFUSION_PNG))
    # drawn once: a second report leaves them as they are (found in review: it redrew them)
    drawn = {n: (folder / n).stat().st_mtime_ns for n in TRIAL_PLOT_FILES if (folder / n).exists()}
    assert draw_trial_plots(folder) is True
    assert drawn == {n: (folder / n).stat().st_mtime_ns for n in drawn}


@pytest.mark.parametrize("exists", [True, False])
def test_draw_trial_plots_without_numbers_is_false(tmp_path, exists):
    folder = tmp_path / "trial_x"
    if exists:
        folder.mkdir()
        (folder / "result.json").write_text("{}\n")
    assert draw_trial_plots(folder) is False
    assert not any((folder / name).exists() for name in TRIAL_PLOT_FILES)


def ranked_results() -> SearchResults:
    cfg = from_dict({"run": {"name": "e"}})
    rows = [("a", 0.6), ("b", 0.9), ("c", math.nan), ("d", 0.8), ("e", 0.7)]
    frame = pd.DataFrame(
        [{"trial": i, "trial_id": t, "objective": o} for i, (t, o) in enumerate(rows)]
    )
    return SearchResults(cfg, frame, history={}, overrides={t: {} for t, _ in rows})


def drawn(exp_dir: Path) -> set[str]:
    return {
        p.parent.name.removeprefix("trial_") for p in exp_dir.glob(f"trial_*/{TRIAL_PLOT_FILES[1]}")
    }


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, set()), (1, {"b"}), (2, {"b", "d"}), (-1, {"a", "b", "d", "e"})],
)
def test_draw_best_trial_plots_draws_the_best_count(tmp_path, count, expected):
    results = ranked_results()
    for trial_id in results.frame["trial_id"]:
        write_numbers(trial_dir(tmp_path, trial_id), predictions=False)
    assert draw_best_trial_plots(results, tmp_path, count) == len(expected)
    assert drawn(tmp_path) == expected


def test_draw_best_trial_plots_skips_trials_without_numbers(tmp_path):
    results = ranked_results()
    for trial_id in ("a", "d"):  # the best, b, wrote nothing
        write_numbers(trial_dir(tmp_path, trial_id), predictions=False)
    assert draw_best_trial_plots(results, tmp_path, 2) == 2
    assert drawn(tmp_path) == {"a", "d"}
    assert not (trial_dir(tmp_path, "b") / TRIAL_LOG).exists()
