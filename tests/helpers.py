"""Config builders shared by the end-to-end tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hpo_ray.config.loading import from_dict, resolve_paths
from hpo_ray.config.schema import ExperimentConfig


def tokenized_entries(cache_dir: str | Path) -> int:
    """How many tokenizations a token cache holds: each cache miss writes one entry."""
    return len(list(Path(cache_dir).glob("tokens-*")))


def tiny_config(tmp: Path, csv: Path, model: Path, **sections: dict[str, Any]) -> ExperimentConfig:
    raw: dict[str, Any] = {
        "data": {"path": str(csv), "max_length": 32, "cache_dir": str(tmp / "cache")},
        "model": {"name": str(model)},
        "training": {
            "learning_rate": 1e-3,
            "num_train_epochs": 2,
            "per_device_train_batch_size": 8,
            "early_stopping_patience": 1,
            "logging_steps": 5,
        },
        "search": {
            "num_samples": 4,
            "scheduler": "asha",
            "space": {
                "learning_rate": {"type": "float", "low": 1e-4, "high": 5e-3, "log": True},
                "weight_decay": {"type": "float", "low": 0.0, "high": 0.1},
            },
        },
        "resources": {"cpu": 1},
        "run": {
            "name": "exp",
            "storage": str(tmp / "ray_results"),
            "trained_dir": str(tmp / "trained"),
        },
    }
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return resolve_paths(from_dict(raw))


def driver_env() -> dict[str, str]:
    """The environment of a driver started as a process: its own local Ray, no hub."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["HF_HUB_OFFLINE"] = "1"
    return env


def start_search(config_path: Path) -> subprocess.Popen:
    """``hpo-ray search config_path`` in a process group of its own (to be killed whole)."""
    return subprocess.Popen(
        [sys.executable, "-m", "hpo_ray.cli", "search", str(config_path)],
        env=driver_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def terminated_trials(exp_dir: Path) -> set[str]:
    """Ids of the trials the newest Tune experiment state records as finished (empty before
    the first state, or when it is caught mid-write)."""
    states = sorted(exp_dir.glob("experiment_state-*.json"))
    if not states:
        return set()
    try:
        data = json.loads(states[-1].read_text())
    except (json.JSONDecodeError, OSError):
        return set()
    trials = [json.loads(t[0]) for t in data["trial_data"]]
    return {t["trial_id"] for t in trials if t["status"] == "TERMINATED"}
