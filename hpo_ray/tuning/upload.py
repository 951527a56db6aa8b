"""The driver's files of an object-store experiment reach the store while trials run.

With ``run.storage`` a URI, Tune writes the trials there itself; the driver's own files (the
config, the SQLite study mirror) are made in a local work copy (``hpo_ray.storage``).
``PushWorkCopy`` uploads what changed there each time a trial ends, so a driver killed
mid-search leaves the store with everything a resume and a report need. It pushes the files
at the top of the experiment folder only: the trials' folders are the workers' to write (a
resumed search's work copy holds older copies of them).

Example::

    callbacks = [*run_callbacks, *push_work_copy(cfg)]   # [] for a local folder
"""

from __future__ import annotations

from typing import Any

from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.lazy import lazy_class, module_getattr
from hpo_ray.storage import WorkCopy, is_uri


def push_work_copy(cfg: ExperimentConfig) -> list[Any]:
    """The callback for an object-store experiment, else nothing."""
    if not is_uri(cfg.experiment_location):
        return []
    return [push_work_copy_class()(WorkCopy(cfg.experiment_location))]


@lazy_class("PushWorkCopy", __name__)
def push_work_copy_class() -> type:
    from ray import tune

    class PushWorkCopy(tune.Callback):
        """Uploads the new and changed files at the top of the work copy (the driver's own)
        when a trial ends and at the end."""

        def __init__(self, copy: WorkCopy) -> None:
            self.copy = copy

        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any):
            self.copy.push(top_only=True)

        def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any):
            self.copy.push(top_only=True)

        def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
            self.copy.push(top_only=True)

    return PushWorkCopy


__getattr__ = module_getattr(__name__)
