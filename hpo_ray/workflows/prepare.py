"""What every workflow does before Ray starts: refuse to clobber results, read and tokenize.

Example::

    check_outputs(cfg, overwrite=False)
    models, data = prepare_inputs(cfg)   # per encoder: resolved path, tokenized splits
"""

from __future__ import annotations

import os
from pathlib import Path

from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.config.task import check_metric, task_metrics
from hpo_ray.data.dataset import PreparedData, SplitData, split_data, tokenize_splits
from hpo_ray.data.sources import check_sources
from hpo_ray.errors import ConfigError
from hpo_ray.layout import MODEL_LABELS, MODEL_METRICS, OWNER_MARK
from hpo_ray.storage import (
    EXPERIMENT_KIND,
    MODEL_KIND,
    check_location,
    holds_files,
    is_uri,
    owned,
)
from hpo_ray.train.models import (
    candidate,
    load_tokenizer,
    max_positions,
    model_candidates,
    resolve_model,
)


def check_outputs(cfg: ExperimentConfig, overwrite: bool) -> None:
    """Refuse to clobber earlier results unless asked, and to remove what hpo_ray did not
    make even when asked; runs before any expensive work."""
    check_folders(cfg)
    check_overlaps(cfg)
    exp = cfg.experiment_location
    if holds_files(exp):
        if not owned(exp, EXPERIMENT_KIND):
            raise ConfigError(
                f"{exp} holds files hpo_ray did not write (no {OWNER_MARK} marker, no "
                "experiment state); pick another run.name=... or run.storage=..."
            )
        if not overwrite:
            raise ConfigError(
                f"experiment folder {exp} already holds results; use `hpo-ray "
                f"report {exp}`, pick another run.name=..., or pass --overwrite"
            )
    if cfg.run.refits:
        check_model_folder(cfg, overwrite, "pick another run.name=..., set run.refit=none")


def check_model_folder(cfg: ExperimentConfig, overwrite: bool, fix: str) -> None:
    """Refuse to refit into a non-empty ``trained/<name>`` unless ``overwrite`` (and never
    into one hpo_ray did not make); ``fix`` says what else the user can do."""
    out = cfg.trained_location
    if not holds_files(out):
        return
    if not owned(out, MODEL_KIND):
        raise ConfigError(
            f"model folder {out} holds files hpo_ray did not write (no {OWNER_MARK} marker, "
            f"no {MODEL_LABELS} and {MODEL_METRICS}); {fix} or run.trained_dir=..."
        )
    if not overwrite:
        raise ConfigError(f"model folder {out} is not empty; {fix}, or pass --overwrite")


def check_overlaps(cfg: ExperimentConfig) -> None:
    """Refuse places that lie inside one another: the experiment folder, the model folder
    (both removed by ``--overwrite``), the data files and a local encoder."""
    folders = {
        "the experiment folder (run.storage/run.name)": cfg.experiment_location,
        "the model folder (run.trained_dir/run.name)": cfg.trained_location,
    }
    local = {k: Path(v).resolve() for k, v in folders.items() if not is_uri(v)}
    (exp_key, exp), (model_key, model) = list(folders.items())
    if exp_key in local and model_key in local:
        a, b = local[exp_key], local[model_key]
        if a == b or a.is_relative_to(b) or b.is_relative_to(a):
            raise ConfigError(
                f"{exp_key} {a} and {model_key} {b} overlap; point run.storage and "
                "run.trained_dir at separate folders"
            )
    inputs = {
        "data.path": cfg.data.path,
        "data.train_path": cfg.data.train_path,
        "data.validation_path": cfg.data.validation_path,
        "data.test_path": cfg.data.test_path,
    }
    for name in model_candidates(cfg):
        if Path(name).exists():
            inputs[f"model.name={name}"] = name
    for key, value in inputs.items():
        if not value or is_uri(str(value)) or ":" in str(value).split("/")[0]:
            continue
        path = Path(value).resolve()
        for where, folder in local.items():
            if path == folder or path.is_relative_to(folder):
                raise ConfigError(
                    f"{key}={value!r} lies inside {where} {folder}, which a rerun or refit "
                    "replaces; move it out or name another run.name=..."
                )


Inputs = tuple[dict[str, str], dict[str, PreparedData]]
"""Per candidate encoder: its resolved model path, and the data its tokenizer made."""


def preflight(cfg: ExperimentConfig, *, data: bool = True) -> None:
    """Every check that needs no data and no Ray, made before either: output folders usable,
    encoders loadable and long enough for ``data.max_length``, the data file there (unless
    ``data`` is false: a run of its own trainable), and (for a local Ray) the per-trial
    resources within this machine."""
    check_folders(cfg)
    if data:
        resolve_models(cfg)
        check_sources(cfg.data)
    if not joins_cluster(cfg):
        check_local_resources(cfg)


def check_folders(cfg: ExperimentConfig) -> None:
    """The storage, trained-model and cache folders: local paths, not files, writable; or
    object-store URIs that answer, with their bucket there."""
    for key, value in (
        ("run.storage", cfg.run.storage),
        ("run.trained_dir", cfg.run.trained_dir),
        ("data.cache_dir", cfg.data.cache_dir),
    ):
        if is_uri(value):
            check_location(key, value)
            continue
        path = Path(value)
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{key}={value!r} is a file, not a folder; point it at a folder")
        existing = next(p for p in (path, *path.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigError(
                f"{key}={value!r}: {existing} is not writable; point it at a folder you can "
                "write to"
            )


def resolve_models(cfg: ExperimentConfig) -> dict[str, str]:
    """Each candidate encoder's resolved folder or hub name, checked (see ``resolve_model``),
    and refused when ``data.max_length`` exceeds the positions it has."""
    models: dict[str, str] = {}
    for name in model_candidates(cfg):
        models[name] = resolve_model(candidate(cfg, name))
        limit = max_positions(models[name])
        if limit is not None and cfg.data.max_length > limit:
            raise ConfigError(
                f"data.max_length={cfg.data.max_length} is longer than {name!r} can read "
                f"({limit} positions); set data.max_length to at most {limit}"
            )
    return models


def joins_cluster(cfg: ExperimentConfig) -> bool:
    """Whether the run joins a running Ray cluster (run.address or RAY_ADDRESS) instead of
    starting a local one."""
    address = cfg.run.address or os.environ.get("RAY_ADDRESS") or "local"
    return address != "local"


def check_local_resources(cfg: ExperimentConfig) -> None:
    """Refuse a per-trial request this machine cannot meet (a local Ray has its cores and
    GPUs); torch is loaded only when GPUs are asked for."""
    cores = os.cpu_count() or 1
    if cfg.resources.cpu > cores:
        raise ConfigError(
            f"resources.cpu={cfg.resources.cpu:g}: this machine has {cores} CPUs; ask for at "
            f"most {cores} per trial, or join a cluster with --address"
        )
    if cfg.resources.gpu > 0:
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if cfg.resources.gpu > gpus:
            raise ConfigError(
                f"resources.gpu={cfg.resources.gpu:g}: this machine has {gpus} GPUs visible "
                "to torch; set resources.gpu=0, or join a cluster with GPUs with --address"
            )


def check_data(cfg: ExperimentConfig) -> SplitData:
    """The data read, labelled and split once for all encoders, and the metric checked
    against its classes: every refusal about the data, before anything is tokenized."""
    split = split_data(cfg.data)
    names = split.labelled.label_names
    check_metric(
        cfg.search.metric, task_metrics(names, cfg.data.positive_label, cfg.search.average)
    )
    return split


def prepare_inputs(cfg: ExperimentConfig, split: SplitData | None = None) -> Inputs:
    """Per candidate encoder, its resolved path and the data tokenized by its tokenizer (once,
    cached by content). The encoders and the metric are checked before anything is tokenized,
    so a refusal leaves no cache entry. ``split``: the data already read and split
    (``split_data(cfg.data)``), else it is read here."""
    models = resolve_models(cfg)
    if split is None:
        split = check_data(cfg)
    data: dict[str, PreparedData] = {}
    for name, resolved in models.items():
        tokenizer = load_tokenizer(candidate(cfg, name), resolved)
        data[name] = tokenize_splits(split, cfg.data, tokenizer)
    return models, data
