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
from hpo_ray.config.validation import validate_search
from hpo_ray.errors import ConfigError
from hpo_ray.tuning.registry import make_scheduler, make_searcher
from hpo_ray.tuning.space import ofat_param_space, reseed_param_space


@dataclass(frozen=True)
class TunePlan:
    """How the Tuner explores: search algorithm, param space, scheduler, trial count."""

    kind: str
    """``search`` (Bayesian, random or grid), ``ofat`` (single-axis grid) or ``reseed``."""
    searcher: Any
    param_space: dict[str, Any]
    scheduler: Any
    num_samples: int


def search_plan(cfg: ExperimentConfig) -> TunePlan:
    """OptunaSearch or random search with an early-stopping scheduler, from ``cfg.search``."""
    validate_search(cfg)
    searcher, param_space = make_searcher(cfg)
    # A grid is run once; Tune would repeat it num_samples times.
    samples = 1 if cfg.search.searcher == "grid" else cfg.search.num_samples
    return TunePlan("search", searcher, param_space, make_scheduler(cfg), samples)


def ofat_plan(cfg: ExperimentConfig) -> TunePlan:
    """One trial per single-axis variant of ``cfg.ofat.grid``; nothing stops or reorders them."""
    from ray.tune.schedulers import FIFOScheduler

    if not cfg.ofat.grid:
        raise ConfigError(
            "ofat.grid is empty; list values per parameter, e.g. "
            "ofat.grid.learning_rate=[1.0e-5,5.0e-5]"
        )
    space = ofat_param_space(cfg.base_params(), cfg.ofat.grid)
    return TunePlan("ofat", None, space, FIFOScheduler(), 1)


def reseed_plan(candidates: list[dict[str, Any]], seeds: list[int]) -> TunePlan:
    """Each candidate ``{"rank", "trial_id", "params"}`` trained once per seed, all run."""
    from ray.tune.schedulers import FIFOScheduler

    return TunePlan("reseed", None, reseed_param_space(candidates, seeds), FIFOScheduler(), 1)
