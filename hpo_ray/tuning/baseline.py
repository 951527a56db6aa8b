"""The references: the base ``training`` values (the baseline) and the Trainer's own defaults
for the searched keys, run as a search's first trials, so the tuned model is never worse than
either on validation and the answer says how it compares with both.

Example::

    baseline_point(cfg)   # {"learning_rate": 2e-05, "weight_decay": 0.01}, or None
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hpo_ray.config.formats import slack
from hpo_ray.config.schema import (
    CONDITIONAL,
    MODEL_NAME,
    ExperimentConfig,
    ParamSpec,
    TrainingConfig,
)
from hpo_ray.config.trials import same_value
from hpo_ray.train.trainer import trainer_defaults
from hpo_ray.tuning.schedulers import scheduler_of
from hpo_ray.tuning.searchers import searcher_of


def baseline_point(cfg: ExperimentConfig) -> dict[str, Any] | None:
    """The base ``training`` values of the searched parameters: the search's first trial.

    A conditional parameter whose parent has another base value is left out (it has no
    effect there). None when the baseline is off, or when a base value lies outside the space
    (the trial would leave the space the sampler models; ``baseline_outside`` says which)."""
    if "training" not in cfg.search.references or baseline_outside(cfg):
        return None
    return searched_point(cfg, cfg.base_params())


def searched_point(cfg: ExperimentConfig, values: dict[str, Any]) -> dict[str, Any]:
    """The searched parameters' entries of the training ``values`` (a conditional parameter
    whose parent has another value left out: it has no effect there)."""
    point: dict[str, Any] = {}
    for name in cfg.search.space:
        if name in CONDITIONAL:
            parent, needed = CONDITIONAL[name]
            if values[parent] != needed:
                continue
        point[name] = values[name]
    return point


def trainer_values(cfg: ExperimentConfig) -> dict[str, Any]:
    """The base values with each searched key that the Trainer's ``TrainingArguments``
    defines set to the installed transformers' default: what a user trains with no tool."""
    base = cfg.base_params()
    found = trainer_defaults(list(cfg.search.space))
    return {**base, **{k: type(base[k])(v) for k, v in found.items()}}


def trainer_reference(cfg: ExperimentConfig) -> tuple[dict[str, Any] | None, str]:
    """The Trainer-defaults reference's point in the space, or None and why it does not run
    as a trial."""
    s = cfg.search
    if "trainer" not in s.references:
        return None, "not asked for (search.baseline)"
    population = scheduler_of(cfg).strategy.population
    if population or not searcher_of(cfg).runs_references:
        return None, f"{'a population' if population else 'a grid'} search runs its own points"
    values = trainer_values(cfg)
    point = searched_point(cfg, values)
    base = cfg.base_params()
    if all(same_value(v, base[k]) for k, v in point.items()):
        return None, "the base values equal the Trainer's defaults for every searched key"
    for name, value in point.items():
        if not in_space(value, s.space[name]):
            return None, (
                f"the Trainer's default {name}={value!r} lies outside search.space.{name}"
            )
    return point, ""


def reference_points(cfg: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """The references that run as the search's first trials, by name, in order."""
    points: dict[str, dict[str, Any]] = {}
    training = baseline_point(cfg)
    if training is not None:
        points["training"] = training
    trainer, _ = trainer_reference(cfg)
    if trainer is not None:
        points["trainer"] = trainer
    return points


def baseline_points(cfg: ExperimentConfig) -> list[dict[str, Any]] | None:
    """``points_to_evaluate`` for the searcher: the references, or None."""
    points = list(reference_points(cfg).values())
    return points or None


def baseline_outside(cfg: ExperimentConfig) -> str:
    """Why the base values cannot be the first trial (a base value outside the space), or ""."""
    base = cfg.base_params()
    for name, spec in cfg.search.space.items():
        if name in CONDITIONAL and base[CONDITIONAL[name][0]] != CONDITIONAL[name][1]:
            continue
        if not in_space(base[name], spec):
            where = "model.name" if name == MODEL_NAME else f"training.{name}"
            return f"{where}={base[name]!r} lies outside search.space.{name}"
    return ""


def in_space(value: Any, spec: ParamSpec) -> bool:
    if spec.type == "categorical":
        return any(same_value(value, v) for v in spec.values or [])
    low = spec.low if spec.low is not None else float("-inf")
    high = spec.high if spec.high is not None else float("inf")
    return low - slack(low) <= float(value) <= high + slack(high)


def reference_values(cfg: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """Per reference ``search.baseline`` asks for, the full training values it trains with
    (the Trainer's is left out where it equals the base values on every searched key)."""
    base = cfg.base_params()
    out: dict[str, dict[str, Any]] = {}
    if "training" in cfg.search.references:
        out["training"] = base
    if "trainer" in cfg.search.references:
        values = trainer_values(cfg)
        if any(not same_value(values[k], base[k]) for k in cfg.search.space):
            out["trainer"] = values
    return out


def value_sources(cfg: ExperimentConfig, name: str) -> dict[str, dict[str, Any]]:
    """Per searched key, the value reference ``name`` trains with and where it came from:
    the config's ``training:``, hpo_ray's default, or the Trainer's (with the Trainer's
    default beside it wherever ``TrainingArguments`` defines the key)."""
    base = cfg.base_params()
    ours = dataclasses.asdict(TrainingConfig())
    trainer = trainer_defaults(list(cfg.search.space))
    out: dict[str, dict[str, Any]] = {}
    for key in cfg.search.space:
        value, source = base[key], "training:"
        if key == MODEL_NAME:
            source = "model.name"
        elif name == "trainer" and key in trainer:
            value, source = type(base[key])(trainer[key]), "the Trainer's default"
        elif same_value(value, ours.get(key)):
            source = "hpo_ray's default"
        entry = {"value": value, "source": source}
        if key in trainer:
            entry["trainer_default"] = trainer[key]
        out[key] = entry
    return out
