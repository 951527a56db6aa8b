"""The searcher, scheduler and stop rule a search runs with, from the strategies
(``tuning.searchers``, ``tuning.samplers``, ``tuning.schedulers``: each names its own in
``SEARCHERS``, ``SAMPLERS``, ``SCHEDULERS``).

Example::

    make_scheduler(cfg)  # ASHA (sparing the references) for search.scheduler == "asha"
"""

from __future__ import annotations

from typing import Any

from hpo_ray.config.formats import EPOCH, FLOAT_TOL
from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.lazy import lazy_alias, lazy_class, module_getattr
from hpo_ray.tuning.baseline import reference_points
from hpo_ray.tuning.ray_seam import (
    baseline_asha_class,
    baseline_median_class,
    resumable_optuna_search_class,
)
from hpo_ray.tuning.samplers import SAMPLERS
from hpo_ray.tuning.schedulers import SCHEDULERS, scheduler_of
from hpo_ray.tuning.searchers import SEARCHERS, check_search, searcher_of

__all__ = ["SAMPLERS", "SCHEDULERS", "SEARCHERS", "make_scheduler", "make_searcher"]

# Experiments saved before these classes moved to tuning.ray_seam name them here.
lazy_alias("ResumableOptunaSearch", __name__, resumable_optuna_search_class)
lazy_alias("BaselineASHAScheduler", __name__, baseline_asha_class)
lazy_alias("BaselineMedianStoppingRule", __name__, baseline_median_class)


def make_searcher(cfg: ExperimentConfig) -> tuple[Any, dict[str, Any]]:
    """The search algorithm and the ``param_space`` to give the Tuner (every name and rule of
    the search checked first), the references enqueued as its first trials."""
    check_search(cfg)
    return searcher_of(cfg).build(cfg, reference_points(cfg))


def make_scheduler(cfg: ExperimentConfig) -> Any:
    """The Tune scheduler ``search.scheduler`` names (for ``auto``: the one it chooses),
    sparing the reference trials."""
    return scheduler_of(cfg).strategy.build(cfg, reference_points(cfg))


def tune_samples(cfg: ExperimentConfig) -> int:
    """Tune's ``num_samples`` for the search."""
    return searcher_of(cfg).samples(cfg, reference_points(cfg))


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
            self.epochs[trial_id] = float(result.get(EPOCH, 0.0) or 0.0)
            return False

        def stop_all(self) -> bool:
            return sum(self.epochs.values()) >= self.budget - FLOAT_TOL

    return EpochBudget


__getattr__ = module_getattr(__name__)
