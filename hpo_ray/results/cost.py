"""What a search cost: wall time, CPU- and GPU-minutes, trials per hour, epochs trained against
the plan, time lost to failed and cut trials, disk left behind. Read from the trial table and
the folders alone.

Example::

    cost = search_cost(SearchResults.load("ray_results/demo"))
    cost.lines()  # ["cost: 4.6 min wall, 7.9 CPU-min, 0.0 GPU-min, 78 trials/hour", ...]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hpo_ray.results.trials import SearchResults
from hpo_ray.tuning.searchers import searcher_of


@dataclass(frozen=True)
class Cost:
    trials: int
    wall_s: float
    """From the first trial's start to the last report (NaN without reports)."""
    trial_s: float
    """Tune's time of every trial, added up (start-up included)."""
    cpu_minutes: float
    gpu_minutes: float
    trials_per_hour: float
    epochs_trained: float
    epochs_planned: float
    """The epoch budget, else the requested trials x ``num_train_epochs``."""
    lost_failed_s: float
    lost_cut_s: float
    experiment_bytes: int
    model_bytes: int

    def lines(self) -> list[str]:
        """The cost as lines of text (the summary ends its search part with them)."""
        wall = f"{self.wall_s / 60:.1f} min wall" if math.isfinite(self.wall_s) else "no reports"
        rate = f"{self.trials_per_hour:.0f}" if math.isfinite(self.trials_per_hour) else "-"
        return [
            f"cost: {wall}, {self.cpu_minutes:.1f} CPU-min, {self.gpu_minutes:.1f} GPU-min, "
            f"{rate} trials/hour",
            f"  epochs trained: {self.epochs_trained:g} of {self.epochs_planned:g} planned; "
            f"time on trials cut by the scheduler {self.lost_cut_s / 60:.1f} min, on failed "
            f"ones {self.lost_failed_s / 60:.1f} min",
            f"  disk: experiment {megabytes(self.experiment_bytes)}, "
            f"model {megabytes(self.model_bytes)}",
        ]


def search_cost(results: SearchResults) -> Cost:
    """The cost of the experiment ``results`` was read from (and of its saved model)."""
    cfg = results.cfg
    frame = results.frame
    times = pd.to_numeric(frame.get("time_s", pd.Series(dtype=float)), errors="coerce").fillna(0.0)
    status = frame.get("status", pd.Series([""] * len(frame)))
    wall = wall_seconds(results.history)
    spent = float(times.sum())
    s = cfg.search
    planned = s.epoch_budget or searcher_of(cfg).requested(cfg) * cfg.training.num_train_epochs
    epochs = pd.to_numeric(frame.get("epochs_run", pd.Series(dtype=float)), errors="coerce")
    return Cost(
        trials=len(frame),
        wall_s=wall,
        trial_s=spent,
        cpu_minutes=spent * cfg.resources.cpu / 60,
        gpu_minutes=spent * cfg.resources.gpu / 60,
        trials_per_hour=len(frame) / (wall / 3600) if wall > 0 else math.nan,
        epochs_trained=float(epochs.fillna(0.0).sum()),
        epochs_planned=float(planned),
        lost_failed_s=float(times[status == "failed"].sum()),
        lost_cut_s=float(times[status == "scheduler_stop"].sum()),
        experiment_bytes=folder_bytes(cfg.experiment_dir),
        model_bytes=folder_bytes(cfg.trained_path),
    )


def wall_seconds(history: dict[str, pd.DataFrame]) -> float:
    """From the earliest trial start (its first report's time minus Tune's time so far) to the
    latest report, over every trial's reports."""
    starts, ends = [], []
    for hist in history.values():
        if hist.empty or "timestamp" not in hist or "time_total_s" not in hist:
            continue
        first = hist.iloc[0]
        starts.append(float(first["timestamp"]) - float(first["time_total_s"]))
        ends.append(float(hist["timestamp"].max()))
    return max(ends) - min(starts) if starts else math.nan


def folder_bytes(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
