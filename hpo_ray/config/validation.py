"""Value and cross-field checks on a built ``ExperimentConfig``.

``loading.from_dict`` calls ``validate`` on every config it builds, so a bad value stops the run
before any data is read or Ray starts. Each rule raises ``ConfigError`` with one line that names
the key, the bad value and the fix. ``validate`` returns a normalised copy (``eval_f1`` becomes
``f1``, search and grid values take their field's type); it never edits its argument.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import typing
from typing import Any

from hpo_ray.config.convert import convert_value
from hpo_ray.config.formats import EVAL_PREFIX
from hpo_ray.config.run import CHECKPOINT_POLICIES, REFIT_MODES
from hpo_ray.config.schema import (
    AVERAGES,
    CONDITIONAL,
    DATA_FORMATS,
    FINETUNE,
    LOSSES,
    LR_SCHEDULERS,
    METRICS,
    MODEL_NAME,
    PARAM_TYPES,
    REFERENCES,
    SEARCHABLE,
    ExperimentConfig,
    OfatConfig,
    ParamSpec,
    TrainingConfig,
)
from hpo_ray.config.secrets import take_credentials
from hpo_ray.config.task import check_metric, task_metrics
from hpo_ray.errors import ConfigError, check_config
from hpo_ray.storage import is_uri

PARAM_TYPES_BY_NAME: dict[str, Any] = {
    **typing.get_type_hints(TrainingConfig),
    MODEL_NAME: str,
}
"""The declared type of every searchable training value."""


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not known; choose one of: {', '.join(allowed)}")


def validate(cfg: ExperimentConfig) -> ExperimentConfig:
    """Check values and cross-field rules; raises ``ConfigError`` on the first problem.

    Returns the config normalised (a new object)."""
    check_plain_values(cfg, "")  # before any rule compares a NaN
    cfg = take_credentials(cfg)  # before any message could echo a credential
    d, t, s, r = cfg.data, cfg.training, cfg.search, cfg.resources
    _one_of("data.label_rule", d.label_rule, ("threshold", "categorical"))
    _one_of("data.format", d.format, DATA_FORMATS)
    check_config(
        d.label_column not in (d.text_column, d.text_pair_column),
        f"data.label_column={d.label_column!r} is a text column too; the labels need a "
        "column of their own (set data.label_column or data.text_column)",
    )
    check_config(
        d.text_pair_column != d.text_column,
        f"data.text_pair_column={d.text_pair_column!r} is the text column too; name the "
        "column of the second text",
    )
    check_config(
        not (d.validation_path or d.test_path) or bool(d.train_path),
        "data.validation_path / data.test_path need data.train_path (the train table)",
    )
    check_config(
        not (d.test_path and d.test_size > 0),
        f"data.test_size={d.test_size} with data.test_path: the test table is given; set "
        "data.test_size: 0",
    )
    check_config(
        0 < d.validation_size < 1,
        f"data.validation_size={d.validation_size} must be between 0 and 1 (e.g. 0.2)",
    )
    check_config(
        0 <= d.test_size < 1 and d.test_size + d.validation_size < 1,
        f"data.test_size={d.test_size} must be >= 0 and leave data for training "
        "(test_size + validation_size < 1)",
    )
    check_config(
        d.folds == 0 or d.folds >= 2, f"data.folds={d.folds} must be 0 (off) or at least 2"
    )
    _one_of("data.fold_aggregate", d.fold_aggregate, ("mean", "median", "min", "max"))
    check_config(
        not (d.folds and cfg.training.eval_steps),
        "data.folds evaluates every epoch; set training.eval_steps: null",
    )
    check_config(d.max_length >= 8, f"data.max_length={d.max_length} must be at least 8")
    check_config(
        d.max_rows is None or d.max_rows >= 10,
        f"data.max_rows={d.max_rows} must be at least 10 (or null for all rows)",
    )
    if d.label_names is not None:
        twice = [n for i, n in enumerate(d.label_names) if n in d.label_names[:i]]
        check_config(
            not twice,
            f"data.label_names lists {twice[0]!r} twice; name each class once" if twice else "",
        )
    if d.label_names is not None and d.label_rule == "threshold":
        check_config(
            len(d.label_names) == 2,
            f"data.label_names={d.label_names} must name 2 classes [negative, positive] "
            "for the threshold rule",
        )
    check_config(bool(cfg.model.name.strip()), "model.name is empty; set a folder or a model name")

    validate_training(t, "training")

    metric = s.metric.removeprefix(EVAL_PREFIX)
    _one_of("search.metric", metric, METRICS)
    check_config(
        isinstance(s.baseline, bool) or s.baseline in REFERENCES,
        f"search.baseline={s.baseline!r} is not known; choose true (both references), false, "
        f"or one of: {', '.join(REFERENCES)}",
    )
    check_config(s.num_samples >= 1, f"search.num_samples={s.num_samples} must be >= 1")
    check_config(
        s.max_concurrent_trials is None or s.max_concurrent_trials >= 1,
        f"search.max_concurrent_trials={s.max_concurrent_trials} must be >= 1 or null",
    )
    check_config(
        s.time_budget_s is None or s.time_budget_s > 0,
        f"search.time_budget_s={s.time_budget_s} must be > 0 or null",
    )
    check_config(
        s.epoch_budget is None or s.epoch_budget > 0,
        f"search.epoch_budget={s.epoch_budget} must be > 0 or null",
    )
    check_config(
        s.n_startup_trials is None or s.n_startup_trials >= 1,
        f"search.n_startup_trials={s.n_startup_trials} must be >= 1 (random trials before TPE)",
    )
    check_config(s.grace_period >= 1, f"search.grace_period={s.grace_period} must be >= 1")
    check_config(
        s.reduction_factor >= 2, f"search.reduction_factor={s.reduction_factor} must be >= 2"
    )
    if s.average is not None:
        _one_of("search.average", s.average, AVERAGES)
    if d.label_rule == "threshold":  # two classes known now; categorical is checked on the data
        names = d.label_names or ["negative", "positive"]
        check_metric(metric, task_metrics(names, d.positive_label, s.average))
    check_config(
        s.reseed.top_k >= 0, f"search.reseed.top_k={s.reseed.top_k} must be >= 0 (0 = off)"
    )
    check_config(s.reseed.seeds >= 2, f"search.reseed.seeds={s.reseed.seeds} must be >= 2")
    space = {name: validate_param(name, spec) for name, spec in s.space.items()}
    for name in space:
        if name in CONDITIONAL:
            parent, value = CONDITIONAL[name]
            parent_spec = space.get(parent)
            can = (
                value in (parent_spec.values or [])
                if parent_spec is not None
                else getattr(t, parent) == value
            )
            check_config(
                can,
                f"search.space.{name} only matters when training.{parent} is {value!r}; set "
                f"training.{parent}: {value} or search {parent} over values that include it",
            )
    ofat = validate_ofat(cfg.ofat, t)

    check_config(r.cpu > 0, f"resources.cpu={r.cpu} must be > 0")
    check_config(r.gpu >= 0, f"resources.gpu={r.gpu} must be >= 0")
    check_config(
        r.gpu <= 1 or r.gpu.is_integer(),
        f"resources.gpu={r.gpu}: above 1 a trial must ask for whole GPUs",
    )
    check_config(
        not is_uri(cfg.data.cache_dir),
        f"data.cache_dir={cfg.data.cache_dir!r}: the token cache is a local folder; name one "
        "(results can go to an object store with run.storage)",
    )
    _one_of("run.checkpoint", cfg.run.checkpoint, CHECKPOINT_POLICIES)
    refit = {"true": "keep", "false": "none"}.get(cfg.run.refit.lower(), cfg.run.refit)
    _one_of("run.refit", refit, REFIT_MODES)
    if refit != cfg.run.refit:
        cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, refit=refit))
    if refit == "soup":
        validate_soup(cfg)
    if cfg.tracking.mlflow is not None:
        uri = cfg.tracking.mlflow.uri
        check_config(
            "://" in uri or uri.startswith("databricks"),
            f"tracking.mlflow.uri={uri!r} must be a tracking URI such as "
            "sqlite:///mlflow.db or http://host:5000 (MLflow no longer takes plain folders)",
        )
    check_config(
        cfg.run.keep_checkpoints >= 1,
        f"run.keep_checkpoints={cfg.run.keep_checkpoints} must be >= 1",
    )
    check_config(
        cfg.run.sync_period_s >= 1, f"run.sync_period_s={cfg.run.sync_period_s} must be >= 1"
    )
    check_config(
        cfg.run.trial_plots >= -1,
        f"run.trial_plots={cfg.run.trial_plots} must be >= -1 (-1: every trial, 0: none)",
    )
    check_config(
        cfg.run.max_failures >= -1, f"run.max_failures={cfg.run.max_failures} must be >= -1"
    )
    name = cfg.run.name
    check_config(
        not name or ("/" not in name and name not in (".", "..")),
        f"run.name={short(name)} must be a plain folder name without '/'",
    )
    check_config(
        not name or (bool(RUN_NAME.fullmatch(name)) and len(name) <= MAX_NAME),
        f"run.name={short(name)} must be at most {MAX_NAME} letters, digits and . _ - + = @ , "
        "(not starting with '.'); pick a plain name",
    )
    for param, spec in space.items():  # a searched value obeys the training value's rules
        check_space_values(param, spec, t)
    search = dataclasses.replace(s, metric=metric, space=space)
    return dataclasses.replace(cfg, search=search, ofat=ofat)


RUN_NAME = re.compile(r"[^\W.][\w.+=@,-]*")
"""What ``run.name`` may be: it names folders, a lock file and a SQLite URI."""
MAX_NAME = 100


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (a huge value in a message is one line)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'" + f" ({len(text)} chars)"


def check_plain_values(node: Any, where: str) -> None:
    """Every number of the config finite and no text holding a NUL, in every section."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            check_plain_values(getattr(node, f.name), f"{where}.{f.name}" if where else f.name)
        return
    if isinstance(node, dict):
        for key, value in node.items():
            check_plain_values(value, f"{where}.{key}")
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            check_plain_values(value, f"{where}[{i}]")
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"{where}={node} must be a finite number")
    elif isinstance(node, str) and "\0" in node:
        raise ConfigError(f"{where}={short(node)} holds a NUL character; remove it")


def check_space_values(name: str, spec: ParamSpec, base: TrainingConfig) -> None:
    """The bounds (or values) of ``search.space.<name>`` checked as training values."""
    if name not in {f.name for f in dataclasses.fields(TrainingConfig)}:
        return
    if spec.type == "categorical":
        values = [("values", v) for v in spec.values or []]
    else:
        whole = spec.type == "int"
        values = [
            (p, int(v) if whole and v is not None else v)
            for p, v in (("low", spec.low), ("high", spec.high))
        ]
    for part, value in values:
        try:
            validate_training(dataclasses.replace(base, **{name: value}), "training")
        except ConfigError as exc:
            raise ConfigError(f"search.space.{name}.{part}={short(value)}: {exc}") from None
        except TypeError:
            continue  # compared with a value of another type: its own check names it


def validate_soup(cfg: ExperimentConfig) -> None:
    """A soup averages trials that trained the same model on the whole train split."""
    fix = "use run.refit=keep"
    check_config(cfg.run.soup_k >= 2, f"run.soup_k={cfg.run.soup_k} must be >= 2 (a soup of one)")
    check_config(
        not cfg.data.folds,
        f"run.refit=soup cannot follow data.folds={cfg.data.folds}: each fold's model trained on "
        f"part of the train split and none is kept; {fix}",
    )
    check_config(
        cfg.training.train_fraction >= 1.0 and "train_fraction" not in cfg.search.space,
        "run.refit=soup needs every trial trained on the whole train split "
        f"(training.train_fraction=1, not searched); {fix}",
    )


def validate_param(name: str, spec: ParamSpec) -> ParamSpec:
    """Check one search-space entry against the training field it overrides; returns it with
    its values converted to the field's type."""
    key = f"search.space.{name}"
    if name not in SEARCHABLE:
        close = difflib.get_close_matches(name, SEARCHABLE, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"searchable: {', '.join(SEARCHABLE)}"
        raise ConfigError(f"{key} is not a training parameter; {hint}")
    _one_of(f"{key}.type", spec.type, PARAM_TYPES)
    field_type = PARAM_TYPES_BY_NAME[name]
    if spec.type == "categorical":
        if not spec.values:
            raise ConfigError(f"{key}.values must list at least one value")
        values = [convert_value(v, field_type, f"{key}.values") for v in spec.values]
        allowed = {
            "lr_scheduler_type": LR_SCHEDULERS,
            "loss": LOSSES,
            "finetune": FINETUNE,
        }.get(name)
        for v in values if allowed else []:
            _one_of(f"{key}.values", v, allowed or ())
        return dataclasses.replace(spec, values=values)
    if spec.low is None or spec.high is None:
        raise ConfigError(f"{key} needs low and high for type {spec.type}")
    check_config(
        spec.low <= spec.high,
        f"{key} is an empty range: low={spec.low} > high={spec.high}; swap them",
    )
    check_config(
        not spec.log or spec.low > 0, f"{key}: a log scale needs low > 0, got low={spec.low}"
    )
    check_config(field_type is not str, f"{key}: {name} takes strings; use type: categorical")
    check_config(
        spec.step is None or spec.step > 0,
        f"{key}.step={spec.step} must be > 0 (or left out)",
    )
    if spec.type == "int":
        check_config(
            float(spec.low).is_integer() and float(spec.high).is_integer(),
            f"{key}: type int needs whole-number bounds, got {spec.low}..{spec.high}",
        )
    return spec


def validate_training(t: TrainingConfig, where: str) -> None:
    """Check training values; ``where`` names them in messages (``training`` or an OFAT value)."""
    check_config(t.learning_rate > 0, f"{where}.learning_rate={t.learning_rate} must be > 0")
    check_config(
        t.max_grad_norm >= 0,
        f"{where}.max_grad_norm={t.max_grad_norm} must be >= 0 (0: no clipping)",
    )
    check_config(
        t.num_train_epochs >= 1, f"{where}.num_train_epochs={t.num_train_epochs} must be >= 1"
    )
    for key in (
        "per_device_train_batch_size",
        "per_device_eval_batch_size",
        "gradient_accumulation_steps",
        "logging_steps",
    ):
        check_config(getattr(t, key) >= 1, f"{where}.{key}={getattr(t, key)} must be >= 1")
    check_config(
        0 <= t.warmup_ratio < 1, f"{where}.warmup_ratio={t.warmup_ratio} must be in [0, 1)"
    )
    check_config(t.weight_decay >= 0, f"{where}.weight_decay={t.weight_decay} must be >= 0")
    check_config(
        t.early_stopping_patience >= 0,
        f"{where}.early_stopping_patience={t.early_stopping_patience} must be >= 0 (0 = off)",
    )
    check_config(
        t.eval_steps is None or t.eval_steps >= 1,
        f"{where}.eval_steps={t.eval_steps} must be >= 1, or null to evaluate every epoch",
    )
    _one_of(f"{where}.lr_scheduler_type", t.lr_scheduler_type, LR_SCHEDULERS)
    _one_of(f"{where}.loss", t.loss, LOSSES)
    _one_of(f"{where}.finetune", t.finetune, FINETUNE)
    check_config(t.lora_r >= 1, f"{where}.lora_r={t.lora_r} must be >= 1")
    check_config(t.lora_alpha > 0, f"{where}.lora_alpha={t.lora_alpha} must be > 0")
    check_config(
        0 <= t.lora_dropout < 1, f"{where}.lora_dropout={t.lora_dropout} must be in [0, 1)"
    )
    check_config(t.focal_gamma >= 0, f"{where}.focal_gamma={t.focal_gamma} must be >= 0 (0 = CE)")
    check_config(
        0 < t.focal_alpha < 1, f"{where}.focal_alpha={t.focal_alpha} must be between 0 and 1"
    )
    check_config(not (t.fp16 and t.bf16), f"{where}: fp16 and bf16 are both true; pick one")
    check_config(
        0 < t.train_fraction <= 1,
        f"{where}.train_fraction={t.train_fraction} must be in (0, 1] (share of the train split)",
    )


def validate_ofat(ofat: OfatConfig, base: TrainingConfig) -> OfatConfig:
    """Convert each grid value to its field's type and check it as a training value; returns
    the grid with converted values."""
    hints = PARAM_TYPES_BY_NAME
    grid: dict[str, list[Any]] = {}
    for name, values in ofat.grid.items():
        key = f"ofat.grid.{name}"
        if name not in SEARCHABLE:
            close = difflib.get_close_matches(name, SEARCHABLE, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(SEARCHABLE)}"
            raise ConfigError(f"{key} is not a training parameter; {hint}")
        if not values:
            raise ConfigError(f"{key} must list at least one value, e.g. [1.0e-5, 2.0e-5]")
        converted = [convert_value(v, hints[name], key) for v in values]
        twice = [v for i, v in enumerate(converted) if v in converted[:i]]
        if twice:
            raise ConfigError(f"{key} lists {twice[0]!r} twice; list each value once")
        if name == MODEL_NAME:
            check_config(
                all(str(v).strip() for v in converted),
                f"{key} lists an empty model name; name a model folder",
            )
        else:
            for value in converted:
                validate_training(dataclasses.replace(base, **{name: value}), "ofat.grid")
        grid[name] = converted
    return dataclasses.replace(ofat, grid=grid)
