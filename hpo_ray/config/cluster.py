"""Checks for Ray cluster-launcher YAMLs (``configs/cluster/``), against Ray's own schema.

``ray up`` fills a config with its provider's defaults and validates it against the JSON schema
shipped with Ray; ``check_cluster_config`` does the same without launching anything, so a typo
in a cluster file shows up in the test suite or on the command line, not half-way through
``ray up``. Ray exposes this only through a private module, wrapped here and nowhere else.

Example::

    check_cluster_config("configs/cluster/aws-gpu.yaml")  # the filled-out config, or ConfigError
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hpo_ray.config.loading import read_yaml
from hpo_ray.errors import ConfigError


def check_cluster_config(path: str | Path) -> dict[str, Any]:
    """Validate a cluster-launcher YAML the way ``ray up`` does; returns the prepared config."""
    import click
    import jsonschema
    from ray.autoscaler._private.util import prepare_config, validate_config

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"cluster config {path} not found; see configs/cluster/")
    raw = read_yaml(path)
    if not isinstance(raw, dict) or "provider" not in raw:
        raise ConfigError(f"{path}: a cluster config needs a provider section")
    try:
        prepared = prepare_config(raw)
        validate_config(prepared)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "the top level"
        raise ConfigError(f"{path}: {where}: {exc.message}") from None
    except click.ClickException as exc:  # Ray's provider checks abort through click
        raise ConfigError(f"{path}: {exc.message}") from None
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return dict(prepared)
