"""One class per searcher (``search.searcher``): what it builds for the Tuner, its checks, how
many trials it asks Tune for, and the lines the summary gives it; ``SEARCHERS`` names them and
``searcher_of`` gives the one that really draws a config's trials (a population draws at
random where ``optuna`` is named: Ray's population schedulers take no model-based searcher).

A new searcher is a class here and an entry in ``SEARCHERS``; nothing else compares searcher
names.

Example::

    searcher = searcher_of(cfg)                     # OptunaSearcher()
    search_alg, param_space = searcher.build(cfg)   # Tune's search_alg and param_space
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from hpo_ray.config.schema import OBJECTIVE, ExperimentConfig
from hpo_ray.errors import ConfigError, check_config
from hpo_ray.tuning.kinds import Kind
from hpo_ray.tuning.optuna_search import optuna_searcher_class
from hpo_ray.tuning.samplers import choose_sampler, grid_size, sampler_of
from hpo_ray.tuning.schedulers import NoScheduler, scheduler_of
from hpo_ray.tuning.space import DefineByRun, is_conditional, optuna_space, tune_space


class Searcher(ABC):
    """A Tune search algorithm as ``search.searcher`` names it."""

    name: ClassVar[str]
    model_based: ClassVar[bool] = False
    """Whether a model proposes the trials (after its random start-up trials)."""
    runs_references: ClassVar[bool] = True
    """Whether the references run as trials (a grid runs only its own points)."""

    def check(self, cfg: ExperimentConfig) -> None:
        """Refuse, in one line, a space this searcher cannot search (at planning time)."""
        return None  # by default nothing is refused

    @abstractmethod
    def build(
        self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]
    ) -> tuple[Any, dict[str, Any]]:
        """The search algorithm and the ``param_space`` to give the Tuner; ``references`` are
        the reference trials' points by name (``tuning.baseline.reference_points``), run
        first where the searcher takes them."""

    def samples(
        self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]] | None = None
    ) -> int:
        """Tune's ``num_samples`` (``references``: the reference trials' points)."""
        return cfg.search.num_samples

    def requested(self, cfg: ExperimentConfig) -> int:
        """How many trials the search asks for (the summary's 'of N requested')."""
        return self.samples(cfg)

    def describe(self, cfg: ExperimentConfig) -> list[str]:
        """Lines the summary gives under the searcher's (which sampler, and why)."""
        return []


class OptunaSearcher(Searcher):
    """Optuna's sampler (``search.sampler``) proposing through hpo_ray's Tune searcher over
    Optuna's ask and tell (``tuning.optuna_search``), the references enqueued first."""

    name = "optuna"
    model_based = True

    def check(self, cfg: ExperimentConfig) -> None:
        check_config(
            bool(cfg.search.space),
            "search.space is empty; add at least one parameter to search over "
            "(for a one-factor-at-a-time grid use `hpo-ray ofat`)",
        )
        sampler_of(cfg).check(cfg)

    def build(
        self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]
    ) -> tuple[Any, dict[str, Any]]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created" line per run
        self.check(cfg)
        space = cfg.search.space
        searched: Any = DefineByRun(space) if is_conditional(space) else optuna_space(space)
        # The study lives in memory inside the searcher (pickled by Tune, so restore works);
        # the SQLite copy for optuna-dashboard is written from the results (tuning.study).
        searcher = optuna_searcher_class()(
            space=searched,
            sampler=sampler_of(cfg).build(cfg),
            metric=OBJECTIVE,
            mode=cfg.search.mode,
            points_to_evaluate=list(references.values()) or None,
        )
        return searcher, {}

    def samples(
        self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]] | None = None
    ) -> int:
        return sampler_of(cfg).samples(cfg, references or {})

    def describe(self, cfg: ExperimentConfig) -> list[str]:
        choice = choose_sampler(cfg)
        return [f"  sampler: {choice.name}: {choice.reason}"]


class RandomSearcher(Searcher):
    """Independent draws from ``search.space`` (Tune's variant generator)."""

    name = "random"

    def build(
        self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]
    ) -> tuple[Any, dict[str, Any]]:
        from ray.tune.search import BasicVariantGenerator

        generator = BasicVariantGenerator(
            random_state=cfg.search.seed, points_to_evaluate=list(references.values()) or None
        )
        return generator, tune_space(cfg.search.space)


class GridSearcher(Searcher):
    """Every combination of the listed values (a full factorial grid), each trained once."""

    name = "grid"
    runs_references = False

    def check(self, cfg: ExperimentConfig) -> None:
        space = cfg.search.space
        check_config(bool(space), "search.space is empty; list values per parameter for the grid")
        for name, spec in space.items():
            check_config(
                spec.type == "categorical",
                f"search.space.{name}: searcher grid needs listed values; write "
                f"{{type: categorical, values: [...]}}",
            )

    def build(
        self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]]
    ) -> tuple[Any, dict[str, Any]]:
        from ray import tune
        from ray.tune.search import BasicVariantGenerator

        self.check(cfg)
        grid = {
            name: tune.grid_search(list(spec.values or []))
            for name, spec in cfg.search.space.items()
        }
        return BasicVariantGenerator(random_state=cfg.search.seed), grid

    def samples(
        self, cfg: ExperimentConfig, references: dict[str, dict[str, Any]] | None = None
    ) -> int:
        return 1  # Tune repeats a grid num_samples times

    def requested(self, cfg: ExperimentConfig) -> int:
        return grid_size(cfg)


SEARCHERS: dict[str, Searcher] = {
    s.name: s for s in (OptunaSearcher(), RandomSearcher(), GridSearcher())
}
"""Every searcher ``search.searcher`` may name."""


def named_searcher(cfg: ExperimentConfig) -> Searcher:
    """The searcher ``search.searcher`` names, or a one-line error naming the choices."""
    name = cfg.search.searcher
    if name not in SEARCHERS:
        raise ConfigError(
            f"search.searcher={name!r} is not known; choose one of: {', '.join(SEARCHERS)}"
        )
    return SEARCHERS[name]


def searcher_of(cfg: ExperimentConfig) -> Searcher:
    """The searcher that draws the trials: the one named, or what the scheduler draws with."""
    named = named_searcher(cfg)
    return SEARCHERS[scheduler_of(cfg).strategy.searcher_name(named.name)]


def check_search(cfg: ExperimentConfig) -> None:
    """Every name known and every rule of the searcher, sampler and scheduler the search runs
    with: checked when the search is planned, before any data is read or Ray starts."""
    named_searcher(cfg)
    choose_sampler(cfg)  # an unknown sampler name is refused even where no sampler runs
    scheduler_of(cfg).strategy.check(cfg)
    searcher_of(cfg).check(cfg)


def check_refit(cfg: ExperimentConfig, how: str) -> None:
    """Refuse a refit (``run.refit``, ``hpo-ray refit --how``) the search's trials cannot give."""
    scheduler_of(cfg).strategy.check_refit(cfg, how)


def tracked_settings(cfg: ExperimentConfig, kind: Kind) -> dict[str, str]:
    """The searcher and scheduler an experiment of ``kind`` ran with, as trackers log them
    (an OFAT sweep or a reseed runs a grid of its own with no scheduler)."""
    if kind is not Kind.SEARCH:
        return {"searcher": GridSearcher.name, "scheduler": NoScheduler.name}
    return {"searcher": searcher_of(cfg).name, "scheduler": scheduler_of(cfg).name}
