"""The baseline: the base ``training`` values run as a search's first trial, so the tuned model
is never worse than the defaults on validation.

Example::

    baseline_point(cfg)   # {"learning_rate": 2e-05, "weight_decay": 0.01}, or None
"""

from __future__ import annotations

from typing import Any

from hpo_ray.config.schema import CONDITIONAL, MODEL_NAME, ExperimentConfig, ParamSpec
from hpo_ray.config.trials import same_value


def baseline_point(cfg: ExperimentConfig) -> dict[str, Any] | None:
    """The base ``training`` values of the searched parameters: the search's first trial.

    A conditional parameter whose parent has another base value is left out (it has no
    effect there). None when the baseline is off, or when a base value lies outside the space
    (the trial would leave the space the sampler models; ``baseline_outside`` says which)."""
    if not cfg.search.baseline or baseline_outside(cfg):
        return None
    base = cfg.base_params()
    point: dict[str, Any] = {}
    for name in cfg.search.space:
        if name in CONDITIONAL:
            parent, needed = CONDITIONAL[name]
            if base[parent] != needed:
                continue
        point[name] = base[name]
    return point


def baseline_points(cfg: ExperimentConfig) -> list[dict[str, Any]] | None:
    """``points_to_evaluate`` for the searcher: the baseline, or None."""
    point = baseline_point(cfg)
    return None if point is None else [point]


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
    return low - 1e-12 * abs(low) <= float(value) <= high + 1e-12 * abs(high)


def is_point(config: dict[str, Any], point: dict[str, Any] | None) -> bool:
    """Whether a trial's config holds exactly the values of ``point``."""
    return point is not None and all(
        k in config and same_value(config[k], v) for k, v in point.items()
    )
