"""Per-trial evidence, written into the trial's folder when its training ends.

``metrics.json`` (final evaluation, best objective, seconds per step, trainable parameters),
``log_history.json`` (the Trainer's log), ``predictions.npz`` (logits and labels of the final
evaluation), ``confusion_matrix.png``, ``loss_per_step.png`` and ``loss_per_epoch.png``. Refit
copies the chosen trial's set next to the saved model (``trained/<name>/trial_artifacts/``).

Example::

    write_trial_artifacts(trial_dir, log_history, metrics, (logits, labels), ["neg", "pos"])
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

FILES = (
    "metrics.json",
    "log_history.json",
    "predictions.npz",
    "confusion_matrix.png",
    "loss_per_step.png",
    "loss_per_epoch.png",
)


def write_trial_artifacts(
    folder: str | Path,
    log_history: list[dict[str, Any]],
    metrics: dict[str, Any],
    predictions: tuple[np.ndarray, np.ndarray] | None,
    label_names: list[str],
) -> None:
    from hpo_ray.plots import plot_confusion, plot_losses

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    (folder / "log_history.json").write_text(json.dumps(log_history, indent=1, default=float))
    if predictions is not None:
        logits, labels = predictions
        tmp = folder / "predictions.tmp.npz"
        np.savez_compressed(tmp, logits=logits, labels=labels, label_names=np.array(label_names))
        os.replace(tmp, folder / "predictions.npz")
        plot_confusion(labels, logits.argmax(axis=-1), label_names, folder / "confusion_matrix.png")
    plot_losses(log_history, folder / "loss_per_step.png", folder / "loss_per_epoch.png")
