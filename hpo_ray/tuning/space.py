"""The search space from YAML, turned into Optuna and Tune objects here and nowhere else.

Optuna and Ray are imported inside the functions that build their objects, so decoding a
trial (``hpo_ray.config.trials``) and starting the CLI never load them.

Example::

    spec = {"learning_rate": ParamSpec(type="float", low=1e-5, high=5e-4, log=True)}
    optuna_space(spec)["learning_rate"]  # FloatDistribution(low=1e-05, high=0.0005, log=True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpo_ray.config.schema import CONDITIONAL, ParamSpec
from hpo_ray.config.trials import OFAT_KEY, RESEED_KEY, ofat_variants

if TYPE_CHECKING:
    import optuna


def optuna_distribution(spec: ParamSpec) -> optuna.distributions.BaseDistribution:
    """One YAML parameter as an Optuna distribution."""
    import optuna

    if spec.type == "categorical":
        return optuna.distributions.CategoricalDistribution(list(spec.values or []))
    if spec.low is None or spec.high is None:
        raise ValueError(f"{spec.type} parameter needs low and high")
    if spec.type == "int":
        step = int(spec.step) if spec.step and not spec.log else 1
        return optuna.distributions.IntDistribution(
            int(spec.low), int(spec.high), log=spec.log, step=step
        )
    return optuna.distributions.FloatDistribution(
        spec.low, spec.high, log=spec.log, step=None if spec.log else spec.step
    )


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
    """One YAML parameter as a Tune sampling domain (for random search)."""
    from ray import tune

    if spec.type == "categorical":
        return tune.choice(list(spec.values or []))
    if spec.low is None or spec.high is None:
        raise ValueError(f"{spec.type} parameter needs low and high")
    if spec.type == "int":
        if spec.log:
            return tune.lograndint(int(spec.low), int(spec.high) + 1)
        return tune.randint(int(spec.low), int(spec.high) + 1)
    if spec.log:
        return tune.loguniform(spec.low, spec.high)
    if spec.step:
        return tune.quniform(spec.low, spec.high, spec.step)
    return tune.uniform(spec.low, spec.high)


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
