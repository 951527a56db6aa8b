"""Per-trial evidence: the numbers written by every trial, the plots drawn by the report.

Each trial that finishes its training writes ``metrics.json`` (final evaluation, best
objective, seconds per step, trainable parameters), ``log_history.json`` (the Trainer's log)
and ``predictions.npz`` (logits and labels of the final evaluation) into its folder. The report
draws ``confusion_matrix.png``, ``loss_per_step.png`` and ``loss_per_epoch.png`` from them for
the ``run.trial_plots`` best trials (drawing them in the worker cost about half a second per
trial, as much as training a small trial). Refit copies the chosen trial's set next to the
saved model (``trained/<name>/trial_artifacts/``), drawing its plots first if need be.

Example::

    write_trial_artifacts(trial_dir, log_history, metrics, (logits, labels), ["neg", "pos"])
    draw_trial_plots(trial_dir)  # True once the three PNGs are there
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hpo_ray.results import SearchResults

DATA_FILES = ("metrics.json", "log_history.json", "predictions.npz")
PLOT_FILES = ("confusion_matrix.png", "loss_per_step.png", "loss_per_epoch.png")
FILES = DATA_FILES + PLOT_FILES


def write_trial_artifacts(
    folder: str | Path,
    log_history: list[dict[str, Any]],
    metrics: dict[str, Any],
    predictions: tuple[np.ndarray, np.ndarray] | None,
    label_names: list[str],
) -> None:
    """Write the trial's numbers (cheap: no plotting in the worker)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    (folder / "log_history.json").write_text(json.dumps(log_history, indent=1, default=float))
    if predictions is not None:
        logits, labels = predictions
        tmp = folder / "predictions.tmp.npz"
        np.savez_compressed(tmp, logits=logits, labels=labels, label_names=np.array(label_names))
        os.replace(tmp, folder / "predictions.npz")


def draw_trial_plots(folder: str | Path) -> bool:
    """Draw a trial's PNGs from its numbers, unless already drawn; False without numbers."""
    from hpo_ray.plots import plot_confusion, plot_losses

    folder = Path(folder)
    history_file, predictions_file = folder / "log_history.json", folder / "predictions.npz"
    if not history_file.is_file():
        return False
    if all((folder / name).is_file() for name in PLOT_FILES):
        return True
    if predictions_file.is_file():
        with np.load(predictions_file) as saved:
            preds = saved["logits"].argmax(axis=-1)
            names = [str(n) for n in saved["label_names"]]
            plot_confusion(saved["labels"], preds, names, folder / "confusion_matrix.png")
    history = json.loads(history_file.read_text())
    plot_losses(history, folder / "loss_per_step.png", folder / "loss_per_epoch.png")
    return True


def draw_best_trial_plots(results: SearchResults, exp_dir: Path, count: int) -> int:
    """Plots for the ``count`` best trials that wrote their numbers (-1: all); returns how
    many trials have them."""
    from hpo_ray.config import OBJECTIVE

    ascending = results.cfg.search.mode == "min"
    ranked = results.finished.sort_values([OBJECTIVE, "trial"], ascending=[ascending, True])
    drawn = 0
    for trial_id in ranked["trial_id"]:
        if count >= 0 and drawn >= count:
            break
        drawn += draw_trial_plots(exp_dir / f"trial_{trial_id}")
    return drawn
