"""One class per Tune scheduler: what it builds, its checks, whether it stops trials early or
evolves a population, and the line the summary gives it; ``SCHEDULERS`` names them and
``scheduler_of`` picks the one a config runs (for ``search.scheduler: auto``, with why).

A new scheduler is a class here and an entry in ``SCHEDULERS``; nothing else compares
scheduler names.

Example::

    chosen = scheduler_of(cfg)      # Chosen(strategy=Asha(), reason="trials of 4 epochs: ...")
    chosen.strategy.check(cfg)      # ConfigError in one line where it cannot run
    tune_scheduler = chosen.strategy.build(cfg)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from hpo_ray.config.formats import EPOCH
from hpo_ray.config.schema import PBT_MUTABLE, ExperimentConfig
from hpo_ray.errors import ConfigError, check_config
from hpo_ray.tuning.population import KeepInRange
from hpo_ray.tuning.ray_seam import (
    baseline_asha_class,
    baseline_median_class,
    baseline_pb2_class,
    baseline_pbt_class,
)
from hpo_ray.tuning.space import tune_space

AUTO = "auto"
"""``search.scheduler`` and ``search.sampler``: chosen from the space and the budget."""

MIN_EVALUATIONS_TO_STOP = 4
"""``scheduler: auto`` stops trials early (ASHA) only when each makes at least this many
evaluations. With fewer, the only point a scheduler can judge a trial is near the middle of its
learning-rate schedule, and a cut saves at most half a trial: on the quality benchmark's
2-epoch trials ASHA cut learning rates that go on to win after their second epoch (3-class
rotten-tomatoes: 0.596 test F1 with ASHA, 0.644 without; BENCHMARKS.md)."""

HYPERBAND_BRACKETS = 3
"""Brackets of the ``hyperband`` scheduler: each starts cutting at a later rung."""


@dataclass(frozen=True)
class Choice:
    """Which Optuna sampler or Tune scheduler a search uses, and why (the summary prints it)."""

    name: str
    reason: str


class Scheduler(ABC):
    """A Tune scheduler as ``search.scheduler`` names it."""

    name: ClassVar[str]
    stops_early: ClassVar[bool] = False
    """Whether it stops weak trials before their last epoch (the references are spared)."""
    population: ClassVar[bool] = False
    """Whether trials change their values while they train and copy each other's weights."""
    decides_length: ClassVar[bool] = True
    """Whether it decides how long a trial trains (then num_train_epochs cannot be searched)."""

    def check(self, cfg: ExperimentConfig) -> None:
        """Refuse, in one line, a config this scheduler cannot run (at planning time)."""
        s = cfg.search
        check_config(
            not self.decides_length or "num_train_epochs" not in s.space,
            f"search.space.num_train_epochs cannot be searched with search.scheduler="
            f"{s.scheduler}: the scheduler decides how long a trial trains (its learning-rate "
            "schedule spans training.num_train_epochs); remove it from the space or set "
            "search.scheduler=none",
        )

    def check_refit(self, cfg: ExperimentConfig, how: str) -> None:
        """Refuse a refit this scheduler's trials cannot give (``run.refit``, ``--how``)."""
        return None  # by default nothing is refused

    @abstractmethod
    def build(self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]) -> Any:
        """The Tune scheduler; ``references`` are the reference trials' points by name
        (``tuning.baseline.reference_points``): a scheduler never stops or replaces them."""

    def searcher_name(self, name: str) -> str:
        """The searcher that really draws the trials when ``search.searcher`` is ``name``."""
        return name

    def describe(self, cfg: ExperimentConfig) -> list[str]:
        """Lines the summary adds under the searcher's (how a population evolved)."""
        return []


class NoScheduler(Scheduler):
    """Every trial trains all its epochs (Tune's FIFO order)."""

    name = "none"
    decides_length = False  # the space may search num_train_epochs

    def build(self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]) -> Any:
        from ray.tune.schedulers import FIFOScheduler

        return FIFOScheduler()


class EarlyStopping(Scheduler):
    """A scheduler that stops the weakest trials after ``search.grace_period`` evaluations."""

    stops_early = True

    def check(self, cfg: ExperimentConfig) -> None:
        super().check(cfg)
        t, s = cfg.training, cfg.search
        check_config(
            bool(t.eval_steps) or s.grace_period < t.num_train_epochs,
            f"search.grace_period={s.grace_period} must be below training.num_train_epochs="
            f"{t.num_train_epochs} (the evaluations a trial makes), or the scheduler never "
            "stops a trial; lower grace_period or set search.scheduler=none",
        )


class Asha(EarlyStopping):
    """Asynchronous successive halving: at each rung it keeps 1 in ``reduction_factor``."""

    name = "asha"
    brackets: ClassVar[int] = 1

    def build(self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]) -> Any:
        return baseline_asha_class()(
            spared=list(references.values()),
            time_attr="training_iteration",
            max_t=max(max_evaluations(cfg), cfg.search.grace_period),
            grace_period=cfg.search.grace_period,
            reduction_factor=cfg.search.reduction_factor,
            brackets=self.brackets,
        )


class HyperBand(Asha):
    """Asynchronous HyperBand: ASHA over ``HYPERBAND_BRACKETS`` brackets, each starting its
    cuts one rung later, so a grace period too short for some trials is hedged. (Tune's
    synchronous ``HyperBandScheduler`` pauses and resumes trials from checkpoints, which only
    a population's trials save.)"""

    name = "hyperband"
    brackets = HYPERBAND_BRACKETS


class Median(EarlyStopping):
    """Stops a trial whose best is below the median of the others' at the same point."""

    name = "median"

    def build(self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]) -> Any:
        return baseline_median_class()(
            spared=list(references.values()),
            time_attr="training_iteration",
            grace_period=cfg.search.grace_period,
            min_samples_required=2,
        )


class Population(Scheduler):
    """Population Based Training (PBT, PB2): every ``search.pbt.interval`` epochs the worst
    trials copy the best's checkpoint and go on with changed values."""

    population = True

    def searcher_name(self, name: str) -> str:
        # Ray's population schedulers take no model-based searcher: they choose the values
        # themselves as the trials train. The population is drawn at random or from the grid.
        return "random" if name == "optuna" else name

    def common(
        self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        p = cfg.search.pbt
        return {
            "baseline": references.get("training"),
            "judge": cfg.search.tune_metric,
            "time_attr": EPOCH,
            "perturbation_interval": p.interval,
            "quantile_fraction": p.quantile_fraction,
            "custom_explore_fn": KeepInRange(cfg.search.space),
            "log_config": True,
            "synch": True,  # generations: every trial perturbs at the same epochs
        }

    def check(self, cfg: ExperimentConfig) -> None:
        """PBT and PB2 change values between epochs and hand trials each other's weights: only
        what a resumed optimizer can take over may change, and every trial trains one model."""
        super().check(cfg)
        s, t, p = cfg.search, cfg.training, cfg.search.pbt
        where = f"search.scheduler={s.scheduler}"
        mutable = ", ".join(PBT_MUTABLE)
        check_config(
            bool(s.space),
            f"{where} needs search.space to list what it may change: one of {mutable}",
        )
        for name in s.space:
            check_config(
                name in PBT_MUTABLE,
                f"search.space.{name}: {where} changes values while trials train and can "
                f"change only {mutable}; fix {name} under training: or use "
                "search.scheduler=asha",
            )
        check_config(
            not t.eval_steps,
            f"training.eval_steps: {where} perturbs at epoch ends; remove eval_steps",
        )
        check_config(
            not cfg.data.folds,
            f"data.folds={cfg.data.folds}: {where} trains one model per trial; set data.folds=0",
        )
        check_config(
            t.finetune == "full",
            f"training.finetune=lora: {where} is built for full "
            "fine-tuning; set training.finetune=full or use search.scheduler=asha",
        )
        check_config(
            s.num_samples >= 2,
            f"search.num_samples={s.num_samples}: {where} needs a population of at least 2 trials",
        )
        check_config(
            1 <= p.interval < t.num_train_epochs,
            f"search.pbt.interval={p.interval} must be "
            f"at least 1 and below training.num_train_epochs={t.num_train_epochs}, or no trial "
            "is ever perturbed",
        )
        check_config(
            0 < p.quantile_fraction <= 0.5,
            f"search.pbt.quantile_fraction={p.quantile_fraction} must be in (0, 0.5]",
        )
        check_config(
            0 <= p.resample_probability <= 1,
            f"search.pbt.resample_probability={p.resample_probability} must be in [0, 1]",
        )
        check_config(
            bool(p.perturbation_factors) and all(f > 0 for f in p.perturbation_factors),
            f"search.pbt.perturbation_factors={p.perturbation_factors} must be positive numbers",
        )
        check_config(
            not s.reseed.top_k,
            f"search.reseed.top_k={s.reseed.top_k}: {where}'s winner is a "
            "schedule, not fixed values, so it is not re-trained with fresh seeds (the refit "
            "replays it); set search.reseed.top_k=0",
        )
        check_config(
            s.max_concurrent_trials is None or s.max_concurrent_trials >= s.num_samples,
            f"search.max_concurrent_trials={s.max_concurrent_trials}: {where} needs all "
            f"{s.num_samples} trials of the population alive at once (Ray would make a trial "
            "only when an earlier one ends); set it to null, and let resources.cpu/gpu per "
            "trial decide how many train side by side",
        )
        check_config(
            cfg.run.checkpoint != "none",
            f"run.checkpoint=none: {where} hands checkpoints between trials; set "
            "run.checkpoint=model",
        )
        self.check_refit(cfg, str(cfg.run.refit))

    def check_refit(self, cfg: ExperimentConfig, how: str) -> None:
        check_config(
            how != "soup",
            f"run.refit=soup cannot follow search.scheduler={cfg.search.scheduler}: a "
            "population's trials copy each other's weights, so their average is no soup; "
            "use run.refit=keep",
        )

    def describe(self, cfg: ExperimentConfig) -> list[str]:
        s = cfg.search
        drawn = "the grid" if s.searcher == "grid" else "random draws from search.space"
        return [
            f"  population: {s.num_samples} trials from {drawn}; every {s.pbt.interval} "
            f"epoch(s) the worst {s.pbt.quantile_fraction:.0%} copy the best's checkpoint, "
            f"{self.explores(cfg)}; trials compared on their latest {s.tune_metric}"
        ]

    @abstractmethod
    def explores(self, cfg: ExperimentConfig) -> str:
        """How copied values change (the summary's words)."""


class Pbt(Population):
    """Copied values are scaled by a ``perturbation_factors`` entry or drawn afresh."""

    name = "pbt"

    def build(self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]) -> Any:
        p = cfg.search.pbt
        return baseline_pbt_class()(
            hyperparam_mutations=tune_space(cfg.search.space),
            resample_probability=p.resample_probability,
            perturbation_factors=tuple(p.perturbation_factors),
            **self.common(cfg, references),
        )

    def explores(self, cfg: ExperimentConfig) -> str:
        p = cfg.search.pbt
        return (
            f"values scaled by {p.perturbation_factors} or redrawn (p={p.resample_probability:g})"
        )


class Pb2(Population):
    """Copied values are picked by a Gaussian-process bandit over numeric ranges."""

    name = "pb2"

    def check(self, cfg: ExperimentConfig) -> None:
        super().check(cfg)
        for name, spec in cfg.search.space.items():
            check_config(
                spec.type == "float",
                f"search.space.{name}: pb2 models numeric ranges only; give it type float "
                "with low and high, or use search.scheduler=pbt",
            )
        check_config(
            cfg.search.searcher != "grid",
            "search.searcher=grid: pb2 draws its population itself; use searcher random",
        )

    def build(self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]) -> Any:
        bounds = {name: [spec.low, spec.high] for name, spec in cfg.search.space.items()}
        return baseline_pb2_class()(hyperparam_bounds=bounds, **self.common(cfg, references))

    def explores(self, cfg: ExperimentConfig) -> str:
        return "values picked by a Gaussian-process bandit (PB2)"


SCHEDULERS: dict[str, Scheduler] = {
    s.name: s for s in (Asha(), Median(), HyperBand(), Pbt(), Pb2(), NoScheduler())
}
"""Every scheduler ``search.scheduler`` may name (besides ``auto``)."""


@dataclass(frozen=True)
class Chosen:
    """The scheduler a config runs, and why (``auto``), as the summary says it."""

    strategy: Scheduler
    reason: str
    auto: bool = True
    """Chosen by ``search.scheduler: auto`` (else named by it)."""

    @property
    def name(self) -> str:
        return self.strategy.name


def scheduler_of(cfg: ExperimentConfig) -> Chosen:
    """``search.scheduler``, or for ``auto``: ASHA where trials are long enough for an early
    cut to be judged on a trial's learning, else none (every trial trains all its epochs)."""
    s = cfg.search
    if s.scheduler != AUTO:
        if s.scheduler not in SCHEDULERS:
            raise ConfigError(
                f"search.scheduler={s.scheduler!r} is not known; choose one of: "
                f"{', '.join([AUTO, *SCHEDULERS])}"
            )
        return Chosen(SCHEDULERS[s.scheduler], "set by search.scheduler", auto=False)
    none, asha = SCHEDULERS[NoScheduler.name], SCHEDULERS[Asha.name]
    if "num_train_epochs" in s.space:
        return Chosen(
            none,
            "the space searches num_train_epochs: trials of different lengths are not "
            "comparable at the same epoch",
        )
    if cfg.training.eval_steps:
        return Chosen(asha, "trials evaluate every training.eval_steps steps")
    evaluations = max_evaluations(cfg)  # training.num_train_epochs here
    if evaluations < max(MIN_EVALUATIONS_TO_STOP, s.grace_period + 1):
        return Chosen(
            none,
            f"trials of {evaluations} epoch{'s' if evaluations != 1 else ''} (ASHA from "
            f"{MIN_EVALUATIONS_TO_STOP}): a cut would judge a trial in the middle of its "
            "learning-rate schedule and save little; every trial trains all its epochs",
        )
    return Chosen(
        asha,
        f"trials of {evaluations} epochs: ASHA stops the weakest after "
        f"{s.grace_period} and trains the rest on",
    )


def is_population(cfg: ExperimentConfig) -> bool:
    """Whether the search's trials change values while they train (PBT, PB2)."""
    return scheduler_of(cfg).strategy.population


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
