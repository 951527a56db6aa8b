"""Validation metrics, computed by scikit-learn, and which of them a task defines.

Every evaluation reports all the metrics the task defines (``eval_<name>``); ``search.metric``
picks the one a search optimises. Binary tasks define them all. A multi-class task defines
``pos_f1`` only with ``data.positive_label`` and ``roc_auc`` / ``pr_auc`` only with
``search.average`` (macro or weighted, one-vs-rest).

Example::

    compute = make_compute_metrics(TaskMetrics(num_labels=2, positive=1, average=None))
    compute(EvalPrediction(predictions=logits, label_ids=labels))["eval_roc_auc"]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpo_ray.errors import ConfigError

METRICS = ("accuracy", "f1", "macro_f1", "pos_f1", "roc_auc", "pr_auc", "loss")
"""Names ``search.metric`` accepts; the trainable reports each as ``eval_<name>``."""
ALWAYS = ("accuracy", "f1", "macro_f1", "loss")
AVERAGES = ("macro", "weighted")


@dataclass(frozen=True)
class TaskMetrics:
    """What the metrics need to know about the task."""

    num_labels: int
    positive: int | None
    """Index of the positive class (binary: 1 unless configured; multi-class: only if set)."""
    average: str | None
    """How ROC and PR AUC average over classes in a multi-class task (None: undefined there)."""

    def defined(self) -> tuple[str, ...]:
        names = list(ALWAYS)
        if self.positive is not None:
            names.append("pos_f1")
        if self.num_labels == 2 or self.average:
            names += ["roc_auc", "pr_auc"]
        return tuple(names)


def task_metrics(
    label_names: list[str], positive_label: str | None, average: str | None
) -> TaskMetrics:
    """The ``TaskMetrics`` of a labelled dataset; refuses a positive label that is no class."""
    positive: int | None = None
    if positive_label is not None:
        if positive_label not in label_names:
            raise ConfigError(
                f"data.positive_label={positive_label!r} is not one of the classes "
                f"{label_names}; pick one of them"
            )
        positive = label_names.index(positive_label)
    elif len(label_names) == 2:
        positive = 1
    return TaskMetrics(len(label_names), positive, average)


def check_metric(metric: str, task: TaskMetrics) -> None:
    """Refuse a ``search.metric`` the task does not define, saying what would define it."""
    if metric in task.defined():
        return
    if metric == "pos_f1":
        fix = "set data.positive_label to the class whose F1 counts"
    else:
        fix = "set search.average to macro or weighted (one-vs-rest)"
    raise ConfigError(
        f"search.metric={metric!r} is not defined for a {task.num_labels}-class task as "
        f"configured; {fix}, or pick one of: {', '.join(task.defined())}"
    )


def _softmax(logits: np.ndarray) -> np.ndarray:
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
        probs = _softmax(logits)
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
