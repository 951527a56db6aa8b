"""Experiment folder -> one trial table -> CSV, best params, summary, plots.

Works on a finished or interrupted experiment folder alone (no live objects), which is what
``hpo-ray report`` needs.

Example::

    results = SearchResults.load("ray_results/demo")
    results.frame[["trial", "objective", "status"]]
    results.best_params()
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hpo_ray.config import OBJECTIVE, ExperimentConfig, from_dict
from hpo_ray.errors import ConfigError
from hpo_ray.space import OFAT_KEY, RESEED_KEY, trial_overrides, variant_name

ARTIFACTS = "hpo_artifacts"
STUDY_FILE = "optuna_study.db"
METRIC_COLUMNS = ("eval_f1", "eval_accuracy", "eval_macro_f1", "eval_loss")
OPTIONAL_COLUMNS = ("eval_pos_f1", "eval_roc_auc", "eval_pr_auc")
"""Reported only where the task defines them (see ``hpo_ray.metrics``)."""


def load_experiment_config(exp_dir: Path) -> ExperimentConfig:
    from hpo_ray.search import CONFIG_FILE

    path = exp_dir / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"{exp_dir} is not an hpo_ray experiment folder (no {CONFIG_FILE}); "
            "pass a folder under ray_results/"
        )
    return from_dict(yaml.safe_load(path.read_text()))


def trial_status(tune_status: str, last: dict[str, Any]) -> str:
    """completed | patience_stop | scheduler_stop | not_evaluated | failed | running | pending.

    ``not_evaluated``: ended without an error before its first evaluation (the search ended
    first: ``search.epoch_budget`` or ``time_budget_s``)."""
    if tune_status == "ERROR":
        return "failed"
    if last.get("train_done"):
        return "patience_stop" if last.get("_planned_more") else "completed"
    if tune_status == "TERMINATED":
        return "scheduler_stop" if last else "not_evaluated"
    return tune_status.lower()


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
        from ray.tune import ExperimentAnalysis

        exp_dir = Path(exp_dir).resolve()
        cfg = load_experiment_config(exp_dir)
        if not list(exp_dir.glob("experiment_state-*.json")):
            raise ConfigError(
                f"{exp_dir} has no Tune experiment state yet (the search never "
                "started a trial); run `hpo-ray search` again with --overwrite"
            )
        analysis = ExperimentAnalysis(str(exp_dir))
        space = list(cfg.search.space)
        rows, history, overrides = [], {}, {}
        ordered = sorted(analysis.trials, key=lambda t: (_tag_number(t), t.trial_id))
        for number, trial in enumerate(ordered):
            hist = _trial_history(_trial_dir(exp_dir, trial))
            history[trial.trial_id] = hist
            last = dict(trial.last_result or {})
            if not hist.empty:
                last = {**hist.iloc[-1].to_dict(), **last}
            overrides[trial.trial_id] = trial_overrides(trial.config)
            planned = int(
                overrides[trial.trial_id].get("num_train_epochs", cfg.training.num_train_epochs)
            )
            last["_planned_more"] = (
                not cfg.training.eval_steps and float(last.get("epoch", 0) or 0) < planned - 1e-6
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
            row[OBJECTIVE] = best.get(OBJECTIVE, math.nan)
            for col in METRIC_COLUMNS + OPTIONAL_COLUMNS:
                row[col] = best.get(col, math.nan)
            row["best_epoch"] = best.get("epoch", math.nan)
            row["epochs_run"] = last.get("epoch", math.nan)
            row["evaluations"] = len(hist)
            for key in ("train_examples", "trainable_params", "train_seconds"):
                row[key] = last.get(key, math.nan)
            row["time_s"] = last.get("time_total_s", math.nan)
            row["status"] = trial_status(trial.status, last if not hist.empty else {})
            row["error"] = (
                _error_text(_trial_dir(exp_dir, trial)) if trial.status == "ERROR" else ""
            )
            rows.append(row)
        frame = pd.DataFrame(rows)
        unused = [c for c in OPTIONAL_COLUMNS if c in frame and frame[c].isna().all()]
        return cls(cfg, frame.drop(columns=unused), history, overrides)

    @property
    def finished(self) -> pd.DataFrame:
        """Trials with a usable objective (failed and never-evaluated ones excluded)."""
        return self.frame[self.frame[OBJECTIVE].notna()]

    def best_row(self) -> pd.Series:
        done = self.finished
        if done.empty:
            raise ConfigError(
                "no trial finished an evaluation, so there is no best "
                "configuration; see the error column of hpo_trials.csv"
            )
        ascending = self.cfg.search.mode == "min"
        return done.sort_values([OBJECTIVE, "trial"], ascending=[ascending, True]).iloc[0]

    def best_params(self) -> dict[str, Any]:
        """The full training values of the best trial (base config + its searched values)."""
        from dataclasses import asdict

        params = asdict(self.cfg.training)
        row = self.best_row()
        params.update({k: _plain(v) for k, v in self.overrides[row["trial_id"]].items()})
        return params

    def requested(self) -> int:
        from hpo_ray.registry import grid_size

        s = self.cfg.search
        return grid_size(self.cfg) if s.searcher == "grid" else s.num_samples

    def summary(self) -> str:
        counts = self.frame["status"].value_counts().to_dict()
        s = self.cfg.search
        lines = [
            f"experiment: {self.cfg.run.name}",
            *objective_statement(self.cfg),
            f"searcher: {s.searcher} (seed {s.seed}); scheduler: {s.scheduler}",
            f"trials: {len(self.frame)} of {self.requested()} requested",
            f"  completed: {counts.get('completed', 0)}",
            f"  stopped early by patience: {counts.get('patience_stop', 0)}",
            f"  stopped early by the scheduler: {counts.get('scheduler_stop', 0)}",
            *(
                [f"  ended before a first evaluation: {counts['not_evaluated']}"]
                if "not_evaluated" in counts
                else []
            ),
            f"  failed: {counts.get('failed', 0)}",
        ]
        other = {
            k: v
            for k, v in counts.items()
            if k not in ("completed", "patience_stop", "scheduler_stop", "not_evaluated", "failed")
        }
        if other:
            lines.append(f"  not finished: {other}")
        if s.epoch_budget is not None:
            used = self.frame["epochs_run"].fillna(0).sum()
            lines.append(f"epochs trained: {used:g} of an epoch budget of {s.epoch_budget:g}")
        if not self.finished.empty:
            best = self.best_row()
            lines.append(
                f"best trial: {int(best['trial'])} ({best['trial_id']}) "
                f"{OBJECTIVE}={best[OBJECTIVE]:.4f}"
            )
            for name in self.cfg.search.space:
                lines.append(f"  {name}: {_plain(best[name])}")
        return "\n".join(lines) + "\n"


def objective_statement(cfg: ExperimentConfig) -> list[str]:
    """What exactly a trial is judged by, so that results of different experiments are not
    compared by mistake."""
    s, d = cfg.search, cfg.data
    verb = "maximise" if s.mode == "max" else "minimise"
    metric = f"eval_{s.metric}"
    if s.metric == "f1":
        metric += " (weighted F1)"
    elif s.metric in ("roc_auc", "pr_auc"):
        metric += f" ({s.average or 'binary'}, from class probabilities)"
    elif s.metric == "pos_f1":
        metric += f" (F1 of class {d.positive_label or 'positive'})"
    seeds = f"one training seed per trial ({cfg.training.seed})"
    if s.reseed.top_k:
        seeds += (
            f"; then the top {s.reseed.top_k} re-trained with {s.reseed.seeds} fresh seeds "
            "each, winner by mean"
        )
    loss = cfg.training.loss if "loss" not in s.space else "searched"
    folds = (
        f"{d.folds}-fold CV of the train split, {d.fold_aggregate} over folds per epoch"
        if d.folds
        else f"validation split {d.validation_size:g} (seed {d.seed}), no k-fold"
    )
    return [
        f"objective: {verb} {metric}, best evaluation per trial (evaluated every "
        f"{cfg.training.eval_steps or 1} {'steps' if cfg.training.eval_steps else 'epoch'})",
        f"  data: {folds}; test split "
        f"{d.test_size:g}{' (search never sees it)' if d.test_size else ''}",
        f"  seeds: {seeds}; loss: {loss}",
    ]


def final_scores(cfg: ExperimentConfig, search_best: float | None = None) -> str:
    """The refit model's validation and test scores side by side (empty before a refit), so the
    optimism of picking the best of many trials on the validation split is visible."""
    path = cfg.trained_path / "metrics.json"
    if not path.is_file():
        return ""
    metrics = json.loads(path.read_text())
    splits = [s for s in ("validation", "test") if s in metrics]
    names = [m for m in ("accuracy", "f1", "macro_f1", "pos_f1", "roc_auc", "pr_auc", "loss")]
    lines = [
        f"refit model {cfg.trained_path}:",
        "  metric      " + "".join(f"{s:>12}" for s in splits),
    ]
    for name in names:
        values = [metrics[s].get(f"{'test' if s == 'test' else 'eval'}_{name}") for s in splits]
        if all(v is None for v in values):
            continue
        cells = "".join(f"{v:>12.4f}" if v is not None else f"{'-':>12}" for v in values)
        lines.append(f"  {name:<12}{cells}")
    if search_best is not None:
        lines.append(f"  search's best validation {OBJECTIVE}: {search_best:.4f}")
    if "test" not in metrics:
        lines.append("  (no test split: set data.test_size to see how optimistic validation is)")
    return "\n".join(lines) + "\n"


def _trial_dir(exp_dir: Path, trial: Any) -> Path:
    """The trial's folder inside the experiment (no live Ray session needed)."""
    return exp_dir / trial.storage.trial_dir_name


def _tag_number(trial: Any) -> int:
    """Tune's creation counter at the front of ``experiment_tag`` (from 1 for a searcher's
    trials, from 0 for a grid's)."""
    head = str(trial.experiment_tag).split("_", 1)[0]
    return int(head) if head.isdigit() else 0


def _trial_history(trial_dir: Path) -> pd.DataFrame:
    path = trial_dir / "result.json"
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame()
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return pd.DataFrame(records)


def _best_row(hist: pd.DataFrame, mode: str) -> dict[str, Any]:
    if hist.empty or OBJECTIVE not in hist:
        return {}
    metric_col = hist[OBJECTIVE]
    # The objective is a running best; the first row reaching the final value is the best epoch.
    target = metric_col.max() if mode == "max" else metric_col.min()
    return dict(hist[metric_col == target].iloc[0].to_dict())


def _error_text(trial_dir: Path) -> str:
    path = trial_dir / "error.txt"
    if path.is_file():
        lines = [ln for ln in path.read_text().strip().splitlines() if ln.strip()]
        return lines[-1][:300] if lines else "error"
    return "error (no error.txt)"


def _plain(value: Any) -> Any:
    """numpy scalars -> Python, so YAML and JSON stay readable."""
    return value.item() if hasattr(value, "item") else value


def write_report(exp_dir: str | Path, *, final: bool = True) -> Path:
    """Write hpo_trials.csv, best_params.yaml, summary.txt, plots and the SQLite study.

    An OFAT experiment folder gets its own report instead (see ``hpo_ray.ofat``). ``final``
    adds the refit model's scores (pass False when a refit is about to replace them).
    """
    from hpo_ray.artifacts import draw_best_trial_plots
    from hpo_ray.compare import write_comparison
    from hpo_ray.ofat import GRID_FILE, write_ofat_report
    from hpo_ray.plots import plot_history, plot_importances, plot_metrics_vs_param
    from hpo_ray.reseed import write_reseed_report
    from hpo_ray.study import sync_study

    exp_dir = Path(exp_dir).resolve()
    if (exp_dir / GRID_FILE).is_file():
        return write_ofat_report(exp_dir)
    results = SearchResults.load(exp_dir)
    out = exp_dir / ARTIFACTS
    out.mkdir(parents=True, exist_ok=True)
    atomic_csv(results.frame, out / "hpo_trials.csv")
    notes = []
    study = sync_study(results, exp_dir / STUDY_FILE)
    if not results.finished.empty:
        (out / "best_params.yaml").write_text(
            yaml.safe_dump(results.best_params(), sort_keys=False)
        )
        for name in results.cfg.search.space:
            plot_metrics_vs_param(
                results.finished,
                name,
                results.cfg.search.space[name],
                out / f"metrics_vs_{name}.png",
            )
        plot_history(results.finished, results.cfg.search.mode, out / "optimization_history.png")
        notes.append(plot_importances(study, out / "param_importances.png"))
        draw_best_trial_plots(results, exp_dir, results.cfg.run.trial_plots)
    best = float(results.best_row()[OBJECTIVE]) if not results.finished.empty else None
    reseed = write_reseed_report(results.cfg, out)
    comparison = write_comparison(results, out)
    text = results.summary() + "".join(n for n in notes if n) + reseed + comparison
    text += final_scores(results.cfg, best) if final else ""
    (out / "summary.txt").write_text(text)
    return out


def atomic_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV so that a crash mid-write never leaves a truncated file behind."""
    tmp = path.with_suffix(".csv.tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
