"""Searchers and schedulers by name. Each factory takes the experiment config.

Example::

    make_scheduler(cfg)  # ASHAScheduler for search.scheduler == "asha"
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from hpo_ray.config.schema import OBJECTIVE, SCHEDULERS, SEARCHERS, ExperimentConfig
from hpo_ray.errors import ConfigError
from hpo_ray.tuning.space import DefineByRun, is_conditional, optuna_space, tune_space

log = logging.getLogger(__name__)


@functools.cache
def resumable_optuna_search_class() -> type:
    """OptunaSearch that ignores results of a trial it never suggested (a class made on first
    use, so importing this module does not load Ray).

    Tune saves the experiment state and the searcher's state at different moments. After a
    driver crash the experiment can list a trial created after the searcher was saved, and
    its results would end the resume with a KeyError. Such a trial still runs and is reported;
    only the TPE model does not learn from it."""
    from ray.tune.search.optuna import OptunaSearch

    class ResumableOptunaSearch(OptunaSearch):
        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            if trial_id in self._ot_trials:
                super().on_trial_result(trial_id, result)

        def on_trial_complete(
            self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
        ) -> None:
            if trial_id in self._ot_trials:
                super().on_trial_complete(trial_id, result, error)

    ResumableOptunaSearch.__module__ = __name__
    ResumableOptunaSearch.__qualname__ = ResumableOptunaSearch.__name__
    return ResumableOptunaSearch


def _optuna(cfg: ExperimentConfig) -> tuple[Any, dict[str, Any]]:
    import optuna

    if not cfg.search.space:
        raise ConfigError(
            "search.space is empty; add at least one parameter to search over "
            "(for a one-factor-at-a-time grid use `hpo-ray ofat`)"
        )
    s = cfg.search
    if s.num_samples <= s.n_startup_trials and s.epoch_budget is None:
        log.warning(
            "search.num_samples=%d <= search.n_startup_trials=%d: every trial is a random "
            "start-up trial, so this TPE search is a random search; lower n_startup_trials",
            s.num_samples,
            s.n_startup_trials,
        )
    sampler = optuna.samplers.TPESampler(seed=s.seed, n_startup_trials=s.n_startup_trials)
    space = cfg.search.space
    searched: Any = DefineByRun(space) if is_conditional(space) else optuna_space(space)
    # The study lives in memory inside the searcher (pickled by Tune, so restore works); the
    # SQLite copy for optuna-dashboard is written from the results (see hpo_ray.tuning.study).
    searcher = resumable_optuna_search_class()(
        space=searched,
        sampler=sampler,
        metric=OBJECTIVE,
        mode=cfg.search.mode,
    )
    return searcher, {}


def _random(cfg: ExperimentConfig) -> tuple[Any, dict[str, Any]]:
    from ray.tune.search import BasicVariantGenerator

    return BasicVariantGenerator(random_state=cfg.search.seed), tune_space(cfg.search.space)


def _grid(cfg: ExperimentConfig) -> tuple[Any, dict[str, Any]]:
    """Every combination of the listed values (a full factorial grid), each trained once."""
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    space = cfg.search.space
    if not space:
        raise ConfigError("search.space is empty; list values per parameter for the grid")
    for name, spec in space.items():
        if spec.type != "categorical":
            raise ConfigError(
                f"search.space.{name}: searcher grid needs listed values; write "
                f"{{type: categorical, values: [...]}}"
            )
    grid = {name: tune.grid_search(list(spec.values or [])) for name, spec in space.items()}
    return BasicVariantGenerator(random_state=cfg.search.seed), grid


def _max_evaluations(cfg: ExperimentConfig) -> int:
    """The most evaluations a trial can report (ASHA's max_t)."""
    if cfg.training.eval_steps:
        return 10_000
    epochs = [cfg.training.num_train_epochs]
    spec = cfg.search.space.get("num_train_epochs")
    if spec is not None:
        epochs += [int(v) for v in (spec.values or [])]
        epochs += [int(spec.high)] if spec.high is not None else []
    return max(epochs)


def _asha(cfg: ExperimentConfig) -> Any:
    from ray.tune.schedulers import ASHAScheduler

    max_t = max(_max_evaluations(cfg), cfg.search.grace_period)
    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=max_t,
        grace_period=cfg.search.grace_period,
        reduction_factor=cfg.search.reduction_factor,
    )


def _median(cfg: ExperimentConfig) -> Any:
    from ray.tune.schedulers import MedianStoppingRule

    return MedianStoppingRule(
        time_attr="training_iteration", grace_period=cfg.search.grace_period, min_samples_required=2
    )


def _fifo(cfg: ExperimentConfig) -> Any:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


SEARCHER_FACTORIES: dict[str, Callable[[ExperimentConfig], tuple[Any, dict[str, Any]]]] = {
    "optuna": _optuna,
    "random": _random,
    "grid": _grid,
}
SCHEDULER_FACTORIES: dict[str, Callable[[ExperimentConfig], Any]] = {
    "asha": _asha,
    "median": _median,
    "none": _fifo,
}
if tuple(SEARCHER_FACTORIES) != SEARCHERS or tuple(SCHEDULER_FACTORIES) != SCHEDULERS:
    raise RuntimeError("the searcher/scheduler registries and config.schema's names disagree")


def make_searcher(cfg: ExperimentConfig) -> tuple[Any, dict[str, Any]]:
    """The search algorithm and the ``param_space`` to give the Tuner."""
    try:
        factory = SEARCHER_FACTORIES[cfg.search.searcher]
    except KeyError:
        raise ConfigError(
            f"search.searcher={cfg.search.searcher!r} is not known; choose one of: "
            f"{', '.join(SEARCHER_FACTORIES)}"
        ) from None
    return factory(cfg)


def make_stopper(cfg: ExperimentConfig) -> Any:
    """The experiment-wide stop rule: the epoch budget, or None."""
    if cfg.search.epoch_budget is None:
        return None
    return epoch_budget_class()(cfg.search.epoch_budget)


@functools.cache
def epoch_budget_class() -> type:
    """A Tune ``Stopper`` that stops every trial once the epochs trained across all trials
    reach ``budget`` (a class made on first use, so importing this module does not load Ray).

    Each trial counts the latest ``epoch`` it reported, so a trial stopped early counts only
    what it trained."""
    from ray.tune.stopper import Stopper

    class EpochBudget(Stopper):
        def __init__(self, budget: float) -> None:
            self.budget = budget
            self.epochs: dict[str, float] = {}

        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            self.epochs[trial_id] = float(result.get("epoch", 0.0) or 0.0)
            return False

        def stop_all(self) -> bool:
            return sum(self.epochs.values()) >= self.budget - 1e-9

    EpochBudget.__module__ = __name__
    EpochBudget.__qualname__ = EpochBudget.__name__
    return EpochBudget


LAZY_CLASSES = {
    "ResumableOptunaSearch": resumable_optuna_search_class,
    "EpochBudget": epoch_budget_class,
}


def __getattr__(name: str) -> Any:
    """The Ray subclasses in ``LAZY_CLASSES`` are made on first use (importing this module must
    not load Ray); pickle finds them here by name."""
    if name in LAZY_CLASSES:
        return LAZY_CLASSES[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_scheduler(cfg: ExperimentConfig) -> Any:
    try:
        factory = SCHEDULER_FACTORIES[cfg.search.scheduler]
    except KeyError:
        raise ConfigError(
            f"search.scheduler={cfg.search.scheduler!r} is not known; choose one "
            f"of: {', '.join(SCHEDULER_FACTORIES)}"
        ) from None
    return factory(cfg)
