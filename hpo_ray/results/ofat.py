"""OFAT results: one row per (parameter, value) of the grid, grayscale plots, a sensitivity ranking.

The sweep itself runs through ``hpo_ray.workflows.search.run_ofat``; this module reads the
experiment folder into the OFAT table (``hpo_ray.report`` writes it). It works on whatever the
folder holds, so an interrupted or partly failed sweep still gets its table and plots
(unfinished variants are rows marked ``not_run``).

Example::

    results = OfatResults.load("ray_results/ofat_demo")
    results.table[["param", "value", "f1", "status"]]
    results.sensitivity()  # F1 spread per parameter, largest first
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hpo_ray.config.loading import load_experiment_config
from hpo_ray.config.schema import ExperimentConfig, mode_of
from hpo_ray.config.trials import ofat_rows
from hpo_ray.layout import has_tune_state
from hpo_ray.results.trials import SearchResults

COLUMNS = (
    "param",
    "value",
    "accuracy",
    "f1",
    "macro_f1",
    "loss",
    "time_min",
    "epochs_run",
    "best_epoch",
    "status",
    "variant",
    "shared_base",
    "trial",
    "trial_id",
    "error",
)


@dataclass
class OfatResults:
    """The OFAT table (grid order) over the experiment's trial results."""

    cfg: ExperimentConfig
    table: pd.DataFrame
    trials: SearchResults | None

    @classmethod
    def load(cls, exp_dir: str | Path) -> OfatResults:
        exp_dir = Path(exp_dir).resolve()
        cfg = load_experiment_config(exp_dir)
        trials = SearchResults.load(exp_dir) if has_tune_state(exp_dir) else None
        by_variant: dict[str, dict[str, Any]] = {}
        if trials is not None and "variant" in trials.frame:
            records: list[dict[str, Any]] = trials.frame.to_dict("records")  # type: ignore[assignment]
            by_variant = {str(r["variant"]): r for r in records}
        rows = []
        for planned in ofat_rows(cfg.base_params(), cfg.ofat.grid):
            trial = by_variant.get(planned["variant"], {})
            rows.append(
                {
                    "param": planned["param"],
                    "value": planned["value"],
                    "accuracy": trial.get("eval_accuracy", math.nan),
                    "f1": trial.get("eval_f1", math.nan),
                    "macro_f1": trial.get("eval_macro_f1", math.nan),
                    "loss": trial.get("eval_loss", math.nan),
                    "time_min": trial.get("time_s", math.nan) / 60,
                    "epochs_run": trial.get("epochs_run", math.nan),
                    "best_epoch": trial.get("best_epoch", math.nan),
                    "status": trial.get("status", "not_run"),
                    "variant": planned["variant"],
                    "shared_base": planned["is_base"],
                    "trial": trial.get("trial", math.nan),
                    "trial_id": trial.get("trial_id", ""),
                    "error": trial.get("error", ""),
                }
            )
        return cls(cfg, pd.DataFrame(rows, columns=list(COLUMNS)), trials)

    def sensitivity(self, metric: str = "f1") -> pd.DataFrame:
        """Per parameter: min, max and spread of ``metric`` over its values, largest first;
        ``best_value`` is the lowest for the loss, the highest for a score."""
        done = self.table.dropna(subset=[metric])
        if done.empty:
            return pd.DataFrame(columns=["param", "min", "max", "spread", "best_value"])
        rows = []
        for param, group in done.groupby("param", sort=False):
            values = group[metric].to_numpy()
            best = group.iloc[int(values.argmin() if mode_of(metric) == "min" else values.argmax())]
            rows.append(
                {
                    "param": param,
                    "min": group[metric].min(),
                    "max": group[metric].max(),
                    "spread": group[metric].max() - group[metric].min(),
                    "best_value": best["value"],
                }
            )
        return pd.DataFrame(rows).sort_values("spread", ascending=False, kind="stable")
