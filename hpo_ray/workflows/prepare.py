"""What every workflow does before Ray starts: refuse to clobber results, read and tokenize.

Example::

    check_outputs(cfg, overwrite=False)
    models, data = prepare_inputs(cfg)   # per encoder: resolved path, tokenized splits
"""

from __future__ import annotations

from typing import Any

from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.config.task import check_metric, task_metrics
from hpo_ray.data.dataset import PreparedData, SplitData, split_data, tokenize_splits
from hpo_ray.errors import ConfigError
from hpo_ray.train.models import candidate, load_tokenizer, model_candidates, resolve_model


def check_outputs(cfg: ExperimentConfig, overwrite: bool) -> None:
    """Refuse to clobber earlier results unless asked; runs before any expensive work."""
    exp = cfg.experiment_dir
    if exp.exists() and any(exp.iterdir()) and not overwrite:
        raise ConfigError(
            f"experiment folder {exp} already holds results; use `hpo-ray "
            f"report {exp}`, pick another run.name=..., or pass --overwrite"
        )
    if cfg.run.refit:
        check_model_folder(cfg, overwrite, "pick another run.name=..., set run.refit=false")


def check_model_folder(cfg: ExperimentConfig, overwrite: bool, fix: str) -> None:
    """Refuse to refit into a non-empty ``trained/<name>`` unless ``overwrite``; ``fix`` says
    what else the user can do."""
    out = cfg.trained_path
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"model folder {out} is not empty; {fix}, or pass --overwrite")


Inputs = tuple[dict[str, str], dict[str, PreparedData]]
"""Per candidate encoder: its resolved model path, and the data its tokenizer made."""


def prepare_inputs(cfg: ExperimentConfig, split: SplitData | None = None) -> Inputs:
    """Per candidate encoder, its resolved path and the data tokenized by its tokenizer (once,
    cached by content); refuses a metric the classes do not define. ``split``: the data
    already read and split (``split_data(cfg.data)``), else it is read here."""
    if split is None:
        split = split_data(cfg.data)  # read, labelled and split once for all encoders
    models: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name in model_candidates(cfg):
        model = candidate(cfg, name)
        models[name] = resolve_model(model)
        data[name] = tokenize_splits(split, cfg.data, load_tokenizer(model, models[name]))
    first = data[cfg.model.name]
    task = task_metrics(first.label_names, cfg.data.positive_label, cfg.search.average)
    check_metric(cfg.search.metric, task)
    return models, data
