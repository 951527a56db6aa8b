"""Optional MLflow tracking: a parent run for the experiment, a child run per trial.

Off unless ``tracking.mlflow.uri`` is set (e.g. ``sqlite:///mlflow.db``, or a tracking server's
``http://...``; MLflow no longer takes plain folders). Ray's ``MLflowLoggerCallback`` opens one
run per trial on the driver, logs the trial's config as params and every report (each epoch's
evaluation) as metrics with the report number as step; the ``mlflow.parentRunId`` tag nests
these runs under the experiment's parent run, which holds the search settings and, at the end,
the best objective. Needs the ``tracking`` extra (``pip install -e .[tracking]``).

Example::

    callbacks = mlflow_callbacks(cfg, Kind.SEARCH)   # [] when tracking is off
"""

from __future__ import annotations

import math
from typing import Any

from hpo_ray.config.schema import OBJECTIVE, ExperimentConfig
from hpo_ray.errors import ConfigError
from hpo_ray.lazy import lazy_class, module_getattr
from hpo_ray.train.objective import RunningBest
from hpo_ray.tuning.kinds import Kind
from hpo_ray.tuning.searchers import tracked_settings

PARENT_TAG = "mlflow.parentRunId"


def _client(uri: str) -> Any:
    try:
        import mlflow
    except ImportError:
        raise ConfigError(
            "tracking.mlflow is set but MLflow is not installed; pip install -e .[tracking]"
        ) from None
    return mlflow.MlflowClient(tracking_uri=uri)


def mlflow_callbacks(cfg: ExperimentConfig, kind: Kind) -> list[Any]:
    """Tune callbacks that log the experiment to MLflow (none when tracking is off)."""
    spec = cfg.tracking.mlflow
    if spec is None:
        return []
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    client = _client(spec.uri)
    name = spec.experiment or cfg.run.name
    found = client.get_experiment_by_name(name)
    experiment_id = found.experiment_id if found else client.create_experiment(name)
    parent = client.create_run(
        experiment_id, run_name=cfg.run.name, tags={"hpo_ray.kind": kind.value}
    )
    s = cfg.search
    settings = {
        "kind": kind.value,
        "metric": s.metric,
        "mode": s.mode,
        **tracked_settings(cfg, kind),
        "num_samples": s.num_samples,
        "model": cfg.model.name,
        "experiment_dir": cfg.experiment_location,  # a folder, or the object-store URI
    }
    for key, value in settings.items():
        client.log_param(parent.info.run_id, key, value)
    return [
        MLflowLoggerCallback(
            tracking_uri=spec.uri,
            experiment_name=name,
            tags={PARENT_TAG: parent.info.run_id},
        ),
        parent_run_class()(spec.uri, parent.info.run_id, cfg.search.mode),
    ]


@lazy_class("ParentRun", __name__)
def parent_run_class() -> type:
    """The ``ParentRun`` Tune callback class (made on first use: importing this module does
    not load Ray)."""
    from ray import tune

    class ParentRun(tune.Callback):
        """Logs the best objective so far to the parent run and closes it when the run ends.

        Holds only the URI and the run id: Tune pickles callbacks with the experiment."""

        def __init__(self, uri: str, run_id: str, mode: str) -> None:
            self.uri, self.run_id = uri, run_id
            self.best = RunningBest(mode)

        def on_trial_result(
            self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
        ) -> None:
            value = result.get(OBJECTIVE)
            if value is not None and math.isfinite(value):
                self.best.update(value)

        def on_experiment_end(self, trials: list, **info: Any) -> None:
            client = _client(self.uri)
            if self.best.value is not None:
                client.log_metric(self.run_id, f"best_{OBJECTIVE}", self.best.value)
            client.set_terminated(self.run_id)

    return ParentRun


__getattr__ = module_getattr(__name__)
