"""Per-trial plots, drawn by the report from the numbers each trial wrote
(``hpo_ray.train.trial_files``): ``confusion_matrix.png``, ``loss_per_step.png`` and
``loss_per_epoch.png`` for the ``run.trial_plots`` best trials. Refit copies the chosen
trial's set next to the saved model, drawing its plots first if need be.

Example::

    draw_trial_plots(trial_dir)  # True once the three PNGs are there
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hpo_ray.layout import (
    CONFUSION_PNG,
    LOSS_EPOCH_PNG,
    LOSS_STEP_PNG,
    TRIAL_LOG,
    TRIAL_PLOT_FILES,
    TRIAL_PREDICTIONS,
    trial_dir,
)
from hpo_ray.report.plots import plot_confusion, plot_losses
from hpo_ray.results.trials import SearchResults


def draw_trial_plots(folder: str | Path) -> bool:
    """Draw a trial's PNGs from its numbers, unless already drawn: the loss curves from its
    log, the confusion matrix from its predictions when it saved them. True once the plots its
    numbers allow are there; False without numbers."""
    folder = Path(folder)
    history_file, predictions_file = folder / TRIAL_LOG, folder / TRIAL_PREDICTIONS
    if not history_file.is_file():
        return False
    wanted = [n for n in TRIAL_PLOT_FILES if n != CONFUSION_PNG or predictions_file.is_file()]
    if all((folder / name).is_file() for name in wanted):
        return True
    if predictions_file.is_file():
        with np.load(predictions_file) as saved:
            preds = saved["logits"].argmax(axis=-1)
            names = [str(n) for n in saved["label_names"]]
            plot_confusion(saved["labels"], preds, names, folder / CONFUSION_PNG)
    history = json.loads(history_file.read_text())
    plot_losses(history, folder / LOSS_STEP_PNG, folder / LOSS_EPOCH_PNG)
    return True


def draw_best_trial_plots(results: SearchResults, exp_dir: Path, count: int) -> int:
    """Plots for the ``count`` best trials that wrote their numbers (-1: all); returns how
    many trials have them."""
    drawn = 0
    for trial_id in results.ranked()["trial_id"]:
        if count >= 0 and drawn >= count:
            break
        drawn += draw_trial_plots(trial_dir(exp_dir, trial_id))
    return drawn
