"""The search space from YAML, turned into Optuna and Tune objects here and nowhere else.

Optuna and Ray are imported inside the functions that build their objects, so decoding a
trial (``hpo_ray.config.trials``) and starting the CLI never load them.

Example::

    spec = {"learning_rate": ParamSpec(type="float", low=1e-5, high=5e-4, log=True)}
    optuna_space(spec)["learning_rate"]  # FloatDistribution(low=1e-05, high=0.0005, log=True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpo_ray.config.formats import FLOAT_TOL, slack
from hpo_ray.config.schema import CONDITIONAL, ParamSpec
from hpo_ray.config.trials import OFAT_KEY, RESEED_KEY, ofat_variants, same_value

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Domain:
    """One searched parameter as both translators read it: a list of values, or an int or
    float range (log-scaled, or on a grid of ``step`` from ``low``). ``optuna_distribution``
    and ``tune_domain`` are both made from it, so a random search (or PBT's resampling) draws
    only values a model-based search could propose."""

    kind: str
    """``categorical``, ``int`` or ``float``."""
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    values: tuple[Any, ...] = ()

    def holds(self, value: Any) -> bool:
        """Whether ``value`` is one this domain can give (on the grid where it has a step)."""
        if self.kind == "categorical":
            return any(same_value(value, v) for v in self.values)
        if not self.low - slack(self.low) <= float(value) <= self.high + slack(self.high):
            return False
        if not self.step:
            return True
        k = (float(value) - self.low) / self.step
        return abs(k - round(k)) <= FLOAT_TOL

    def grid(self) -> list[Any]:
        """Every value of a stepped range, from ``low`` by ``step`` up to ``high``."""
        assert self.step
        count = int(round((self.high - self.low) / self.step)) + 1
        points = [self.low + k * self.step for k in range(count)]
        if self.kind == "int":
            return [int(p) for p in points if p <= self.high]
        return [round(p, 12) for p in points if p <= self.high + slack(self.high)]


def domain_of(spec: ParamSpec) -> Domain:
    """The ``Domain`` of one YAML parameter (a log scale takes no step)."""
    if spec.type == "categorical":
        return Domain("categorical", values=tuple(spec.values or []))
    if spec.low is None or spec.high is None:
        raise ValueError(f"{spec.type} parameter needs low and high")
    step = None if spec.log or not spec.step else spec.step
    if spec.type == "int":
        return Domain("int", int(spec.low), int(spec.high), spec.log, int(step) if step else None)
    return Domain("float", float(spec.low), float(spec.high), spec.log, step)


def optuna_distribution(spec: ParamSpec) -> optuna.distributions.BaseDistribution:
    """One YAML parameter as an Optuna distribution."""
    import optuna

    d = domain_of(spec)
    if d.kind == "categorical":
        return optuna.distributions.CategoricalDistribution(list(d.values))
    if d.kind == "int":
        return optuna.distributions.IntDistribution(
            int(d.low), int(d.high), log=d.log, step=int(d.step or 1)
        )
    return optuna.distributions.FloatDistribution(d.low, d.high, log=d.log, step=d.step)


def optuna_space(space: dict[str, ParamSpec]) -> dict[str, optuna.distributions.BaseDistribution]:
    """The whole space for ``OptunaSearch(space=...)`` and for the SQLite study mirror."""
    return {name: optuna_distribution(spec) for name, spec in space.items()}


def is_conditional(space: dict[str, ParamSpec]) -> bool:
    """Whether some searched parameter depends on another searched one (focal on loss)."""
    return any(name in CONDITIONAL and CONDITIONAL[name][0] in space for name in space)


class DefineByRun:
    """An Optuna define-by-run space: a conditional parameter is suggested only when its parent
    took the value it depends on, so it never appears in trials where it has no effect.

    A class, not a closure, because Tune pickles the searcher with the experiment."""

    def __init__(self, space: dict[str, ParamSpec]) -> None:
        self.space = space
        self.order = sorted(space, key=lambda name: name in CONDITIONAL)  # parents first

    def __call__(self, trial: optuna.Trial) -> None:
        import optuna

        for name in self.order:
            if name in CONDITIONAL:
                parent, value = CONDITIONAL[name]
                if parent in trial.params and trial.params[parent] != value:
                    continue
            dist = optuna_distribution(self.space[name])
            if isinstance(dist, optuna.distributions.CategoricalDistribution):
                trial.suggest_categorical(name, list(dist.choices))
            elif isinstance(dist, optuna.distributions.IntDistribution):
                trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
            elif isinstance(dist, optuna.distributions.FloatDistribution):
                trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


def tune_domain(spec: ParamSpec) -> Any:
    """One YAML parameter as a Tune sampling domain (random search, PBT's resampling); a
    stepped range is the list of its grid's values (Tune's ``qrandint`` and ``quniform`` round
    to multiples of the step, not to ``low`` plus multiples of it as Optuna does)."""
    from ray import tune

    d = domain_of(spec)
    if d.kind == "categorical":
        return tune.choice(list(d.values))
    if d.step:
        return tune.choice(d.grid())
    if d.kind == "int":
        sample = tune.lograndint if d.log else tune.randint
        return sample(int(d.low), int(d.high) + 1)  # Tune's upper bound is exclusive
    return tune.loguniform(d.low, d.high) if d.log else tune.uniform(d.low, d.high)


def tune_space(space: dict[str, ParamSpec]) -> dict[str, Any]:
    return {name: tune_domain(spec) for name, spec in space.items()}


def ofat_param_space(base: dict[str, Any], grid: dict[str, list[Any]]) -> dict[str, Any]:
    """Tune's ``param_space``: one ``grid_search`` over the single-axis variants."""
    from ray import tune

    return {OFAT_KEY: tune.grid_search(ofat_variants(base, grid))}


def reseed_param_space(candidates: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """Tune's ``param_space`` re-running each candidate ``{"rank", "trial_id", "params"}`` once
    per seed."""
    from ray import tune

    runs = [{**c, "seed": s} for c in candidates for s in seeds]
    return {RESEED_KEY: tune.grid_search(runs)}
