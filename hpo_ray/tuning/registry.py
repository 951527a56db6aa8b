"""Searchers and schedulers by name. Each factory takes the experiment config.

Example::

    make_scheduler(cfg)  # ASHAScheduler for search.scheduler == "asha"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hpo_ray.config.schema import (
    CONDITIONAL,
    MODEL_NAME,
    OBJECTIVE,
    SCHEDULERS,
    SEARCHERS,
    TRAIN_DONE,
    ExperimentConfig,
    ParamSpec,
)
from hpo_ray.config.trials import same_value
from hpo_ray.errors import ConfigError
from hpo_ray.lazy import lazy_class, module_getattr
from hpo_ray.tuning.space import DefineByRun, is_conditional, optuna_space, tune_space

LARGE_BUDGET = 40
"""Above this many trials ``auto`` prefers TPE: a Gaussian process refits on every trial, at a
cost that grows with the cube of the trials seen, and TPE's density model has enough data."""


@dataclass(frozen=True)
class SamplerChoice:
    """Which Optuna sampler a search uses, and why (the summary prints the reason)."""

    name: str
    reason: str


def choose_sampler(cfg: ExperimentConfig) -> SamplerChoice:
    """``search.sampler``, or for ``auto`` the sampler that suits the space and the budget.

    TPE for conditional spaces (it samples a parameter only where it matters; GP and CMA-ES
    need a fixed space), for spaces of categorical values only, for large budgets and when
    trials run side by side (its constant liar keeps parallel proposals apart; Optuna's GP
    sampler has no such option); otherwise a Gaussian process, built for small budgets of
    expensive trials, which is what fine-tuning is."""
    s = cfg.search
    if s.sampler != "auto":
        return SamplerChoice(s.sampler, "set by search.sampler")
    if is_conditional(s.space):
        return SamplerChoice(
            "tpe",
            "conditional space (a parameter matters only for some "
            "values of another): TPE samples it only where it matters",
        )
    if all(spec.type == "categorical" for spec in s.space.values()):
        return SamplerChoice("tpe", "only categorical parameters: TPE models them directly")
    if s.num_samples > LARGE_BUDGET:
        return SamplerChoice(
            "tpe", f"{s.num_samples} trials (> {LARGE_BUDGET}): TPE scales to many trials"
        )
    if parallel_trials(cfg):
        return SamplerChoice(
            "tpe",
            "trials run side by side: TPE's constant liar keeps parallel proposals apart "
            "(Optuna's GP sampler would propose near-duplicates)",
        )
    return SamplerChoice(
        "gp",
        f"{s.num_samples} sequential trials over a fixed space: a Gaussian process makes the "
        "most of a small budget of expensive trials",
    )


def plan_warnings(cfg: ExperimentConfig) -> list[str]:
    """What is legal but probably not meant, said once the run has passed every check."""
    s = cfg.search
    name = choose_sampler(cfg).name
    warnings = []
    if (
        s.searcher == "optuna"
        and name in ("tpe", "gp", "cmaes")
        and s.num_samples <= s.startup_trials()
        and s.epoch_budget is None
    ):
        warnings.append(
            f"search.num_samples={s.num_samples} <= search.n_startup_trials="
            f"{s.startup_trials()}: every trial is a random start-up trial, so this "
            f"{name.upper()} search is a random search; lower n_startup_trials"
        )
    if s.baseline and s.searcher != "grid" and baseline_outside(cfg):
        warnings.append(
            f"no baseline trial: {baseline_outside(cfg)} (widen the space to include it)"
        )
    return warnings


def parallel_trials(cfg: ExperimentConfig) -> bool:
    """Whether more than one trial can run at once (``max_concurrent_trials`` not 1)."""
    return cfg.search.max_concurrent_trials != 1


def make_sampler(cfg: ExperimentConfig, name: str) -> Any:
    """The Optuna sampler ``name`` seeded by ``search.seed``."""
    import optuna

    s = cfg.search
    if name == "tpe":
        return optuna.samplers.TPESampler(
            seed=s.seed,
            n_startup_trials=s.startup_trials(),
            multivariate=True,
            group=is_conditional(s.space),
            constant_liar=parallel_trials(cfg),
        )
    if name == "gp":
        return optuna.samplers.GPSampler(seed=s.seed, n_startup_trials=s.startup_trials())
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=s.seed, n_startup_trials=s.startup_trials())
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=s.seed, scramble=True)
    return optuna.samplers.RandomSampler(seed=s.seed)


def baseline_point(cfg: ExperimentConfig) -> dict[str, Any] | None:
    """The base ``training`` values of the searched parameters: the search's first trial.

    A conditional parameter whose parent has another base value is left out (it has no
    effect there). None when the baseline is off, or when a base value lies outside the space
    (the trial would leave the space the sampler models; ``baseline_outside`` says which)."""
    if not cfg.search.baseline or baseline_outside(cfg):
        return None
    base = cfg.base_params()
    point: dict[str, Any] = {}
    for name in cfg.search.space:
        if name in CONDITIONAL:
            parent, needed = CONDITIONAL[name]
            if base[parent] != needed:
                continue
        point[name] = base[name]
    return point


def baseline_points(cfg: ExperimentConfig) -> list[dict[str, Any]] | None:
    """``points_to_evaluate`` for the searcher: the baseline, or None."""
    point = baseline_point(cfg)
    return None if point is None else [point]


def baseline_outside(cfg: ExperimentConfig) -> str:
    """Why the base values cannot be the first trial (a base value outside the space), or ""."""
    base = cfg.base_params()
    for name, spec in cfg.search.space.items():
        if name in CONDITIONAL and base[CONDITIONAL[name][0]] != CONDITIONAL[name][1]:
            continue
        if not in_space(base[name], spec):
            where = "model.name" if name == MODEL_NAME else f"training.{name}"
            return f"{where}={base[name]!r} lies outside search.space.{name}"
    return ""


def in_space(value: Any, spec: ParamSpec) -> bool:
    if spec.type == "categorical":
        return any(same_value(value, v) for v in spec.values or [])
    low = spec.low if spec.low is not None else float("-inf")
    high = spec.high if spec.high is not None else float("inf")
    return low - 1e-12 * abs(low) <= float(value) <= high + 1e-12 * abs(high)


@lazy_class("ResumableOptunaSearch", __name__)
def resumable_optuna_search_class() -> type:
    """Ray's OptunaSearch, corrected for early stopping and for resume (a class made on first
    use, so importing this module does not load Ray).

    - A trial the scheduler (ASHA, median stopping) or the epoch budget cut before its training
      ended reaches Optuna as PRUNED, its per-epoch objective kept as intermediate values: the
      sampler treats it as a partial observation, not as a finished trial whose first-epoch
      score is its final one (Ray marks it COMPLETE whenever it reported a value).
    - Results of a trial the searcher never suggested are ignored. Tune saves the experiment
      state and the searcher's state at different moments, so after a driver crash the
      experiment can list a trial created after the searcher was saved; its results would end
      the resume with a KeyError. Such a trial still runs and is reported; only the sampler
      does not learn from it."""
    from ray.tune.search.optuna import OptunaSearch

    class ResumableOptunaSearch(OptunaSearch):
        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            if trial_id in self._ot_trials:
                super().on_trial_result(trial_id, result)

        def on_trial_complete(
            self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
        ) -> None:
            if trial_id not in self._ot_trials or trial_id in self._completed_trials:
                return
            study = self._ot_study
            if study is not None and result and not error and not result.get(TRAIN_DONE, True):
                import optuna

                ot_trial = self._ot_trials[trial_id]
                study.tell(ot_trial, state=optuna.trial.TrialState.PRUNED)
                self._completed_trials.add(trial_id)
                return
            super().on_trial_complete(trial_id, result, error)

    return ResumableOptunaSearch


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
    max_t = max(_max_evaluations(cfg), cfg.search.grace_period)
    return baseline_asha_class()(
        baseline=baseline_point(cfg),
        time_attr="training_iteration",
        max_t=max_t,
        grace_period=cfg.search.grace_period,
        reduction_factor=cfg.search.reduction_factor,
    )


def _median(cfg: ExperimentConfig) -> Any:
    return baseline_median_class()(
        baseline=baseline_point(cfg),
        time_attr="training_iteration",
        grace_period=cfg.search.grace_period,
        min_samples_required=2,
    )


def is_point(config: dict[str, Any], point: dict[str, Any] | None) -> bool:
    """Whether a trial's config holds exactly the values of ``point``."""
    return point is not None and all(
        k in config and same_value(config[k], v) for k, v in point.items()
    )


def spare_the_baseline(scheduler_class: type) -> type:
    """``scheduler_class`` that never stops the baseline trial: the defaults train their whole
    course, so the best trial is never worse than them on validation. Their results still count
    in the scheduler's statistics (rungs, medians) as any other trial's."""
    from ray.tune.schedulers import TrialScheduler

    class SparesBaseline(scheduler_class):
        def __init__(self, *args: Any, baseline: dict[str, Any] | None = None, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.baseline = baseline

        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            decision = super().on_trial_result(tune_controller, trial, result)
            if is_point(trial.config, self.baseline):
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
    try:
        factory = SCHEDULER_FACTORIES[cfg.search.scheduler]
    except KeyError:
        raise ConfigError(
            f"search.scheduler={cfg.search.scheduler!r} is not known; choose one "
            f"of: {', '.join(SCHEDULER_FACTORIES)}"
        ) from None
    return factory(cfg)


__getattr__ = module_getattr(__name__)
