"""Searchers and schedulers by name. Each factory takes the experiment config.

Example::

    make_scheduler(cfg)  # ASHAScheduler for search.scheduler == "asha"
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hpo_ray.config.schema import (
    OBJECTIVE,
    SCHEDULERS,
    SEARCHERS,
    TRAIN_DONE,
    ExperimentConfig,
)
from hpo_ray.errors import ConfigError
from hpo_ray.lazy import lazy_class, module_getattr
from hpo_ray.tuning.baseline import baseline_points, is_point, reference_points
from hpo_ray.tuning.population import population_scheduler
from hpo_ray.tuning.samplers import (
    choose_sampler,
    choose_scheduler,
    make_sampler,
    max_evaluations,
)
from hpo_ray.tuning.space import DefineByRun, is_conditional, optuna_space, tune_space


@lazy_class("ResumableOptunaSearch", __name__)
def resumable_optuna_search_class() -> type:
    """Ray's OptunaSearch, corrected for early stopping and for resume (a class made on first
    use, so importing this module does not load Ray).

    - A trial the scheduler (ASHA, median stopping) or the epoch budget cut before its training
      ended reaches Optuna as PRUNED, its per-epoch objective kept as intermediate values: the
      sampler treats it as a partial observation, not as a finished trial whose first-epoch
      score is its final one (Ray marks it COMPLETE whenever it reported a value).
    - A trial the searcher never suggested is learnt when it ends, from its parameters and
      result (a trial made after the searcher's state was saved, restored after a driver
      crash; see ``hpo_ray.tuning.realign``); its intermediate results are not asked for (Ray's
      would end the resume with a KeyError). A define-by-run space cannot take such a trial:
      it still runs and is reported; only the sampler does not learn from it."""
    from ray.tune.search.optuna import OptunaSearch

    class ResumableOptunaSearch(OptunaSearch):
        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            if trial_id in self._ot_trials:
                super().on_trial_result(trial_id, result)

        def on_trial_complete(
            self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
        ) -> None:
            if trial_id in self._completed_trials:
                return
            if trial_id not in self._ot_trials:
                self._learn(trial_id, result, error)
                return
            study = self._ot_study
            if study is not None and result and not error and not result.get(TRAIN_DONE, True):
                import optuna

                ot_trial = self._ot_trials[trial_id]
                study.tell(ot_trial, state=optuna.trial.TrialState.PRUNED)
                self._completed_trials.add(trial_id)
                return
            super().on_trial_complete(trial_id, result, error)

        def replay(self, trial_id: str, config: dict[str, Any]) -> None:
            """Suggest again for a trial made after this searcher's state was saved, so the
            sampler moves on as it did then (its random draws, its Sobol index). Where the
            suggestion is the trial's own (a seeded sampler replays exactly) the trial is this
            searcher's again; else the replayed suggestion is dropped as failed and the trial
            is learnt when it ends."""
            import optuna

            if trial_id in self._ot_trials:
                return  # suggested by this searcher before its state was saved
            suggested = self.suggest(trial_id)
            if isinstance(suggested, dict) and same_params(suggested, config):
                return
            ot_trial = self._ot_trials.pop(trial_id, None)
            if ot_trial is not None and self._ot_study is not None:
                self._ot_study.tell(ot_trial, state=optuna.trial.TrialState.FAIL)

        def _learn(self, trial_id: str, result: dict[str, Any] | None, error: bool) -> None:
            """Add a trial it did not suggest to the study, from its parameters and result."""
            import optuna

            space, study = self._space, self._ot_study
            params = (result or {}).get("config") or {}
            value = (result or {}).get(str(self._metric))
            if error or value is None or study is None or not isinstance(space, dict):
                return  # nothing to learn, or a define-by-run space (no distributions)
            if not set(space) <= set(params):
                return
            done = result.get(TRAIN_DONE, True)
            state = optuna.trial.TrialState
            step = int(result.get("training_iteration", 1))
            study.add_trial(
                optuna.trial.create_trial(
                    state=state.COMPLETE if done else state.PRUNED,
                    value=value if done else None,
                    params={name: params[name] for name in space},
                    distributions=space,
                    intermediate_values={step: value},
                )
            )
            self._completed_trials.add(trial_id)

    return ResumableOptunaSearch


def same_params(suggested: dict[str, Any], config: dict[str, Any]) -> bool:
    """Whether a trial's ``config`` holds the ``suggested`` values (floats to 1e-9)."""
    return all(
        math.isclose(v, config[k], rel_tol=1e-9)
        if isinstance(v, float) and isinstance(config.get(k), float)
        else config.get(k) == v
        for k, v in suggested.items()
    )


def _optuna(cfg: ExperimentConfig) -> tuple[Any, dict[str, Any]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created" line per run
    if not cfg.search.space:
        raise ConfigError(
            "search.space is empty; add at least one parameter to search over "
            "(for a one-factor-at-a-time grid use `hpo-ray ofat`)"
        )
    sampler = make_sampler(cfg, choose_sampler(cfg).name)
    space = cfg.search.space
    searched: Any = DefineByRun(space) if is_conditional(space) else optuna_space(space)
    # The study lives in memory inside the searcher (pickled by Tune, so restore works); the
    # SQLite copy for optuna-dashboard is written from the results (see hpo_ray.tuning.study).
    searcher = resumable_optuna_search_class()(
        space=searched,
        sampler=sampler,
        metric=OBJECTIVE,
        mode=cfg.search.mode,
        points_to_evaluate=baseline_points(cfg),
    )
    return searcher, {}


def _random(cfg: ExperimentConfig) -> tuple[Any, dict[str, Any]]:
    from ray.tune.search import BasicVariantGenerator

    generator = BasicVariantGenerator(
        random_state=cfg.search.seed, points_to_evaluate=baseline_points(cfg)
    )
    return generator, tune_space(cfg.search.space)


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


def _asha(cfg: ExperimentConfig) -> Any:
    max_t = max(max_evaluations(cfg), cfg.search.grace_period)
    return baseline_asha_class()(
        spared=list(reference_points(cfg).values()),
        time_attr="training_iteration",
        max_t=max_t,
        grace_period=cfg.search.grace_period,
        reduction_factor=cfg.search.reduction_factor,
    )


def _median(cfg: ExperimentConfig) -> Any:
    return baseline_median_class()(
        spared=list(reference_points(cfg).values()),
        time_attr="training_iteration",
        grace_period=cfg.search.grace_period,
        min_samples_required=2,
    )


def spare_the_baseline(scheduler_class: type) -> type:
    """``scheduler_class`` that never stops a reference trial (the baseline, the Trainer's
    defaults): the references train their whole course, so the best trial is never worse than
    them on validation. Their results still count in the scheduler's statistics (rungs,
    medians) as any other trial's."""
    from ray.tune.schedulers import TrialScheduler

    class SparesBaseline(scheduler_class):
        def __init__(
            self, *args: Any, spared: list[dict[str, Any]] | None = None, **kwargs: Any
        ) -> None:
            super().__init__(*args, **kwargs)
            self.spared = spared or []

        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            decision = super().on_trial_result(tune_controller, trial, result)
            if any(is_point(trial.config, point) for point in self.spared):
                # median stopping remembers whom it stopped and refuses their next result
                getattr(self, "_stopped_trials", set()).discard(trial)
                return str(TrialScheduler.CONTINUE)
            return str(decision)

    return SparesBaseline


@lazy_class("BaselineASHAScheduler", __name__)
def baseline_asha_class() -> type:
    """Ray's ``ASHAScheduler`` that never stops the baseline trial (``spare_the_baseline``)."""
    from ray.tune.schedulers import ASHAScheduler

    return spare_the_baseline(ASHAScheduler)


@lazy_class("BaselineMedianStoppingRule", __name__)
def baseline_median_class() -> type:
    """Ray's ``MedianStoppingRule`` that never stops the baseline trial."""
    from ray.tune.schedulers import MedianStoppingRule

    return spare_the_baseline(MedianStoppingRule)


def _fifo(cfg: ExperimentConfig) -> Any:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


SEARCHER_FACTORIES: dict[str, Callable[[ExperimentConfig], tuple[Any, dict[str, Any]]]] = {
    "optuna": _optuna,
    "random": _random,
    "grid": _grid,
}


def _population(cfg: ExperimentConfig) -> Any:
    return population_scheduler(cfg)


SCHEDULER_FACTORIES: dict[str, Callable[[ExperimentConfig], Any]] = {
    "asha": _asha,
    "median": _median,
    "pbt": _population,
    "pb2": _population,
    "none": _fifo,
}
if tuple(SEARCHER_FACTORIES) != SEARCHERS or ("auto", *SCHEDULER_FACTORIES) != SCHEDULERS:
    raise RuntimeError("the searcher/scheduler registries and config.schema's names disagree")


def make_searcher(cfg: ExperimentConfig) -> tuple[Any, dict[str, Any]]:
    """The search algorithm and the ``param_space`` to give the Tuner.

    A population (PBT, PB2) is drawn at random or from the grid: Ray's population schedulers
    take no model-based searcher (they choose the values themselves as the trials train)."""
    name = cfg.search.searcher
    if cfg.search.population and name == "optuna":
        name = "random"
    try:
        factory = SEARCHER_FACTORIES[name]
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


@lazy_class("EpochBudget", __name__)
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

    return EpochBudget


def make_scheduler(cfg: ExperimentConfig) -> Any:
    """The Tune scheduler ``search.scheduler`` names (for ``auto``: the one it chooses)."""
    try:
        factory = SCHEDULER_FACTORIES[choose_scheduler(cfg).name]
    except KeyError:
        raise ConfigError(
            f"search.scheduler={cfg.search.scheduler!r} is not known; choose one "
            f"of: {', '.join(SCHEDULER_FACTORIES)}"
        ) from None
    return factory(cfg)


__getattr__ = module_getattr(__name__)
