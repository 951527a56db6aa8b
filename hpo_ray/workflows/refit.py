"""Train the best configuration on the full train split and save it under ``trained/<name>/``.

The saved folder loads with ``AutoModelForSequenceClassification.from_pretrained`` and
``AutoTokenizer.from_pretrained``; it also holds ``labels.json``, ``best_params.yaml`` and
``metrics.json`` (validation, and test when a test split is configured).

Example::

    folder = refit_best(load_experiment_config("ray_results/demo"))
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from hpo_ray.config.schema import MODEL_NAME, ExperimentConfig
from hpo_ray.config.task import task_metrics
from hpo_ray.config.trials import same_value
from hpo_ray.data.dataset import PreparedData, prepare_data, train_subset
from hpo_ray.layout import (
    BASELINE_METRICS,
    BEST_PARAMS,
    CONFIG_FILE,
    MODEL_LABELS,
    MODEL_METRICS,
    MODEL_TRIAL_ARTIFACTS,
    TRIAL_FILES,
    has_tune_state,
    trial_dir,
)
from hpo_ray.report.trial_plots import draw_trial_plots
from hpo_ray.results.reseed import selected_params
from hpo_ray.results.trials import SearchResults
from hpo_ray.train.models import candidate, for_inference, load_tokenizer, resolve_model
from hpo_ray.train.trainer import build_trainer
from hpo_ray.workflows.prepare import check_model_folder

log = logging.getLogger(__name__)


def refit_best(
    cfg: ExperimentConfig,
    *,
    overwrite: bool = False,
    params: dict[str, Any] | None = None,
    baseline: bool | None = None,
) -> Path:
    """Refit ``params`` (default: the search's choice) and save the model; returns its folder.

    ``baseline`` (default ``run.refit_baseline``): with a test split, also train the base
    values the same way and keep their scores (``baseline_metrics.json``), so the tuned model
    is compared with the one the user would have had without the search, on data the search
    never saw."""
    check_model_folder(cfg, overwrite, "pick another run.name=...")
    out = cfg.trained_path
    if params is None:
        params = selected_params(cfg)
    if baseline is None:
        baseline = cfg.run.refit_baseline and cfg.data.test_size > 0
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{cfg.run.name}-", dir=out.parent))
    try:
        encoders: dict[str, Encoder] = {}
        metrics, label_names = fit_and_score(cfg, params, save_to=staging, encoders=encoders)
        (staging / MODEL_LABELS).write_text(json.dumps(label_names, indent=2))
        (staging / BEST_PARAMS).write_text(yaml.safe_dump(params, sort_keys=False))
        (staging / MODEL_METRICS).write_text(json.dumps(metrics, indent=2))
        if baseline:
            base = cfg.base_params()
            same = all(same_value(params.get(k), v) for k, v in base.items())
            scores = (
                metrics if same else fit_and_score(cfg, base, save_to=None, encoders=encoders)[0]
            )
            record = {"params": base, "same_as_tuned": same, **scores}
            (staging / BASELINE_METRICS).write_text(json.dumps(record, indent=2))
        copy_trial_artifacts(cfg, params, staging / MODEL_TRIAL_ARTIFACTS)
        if out.exists():
            shutil.rmtree(out)
        staging.replace(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log.info("saved the refit model to %s: %s", out, metrics)
    return out


Encoder = tuple[str, Any, PreparedData]
"""An encoder's resolved path, its tokenizer and the data it tokenized."""


def fit_and_score(
    cfg: ExperimentConfig,
    params: dict[str, Any],
    *,
    save_to: Path | None,
    encoders: dict[str, Encoder] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Train ``params`` on the train split (the best epoch kept), score it on validation and
    test; save the model and tokenizer to ``save_to`` if given. Returns the scores and the
    class names. ``encoders`` keeps each encoder's tokenizer and data between calls (the tuned
    model and the baseline usually share one)."""
    name = params.get(MODEL_NAME) or cfg.model.name
    encoders = {} if encoders is None else encoders
    if name not in encoders:
        model = candidate(cfg, name)
        resolved = resolve_model(model)
        tokenizer = load_tokenizer(model, resolved)
        encoders[name] = (resolved, tokenizer, prepare_data(cfg.data, tokenizer))
    model_path, tokenizer, data = encoders[name]
    train = train_subset(data.train, params.get("train_fraction", 1.0), data.seed)
    with tempfile.TemporaryDirectory(prefix="hpo-refit-") as scratch:
        trainer = build_trainer(
            params,
            model_path,
            data.label_names,
            train,
            data.validation,
            tokenizer,
            scratch,
            metric=cfg.search.metric,
            mode=cfg.search.mode,
            callbacks=[],
            task=task_metrics(data.label_names, cfg.data.positive_label, cfg.search.average),
            save=True,
            trust_remote_code=cfg.model.trust_remote_code,
        )
        log.info("refit on %d training examples with %s", len(train), params)
        trainer.train()
        metrics = {"validation": trainer.evaluate(data.validation)}
        if data.test is not None:
            metrics["test"] = trainer.evaluate(data.test, metric_key_prefix="test")
        if save_to is not None:
            for_inference(trainer.model).save_pretrained(str(save_to))
            tokenizer.save_pretrained(str(save_to))
    return metrics, data.label_names


def copy_trial_artifacts(cfg: ExperimentConfig, params: dict[str, Any], dest: Path) -> None:
    """Copy the artifacts of the trial whose values are being refit (if it wrote any)."""
    exp = cfg.experiment_dir
    if not (exp / CONFIG_FILE).is_file() or not has_tune_state(exp):
        return  # refit of given params without a search behind them
    results = SearchResults.load(cfg.experiment_dir)
    for trial_id, overrides in results.overrides.items():
        if all(params.get(k) == v for k, v in overrides.items()):
            source = trial_dir(cfg.experiment_dir, trial_id)
            draw_trial_plots(source)  # not among the run.trial_plots best: draw them now
            files = [source / f for f in TRIAL_FILES if (source / f).is_file()]
            if files:
                dest.mkdir(parents=True, exist_ok=True)
                for f in files:
                    shutil.copy2(f, dest / f.name)
            return
