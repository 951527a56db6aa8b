"""The run's side of the configuration: where outputs land and how the run behaves
(``run``), what each trial may use (``resources``) and optional tracking (``tracking``).
``hpo_ray.config.schema`` holds them in ``ExperimentConfig`` beside what a search is about."""

from __future__ import annotations

from dataclasses import dataclass

CHECKPOINT_POLICIES = ("none", "model")
REFIT_MODES = ("keep", "soup", "retrain", "train+validation", "none")
"""How the search's choice becomes the saved model (``run.refit``)."""


@dataclass(frozen=True, kw_only=True)
class MlflowConfig:
    """Where MLflow keeps the runs."""

    uri: str
    """A tracking URI: ``sqlite:///path/mlflow.db`` or a server's ``http://host:5000``."""
    experiment: str = ""
    """MLflow experiment name (default: run.name)."""


@dataclass(frozen=True, kw_only=True)
class TrackingConfig:
    """Optional experiment tracking (off by default)."""

    mlflow: MlflowConfig | None = None
    """Log to MLflow (the ``tracking`` extra): one parent run, one child run per trial;
    null = off."""


@dataclass(frozen=True, kw_only=True)
class ResourcesConfig:
    """Per-trial resources; fractional GPUs pack several trials on one device."""

    cpu: float = 1.0
    """CPUs per trial (> 0)."""
    gpu: float = 0.0
    """GPUs per trial (>= 0); a fraction such as 0.25 packs four trials on one GPU."""


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Where outputs land and how the run behaves."""

    name: str = ""
    """Experiment name (default: the config file's stem): at most 100 letters, digits and
    ``. _ - + = @ ,``, not starting with ``.``."""
    storage: str = "ray_results"
    """Where experiment folders live: a folder every node sees, or an object-store URI
    (``s3://bucket/prefix``)."""
    trained_dir: str = "trained"
    """Where the saved models live (``trained/<name>``): a folder or a URI."""
    checkpoint: str = "model"
    """``model``: keep the weights of each trial's latest evaluation (no optimizer state) so an
    interrupted trial can resume; ``none``: keep nothing."""
    keep_checkpoints: int = 1
    """Tune checkpoints kept per trial (``checkpoint: model``)."""
    sync_period_s: int = 30
    """The most seconds between two copies of Tune's experiment state (the trials, the
    searcher) into ``storage``, an upload for an object store: a crash re-runs at most this
    much of finished trials (Tune's own default is 300)."""
    refit: str = "keep"
    """How the best configuration becomes ``trained/<name>``: ``keep`` saves the weights of the
    best trial's best epoch, kept while the search ran (no training at the end; a retrain where
    the trial's model is not the one wanted: k folds, ``train_fraction`` < 1); ``retrain``
    trains the best values again on the train split; ``train+validation`` trains them on both
    splits for the best trial's epoch count (scored on the test split only); ``soup`` averages
    the kept weights of the top ``soup_k`` trials (a greedy soup: each trial, in validation
    order, kept only if the average's validation score does not fall; the uniform soup and
    the best single trial are scored beside it), no training, refused with PBT, k folds or
    ``train_fraction`` < 1; ``none`` (or false): no model."""
    soup_k: int = 4
    """``run.refit: soup``: how many of the best trials keep their weights for the soup."""
    refit_baseline: bool = True
    """With a test split: also score each reference (``search.baseline``) on validation and
    test beside the tuned model, from its trial's kept weights or trained the same way (the
    model you would have had without the search), with paired intervals of the difference;
    its scores and per-row predictions are kept, not its weights."""
    address: str | None = None
    """Ray cluster to join (``auto``, ``ray://host:10001``); empty: start a local Ray."""
    max_failures: int = 0
    """Retries of a trial whose worker or node died, from its last checkpoint (a trial
    that fails on its own, such as a NaN loss, is not retried)."""
    reuse_workers: bool = True
    """Run trials one after another in the same worker processes, so imports, the model classes
    and the tokenized data are loaded once per worker, not per trial; false starts a fresh
    process for every trial."""
    dashboard: bool = True
    """Start Ray's dashboard (on 127.0.0.1) with a local Ray, when the dashboard extra is
    installed; false saves its memory and background CPU on small machines."""
    verbose: int = 1
    """Ray Tune's console output, passed to Tune as its ``verbose`` (0: silent; higher: more
    detail)."""
    trial_plots: int = 3
    """The report draws each of this many best trials' confusion matrix and loss curves into
    its folder (-1: every trial, 0: none). Every trial keeps the numbers behind them."""

    @property
    def refits(self) -> bool:
        """Whether the run ends with a saved model."""
        return self.refit != "none"
