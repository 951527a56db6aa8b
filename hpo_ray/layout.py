"""Every file and folder name of an experiment, in one place.

```
<run.storage>/<run.name>/               the experiment folder (Ray Tune's)
    hpo_config.yaml                     the resolved config (report, refit, resume reload it)
    references.json                     the reference trials' values (baseline, Trainer's)
    experiment_state-*.json             Tune's state (resume)
    ofat_grid.json                      marks an OFAT sweep and lists its plan
    report.html                         the one-page report: answer, evidence, cost
    optuna_study.db                     SQLite mirror of the trials for optuna-dashboard
    trial_<id>/                         one trial: Tune's files, TensorBoard events, and the
        metrics.json log_history.json predictions.npz   (its numbers)
        confusion_matrix.png loss_per_step.png loss_per_epoch.png  (drawn by the report)
        own_failure.txt                 the trial failed on its own (not retried)
    hpo_artifacts/                      search report: hpo_trials.csv, best_params.yaml,
                                        summary.txt, plots
    ofat_artifacts/                     OFAT report: ofat_results.csv, plots, summary.txt
    reseed/                             the reseed runs (an experiment folder of their own)
<run.trained_dir>/<run.name>/           the refit model: weights, tokenizer, labels.json,
                                        best_params.yaml, metrics.json, trial_artifacts/,
                                        training_log.json (when it was trained),
                                        baseline_metrics.json (each reference's scores),
                                        predictions.npz (per-row class probabilities),
                                        search_model/ (PBT: the winner's own weights)
```
"""

from __future__ import annotations

from pathlib import Path

OWNER_MARK = ".hpo_ray"
"""Marks an experiment or model folder hpo_ray made: ``--overwrite`` removes no other."""
LOCK_SUFFIX = ".hpo_ray.lock"
"""``<run.storage>/<run.name>.hpo_ray.lock``: held by the command working on an experiment."""
CONFIG_FILE = "hpo_config.yaml"
EXPERIMENT_STATE_GLOB = "experiment_state-*.json"
GRID_FILE = "ofat_grid.json"
STUDY_FILE = "optuna_study.db"
SEARCH_ARTIFACTS = "hpo_artifacts"
OFAT_ARTIFACTS = "ofat_artifacts"
RESEED_DIR = "reseed"

TRIALS_CSV = "hpo_trials.csv"
OFAT_CSV = "ofat_results.csv"
RESEED_CSV = "reseed.csv"
COMPARISON_CSV = "comparison.csv"
BEST_PARAMS = "best_params.yaml"
SUMMARY = "summary.txt"
REPORT_HTML = "report.html"
"""The one-page report of an experiment (in the experiment folder)."""

REFERENCES_FILE = "references.json"
"""The references that ran as a search's first trials: name -> searched values (in the
experiment folder; read back to mark their trials)."""
DATA_SPLITS = "data_splits.json"
"""The splits a run used: sizes, classes, which were given, rows shared between them (in the
experiment folder)."""

TRIAL_METRICS = "metrics.json"
"""A trial's final evaluation (in its folder)."""
TRIAL_LOG = "log_history.json"
TRIAL_PREDICTIONS = "predictions.npz"
TRIAL_DATA_FILES = (TRIAL_METRICS, TRIAL_LOG, TRIAL_PREDICTIONS)
CONFUSION_PNG = "confusion_matrix.png"
LOSS_STEP_PNG = "loss_per_step.png"
LOSS_EPOCH_PNG = "loss_per_epoch.png"
TRIAL_PLOT_FILES = (CONFUSION_PNG, LOSS_STEP_PNG, LOSS_EPOCH_PNG)
TRIAL_FILES = TRIAL_DATA_FILES + TRIAL_PLOT_FILES
TRIAL_BEST_MODEL = "best_model"
"""The weights of a trial's best evaluation so far (``run.refit: keep``), with
``TRIAL_BEST_EPOCH`` inside. The search keeps them only for its best trials and the
baseline: a finished trial's are removed once others beat it."""
TRIAL_BEST_EPOCH = "best_model.json"
TUNE_CHECKPOINT_GLOB = "checkpoint_*"
"""Tune's checkpoints in a trial folder (needed to resume an unfinished trial only)."""
OWN_FAILURE = "own_failure.txt"
"""Written into a trial folder when the trial fails for its own reasons (NaN loss, out of
memory): a retry after such a failure stops at once instead of training to the same end."""

MODEL_METRICS = "metrics.json"
"""The refit model's validation (and test) scores (in the model folder)."""
BASELINE_METRICS = "baseline_metrics.json"
"""The base values' scores, trained and scored the same way (in the model folder)."""
MODEL_PREDICTIONS = "predictions.npz"
"""Per-row class probabilities of the saved model and each reference on validation and test
(``<model>_<split>``, ``labels_<split>``), from which the paired intervals are computed."""
MODEL_LABELS = "labels.json"
MODEL_LOG = "training_log.json"
"""The Trainer's log of a model trained by the refit (loss and learning rate per step)."""
MODEL_TRIAL_ARTIFACTS = "trial_artifacts"
SEARCH_MODEL = "search_model"
"""A population search's own model (the winner's weights), saved inside the model folder of
its replay."""


def trial_dir_name(trial_id: str) -> str:
    """The folder of Tune trial ``trial_id`` inside the experiment folder."""
    return f"trial_{trial_id}"


def trial_dir(exp_dir: str | Path, trial_id: str) -> Path:
    return Path(exp_dir) / trial_dir_name(trial_id)


def has_tune_state(exp_dir: str | Path) -> bool:
    """Whether Tune has saved an experiment state in ``exp_dir`` (a trial was started)."""
    return any(Path(exp_dir).glob(EXPERIMENT_STATE_GLOB))


def is_ofat(exp_dir: str | Path) -> bool:
    return (Path(exp_dir) / GRID_FILE).is_file()
