"""The search space from YAML, turned into Optuna and Tune objects here and nowhere else.

Example::

    spec = {"learning_rate": ParamSpec(type="float", low=1e-5, high=5e-4, log=True)}
    optuna_space(spec)["learning_rate"]  # FloatDistribution(low=1e-05, high=0.0005, log=True)
"""

from __future__ import annotations

from typing import Any

import optuna
from ray import tune

from hpo_ray.config import ParamSpec, TrainingConfig


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
