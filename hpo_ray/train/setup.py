"""What every trial of an experiment shares, shipped to the Ray workers with the trainable.

``TrialSetup`` is the fixed part of a trial (the searched part comes as Tune's ``config``);
``DataHandle`` points at the tokenized data in Ray's object store, one entry per encoder.
Both are small, frozen and picklable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hpo_ray.config.task import TaskMetrics, task_metrics


@dataclass(frozen=True)
class TrialSetup:
    """The fixed part of every trial (the searched part comes as Tune's ``config``)."""

    base_params: dict[str, Any]
    models: dict[str, str]
    """Each candidate encoder's name (``model_name``) and resolved folder or hub name."""
    label_names: list[str]
    metric: str
    mode: str
    cpus_per_trial: float
    checkpoint: str
    trust_remote_code: bool = False
    positive_label: str | None = None
    average: str | None = None
    fold_aggregate: str = "mean"
    keep_best: bool = False
    """Keep each trial's best-epoch weights in its folder (``run.refit: keep``)."""
    population: bool = False
    """Trials change values between epochs and hand each other checkpoints (PBT, PB2): each
    report carries the Trainer's full checkpoint and the schedule of its weights."""
    searched: tuple[str, ...] = ()
    """The searched training values (a population changes these)."""
    experiment_dir: str = ""
    """The experiment folder, where a trial's own-failure marker is kept when it is a path
    every node sees (a local or NFS folder)."""
    callbacks: tuple[Any, ...] = ()
    """More ``transformers.TrainerCallback`` instances, added to every trial's (and fold's)
    Trainer after hpo_ray's own: where a caller observes or changes training (the tests
    inject their faults here)."""

    def task(self) -> TaskMetrics:
        """The ``TaskMetrics`` every trainer of this experiment reports."""
        return task_metrics(self.label_names, self.positive_label, self.average)


@dataclass(frozen=True)
class DataHandle:
    """Small, cheap-to-fetch pointers to the tokenized data in the object store: one per
    candidate encoder, since each tokenizer gives its own token ids."""

    fingerprints: dict[str, str]
    refs: dict[str, list[Any]]  # [ObjectRef] in a list so Tune does not resolve it eagerly
