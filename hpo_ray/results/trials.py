"""Experiment folder -> one trial table, ranked once.

Works on a finished or interrupted experiment folder alone (no live objects), which is what
``hpo-ray report``, ``refit`` and ``resume`` need. Writes nothing: ``hpo_ray.report`` does.

Example::

    results = SearchResults.load("ray_results/demo")
    results.frame[["trial", "objective", "status"]]
    results.ranked().head(3)
    results.best_params()
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hpo_ray.config.formats import (
    COPIED_FROM,
    EPOCH,
    FLOAT_TOL,
    LINEAGE,
    SCHEDULE,
    TRAIN_EXAMPLES,
    TRAIN_SECONDS,
    TRAINABLE_PARAMS,
)
from hpo_ray.config.loading import load_experiment_config
from hpo_ray.config.schema import OBJECTIVE, TRAIN_DONE, ExperimentConfig
from hpo_ray.config.trials import (
    OFAT_KEY,
    RESEED_KEY,
    is_baseline,
    same_value,
    trial_overrides,
    trial_params,
    variant_name,
)
from hpo_ray.errors import ExperimentError
from hpo_ray.layout import REFERENCES_FILE, trial_dir
from hpo_ray.results.tune_state import TrialState, read_results, read_trials
from hpo_ray.tuning.schedulers import is_population
from hpo_ray.tuning.searchers import searcher_of

METRIC_COLUMNS = ("eval_f1", "eval_accuracy", "eval_macro_f1", "eval_loss")
OPTIONAL_COLUMNS = ("eval_pos_f1", "eval_roc_auc", "eval_pr_auc")
"""Reported only where the task defines them (see ``hpo_ray.train.metrics``)."""


def trial_status(tune_status: str, last: dict[str, Any]) -> str:
    """completed | patience_stop | scheduler_stop | not_evaluated | failed | running | pending.

    ``not_evaluated``: ended without an error before its first evaluation (the search ended
    first: ``search.epoch_budget`` or ``time_budget_s``)."""
    if tune_status == "ERROR":
        return "failed"
    if last.get(TRAIN_DONE):
        return "patience_stop" if last.get("_planned_more") else "completed"
    if tune_status == "TERMINATED":
        return "scheduler_stop" if last else "not_evaluated"
    return tune_status.lower()


def read_references(exp_dir: Path) -> dict[str, dict[str, Any]]:
    """The reference trials' searched values by name (``references.json``; none in a folder
    written before it existed)."""
    path = exp_dir / REFERENCES_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def reference_of(config: dict[str, Any], references: dict[str, Any], baseline: bool) -> str:
    """Which reference a trial trains (``training``, ``trainer``), or ""."""
    if baseline:
        return "training"
    for name, point in references.items():
        if (
            name != "training"
            and point
            and all(k in config and same_value(config[k], v) for k, v in point.items())
        ):
            return name
    return ""


@dataclass
class SearchResults:
    """One row per trial, in creation order, plus each trial's evaluation history."""

    cfg: ExperimentConfig
    frame: pd.DataFrame
    history: dict[str, pd.DataFrame]
    overrides: dict[str, dict[str, Any]]
    """Per trial id, the training values its config set (searched values or OFAT variant)."""

    @classmethod
    def load(cls, exp_dir: str | Path) -> SearchResults:
        """The trials of the folder, read as plain JSON (``tune_state``: nothing unpickled)."""
        exp_dir = Path(exp_dir).resolve()
        cfg = load_experiment_config(exp_dir)
        trials = read_trials(exp_dir)
        space = list(cfg.search.space)
        base = cfg.base_params()
        references = read_references(exp_dir)
        rows, history, overrides = [], {}, {}
        ordered = sorted(trials, key=lambda t: (_tag_number(t), t.trial_id))
        for number, trial in enumerate(ordered):
            hist = pd.DataFrame(read_results(exp_dir, trial.trial_id))
            history[trial.trial_id] = hist
            last = dict(trial.last_result or {})
            if not hist.empty:
                last = {**{str(k): v for k, v in hist.iloc[-1].to_dict().items()}, **last}
            overrides[trial.trial_id] = trial_overrides(trial.config)
            planned = int(
                overrides[trial.trial_id].get("num_train_epochs", cfg.training.num_train_epochs)
            )
            last["_planned_more"] = (
                not cfg.training.eval_steps and float(last.get(EPOCH, 0) or 0) < planned - FLOAT_TOL
            )
            best = _best_row(hist, cfg.search.mode)
            row: dict[str, Any] = {"trial": number, "trial_id": trial.trial_id}
            row.update({p: overrides[trial.trial_id].get(p) for p in space})
            variant = trial.config.get(OFAT_KEY)
            if isinstance(variant, dict):
                row["variant"] = variant_name(variant["param"], variant["value"])
            rerun = trial.config.get(RESEED_KEY)
            if isinstance(rerun, dict):
                row.update(rank=rerun["rank"], candidate=rerun["trial_id"], seed=rerun["seed"])
            row["baseline"] = is_baseline(trial.config, base, space)
            row["reference"] = reference_of(trial.config, references, row["baseline"])
            row[OBJECTIVE] = best.get(OBJECTIVE, math.nan)
            for col in METRIC_COLUMNS + OPTIONAL_COLUMNS:
                row[col] = best.get(col, math.nan)
            row["best_epoch"] = best.get(EPOCH, math.nan)
            row["epochs_run"] = last.get(EPOCH, math.nan)
            row["evaluations"] = len(hist)
            for key in (TRAIN_EXAMPLES, TRAINABLE_PARAMS, TRAIN_SECONDS):
                row[key] = last.get(key, math.nan)
            row["time_s"] = last.get("time_total_s", math.nan)
            if is_population(cfg):
                row.update(population_columns(hist, last))
            row["status"] = trial_status(trial.status, last if not hist.empty else {})
            row["error"] = (
                _error_text(trial_dir(exp_dir, trial.trial_id)) if trial.status == "ERROR" else ""
            )
            rows.append(row)
        frame = pd.DataFrame(rows)
        unused = [c for c in OPTIONAL_COLUMNS if c in frame and frame[c].isna().all()]
        if "reference" in frame and not frame["reference"].astype(bool).any():
            unused.append("reference")  # a sweep, or a search without references
        return cls(cfg, frame.drop(columns=unused), history, overrides)

    @property
    def finished(self) -> pd.DataFrame:
        """Trials with a usable objective (failed and never-evaluated ones excluded)."""
        return self.frame[self.frame[OBJECTIVE].notna()]

    def ranked(self) -> pd.DataFrame:
        """The finished trials, best first (ties: the earlier trial first)."""
        ascending = self.cfg.search.mode == "min"
        return self.finished.sort_values([OBJECTIVE, "trial"], ascending=[ascending, True])

    def best_row(self) -> pd.Series:
        ranked = self.ranked()
        if ranked.empty:
            raise ExperimentError(
                "no trial finished an evaluation, so there is no best "
                "configuration; see the error column of hpo_trials.csv"
            )
        return ranked.iloc[0]

    def params_of(self, trial_id: str) -> dict[str, Any]:
        """The full training values of a trial (base config + what its config set)."""
        overrides = {k: plain(v) for k, v in self.overrides[trial_id].items()}
        return trial_params(self.cfg.base_params(), overrides)

    def reference_row(self, name: str) -> pd.Series | None:
        """The first trial of reference ``name`` (``training``: the baseline; ``trainer``:
        the Trainer's defaults), or None (no such trial)."""
        if name == "training":
            return self.baseline_row()
        if "reference" not in self.frame:
            return None
        rows = self.frame[self.frame["reference"] == name]
        return None if rows.empty else rows.sort_values("trial").iloc[0]

    def baseline_row(self) -> pd.Series | None:
        """The first trial that trained the base values, or None (no such trial)."""
        if "baseline" not in self.frame:
            return None
        rows = self.frame[self.frame["baseline"].astype(bool)]
        return None if rows.empty else rows.sort_values("trial").iloc[0]

    def best_params(self) -> dict[str, Any]:
        """The full training values of the best trial (base config + its searched values)."""
        return self.params_of(self.best_row()["trial_id"])

    def requested(self) -> int:
        return searcher_of(self.cfg).requested(self.cfg)


def population_columns(hist: pd.DataFrame, last: dict[str, Any]) -> dict[str, Any]:
    """A population trial's copies: how many times it took another's checkpoint, the lineage
    of its latest weights (``trial@epoch`` for each trial that trained them, from the epoch it
    started) and their schedule (the values from each epoch they changed)."""
    copies = hist[COPIED_FROM].fillna("").astype(bool).sum() if COPIED_FROM in hist else 0
    return {
        "copies": int(copies),
        LINEAGE: str(last.get(LINEAGE) or ""),
        SCHEDULE: str(last.get(SCHEDULE) or ""),
    }


def exploits(results: SearchResults) -> pd.DataFrame:
    """Every copy a population made: ``trial_id`` took ``copied_from``'s checkpoint, trained
    on from ``epoch`` (the epoch of its first evaluation after the copy is ``epoch + 1``)."""
    rows = []
    for trial_id, hist in results.history.items():
        if hist.empty or COPIED_FROM not in hist:
            continue
        for _, r in hist[hist[COPIED_FROM].fillna("").astype(bool)].iterrows():
            start = str(r.get(LINEAGE, "")).split()[-1].rsplit("@", 1)[-1]
            rows.append({"trial_id": trial_id, COPIED_FROM: r[COPIED_FROM], EPOCH: float(start)})
    return pd.DataFrame(rows, columns=["trial_id", COPIED_FROM, EPOCH])


def _tag_number(trial: TrialState) -> int:
    """Tune's creation counter at the front of ``experiment_tag`` (from 1 for a searcher's
    trials, from 0 for a grid's)."""
    head = str(trial.experiment_tag).split("_", 1)[0]
    return int(head) if head.isdigit() else 0


def _best_row(hist: pd.DataFrame, mode: str) -> dict[str, Any]:
    if hist.empty or OBJECTIVE not in hist:
        return {}
    metric_col = hist[OBJECTIVE]
    # The objective is a running best; the first row reaching the final value is the best epoch.
    target = metric_col.max() if mode == "max" else metric_col.min()
    return dict(hist[metric_col == target].iloc[0].to_dict())


def _error_text(folder: Path) -> str:
    path = folder / "error.txt"
    if path.is_file():
        lines = [ln for ln in path.read_text().strip().splitlines() if ln.strip()]
        return lines[-1][:300] if lines else "error"
    return "error (no error.txt)"


def plain(value: Any) -> Any:
    """numpy scalars -> Python, so YAML and JSON stay readable."""
    return value.item() if hasattr(value, "item") else value
