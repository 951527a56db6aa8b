"""Save the search's choice under ``trained/<name>/``: the best trial's kept weights, or the
best configuration trained again (``run.refit``).

The saved folder loads with ``AutoModelForSequenceClassification.from_pretrained`` and
``AutoTokenizer.from_pretrained``; it also holds ``labels.json``, ``best_params.yaml`` and
``metrics.json`` (validation, and test when a test split is configured).

Example::

    folder = refit_best(load_experiment_config("ray_results/demo"))
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from hpo_ray.config.formats import FLOAT_TOL, MADE_BY, ModelScores, whole_epochs
from hpo_ray.config.schema import MODEL_NAME, ExperimentConfig, eval_key
from hpo_ray.config.task import task_metrics
from hpo_ray.config.trials import same_value
from hpo_ray.config.validation import validate_soup
from hpo_ray.data.dataset import PreparedData, prepare_data, train_subset
from hpo_ray.layout import (
    BASELINE_METRICS,
    BEST_PARAMS,
    CONFIG_FILE,
    MODEL_LABELS,
    MODEL_LOG,
    MODEL_METRICS,
    MODEL_PREDICTIONS,
    MODEL_TRIAL_ARTIFACTS,
    SEARCH_MODEL,
    TRIAL_BEST_MODEL,
    TRIAL_FILES,
    has_tune_state,
    trial_dir,
)
from hpo_ray.report.trial_plots import draw_trial_plots
from hpo_ray.results.paired import compare_all, standard_error
from hpo_ray.results.reseed import seed_spread, selected_trial
from hpo_ray.results.trials import SearchResults
from hpo_ray.storage import MODEL_KIND, mark_owned, normal_permissions, work_copy, write_file
from hpo_ray.train.metrics import softmax
from hpo_ray.train.models import candidate, for_inference, load_tokenizer, resolve_model
from hpo_ray.train.schedule import describe, schedule_callback_class, values_at
from hpo_ray.train.soup import greedy_soup, load_into
from hpo_ray.train.trainer import build_trainer
from hpo_ray.train.trial_files import KeptInfo
from hpo_ray.tuning.baseline import reference_values, value_sources
from hpo_ray.tuning.keep import keeps_weights
from hpo_ray.tuning.schedulers import is_population
from hpo_ray.tuning.searchers import check_refit
from hpo_ray.workflows.prepare import Inputs, check_model_folder

log = logging.getLogger(__name__)


def refit_best(
    cfg: ExperimentConfig,
    *,
    overwrite: bool = False,
    params: dict[str, Any] | None = None,
    baseline: bool | None = None,
    how: str | None = None,
    results: SearchResults | None = None,
    inputs: Inputs | None = None,
) -> Path:
    """Save the model of ``params`` (default: the search's choice); returns its folder.

    ``how`` (default ``run.refit``, ``retrain`` where that is ``none``): ``keep`` saves the
    chosen trial's kept best-epoch weights (a retrain where there are none to keep),
    ``retrain`` trains on the train split, ``train+validation`` on both for the trial's best
    epoch count. ``baseline`` (default ``run.refit_baseline``): with a test split, also score
    the base values the same way (the baseline trial's kept weights where there are some) and
    keep their scores (``baseline_metrics.json``), so the tuned model is compared with the one
    the user would have had without the search, on data the search never saw.
    ``results`` (the trial table) and ``inputs`` (the tokenized data) are the search's own when
    the caller has them; else they are read here, once."""
    if (how or cfg.run.refit) == "soup":
        validate_soup(cfg)  # also for `hpo-ray refit --how soup` of a search made otherwise
    check_refit(cfg, how or cfg.run.refit)  # what the search's scheduler allows
    check_model_folder(cfg, overwrite, "pick another run.name=...")
    with work_copy(cfg.trained_location) as model_copy:  # a URI's: uploaded on the way out
        out = save_model(cfg, params, baseline, how, results, inputs)
        model_copy.push()
        model_copy.prune()  # an older model's files go once the new one is up
    return out


def save_model(
    cfg: ExperimentConfig,
    params: dict[str, Any] | None,
    baseline: bool | None,
    how: str | None,
    results: SearchResults | None,
    inputs: Inputs | None,
) -> Path:
    """``refit_best`` once its folder is checked: the model made and saved in
    ``cfg.trained_path``."""
    how = how or (cfg.run.refit if cfg.run.refits else "retrain")
    out = cfg.trained_path
    trial_id = None
    if params is None:
        results = results or SearchResults.load(cfg.experiment_dir)  # refuses a bare folder
        trial_id, params = selected_trial(results)
    elif results is None and searched(cfg):
        results = SearchResults.load(cfg.experiment_dir)
    if baseline is None:
        baseline = cfg.run.refit_baseline
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{cfg.run.name}-", dir=out.parent))
    try:
        encoders = Encoders(cfg, inputs)
        made = plan_model(cfg, how, results, trial_id, params)
        tuned = fit_and_score(cfg, params, made, save_to=staging, encoders=encoders)
        metrics, label_names = tuned.scores, tuned.label_names
        predictions = {"tuned": tuned.predictions, **tuned.extra}
        if baseline and metrics.test is not None:  # references are compared on the test split
            records = {}
            for name, values in reference_values(cfg).items():
                same = not metrics.soup and all(
                    same_value(params.get(k), v) for k, v in values.items()
                )
                scored = (
                    tuned if same else score_reference(cfg, how, results, name, values, encoders)
                )
                predictions[name] = scored.predictions
                records[name] = {
                    "params": values,
                    "values": value_sources(cfg, name),
                    "same_as_tuned": same,
                    **scored.scores.as_dict(),
                }
            write_file(staging / BASELINE_METRICS, json.dumps(records, indent=2))
        metrics.validation_se, metrics.comparisons = uncertainty(cfg, predictions, label_names)
        write_file(staging / MODEL_LABELS, json.dumps(label_names, indent=2))
        write_file(staging / BEST_PARAMS, yaml.safe_dump(params, sort_keys=False))
        metrics.write(staging / MODEL_METRICS)
        save_predictions(staging / MODEL_PREDICTIONS, predictions)
        if results is not None:
            copy_trial_artifacts(results, params, staging / MODEL_TRIAL_ARTIFACTS)
        mark_owned(staging, MODEL_KIND)
        normal_permissions(staging)  # mkdtemp made it private
        swap_in(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log.info("saved the model to %s (%s): %s", cfg.trained_location, metrics.made_by, metrics)
    return out


def swap_in(new: Path, out: Path) -> None:
    """Put folder ``new`` at ``out``: the old one is moved aside first, put back if the move
    fails, and removed only once ``new`` is in place."""
    aside = None
    if out.exists():
        aside = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.replace(aside)
    try:
        new.replace(out)
    except BaseException:
        if aside is not None:
            aside.replace(out)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def score_reference(
    cfg: ExperimentConfig,
    how: str,
    results: SearchResults | None,
    name: str,
    values: dict[str, Any],
    encoders: Encoders,
) -> Scored:
    """Reference ``name``'s model made the way the tuned one was (its trial's kept weights
    where there are some, else trained) and scored on validation and test."""
    row = None if results is None else results.reference_row(name)
    ref_id = None if row is None else str(row["trial_id"])
    # A replayed reference is scored alone: it is never copied into, so its own weights are
    # the ones its replay trains again.
    made = replace(plan_model(cfg, how, results, ref_id, values), search_model=None)
    return fit_and_score(cfg, values, made, save_to=None, encoders=encoders)


def uncertainty(
    cfg: ExperimentConfig, predictions: dict[str, Predictions], label_names: list[str]
) -> tuple[dict[str, float], dict[str, Any]]:
    """How sure the saved model's scores are: the bootstrap standard error of its validation
    score (``validation_se``: trials closer than it to the best are tied within noise) and,
    per reference, the paired intervals of the difference (``comparisons``)."""
    positive = task_metrics(label_names, cfg.data.positive_label, cfg.search.average).positive
    metric, seed = cfg.search.metric, cfg.search.seed
    se: dict[str, float] = {}
    tuned = predictions["tuned"]
    if "validation" in tuned:
        labels, probs = tuned["validation"]
        se[metric] = standard_error(labels, probs, metric, positive=positive, seed=seed)
    comparisons: dict[str, Any] = {}
    if len(predictions) > 1:
        comparisons = compare_all(
            predictions,
            metric,
            mode=cfg.search.mode,
            positive=positive,
            seed=seed,
            seed_sds=seed_spread(cfg),
        )
    return se, comparisons


def save_predictions(path: Path, predictions: dict[str, Predictions]) -> None:
    """Per model and split, the class probabilities of each row (``<model>_<split>``) and
    the true classes (``labels_<split>``), in one compressed NumPy file."""
    import numpy as np

    arrays: dict[str, Any] = {}
    for who, splits in predictions.items():
        for split, (labels, probs) in splits.items():
            arrays[f"labels_{split}"] = labels
            arrays[f"{who}_{split}"] = probs
    np.savez_compressed(path, **arrays)


def searched(cfg: ExperimentConfig) -> bool:
    """Whether a search or sweep ran in the experiment folder (a refit of given values may
    have none behind it)."""
    exp = cfg.experiment_dir
    return (exp / CONFIG_FILE).is_file() and has_tune_state(exp)


@dataclass(frozen=True)
class ModelPlan:
    """How one model is made: from a trial's kept weights, or trained (on which splits, for
    how many epochs)."""

    kept: Path | None = None
    on_validation: bool = False
    epochs: int | None = None
    made_by: str = "retrained on the train split"
    schedule: list[dict[str, Any]] | None = None
    """A population's schedule to replay (values changed at the epochs they changed), trained
    for ``epochs`` epochs of the search's learning-rate schedule."""
    search_model: Path | None = None
    """The search's own model (the winner's kept weights), saved and scored beside a replay."""
    soup: list[tuple[str, Path]] | None = None
    """The soup's candidates (trial id, kept weights), best first; ``kept`` is the first."""


def plan_model(
    cfg: ExperimentConfig,
    how: str,
    results: SearchResults | None,
    trial_id: str | None,
    params: dict[str, Any],
) -> ModelPlan:
    """Where the model of ``params`` (trial ``trial_id`` of ``results``, if it came from one)
    comes from."""
    if is_population(cfg) and how != "keep" and trial_id is not None:
        replay = replay_plan(cfg, trial_id, on_validation=how == "train+validation")
        if replay is not None:
            return replay
    if how == "train+validation":
        best = best_epoch(results, trial_id)
        epochs = best or int(params["num_train_epochs"])
        return ModelPlan(
            on_validation=True,
            epochs=epochs,
            made_by=f"retrained on the train and validation splits for {epochs} epoch(s)",
        )
    if how == "soup":
        return soup_plan(cfg, results, trial_id, params)
    if how != "keep":
        return ModelPlan()
    if trial_id is None:
        return retrain("the values did not come from a trial")
    if not keeps_weights(cfg):
        return retrain("the trials trained on k folds, each model on part of the train split")
    if float(params.get("train_fraction", 1.0)) < 1.0:
        return retrain("the trial trained on part of the train split (train_fraction < 1)")
    folder = trial_dir(cfg.experiment_dir, trial_id) / TRIAL_BEST_MODEL
    if not folder.is_dir():
        return retrain(
            f"trial {trial_id} kept no weights (run.refit was not keep during the search)"
        )
    info = KeptInfo.read(folder)
    epoch = f" at epoch {info.epoch:g}" if info is not None else ""
    return ModelPlan(
        kept=folder,
        made_by=f"kept: trial {trial_id}'s weights{epoch}, no retraining",
    )


SHAPE_KEYS = (MODEL_NAME, "finetune", "lora_r")
"""The values that decide a kept model's parameter shapes and what they mean: trials that
share them fine-tuned the same network from the same start and can be averaged."""


def soup_plan(
    cfg: ExperimentConfig,
    results: SearchResults | None,
    trial_id: str | None,
    params: dict[str, Any],
) -> ModelPlan:
    """A soup of the selected trial and the next best of the top ``run.soup_k`` whose kept
    weights have its shapes; the selected trial's kept weights alone where fewer than two
    such trials kept weights (``made_by`` says why)."""
    single = plan_model(cfg, "keep", results, trial_id, params)
    if results is None or trial_id is None or single.kept is None:
        return single
    shape = {k: params.get(k) for k in SHAPE_KEYS}
    candidates = [(trial_id, single.kept)]
    for row in results.ranked().head(cfg.run.soup_k).to_dict("records"):
        other = str(row["trial_id"])
        folder = trial_dir(cfg.experiment_dir, other) / TRIAL_BEST_MODEL
        values = results.params_of(other)
        if other == trial_id or not folder.is_dir():
            continue
        if all(same_value(values.get(k), v) for k, v in shape.items()):
            candidates.append((other, folder))
    if len(candidates) < 2:
        why = (
            f"a soup needs two trials of the same {', '.join(SHAPE_KEYS)} with kept weights "
            f"among the top {cfg.run.soup_k}; found one"
        )
        log.info("saving the best trial alone: %s", why)
        return replace(single, made_by=f"{single.made_by} ({why})")
    return replace(single, soup=candidates, made_by="soup")


def replay_plan(cfg: ExperimentConfig, trial_id: str, on_validation: bool) -> ModelPlan | None:
    """Trial ``trial_id``'s kept weights replayed from scratch: the schedule they were trained
    by (copies from other trials included) up to the epoch they were kept at; None where the
    trial kept no weights."""
    folder = trial_dir(cfg.experiment_dir, trial_id) / TRIAL_BEST_MODEL
    info = KeptInfo.read(folder)
    if info is None:
        return None
    schedule, epochs = info.schedule, info.epochs()
    splits = "train and validation splits" if on_validation else "train split"
    return ModelPlan(
        on_validation=on_validation,
        epochs=epochs,
        schedule=schedule,
        search_model=folder,
        made_by=f"replayed trial {trial_id}'s schedule for {epochs} epoch(s) on the {splits}: "
        f"{describe(schedule)}",
    )


def retrain(why: str) -> ModelPlan:
    log.info("retraining instead of keeping a trial's weights: %s", why)
    return ModelPlan(made_by=f"retrained on the train split ({why})")


def best_epoch(results: SearchResults | None, trial_id: str | None) -> int | None:
    """The epoch count at which trial ``trial_id`` scored its best (rounded up)."""
    if results is None or trial_id is None:
        return None
    frame = results.frame
    epoch = float(frame.loc[frame["trial_id"] == trial_id, "best_epoch"].iloc[0])
    return whole_epochs(epoch) if epoch == epoch else None


Encoder = tuple[str, Any, PreparedData]
"""An encoder's resolved path, its tokenizer and the data it tokenized."""


class Encoders:
    """Each encoder a refit uses, made once: from the search's own tokenized data when handed
    ``inputs`` (only the tokenizer is loaded), else resolved, read and tokenized (cached)."""

    def __init__(self, cfg: ExperimentConfig, inputs: Inputs | None = None) -> None:
        self.cfg = cfg
        self.paths, self.data = inputs if inputs is not None else ({}, {})
        self.made: dict[str, Encoder] = {}

    def get(self, name: str) -> Encoder:
        if name not in self.made:
            model = candidate(self.cfg, name)
            resolved = self.paths.get(name) or resolve_model(model)
            tokenizer = load_tokenizer(model, resolved)
            data = self.data.get(name) or prepare_data(self.cfg.data, tokenizer)
            self.made[name] = (resolved, tokenizer, data)
        return self.made[name]


def fit_and_score(
    cfg: ExperimentConfig,
    params: dict[str, Any],
    made: ModelPlan | None = None,
    *,
    save_to: Path | None,
    encoders: Encoders | None = None,
) -> Scored:
    """Make the model of ``params`` as ``made`` says (default: train on the train split, best
    epoch kept), score it on validation (unless it trained on it) and test; save the model and
    tokenizer to ``save_to`` if given. Returns the scores, the class names and the per-row
    predictions. ``encoders``
    keeps each encoder's tokenizer and data between calls (the tuned model and the baseline
    usually share one)."""
    made = made or ModelPlan()
    encoders = Encoders(cfg) if encoders is None else encoders
    model_path, tokenizer, data = encoders.get(params.get(MODEL_NAME) or cfg.model.name)
    train = train_subset(data.train, params.get("train_fraction", 1.0), data.seed)
    callbacks: list[Any] = []
    if made.schedule is not None:
        # The search's learning-rate schedule (its epoch count), stopped where the weights were
        # kept; each epoch trains with the values it had in the search.
        params = {**params, **values_at(made.schedule, 0), "early_stopping_patience": 0}
        callbacks = [schedule_callback_class()(made.schedule), stop_after_class()(made.epochs)]
    if made.on_validation:
        from datasets.combine import concatenate_datasets

        train = concatenate_datasets([data.train, data.validation])
        if made.schedule is None:
            params = {**params, "num_train_epochs": made.epochs, "early_stopping_patience": 0}
    if made.kept is not None:
        model_path = str(made.kept)
        params = {**params, "finetune": "full"}  # LoRA was merged into the kept weights
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
            callbacks=callbacks,
            task=task_metrics(data.label_names, cfg.data.positive_label, cfg.search.average),
            save=made.kept is None and not made.on_validation,
            evaluate=not made.on_validation,
            trust_remote_code=cfg.model.trust_remote_code,
        )
        if made.kept is None:
            log.info("training on %d examples with %s", len(train), params)
            trainer.train()
        metrics = ModelScores(made_by=made.made_by)
        extra: dict[str, Predictions] = {}
        if made.soup is not None:
            metrics.soup, extra = cook_soup(cfg, trainer, made.soup, data)
            metrics.made_by = metrics.soup[MADE_BY]
        predictions: Predictions = {}
        if not made.on_validation:
            metrics.validation = trainer.evaluate(data.validation)
            predictions["validation"] = last_predictions(trainer)
        if data.test is not None:
            metrics.test = trainer.evaluate(data.test, metric_key_prefix="test")
            predictions["test"] = last_predictions(trainer)
        if save_to is not None:
            for_inference(trainer.model).save_pretrained(str(save_to))
            tokenizer.save_pretrained(str(save_to))
            if made.kept is None:  # how it trained: loss and learning rate per step
                log_history = json.dumps(trainer.state.log_history, indent=1, default=float)
                write_file(save_to / MODEL_LOG, log_history)
        if made.search_model is not None:
            metrics.extra["search_model"] = score_search_model(
                cfg, params, made.search_model, trainer, data, save_to
            )
    return Scored(metrics, data.label_names, predictions, extra)


Predictions = dict[str, tuple[Any, Any]]
"""Per split, the true classes and the class probabilities of each row."""


@dataclass(frozen=True)
class Scored:
    """A model's scores (``metrics.json``'s content), its class names and its per-row
    predictions on the splits it was scored on."""

    scores: ModelScores
    label_names: list[str]
    predictions: Predictions
    extra: dict[str, Predictions] = field(default_factory=dict)
    """Other models scored beside it (a soup's best single trial and uniform soup)."""


def cook_soup(
    cfg: ExperimentConfig, trainer: Any, candidates: list[tuple[str, Path]], data: PreparedData
) -> tuple[dict[str, Any], dict[str, Predictions]]:
    """Leave the trainer's model holding the greedy soup of ``candidates``; returns what the
    soup was made of, the best single trial's and the uniform soup's scores, and their
    per-row predictions (``best_single``, ``uniform_soup``)."""
    key = eval_key(cfg.search.metric)
    sign = 1.0 if cfg.search.mode == "max" else -1.0
    soup, greedy, uniform = greedy_soup(
        trainer, candidates, data.validation, score=lambda m: sign * float(m[key])
    )
    scores: dict[str, Any] = {}
    extra: dict[str, Predictions] = {}
    for name, state in (("best_single", None), ("uniform_soup", uniform)):
        if state is not None:
            load_into(trainer, state)
        scored, extra[name] = evaluate_splits(trainer, data)
        scores[name] = scored.as_dict()
    load_into(trainer, greedy)
    record = {
        MADE_BY: f"greedy soup of trial{'s' if len(soup.greedy) > 1 else ''} "
        f"{', '.join(soup.greedy)} (of {len(soup.ingredients)} candidates among the top "
        f"{cfg.run.soup_k}, each kept weights), no training; its validation score is "
        "optimistic (the soup was chosen on validation)",
        "ingredients": soup.ingredients,
        "greedy": soup.greedy,
        "steps": soup.steps,
        **scores,
    }
    return record, extra


def evaluate_splits(trainer: Any, data: PreparedData) -> tuple[ModelScores, Predictions]:
    """The trainer's model scored on validation and test (where there is one)."""
    scores = ModelScores(validation=trainer.evaluate(data.validation))
    predictions: Predictions = {"validation": last_predictions(trainer)}
    if data.test is not None:
        scores.test = trainer.evaluate(data.test, metric_key_prefix="test")
        predictions["test"] = last_predictions(trainer)
    return scores, predictions


def last_predictions(trainer: Any) -> tuple[Any, Any]:
    """The true classes and class probabilities of the trainer's last evaluation (kept by
    ``MetricsComputer``)."""
    import numpy as np

    logits, labels = trainer.compute_metrics.last
    return np.asarray(labels), softmax(np.asarray(logits)).astype(np.float32)


def score_search_model(
    cfg: ExperimentConfig,
    params: dict[str, Any],
    kept: Path,
    trainer: Any,
    data: PreparedData,
    save_to: Path | None,
) -> dict[str, Any]:
    """The search's own model beside its replay: scored on validation and test the same way,
    and saved in ``search_model/`` of the model folder (when one is saved)."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(kept))
    trainer.model = model.to(trainer.args.device)
    trainer.model_wrapped = trainer.model
    scores, _ = evaluate_splits(trainer, data)
    if save_to is not None:
        model.save_pretrained(str(save_to / SEARCH_MODEL))
        trainer.processing_class.save_pretrained(str(save_to / SEARCH_MODEL))
    return scores.as_dict()


def stop_after_class() -> type:
    from transformers import TrainerCallback

    class StopAfter(TrainerCallback):
        """Ends training after ``epochs`` epochs (the schedule spans more)."""

        def __init__(self, epochs: int | None) -> None:
            self.epochs = epochs

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.epochs is not None and float(state.epoch or 0.0) >= self.epochs - FLOAT_TOL:
                control.should_training_stop = True

    return StopAfter


def copy_trial_artifacts(results: SearchResults, params: dict[str, Any], dest: Path) -> None:
    """Copy the artifacts of the trial whose values are being saved (if it wrote any)."""
    for trial_id, overrides in results.overrides.items():
        if all(params.get(k) == v for k, v in overrides.items()):
            source = trial_dir(results.cfg.experiment_dir, trial_id)
            draw_trial_plots(source)  # not among the run.trial_plots best: draw them now
            files = [source / f for f in TRIAL_FILES if (source / f).is_file()]
            if files:
                dest.mkdir(parents=True, exist_ok=True)
                for f in files:
                    shutil.copy2(f, dest / f.name)
            return
