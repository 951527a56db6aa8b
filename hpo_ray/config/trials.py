"""What one trial trains with: the base values plus what its Tune config sets.

A Tune trial config holds searched values (``{"learning_rate": 3e-5}``), an OFAT variant
(``{"ofat": {"param": ..., "value": ...}}``) or a reseed run (``{"reseed": {...}}``).
``trial_overrides`` decodes any of them into training values; ``trial_params`` lays them over
the base. Pure Python: the workers, the report and the refit decode trials without Optuna or Ray.

Example::

    trial_params(cfg.base_params(), trial_overrides({"ofat": {"param": "loss", "value": "focal"}}))
"""

from __future__ import annotations

from typing import Any

from hpo_ray.config.formats import same_float
from hpo_ray.config.schema import CONDITIONAL

OFAT_KEY = "ofat"
"""The Tune config key holding a trial's OFAT variant ``{"param": ..., "value": ...}``."""
BASE = "base"
"""The OFAT variant that changes nothing: the base configuration."""
RESEED_KEY = "reseed"
"""The Tune config key of a reseed run ``{"rank", "trial_id", "params", "seed"}``."""


def trial_params(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The training values one trial runs with: ``base`` overridden by ``overrides``."""
    params = dict(base)
    params.update({k: v for k, v in overrides.items() if k in params})
    return params


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


def is_baseline(config: dict[str, Any], base: dict[str, Any], searched: list[str]) -> bool:
    """Whether a Tune trial config trains the base values: the OFAT base variant, a reseed run
    of the baseline, or a searched trial whose searched values all equal the base's."""
    variant = config.get(OFAT_KEY)
    if isinstance(variant, dict):
        return bool(variant.get("param") == BASE)
    rerun = config.get(RESEED_KEY)
    if isinstance(rerun, dict):
        return bool(rerun.get("baseline", False))
    params = trial_params(base, trial_overrides(config))
    return bool(searched) and all(same_value(params[k], base[k]) for k in searched)


def ofat_variants(base: dict[str, Any], grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The distinct trainings of an OFAT grid: the base first, then each non-base value.

    A value equal to the base's is not a variant of its own: the base run stands for it on
    every axis it appears in (``ofat_rows`` says so).
    """
    variants: list[dict[str, Any]] = [{"param": BASE, "value": None}]
    for param, values in grid.items():
        variants += [{"param": param, "value": v} for v in values if not is_base(base, param, v)]
    return variants


def is_base(base: dict[str, Any], param: str, value: Any) -> bool:
    """Whether setting ``param`` to ``value`` leaves the base training unchanged."""
    if param in CONDITIONAL:
        parent, needed = CONDITIONAL[param]
        if base[parent] != needed:
            return False
    return same_value(value, base[param])


def ofat_rows(base: dict[str, Any], grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
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


def same_value(a: Any, b: Any) -> bool:
    """Equality that treats floats equal up to rounding (1e-5 written two ways): the float rule
    of ``formats.same_float``."""
    if isinstance(a, float) or isinstance(b, float):
        try:
            return same_float(float(a), float(b))
        except (TypeError, ValueError):
            return False
    return bool(a == b)


def is_point(config: dict[str, Any], point: dict[str, Any] | None) -> bool:
    """Whether a trial's config holds exactly the values of ``point``."""
    return point is not None and all(
        k in config and same_value(config[k], v) for k, v in point.items()
    )
