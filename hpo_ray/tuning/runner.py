"""Ray and the Tuner: join or start Ray, check resources, build the trainable and the Tuner.

Example::

    with ray_session(cfg.run.address, cfg.run.dashboard):
        check_resources(cfg)
        build_tuner(cfg, search_plan(cfg), models, data).fit()
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

from hpo_ray.config.schema import OBJECTIVE, ExperimentConfig
from hpo_ray.errors import ConfigError
from hpo_ray.layout import trial_dir_name
from hpo_ray.storage import is_uri
from hpo_ray.train.setup import TrialSetup
from hpo_ray.train.trainable import make_data_handles, train_trial
from hpo_ray.tuning.keep import keeps_weights, kept_weights
from hpo_ray.tuning.kinds import Kind
from hpo_ray.tuning.loggers import result_loggers
from hpo_ray.tuning.plan import TunePlan
from hpo_ray.tuning.realign import aligned_search
from hpo_ray.tuning.registry import make_stopper
from hpo_ray.tuning.schedulers import is_population
from hpo_ray.tuning.study import study_mirror
from hpo_ray.tuning.tracking import mlflow_callbacks
from hpo_ray.tuning.upload import push_work_copy

log = logging.getLogger(__name__)


@contextlib.contextmanager
def ray_session(address: str | None, dashboard: bool = True, **init_kwargs: Any) -> Iterator[None]:
    """Join ``address`` (or RAY_ADDRESS), or start a private local Ray (lean: no usage
    reporting, no metrics collection without a dashboard; the user's environment wins); reuse
    one already up."""
    import ray

    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    if address == "local":
        with_dashboard = dashboard and dashboard_installed()
        init_kwargs.setdefault("include_dashboard", with_dashboard)
        init_kwargs.setdefault("dashboard_host", "127.0.0.1")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reporting
        if not with_dashboard:  # nothing shows the metrics: do not collect them
            os.environ.setdefault("RAY_enable_metrics_collection", "0")
    ray.init(address=address, log_to_driver=True, **init_kwargs)
    try:
        yield
    finally:
        ray.shutdown()


def dashboard_installed() -> bool:
    """Whether the ``dashboard`` extra (Ray's dashboard dependencies) is installed."""
    return (
        importlib.util.find_spec("aiohttp") is not None
        and importlib.util.find_spec("opencensus") is not None
    )


def check_resources(cfg: ExperimentConfig) -> None:
    """Refuse a per-trial request that no node of the cluster can ever satisfy."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    need = {"CPU": cfg.resources.cpu, "GPU": cfg.resources.gpu}
    if not any(all(n.get(k, 0.0) >= v for k, v in need.items() if v > 0) for n in nodes):
        have = ", ".join(f"CPU {n.get('CPU', 0):g} GPU {n.get('GPU', 0):g}" for n in nodes)
        raise ConfigError(
            f"resources: a trial asks for CPU {cfg.resources.cpu:g} GPU "
            f"{cfg.resources.gpu:g} but no node has that (nodes: {have}); lower "
            "resources.cpu / resources.gpu"
        )


def make_trainable(
    cfg: ExperimentConfig,
    models: dict[str, str],
    data: dict[str, Any],
    trainer_callbacks: Sequence[Any] = (),
    kind: Kind = Kind.SEARCH,
) -> Any:
    """The HF trainable with its fixed setup, data (via the object store) and resources.

    ``models`` and ``data`` map each candidate encoder to its path and tokenized data;
    ``trainer_callbacks`` are more ``TrainerCallback`` instances every trial adds (see
    ``TrialSetup.callbacks``); ``kind`` is the plan's (a population scheduler only changes a
    search's trials)."""
    from ray import tune

    setup = TrialSetup(
        base_params=cfg.base_params(),
        models=models,
        label_names=data[cfg.model.name].label_names,
        metric=cfg.search.metric,
        mode=cfg.search.mode,
        cpus_per_trial=cfg.resources.cpu,
        checkpoint=cfg.run.checkpoint,
        keep_best=keeps_weights(cfg),
        population=is_population(cfg) and kind is Kind.SEARCH,
        searched=tuple(cfg.search.space),
        trust_remote_code=cfg.model.trust_remote_code,
        positive_label=cfg.data.positive_label,
        average=cfg.search.average,
        fold_aggregate=cfg.data.fold_aggregate,
        # The own-failure marker's shared copy: only where every node sees the folder.
        experiment_dir="" if is_uri(cfg.experiment_location) else str(cfg.experiment_dir),
        callbacks=tuple(trainer_callbacks),
    )
    return with_trial_resources(
        cfg, tune.with_parameters(train_trial, setup=setup, data=make_data_handles(data))
    )


def with_trial_resources(cfg: ExperimentConfig, trainable: Any) -> Any:
    """``trainable`` asking Tune for the configured CPUs and GPUs of one trial."""
    from ray import tune

    return tune.with_resources(trainable, {"cpu": cfg.resources.cpu, "gpu": cfg.resources.gpu})


def run_callbacks(cfg: ExperimentConfig, kind: Kind) -> list[Any]:
    """The Tune callbacks of a run: the SQLite study mirror (searches), the pruning of kept
    weights and checkpoints (searches and sweeps) and MLflow if set."""
    return [
        *([study_mirror(cfg)] if kind is Kind.SEARCH else []),
        *(kept_weights(cfg) if kind in (Kind.SEARCH, Kind.OFAT) else []),
        *mlflow_callbacks(cfg, kind),
        *push_work_copy(cfg),  # last: after the study mirror has written
    ]


def build_tuner(
    cfg: ExperimentConfig,
    plan: TunePlan,
    trainable: Any,
    *,
    callbacks: list[Any] | None = None,
) -> Any:
    """The Tuner over ``trainable`` (``make_trainable``, or a stand-in in the scale
    benchmark); ``callbacks`` default to ``run_callbacks`` (pass others to observe a run)."""
    from ray import tune

    keep = cfg.run.keep_checkpoints if cfg.run.checkpoint != "none" else None
    if is_population(cfg) and plan.kind is Kind.SEARCH:
        # A copied checkpoint must outlive its trial's next one: in generations a trial saves
        # at most one more before every trial (the copier too) has moved on.
        keep = max(keep or 0, 2)
    search_alg, aligners = aligned_search(plan.searcher, cfg.search.max_concurrent_trials)
    return tune.Tuner(
        trainable,
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(
            metric=OBJECTIVE,
            mode=cfg.search.mode,
            search_alg=search_alg,
            scheduler=plan.scheduler,
            num_samples=plan.num_samples,
            # A searcher is limited by aligned_search; Tune limits its own grid (OFAT, reseed).
            max_concurrent_trials=cfg.search.max_concurrent_trials if search_alg is None else None,
            time_budget_s=cfg.search.time_budget_s,
            reuse_actors=cfg.run.reuse_workers,
            trial_dirname_creator=lambda trial: trial_dir_name(trial.trial_id),
        ),
        run_config=tune.RunConfig(
            name=cfg.run.name,
            storage_path=cfg.run.storage,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=keep),
            failure_config=tune.FailureConfig(max_failures=cfg.run.max_failures),
            # Trial folders (TensorBoard curves, artifacts) reach the storage from every node.
            sync_config=tune.SyncConfig(sync_artifacts=True, sync_period=cfg.run.sync_period_s),
            callbacks=[
                *aligners,
                *result_loggers(),
                *(run_callbacks(cfg, plan.kind) if callbacks is None else callbacks),
            ],
            stop=make_stopper(cfg) if plan.kind is Kind.SEARCH else None,
            verbose=cfg.run.verbose,
        ),
    )
