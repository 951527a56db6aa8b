"""The numbers every trial that finishes its training writes into its folder.

``metrics.json`` (final evaluation, best objective, seconds per step, trainable parameters),
``log_history.json`` (the Trainer's log) and ``predictions.npz`` (logits and labels of the final
evaluation); with ``run.refit: keep`` also ``best_model/``, the weights of the trial's best
evaluation so far (``save_best_weights``). Writing them is cheap; the plots drawn from them
are the report's job (``hpo_ray.report.trial_plots``), since drawing in the worker cost about
as much as training a small trial.

Example::

    write_trial_artifacts(trial_dir, log_history, metrics, (logits, labels), ["neg", "pos"])
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hpo_ray.config.formats import EVAL_PREFIX, whole_epochs
from hpo_ray.layout import (
    TRIAL_BEST_EPOCH,
    TRIAL_BEST_MODEL,
    TRIAL_LOG,
    TRIAL_METRICS,
    TRIAL_PREDICTIONS,
)
from hpo_ray.storage import write_file
from hpo_ray.train.models import for_inference


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
    write_file(folder / TRIAL_METRICS, json.dumps(metrics, indent=2, default=float))
    write_file(folder / TRIAL_LOG, json.dumps(log_history, indent=1, default=float))
    if predictions is not None:
        logits, labels = predictions
        tmp = folder / f".tmp-{TRIAL_PREDICTIONS}"
        np.savez_compressed(tmp, logits=logits, labels=labels, label_names=np.array(label_names))
        os.replace(tmp, folder / TRIAL_PREDICTIONS)


@dataclass(frozen=True)
class KeptInfo:
    """What ``best_model.json`` says of a trial's kept weights: when they were kept, their
    score, and (a population) the schedule that trained them. The one reader and writer of
    that file."""

    epoch: float
    step: int
    metric: str
    """The reported key the score is of (``eval_f1``)."""
    score: float
    schedule: list[dict[str, Any]] = field(default_factory=list)

    def epochs(self) -> int:
        """The whole epochs the kept weights trained (a partial epoch counts as one)."""
        return whole_epochs(self.epoch)

    def write(self, folder: str | Path) -> None:
        record: dict[str, Any] = {"epoch": self.epoch, "step": self.step, self.metric: self.score}
        if self.schedule:
            record["schedule"] = self.schedule
        write_file(Path(folder) / TRIAL_BEST_EPOCH, json.dumps(record, indent=2, default=float))

    @classmethod
    def read(cls, folder: str | Path) -> KeptInfo | None:
        """The info beside the kept weights in ``folder`` (a ``best_model/``), or None."""
        path = Path(folder) / TRIAL_BEST_EPOCH
        if not path.is_file():
            return None
        record = json.loads(path.read_text())
        metric = next((k for k in record if k.startswith(EVAL_PREFIX)), "")
        return cls(
            epoch=float(record["epoch"]),
            step=int(record.get("step", 0)),
            metric=metric,
            score=float(record[metric]) if metric else math.nan,
            schedule=list(record.get("schedule") or []),
        )


def save_best_weights(model: Any, folder: str | Path, info: KeptInfo) -> Path:
    """Replace the trial's kept weights in ``folder`` with ``model``'s (LoRA merged into a copy,
    so training goes on unchanged); ``info`` (epoch, step, score) is saved beside them.

    The swap is two renames: a reader finds the old weights or the new, never half of either.
    """
    folder = Path(folder)
    final = folder / TRIAL_BEST_MODEL
    tmp, old = folder / f".tmp-{TRIAL_BEST_MODEL}", folder / f".old-{TRIAL_BEST_MODEL}"
    for stale in (tmp, old):
        shutil.rmtree(stale, ignore_errors=True)
    plain = model
    if callable(getattr(model, "merge_and_unload", None)):
        plain = for_inference(copy.deepcopy(model))
    plain.save_pretrained(str(tmp))
    info.write(tmp)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final
