"""The search space from YAML, turned into Optuna and Tune objects here and nowhere else.

Example::

    spec = {"learning_rate": ParamSpec(type="float", low=1e-5, high=5e-4, log=True)}
    optuna_space(spec)["learning_rate"]  # FloatDistribution(low=1e-05, high=0.0005, log=True)
"""

from __future__ import annotations

from typing import Any

import optuna
from ray import tune

from hpo_ray.config import CONDITIONAL, ParamSpec, TrainingConfig


def optuna_distribution(spec: ParamSpec) -> optuna.distributions.BaseDistribution:
    """One YAML parameter as an Optuna distribution."""
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


def trial_params(base: TrainingConfig, sampled: dict[str, Any]) -> dict[str, Any]:
    """The training values one trial runs with: the base config overridden by ``sampled``."""
    from dataclasses import asdict

    params = asdict(base)
    params.update({k: v for k, v in sampled.items() if k in params})
    return params


# ---------------------------------------------------------------------------------------------
# OFAT: one factor at a time

OFAT_KEY = "ofat"
"""The Tune config key holding a trial's OFAT variant ``{"param": ..., "value": ...}``."""
BASE = "base"
RESEED_KEY = "reseed"
"""The Tune config key of a reseed run ``{"rank", "trial_id", "params", "seed"}``."""


def ofat_variants(base: TrainingConfig, grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The distinct trainings of an OFAT grid: the base first, then each non-base value.

    A value equal to the base's is not a variant of its own: the base run stands for it on
    every axis it appears in (``ofat_rows`` says so).
    """
    variants: list[dict[str, Any]] = [{"param": BASE, "value": None}]
    for param, values in grid.items():
        variants += [{"param": param, "value": v} for v in values if not is_base(base, param, v)]
    return variants


def is_base(base: TrainingConfig, param: str, value: Any) -> bool:
    """Whether setting ``param`` to ``value`` leaves the base training unchanged."""
    if param in CONDITIONAL:
        parent, needed = CONDITIONAL[param]
        if getattr(base, parent) != needed:
            return False
    return _same(value, getattr(base, param))


def ofat_rows(base: TrainingConfig, grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """One row per (param, value) in grid order, naming the variant that trains it."""
    rows = []
    for param, values in grid.items():
        for v in values:
            shared = is_base(base, param, v)
            rows.append(
                {
                    "param": param,
                    "value": v,
                    "is_base": shared,
                    "variant": variant_name(BASE if shared else param, None if shared else v),
                }
            )
    return rows


def variant_name(param: str, value: Any) -> str:
    return BASE if param == BASE else f"{param}={value}"


def ofat_param_space(base: TrainingConfig, grid: dict[str, list[Any]]) -> dict[str, Any]:
    """Tune's ``param_space``: one ``grid_search`` over the single-axis variants."""
    return {OFAT_KEY: tune.grid_search(ofat_variants(base, grid))}


def trial_overrides(config: dict[str, Any]) -> dict[str, Any]:
    """The training values a Tune trial config sets: its searched values, OFAT variant or
    reseed run. A conditional value whose parent has another value is dropped (it has no
    effect); an OFAT variant of a conditional value also sets its parent."""
    out = {k: v for k, v in config.items() if k not in (OFAT_KEY, RESEED_KEY)}
    variant = config.get(OFAT_KEY)
    if isinstance(variant, dict) and variant.get("param") not in (None, BASE):
        out[variant["param"]] = variant["value"]
        if variant["param"] in CONDITIONAL:
            parent, value = CONDITIONAL[variant["param"]]
            out[parent] = value
    rerun = config.get(RESEED_KEY)
    if isinstance(rerun, dict):
        out.update(rerun["params"], seed=rerun["seed"])
    for name in [n for n in out if n in CONDITIONAL]:
        parent, value = CONDITIONAL[name]
        if parent in out and out[parent] != value:
            del out[name]
    return out


def reseed_param_space(candidates: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """Tune's ``param_space`` re-running each candidate ``{"rank", "trial_id", "params"}`` once
    per seed."""
    runs = [{**c, "seed": s} for c in candidates for s in seeds]
    return {RESEED_KEY: tune.grid_search(runs)}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return abs(float(a) - float(b)) <= 1e-12 * max(abs(float(a)), abs(float(b)), 1.0)
        except (TypeError, ValueError):
            return False
    return bool(a == b)
