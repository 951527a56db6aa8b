"""Optuna's samplers by name, which one ``search.sampler: auto`` picks for a space and a
budget, and which scheduler ``search.scheduler: auto`` picks for the trials' length (the
summary prints both reasons).

Example::

    choice = choose_sampler(cfg)   # Choice(name="tpe", reason="trials run side by side...")
    sampler = make_sampler(cfg, choice.name)
    choose_scheduler(cfg).name     # "none" for 2-epoch trials, "asha" for 4 or more
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.tuning.baseline import baseline_outside
from hpo_ray.tuning.space import is_conditional

LARGE_BUDGET = 40
"""Above this many trials ``auto`` prefers TPE: a Gaussian process refits on every trial, at a
cost that grows with the cube of the trials seen, and TPE's density model has enough data."""

SMALL_BUDGET = 10
"""Below this many trials ``auto`` spreads them with a space-filling design (scrambled Sobol
points) instead of a model: Optuna's TPE itself draws its first 10 trials at random before its
density model proposes, so a search of fewer has (almost) nothing to model, and random draws
can all land in one region (three low learning rates that learn nothing) where Sobol points
cover each parameter's range."""

MIN_EVALUATIONS_TO_STOP = 4
"""``scheduler: auto`` stops trials early (ASHA) only when each makes at least this many
evaluations. With fewer, the only point a scheduler can judge a trial is near the middle of its
learning-rate schedule, and a cut saves at most half a trial: on the quality benchmark's
2-epoch trials ASHA cut learning rates that go on to win after their second epoch (3-class
rotten-tomatoes: 0.596 test F1 with ASHA, 0.644 without; BENCHMARKS.md)."""


@dataclass(frozen=True)
class Choice:
    """Which Optuna sampler or Tune scheduler a search uses, and why (the summary prints it)."""

    name: str
    reason: str


def choose_scheduler(cfg: ExperimentConfig) -> Choice:
    """``search.scheduler``, or for ``auto``: ASHA where trials are long enough for an early
    cut to be judged on a trial's learning, else none (every trial trains all its epochs)."""
    s = cfg.search
    if s.scheduler != "auto":
        return Choice(s.scheduler, "set by search.scheduler")
    if "num_train_epochs" in s.space:
        return Choice(
            "none",
            "the space searches num_train_epochs: trials of different lengths are not "
            "comparable at the same epoch",
        )
    if cfg.training.eval_steps:
        return Choice("asha", "trials evaluate every training.eval_steps steps")
    evaluations = max_evaluations(cfg)  # training.num_train_epochs here
    if evaluations < max(MIN_EVALUATIONS_TO_STOP, s.grace_period + 1):
        return Choice(
            "none",
            f"trials of {evaluations} epoch{'s' if evaluations != 1 else ''} (ASHA from "
            f"{MIN_EVALUATIONS_TO_STOP}): a cut would judge a trial in the middle of its "
            "learning-rate schedule and save little; every trial trains all its epochs",
        )
    return Choice(
        "asha",
        f"trials of {evaluations} epochs: ASHA stops the weakest after "
        f"{s.grace_period} and trains the rest on",
    )


def max_evaluations(cfg: ExperimentConfig) -> int:
    """The most evaluations a trial can report (ASHA's max_t)."""
    if cfg.training.eval_steps:
        return 10_000
    epochs = [cfg.training.num_train_epochs]
    spec = cfg.search.space.get("num_train_epochs")
    if spec is not None:
        epochs += [int(v) for v in (spec.values or [])]
        epochs += [int(spec.high)] if spec.high is not None else []
    return max(epochs)


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
    if s.sampler != "auto":
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
    shortest = s.grace_period if choose_scheduler(cfg).name in ("asha", "median") else None
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


def make_sampler(cfg: ExperimentConfig, name: str) -> Any:
    """The Optuna sampler ``name`` seeded by ``search.seed``."""
    import optuna

    s = cfg.search
    if name == "tpe":
        return optuna.samplers.TPESampler(
            seed=s.seed,
            n_startup_trials=startup_trials(cfg),
            multivariate=True,
            group=is_conditional(s.space),
            constant_liar=parallel_trials(cfg),
        )
    if name == "gp":
        return optuna.samplers.GPSampler(seed=s.seed, n_startup_trials=startup_trials(cfg))
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=s.seed, n_startup_trials=startup_trials(cfg))
    if name == "qmc":
        with warnings.catch_warnings():  # "experimental since 3.0": noise in every run
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(seed=s.seed, scramble=True)
    return optuna.samplers.RandomSampler(seed=s.seed)


def plan_warnings(cfg: ExperimentConfig) -> list[str]:
    """What is legal but probably not meant, said once the run has passed every check."""
    s = cfg.search
    name = choose_sampler(cfg).name
    warnings = []
    if (
        s.searcher == "optuna"
        and name in ("tpe", "gp", "cmaes")
        and s.num_samples <= startup_trials(cfg)
        and s.epoch_budget is None
    ):
        warnings.append(
            f"search.num_samples={s.num_samples} <= search.n_startup_trials="
            f"{startup_trials(cfg)}: every trial is a random start-up trial, so this "
            f"{name.upper()} search is a random search; lower n_startup_trials"
        )
    if s.baseline and s.searcher != "grid" and baseline_outside(cfg):
        warnings.append(
            f"no baseline trial: {baseline_outside(cfg)} (widen the space to include it)"
        )
    return warnings
