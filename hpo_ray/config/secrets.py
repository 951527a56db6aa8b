"""Credentials written into URIs moved to the environment variables their clients read.

A tracking URI ``https://user:password@host`` or a store URI
``s3://bucket/runs?access_key=...&secret_key=...`` would otherwise be echoed in refusals,
saved in ``hpo_config.yaml``, shown in report.html and logged as tracker parameters. When a
config is validated, each credential is taken out of its URI and put in the variable the
client reads (MLflow's ``MLFLOW_TRACKING_USERNAME`` / ``_PASSWORD`` / ``_TOKEN``; pyarrow's and
boto's ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``) for this
process and the Ray it starts; everything the run writes holds the URI without it. A later
``resume``, ``report`` or ``refit`` reads the credential from those variables again (set them
in the shell, or on the cluster's nodes).

Example::

    split_credentials("https://me:pw@mlflow.example.com")
    # ("https://mlflow.example.com", {"username": "me", "password": "pw"})
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.errors import ConfigError

SECRET_WORDS = ("key", "secret", "password", "token", "credential", "signature")
"""A query parameter whose name holds one of these is a credential."""
MLFLOW_ENV = {
    "username": "MLFLOW_TRACKING_USERNAME",
    "password": "MLFLOW_TRACKING_PASSWORD",
    "token": "MLFLOW_TRACKING_TOKEN",
}
S3_ENV = {
    "username": "AWS_ACCESS_KEY_ID",
    "password": "AWS_SECRET_ACCESS_KEY",
    "access_key": "AWS_ACCESS_KEY_ID",
    "secret_key": "AWS_SECRET_ACCESS_KEY",
    "session_token": "AWS_SESSION_TOKEN",
}


def split_credentials(uri: str) -> tuple[str, dict[str, str]]:
    """``uri`` without its credentials (user info, secret query parameters), and those."""
    parts = urlsplit(uri)
    if not parts.scheme or "://" not in uri:
        return uri, {}
    found: dict[str, str] = {}
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        found.update({"username": user, **({"password": password} if password else {})})
    kept = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if any(word in key.lower() for word in SECRET_WORDS):
            found[key.lower()] = value
        else:
            kept.append((key, value))
    if not found:
        return uri, {}
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), parts.fragment)), found


def redact(uri: str) -> str:
    """``uri`` as it may be shown: its credentials left out."""
    return split_credentials(uri)[0]


def move_to_env(key: str, uri: str, names: dict[str, str]) -> str:
    """``uri`` without credentials, each put in its environment variable (``names``); one a
    client has no variable for is refused (it would be lost)."""
    clean, found = split_credentials(uri)
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise ConfigError(
            f"{key}={clean!r} carries a credential ({unknown[0]}) hpo_ray cannot keep out of "
            "its files; remove it from the URI and set it in the client's environment "
            "variable instead"
        )
    for name, value in found.items():
        os.environ[names[name]] = value
    return clean


def take_credentials(cfg: ExperimentConfig) -> ExperimentConfig:
    """``cfg`` (an ``ExperimentConfig``) with the credentials of its tracking and storage URIs
    moved to the environment (see the module's docstring)."""
    run, tracking = cfg.run, cfg.tracking
    changes: dict[str, Any] = {}
    if tracking.mlflow is not None:
        uri = move_to_env("tracking.mlflow.uri", tracking.mlflow.uri, MLFLOW_ENV)
        if uri != tracking.mlflow.uri:
            mlflow = dataclasses.replace(tracking.mlflow, uri=uri)
            changes["tracking"] = dataclasses.replace(tracking, mlflow=mlflow)
    moved: dict[str, Any] = {}
    for key in ("storage", "trained_dir"):
        value = getattr(run, key)
        names = S3_ENV if value.startswith("s3://") else {}
        clean = move_to_env(f"run.{key}", value, names)
        if clean != value:
            moved[key] = clean
    if moved:
        changes["run"] = dataclasses.replace(run, **moved)
    return dataclasses.replace(cfg, **changes) if changes else cfg
