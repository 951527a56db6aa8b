"""Tune's result files (``result.json``, ``progress.csv``) kept whole when a trial restarts.

Tune's JSON and CSV loggers write a trial's results in the driver's staging folder and copy
them to the experiment folder from time to time. When a trial restarts (paused and resumed
under PBT, retried after a failure), they first copy the experiment folder's version back over
the staging one: every result written since the last copy is lost. These loggers copy back
only when this driver has no file of its own (the driver itself was restarted: ``resume``).

Example::

    tune.RunConfig(callbacks=[*result_loggers(), ...])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hpo_ray.lazy import lazy_class, module_getattr


def keep_local(logger_class: type) -> type:
    class KeepsLocal(logger_class):
        def _restore_from_remote(self, file_name: str, trial: Any) -> None:
            if Path(trial.local_path, file_name).is_file():
                return  # this driver's own file is the newest
            super()._restore_from_remote(file_name, trial)

    return KeepsLocal


@lazy_class("KeptJsonLogger", __name__)
def kept_json_logger_class() -> type:
    from ray.tune.logger import JsonLoggerCallback

    return keep_local(JsonLoggerCallback)


@lazy_class("KeptCsvLogger", __name__)
def kept_csv_logger_class() -> type:
    from ray.tune.logger import CSVLoggerCallback

    return keep_local(CSVLoggerCallback)


def result_loggers() -> list[Any]:
    """Tune's JSON and CSV result loggers, keeping what a restarted trial wrote before."""
    return [kept_json_logger_class()(), kept_csv_logger_class()()]


__getattr__ = module_getattr(__name__)
