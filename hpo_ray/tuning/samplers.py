"""One class per Optuna sampler family (``search.sampler``), which one ``auto`` picks for a
space and a budget (the summary prints why), and the start-up trials a model-based sampler
draws at random first. ``SAMPLERS`` names them; a new sampler is a class here and an entry
there.

Example::

    choice = choose_sampler(cfg)   # Choice(name="tpe", reason="trials run side by side...")
    sampler = sampler_of(cfg).build(cfg)
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.errors import ConfigError, check_config
from hpo_ray.lazy import lazy_class, module_getattr
from hpo_ray.tuning.schedulers import AUTO, Choice, scheduler_of
from hpo_ray.tuning.space import domain_of, is_conditional

LARGE_BUDGET = 40
"""Above this many trials ``auto`` prefers TPE: a Gaussian process refits on every trial, at a
cost that grows with the cube of the trials seen, and TPE's density model has enough data."""

SMALL_BUDGET = 10
"""Below this many trials ``auto`` spreads them with a space-filling design (scrambled Sobol
points) instead of a model: Optuna's TPE itself draws its first 10 trials at random before its
density model proposes, so a search of fewer has (almost) nothing to model, and random draws
can all land in one region (three low learning rates that learn nothing) where Sobol points
cover each parameter's range."""


def choose_sampler(cfg: ExperimentConfig) -> Choice:
    """``search.sampler``, or for ``auto`` the sampler that suits the space and the budget.

    TPE for conditional spaces (it samples a parameter only where it matters; GP and CMA-ES
    need a fixed space) and for spaces of categorical values only; scrambled Sobol points
    (QMC) for a search of fewer than ``SMALL_BUDGET`` trials; TPE for large budgets and when
    trials run side by side (its constant liar keeps parallel proposals apart); otherwise a
    Gaussian process, built for small budgets of expensive trials, which is what fine-tuning
    is. Optuna's GP sampler also proposes around running trials (q-batch expected
    improvement), but on the quality benchmark's parallel searches of 12 trials it was not
    ahead of TPE (test F1 0.003 lower on average over three corpora, BENCHMARKS.md), so TPE
    keeps the parallel case."""
    s = cfg.search
    if s.sampler != AUTO:
        sampler_named(s.sampler)
        return Choice(s.sampler, "set by search.sampler")
    if is_conditional(s.space):
        return Choice(
            "tpe",
            "conditional space (a parameter matters only for some "
            "values of another): TPE samples it only where it matters",
        )
    if all(spec.type == "categorical" for spec in s.space.values()):
        return Choice("tpe", "only categorical parameters: TPE models them directly")
    trials = expected_trials(cfg)
    if trials < SMALL_BUDGET:
        budget = "" if trials == s.num_samples else " (within search.epoch_budget)"
        return Choice(
            "qmc",
            f"at most {trials} trials{budget}, fewer than a model needs "
            f"({SMALL_BUDGET}): scrambled Sobol points spread them over the space",
        )
    if s.num_samples > LARGE_BUDGET:
        return Choice(
            "tpe", f"{s.num_samples} trials (> {LARGE_BUDGET}): TPE scales to many trials"
        )
    if parallel_trials(cfg):
        return Choice(
            "tpe",
            "trials run side by side: TPE's constant liar keeps parallel proposals apart "
            "(the GP sampler was not ahead of it on the quality benchmark)",
        )
    return Choice(
        "gp",
        f"{s.num_samples} sequential trials over a fixed space: a Gaussian process makes the "
        "most of a small budget of expensive trials",
    )


def expected_trials(cfg: ExperimentConfig) -> int:
    """The most trials the search can run: ``num_samples``, or fewer where
    ``search.epoch_budget`` runs out first (a trial trains at least the scheduler's grace
    period, else all its epochs)."""
    s = cfg.search
    if s.epoch_budget is None:
        return s.num_samples
    shortest = s.grace_period if scheduler_of(cfg).strategy.stops_early else None
    shortest = shortest or cfg.training.num_train_epochs
    return max(1, min(s.num_samples, math.ceil(s.epoch_budget / shortest)))


def startup_trials(cfg: ExperimentConfig) -> int:
    """``search.n_startup_trials``, or a quarter of the trials the search can run
    (``expected_trials``: a budget that runs out first counts, not ``num_samples``), 2 to 10."""
    if cfg.search.n_startup_trials is not None:
        return cfg.search.n_startup_trials
    return max(2, min(10, expected_trials(cfg) // 4))


def parallel_trials(cfg: ExperimentConfig) -> bool:
    """Whether more than one trial can run at once (``max_concurrent_trials`` not 1)."""
    return cfg.search.max_concurrent_trials != 1


class Sampler(ABC):
    """An Optuna sampler as ``search.sampler`` names it, seeded by ``search.seed``."""

    name: ClassVar[str]
    model_based: ClassVar[bool] = False
    """Whether it draws ``startup_trials`` at random before its model proposes."""

    def check(self, cfg: ExperimentConfig) -> None:
        """Refuse, in one line, a space this sampler cannot search."""
        return None  # by default nothing is refused

    @abstractmethod
    def build(self, cfg: ExperimentConfig) -> Any:
        """The Optuna sampler."""

    def samples(self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]) -> int:
        """The trials to ask Tune for (``references``: the reference trials' points)."""
        return cfg.search.num_samples


class Tpe(Sampler):
    """Tree-structured Parzen estimators; the constant liar keeps parallel proposals apart."""

    name = "tpe"
    model_based = True

    def build(self, cfg: ExperimentConfig) -> Any:
        import optuna

        return optuna.samplers.TPESampler(
            seed=cfg.search.seed,
            n_startup_trials=startup_trials(cfg),
            multivariate=True,
            group=is_conditional(cfg.search.space),
            constant_liar=parallel_trials(cfg),
        )


class Gp(Sampler):
    """A Gaussian process with expected improvement: small budgets of expensive trials."""

    name = "gp"
    model_based = True

    def build(self, cfg: ExperimentConfig) -> Any:
        import optuna

        return optuna.samplers.GPSampler(seed=cfg.search.seed, n_startup_trials=startup_trials(cfg))


class CmaEs(Sampler):
    """CMA-ES: an evolution strategy over the numeric parameters."""

    name = "cmaes"
    model_based = True

    def build(self, cfg: ExperimentConfig) -> Any:
        import optuna

        return optuna.samplers.CmaEsSampler(
            seed=cfg.search.seed, n_startup_trials=startup_trials(cfg)
        )


class Qmc(Sampler):
    """Scrambled Sobol points: a space-filling design for a handful of trials."""

    name = "qmc"

    def build(self, cfg: ExperimentConfig) -> Any:
        import optuna

        with warnings.catch_warnings():  # "experimental since 3.0": noise in every run
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(seed=cfg.search.seed, scramble=True)


class Random(Sampler):
    """Independent uniform draws."""

    name = "random"

    def build(self, cfg: ExperimentConfig) -> Any:
        import optuna

        return optuna.samplers.RandomSampler(seed=cfg.search.seed)


class BruteForce(Sampler):
    """Every combination of a finite space (listed values, int ranges, stepped float
    ranges), each once, in random order; the search ends at ``num_samples`` or when the
    combinations run out, whichever comes first (``grid_size``)."""

    name = "bruteforce"

    def check(self, cfg: ExperimentConfig) -> None:
        for name, spec in cfg.search.space.items():
            d = domain_of(spec)
            check_config(
                d.kind != "float" or bool(d.step),
                f"search.space.{name}: sampler bruteforce needs a finite space; give it a step "
                "(or listed values), or use another search.sampler",
            )

    def samples(self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]) -> int:
        # each combination once, and the references that are not one of them
        domains = {name: domain_of(spec) for name, spec in cfg.search.space.items()}
        off_grid = [
            point
            for point in references.values()
            if not all(domains[k].holds(v) for k, v in point.items())
        ]
        return min(cfg.search.num_samples, grid_size(cfg) + len(off_grid))

    def build(self, cfg: ExperimentConfig) -> Any:
        import optuna

        with warnings.catch_warnings():  # "experimental since 3.1": noise in every run
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return brute_force_class()(seed=cfg.search.seed)


@lazy_class("TuneBruteForce", __name__)
def brute_force_class() -> type:
    """Optuna's ``BruteForceSampler`` that leaves ending the search to Tune: Optuna's stops
    its study when every combination has run, which it may do only inside
    ``study.optimize`` (Tune asks and tells), and Tune's ``num_samples`` ends it anyway."""
    import optuna

    class TuneBruteForce(optuna.samplers.BruteForceSampler):
        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            pass

    return TuneBruteForce


def grid_size(cfg: ExperimentConfig) -> int:
    """How many combinations a finite space has (each listed value, each grid point)."""
    size = 1
    for spec in cfg.search.space.values():
        d = domain_of(spec)
        size *= (
            len(d.values)
            if d.kind == "categorical"
            else len(d.grid())
            if d.step
            else (int(d.high) - int(d.low) + 1)
        )
    return size


SAMPLERS: dict[str, Sampler] = {
    s.name: s for s in (Tpe(), Gp(), CmaEs(), Qmc(), Random(), BruteForce())
}
"""Every sampler ``search.sampler`` may name (besides ``auto``)."""


def sampler_named(name: str) -> Sampler:
    """The sampler ``name``, or a one-line error naming the choices."""
    if name not in SAMPLERS:
        raise ConfigError(
            f"search.sampler={name!r} is not known; choose one of: {', '.join([AUTO, *SAMPLERS])}"
        )
    return SAMPLERS[name]


def sampler_of(cfg: ExperimentConfig) -> Sampler:
    """The sampler an Optuna search runs with (for ``auto``, ``choose_sampler``'s)."""
    return sampler_named(choose_sampler(cfg).name)


def make_sampler(cfg: ExperimentConfig, name: str) -> Any:
    """The Optuna sampler ``name`` seeded by ``search.seed``."""
    return sampler_named(name).build(cfg)


__getattr__ = module_getattr(__name__)
