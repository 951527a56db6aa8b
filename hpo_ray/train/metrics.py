"""Validation metrics, computed by scikit-learn: every metric the task defines (which ones is
decided in ``hpo_ray.config.task``).

Example::

    compute = make_compute_metrics(TaskMetrics(num_labels=2, positive=1, average=None))
    compute(EvalPrediction(predictions=logits, label_ids=labels))["eval_roc_auc"]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hpo_ray.config.task import TaskMetrics


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from logits (softmax over the last axis)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=-1, keepdims=True))


class MetricsComputer:
    """``compute_metrics`` for the HF Trainer: every metric the task defines; keeps the last
    evaluation's logits and labels (``last``) for the trial's artifacts."""

    def __init__(self, task: TaskMetrics) -> None:
        self.task = task
        self.last: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, eval_pred: Any) -> dict[str, float]:
        logits = eval_pred.predictions
        if isinstance(logits, tuple):
            logits = logits[0]
        self.last = (np.asarray(logits), np.asarray(eval_pred.label_ids))
        return score(logits, eval_pred.label_ids, self.task)


def make_compute_metrics(task: TaskMetrics) -> Callable[[Any], dict[str, float]]:
    """A ``compute_metrics`` for the HF Trainer that reports every metric the task defines."""
    return MetricsComputer(task)


def score(logits: Any, labels: Any, task: TaskMetrics) -> dict[str, float]:
    """All defined metrics (but the loss, which the Trainer computes) for one set of logits."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        f1_score,
        roc_auc_score,
    )
    from sklearn.preprocessing import label_binarize

    if isinstance(logits, tuple):
        logits = logits[0]
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    preds = logits.argmax(axis=-1)
    out = {
        "accuracy": float(accuracy_score(labels, preds)),
        "f1": float(f1_score(labels, preds, average="weighted", zero_division=0)),
        "macro_f1": float(f1_score(labels, preds, average="macro", zero_division=0)),
    }
    if task.positive is not None:
        out["pos_f1"] = float(
            f1_score(labels, preds, labels=[task.positive], average="macro", zero_division=0)
        )
    if "roc_auc" in task.defined():
        probs = softmax(logits)
        if len(np.unique(labels)) < 2:  # AUCs need both classes in the split
            out["roc_auc"] = out["pr_auc"] = float("nan")
        elif task.num_labels == 2:
            pos = task.positive if task.positive is not None else 1
            out["roc_auc"] = float(roc_auc_score(labels == pos, probs[:, pos]))
            out["pr_auc"] = float(average_precision_score(labels == pos, probs[:, pos]))
        else:
            classes = list(range(task.num_labels))
            out["roc_auc"] = float(
                roc_auc_score(
                    labels, probs, multi_class="ovr", average=task.average, labels=classes
                )
            )
            out["pr_auc"] = float(
                average_precision_score(
                    label_binarize(labels, classes=classes), probs, average=task.average
                )
            )
    return out
