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


@dataclass(frozen=True, kw_only=True)
class ResourcesConfig:
    """Per-trial resources; fractional GPUs pack several trials on one device."""

    cpu: float = 1.0
    gpu: float = 0.0


@dataclass(frozen=True, kw_only=True)
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
    the best single trial are scored beside it), no training; ``none`` (or false): no
    model."""
    soup_k: int = 4
    """``run.refit: soup``: how many of the best trials keep their weights for the soup."""
    refit_baseline: bool = True
    """With a test split: also train the base ``training`` values on the train split and score
    them on validation and test beside the tuned model (the model you would have had without
    the search); only its scores are kept."""
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

    @property
    def refits(self) -> bool:
        """Whether the run ends with a saved model."""
        return self.refit != "none"
