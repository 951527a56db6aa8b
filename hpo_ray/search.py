"""Run a Bayesian (or random) search: checks, data, Ray, the Tuner, then report and refit.

Example::

    cfg = load_config("configs/demo.yaml")
    outcome = run_search(cfg)
    outcome.experiment_dir, outcome.trained_dir
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hpo_ray.config import OBJECTIVE, ExperimentConfig, dump_config
from hpo_ray.errors import ConfigError

log = logging.getLogger(__name__)

CONFIG_FILE = "hpo_config.yaml"
"""The resolved config, written into the experiment folder for report, refit and resume."""


@dataclass
class SearchOutcome:
    experiment_dir: Path
    artifacts_dir: Path
    trained_dir: Path | None


def check_outputs(cfg: ExperimentConfig, overwrite: bool) -> None:
    """Refuse to clobber earlier results unless asked; runs before any expensive work."""
    exp = cfg.experiment_dir
    if exp.exists() and any(exp.iterdir()) and not overwrite:
        raise ConfigError(
            f"experiment folder {exp} already holds results; use `hpo-ray "
            f"report {exp}`, pick another run.name=..., or pass --overwrite"
        )
    if cfg.run.refit:
        from hpo_ray.refit import check_model_folder

        check_model_folder(cfg, overwrite, "pick another run.name=..., set run.refit=false")


@contextlib.contextmanager
def ray_session(address: str | None, dashboard: bool = True, **init_kwargs: Any) -> Iterator[None]:
    """Join ``address`` (or RAY_ADDRESS), or start a private local Ray; reuse one already up."""
    import ray

    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    if address == "local":
        init_kwargs.setdefault("include_dashboard", dashboard and _dashboard_installed())
        init_kwargs.setdefault("dashboard_host", "127.0.0.1")
    ray.init(address=address, log_to_driver=True, **init_kwargs)
    try:
        yield
    finally:
        ray.shutdown()


def _dashboard_installed() -> bool:
    import importlib.util

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


@dataclass
class TunePlan:
    """How the Tuner explores: search algorithm, param space, scheduler, trial count."""

    kind: str
    """``search`` (Bayesian or random) or ``ofat`` (single-axis grid)."""
    searcher: Any
    param_space: dict[str, Any]
    scheduler: Any
    num_samples: int


def search_plan(cfg: ExperimentConfig) -> TunePlan:
    """OptunaSearch or random search with an early-stopping scheduler, from ``cfg.search``."""
    from hpo_ray.registry import make_scheduler, make_searcher

    searcher, param_space = make_searcher(cfg)
    # A grid is run once; Tune would repeat it num_samples times.
    samples = 1 if cfg.search.searcher == "grid" else cfg.search.num_samples
    return TunePlan("search", searcher, param_space, make_scheduler(cfg), samples)


def ofat_plan(cfg: ExperimentConfig) -> TunePlan:
    """One trial per single-axis variant of ``cfg.ofat.grid``; nothing stops or reorders them."""
    from ray.tune.schedulers import FIFOScheduler

    from hpo_ray.space import ofat_param_space

    if not cfg.ofat.grid:
        raise ConfigError(
            "ofat.grid is empty; list values per parameter, e.g. "
            "ofat.grid.learning_rate=[1.0e-5,5.0e-5]"
        )
    return TunePlan("ofat", None, ofat_param_space(cfg.training, cfg.ofat.grid), FIFOScheduler(), 1)


def run_search(cfg: ExperimentConfig, *, overwrite: bool = False, **hooks: Any) -> SearchOutcome:
    """The main job: search, write the report, refit the best configuration.

    ``hooks`` are fault-injection switches for tests (see ``TrialSetup``).
    """
    return run_experiment(cfg, search_plan, overwrite=overwrite, hooks=hooks)


def run_ofat(cfg: ExperimentConfig, *, overwrite: bool = False, **hooks: Any) -> SearchOutcome:
    """The OFAT sweep: every single-axis variant in parallel, then its report (and refit)."""
    return run_experiment(cfg, ofat_plan, overwrite=overwrite, hooks=hooks)


def run_experiment(
    cfg: ExperimentConfig,
    make_plan: Any,
    *,
    overwrite: bool = False,
    hooks: dict[str, Any] | None = None,
) -> SearchOutcome:
    """Checks, tokenized data, Ray, the Tuner; then report and refit from the folder."""
    check_outputs(cfg, overwrite)
    plan = make_plan(cfg)  # name and space errors before any data work
    models, data = _prepare(cfg)

    exp = cfg.experiment_dir
    # Tune warns on every checkpoint snapshot with num_to_keep=1; the policy is deliberate.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if overwrite and exp.exists():
        shutil.rmtree(exp)
    with ray_session(cfg.run.address, cfg.run.dashboard):
        check_resources(cfg)
        exp.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, exp / CONFIG_FILE)
        if plan.kind == "ofat":
            from hpo_ray.ofat import write_grid_file

            write_grid_file(cfg, exp)
        tuner = build_tuner(cfg, plan, models, data, hooks)
        tuner.fit()
        return finish(cfg, overwrite=overwrite)


def make_trainable(
    cfg: ExperimentConfig,
    models: dict[str, str],
    data: dict[str, Any],
    hooks: dict[str, Any] | None = None,
) -> Any:
    """The HF trainable with its fixed setup, data (via the object store) and resources.

    ``models`` and ``data`` map each candidate encoder to its path and tokenized data."""
    from ray import tune

    from hpo_ray.trainable import TrialSetup, make_data_handles, train_trial

    setup = TrialSetup(
        base_params=asdict(cfg.training),
        models=models,
        label_names=data[cfg.model.name].label_names,
        metric=cfg.search.metric,
        mode=cfg.search.mode,
        cpus_per_trial=cfg.resources.cpu,
        checkpoint=cfg.run.checkpoint,
        trust_remote_code=cfg.model.trust_remote_code,
        positive_label=cfg.data.positive_label,
        average=cfg.search.average,
        fold_aggregate=cfg.data.fold_aggregate,
        experiment_dir=str(cfg.experiment_dir),
        **(hooks or {}),
    )
    return tune.with_resources(
        tune.with_parameters(train_trial, setup=setup, data=make_data_handles(data)),
        {"cpu": cfg.resources.cpu, "gpu": cfg.resources.gpu},
    )


def build_tuner(
    cfg: ExperimentConfig,
    plan: TunePlan,
    models: dict[str, str] | None,
    data: dict[str, Any] | None,
    hooks: dict[str, Any] | None = None,
    *,
    trainable: Any = None,
) -> Any:
    """The Tuner over the HF trainable; data goes to the object store once.

    ``trainable`` replaces the HF trainable (the scale benchmark runs a trivial one through
    the same searcher, scheduler, callbacks and report)."""
    from ray import tune

    from hpo_ray.registry import make_stopper
    from hpo_ray.study import StudyMirror
    from hpo_ray.tracking import mlflow_callbacks

    keep = cfg.run.keep_checkpoints if cfg.run.checkpoint != "none" else None
    return tune.Tuner(
        trainable or make_trainable(cfg, models or {}, data or {}, hooks),
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(
            metric=OBJECTIVE,
            mode=cfg.search.mode,
            search_alg=plan.searcher,
            scheduler=plan.scheduler,
            num_samples=plan.num_samples,
            max_concurrent_trials=cfg.search.max_concurrent_trials,
            time_budget_s=cfg.search.time_budget_s,
            reuse_actors=cfg.run.reuse_workers,
            trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
        ),
        run_config=tune.RunConfig(
            name=cfg.run.name,
            storage_path=cfg.run.storage,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=keep),
            failure_config=tune.FailureConfig(max_failures=cfg.run.max_failures),
            # Trial folders (TensorBoard curves, artifacts) reach the storage from every node.
            sync_config=tune.SyncConfig(sync_artifacts=True),
            callbacks=[
                *([StudyMirror(cfg)] if plan.kind == "search" else []),
                *mlflow_callbacks(cfg, plan.kind),
            ],
            stop=make_stopper(cfg) if plan.kind == "search" else None,
            verbose=cfg.run.verbose,
        ),
    )


def resume_experiment(
    exp_dir: str | Path,
    *,
    retry_errored: bool = False,
    overwrite: bool = False,
    address: str | None = None,
    refit: bool | None = None,
) -> SearchOutcome:
    """Continue an interrupted search or OFAT sweep with ``Tuner.restore``, then report/refit.

    Finished trials are kept as they are; unfinished ones resume from their last checkpoint (or
    start over when they had none); failed ones stay failed unless ``retry_errored``. The
    searcher (Optuna's study, or the grid's position) comes back from the experiment folder.
    """
    from ray import tune

    from hpo_ray.results import load_experiment_config

    exp = Path(exp_dir).resolve()
    cfg = load_experiment_config(exp)
    cfg.run.storage, cfg.run.name = str(exp.parent), exp.name
    if address:
        cfg.run.address = address
    if refit is not None:
        cfg.run.refit = refit
    if not tune.Tuner.can_restore(str(exp)):
        raise ConfigError(
            f"{exp} holds no Tune experiment state to resume (the search never started a "
            f"trial); start it again with `hpo-ray search ... --overwrite`"
        )
    if cfg.run.refit:
        from hpo_ray.refit import check_model_folder

        check_model_folder(cfg, overwrite, "skip the refit with --no-refit")
    models, data = _prepare(cfg)
    with ray_session(cfg.run.address, cfg.run.dashboard):
        check_resources(cfg)
        tuner = tune.Tuner.restore(
            str(exp),
            trainable=make_trainable(cfg, models, data),
            resume_unfinished=True,
            resume_errored=retry_errored,
        )
        tuner.fit()
        return finish(cfg, overwrite=overwrite)


def _prepare(cfg: ExperimentConfig) -> tuple[dict[str, str], dict[str, Any]]:
    """Per candidate encoder, its resolved path and the data tokenized by its tokenizer (once,
    cached by content); refuses a metric the classes do not define."""
    from hpo_ray.data import split_data, tokenize_splits
    from hpo_ray.metrics import check_metric, task_metrics
    from hpo_ray.models import candidate, load_tokenizer, model_candidates, resolve_model

    split = split_data(cfg.data)  # read, labelled and split once for all encoders
    models, data = {}, {}
    for name in model_candidates(cfg):
        model = candidate(cfg, name)
        models[name] = resolve_model(model)
        data[name] = tokenize_splits(split, cfg.data, load_tokenizer(model, models[name]))
    first = data[cfg.model.name]
    task = task_metrics(first.label_names, cfg.data.positive_label, cfg.search.average)
    check_metric(cfg.search.metric, task)
    return models, data


def finish(cfg: ExperimentConfig, *, overwrite: bool = False) -> SearchOutcome:
    """Report from the experiment folder, then refit the best configuration if configured."""
    from hpo_ray.ofat import GRID_FILE
    from hpo_ray.refit import refit_best
    from hpo_ray.reseed import run_reseed
    from hpo_ray.results import final_scores, write_report

    if cfg.search.reseed.top_k and not (cfg.experiment_dir / GRID_FILE).exists():
        run_reseed(cfg)
    artifacts = write_report(cfg.experiment_dir, final=not cfg.run.refit)
    trained = refit_best(cfg, overwrite=overwrite) if cfg.run.refit else None
    if trained is not None:
        summary = artifacts / "summary.txt"
        summary.write_text(summary.read_text() + final_scores(cfg))
    return SearchOutcome(cfg.experiment_dir, artifacts, trained)
