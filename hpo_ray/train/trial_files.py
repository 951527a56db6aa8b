"""The numbers every trial that finishes its training writes into its folder.

``metrics.json`` (final evaluation, best objective, seconds per step, trainable parameters),
``log_history.json`` (the Trainer's log) and ``predictions.npz`` (logits and labels of the final
evaluation). Writing them is cheap; the plots drawn from them are the report's job
(``hpo_ray.report.trial_plots``), since drawing in the worker cost about as much as training a
small trial.

Example::

    write_trial_artifacts(trial_dir, log_history, metrics, (logits, labels), ["neg", "pos"])
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hpo_ray.layout import TRIAL_LOG, TRIAL_METRICS, TRIAL_PREDICTIONS


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
    (folder / TRIAL_METRICS).write_text(json.dumps(metrics, indent=2, default=float))
    (folder / TRIAL_LOG).write_text(json.dumps(log_history, indent=1, default=float))
    if predictions is not None:
        logits, labels = predictions
        tmp = folder / f".tmp-{TRIAL_PREDICTIONS}"
        np.savez_compressed(tmp, logits=logits, labels=labels, label_names=np.array(label_names))
        os.replace(tmp, folder / TRIAL_PREDICTIONS)
