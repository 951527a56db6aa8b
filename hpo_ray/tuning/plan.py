"""How the Tuner explores: the search algorithm, the param space, the scheduler, the count.

A Bayesian (or random, or grid) search and an OFAT sweep share everything else (data,
trainable, results, refit); they differ only in the plan.

Example::

    plan = search_plan(cfg)   # OptunaSearch + ASHA, num_samples trials
    plan = ofat_plan(cfg)     # one grid_search over the single-axis variants, FIFO
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.errors import ConfigError
from hpo_ray.tuning.baseline import baseline_outside
from hpo_ray.tuning.kinds import Kind
from hpo_ray.tuning.registry import make_scheduler, make_searcher, tune_samples
from hpo_ray.tuning.samplers import choose_sampler, sampler_of, startup_trials
from hpo_ray.tuning.searchers import searcher_of
from hpo_ray.tuning.space import ofat_param_space, reseed_param_space


@dataclass(frozen=True)
class TunePlan:
    """How the Tuner explores: search algorithm, param space, scheduler, trial count."""

    kind: Kind
    searcher: Any
    param_space: dict[str, Any]
    scheduler: Any
    num_samples: int


def search_plan(cfg: ExperimentConfig) -> TunePlan:
    """OptunaSearch or random search with an early-stopping scheduler, from ``cfg.search``."""
    searcher, param_space = make_searcher(cfg)  # every name and rule checked first
    return TunePlan(Kind.SEARCH, searcher, param_space, make_scheduler(cfg), tune_samples(cfg))


def ofat_plan(cfg: ExperimentConfig) -> TunePlan:
    """One trial per single-axis variant of ``cfg.ofat.grid``; nothing stops or reorders them."""
    from ray.tune.schedulers import FIFOScheduler

    if not cfg.ofat.grid:
        raise ConfigError(
            "ofat.grid is empty; list values per parameter, e.g. "
            "ofat.grid.learning_rate=[1.0e-5,5.0e-5]"
        )
    space = ofat_param_space(cfg.base_params(), cfg.ofat.grid)
    return TunePlan(Kind.OFAT, None, space, FIFOScheduler(), 1)


def reseed_plan(candidates: list[dict[str, Any]], seeds: list[int]) -> TunePlan:
    """Each candidate ``{"rank", "trial_id", "params"}`` trained once per seed, all run."""
    from ray.tune.schedulers import FIFOScheduler

    return TunePlan(Kind.RESEED, None, reseed_param_space(candidates, seeds), FIFOScheduler(), 1)


def plan_warnings(cfg: ExperimentConfig) -> list[str]:
    """What is legal but probably not meant, said once the run has passed every check."""
    s = cfg.search
    warnings = []
    searcher = searcher_of(cfg)
    if (
        searcher.model_based
        and sampler_of(cfg).model_based
        and s.num_samples <= startup_trials(cfg)
        and s.epoch_budget is None
    ):
        warnings.append(
            f"search.num_samples={s.num_samples} <= search.n_startup_trials="
            f"{startup_trials(cfg)}: every trial is a random start-up trial, so this "
            f"{choose_sampler(cfg).name.upper()} search is a random search; lower "
            "n_startup_trials"
        )
    if s.baseline and searcher.runs_references and baseline_outside(cfg):
        warnings.append(
            f"no baseline trial: {baseline_outside(cfg)} (widen the space to include it)"
        )
    return warnings
