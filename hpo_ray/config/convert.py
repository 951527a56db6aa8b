"""Plain values from YAML converted to the type a config field declares.

PyYAML reads ``1e-5`` as a string and ``1`` as an int where a float is meant; every value goes
through ``convert_value`` so the config holds exactly the declared types, and a value that
cannot be converted is refused with the key named.

Example::

    convert_value("1e-5", float, "training.learning_rate")  # 1e-05
"""

from __future__ import annotations

import types
import typing
from typing import Any

from hpo_ray.errors import ConfigError


def convert_value(value: Any, tp: Any, key: str) -> Any:
    """``value`` as the annotated type ``tp`` (``key`` names it in the error)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        for alternative in inner[:-1]:  # ``bool | str``: the first type that takes the value
            try:
                return convert_value(value, alternative, key)
            except ConfigError:
                continue
        return convert_value(value, inner[-1], key)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return {k: convert_value(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, got {value!r}; write e.g. [a, b]")
        return [convert_value(v, args[0], key) if args[0] is not Any else v for v in value]
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be an integer, got {value!r}") from None
        if not number.is_integer():
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return int(number)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a number, got {value!r}") from None
    if tp is str:
        if value is None or isinstance(value, (dict, list)):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return str(value)
    return value
