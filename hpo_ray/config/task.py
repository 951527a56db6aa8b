"""Which metrics a classification task defines, decided from its classes and the config.

Every evaluation reports all the metrics the task defines (``eval_<name>``); ``search.metric``
picks the one a search optimises. Binary tasks define them all. A multi-class task defines
``pos_f1`` only with ``data.positive_label`` and ``roc_auc`` / ``pr_auc`` only with
``search.average`` (macro or weighted, one-vs-rest).

Example::

    task = task_metrics(["neg", "neu", "pos"], positive_label=None, average=None)
    task.defined()  # ('accuracy', 'f1', 'macro_f1', 'loss')
"""

from __future__ import annotations

from dataclasses import dataclass

from hpo_ray.config.schema import ALWAYS_METRICS
from hpo_ray.errors import ConfigError


@dataclass(frozen=True)
class TaskMetrics:
    """What the metrics need to know about the task."""

    num_labels: int
    positive: int | None
    """Index of the positive class (binary: 1 unless configured; multi-class: only if set)."""
    average: str | None
    """How ROC and PR AUC average over classes in a multi-class task (None: undefined there)."""

    def defined(self) -> tuple[str, ...]:
        names = list(ALWAYS_METRICS)
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
