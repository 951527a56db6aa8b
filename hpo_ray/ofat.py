"""OFAT results: one row per (parameter, value) of the grid, grayscale plots, a sensitivity ranking.

The sweep itself runs through ``hpo_ray.search.run_ofat``; this module turns the experiment
folder into ``ofat_artifacts/``. It works on whatever the folder holds, so an interrupted or
partly failed sweep still gets its table and plots (unfinished variants are rows marked
``not_run``).

Example::

    results = OfatResults.load("ray_results/ofat_demo")
    results.table[["param", "value", "f1", "status"]]
    results.sensitivity()  # F1 spread per parameter, largest first
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hpo_ray.config import ExperimentConfig
from hpo_ray.results import SearchResults, atomic_csv, load_experiment_config
from hpo_ray.space import BASE, ofat_rows, ofat_variants

ARTIFACTS = "ofat_artifacts"
GRID_FILE = "ofat_grid.json"
"""Written into the experiment folder when the sweep starts: marks it as OFAT, lists the plan."""
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


def write_grid_file(cfg: ExperimentConfig, exp_dir: Path) -> None:
    plan = {
        "base": {p: getattr(cfg.training, p) for p in cfg.ofat.grid},
        "variants": ofat_variants(cfg.training, cfg.ofat.grid),
        "rows": ofat_rows(cfg.training, cfg.ofat.grid),
    }
    (exp_dir / GRID_FILE).write_text(json.dumps(plan, indent=2))


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
        trials = SearchResults.load(exp_dir) if list(exp_dir.glob("experiment_state-*")) else None
        by_variant: dict[str, dict[str, Any]] = {}
        if trials is not None and "variant" in trials.frame:
            records: list[dict[str, Any]] = trials.frame.to_dict("records")  # type: ignore[assignment]
            by_variant = {str(r["variant"]): r for r in records}
        rows = []
        for planned in ofat_rows(cfg.training, cfg.ofat.grid):
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
        """Per parameter: min, max and spread of ``metric`` over its values, largest first."""
        done = self.table.dropna(subset=[metric])
        if done.empty:
            return pd.DataFrame(columns=["param", "min", "max", "spread", "best_value"])
        rows = []
        for param, group in done.groupby("param", sort=False):
            best = group.iloc[int(group[metric].to_numpy().argmax())]
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

    def summary(self) -> str:
        counts = self.table.drop_duplicates("variant")["status"].value_counts().to_dict()
        variants = ofat_variants(self.cfg.training, self.cfg.ofat.grid)
        lines = [
            f"experiment: {self.cfg.run.name} (one factor at a time)",
            f"grid: {len(self.table)} (parameter, value) pairs, {len(variants)} distinct "
            f"trainings (the base run stands for every value equal to the base)",
            f"metrics: best eval epoch per run on the validation split "
            f"({self.cfg.data.validation_size:g} of the data, seed {self.cfg.data.seed}); "
            f"selected by eval_{self.cfg.search.metric}",
            "runs: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
        ]
        base = self.table[self.table["variant"] == BASE]
        if not base.empty and not math.isnan(base["f1"].iloc[0]):
            lines.append(
                f"base: f1={base['f1'].iloc[0]:.4f} accuracy={base['accuracy'].iloc[0]:.4f}"
            )
        sens = self.sensitivity()
        if not sens.empty:
            lines.append("sensitivity (F1 spread over the values, largest first):")
            for r in sens.to_dict("records"):
                lines.append(
                    f"  {r['param']}: {r['spread']:.4f} "
                    f"(F1 {r['min']:.4f}..{r['max']:.4f}; best at {r['best_value']})"
                )
        return "\n".join(lines) + "\n"


def write_ofat_report(exp_dir: str | Path) -> Path:
    """Write ofat_results.csv, per-parameter grayscale plots, the overview, summary, best params."""
    from hpo_ray.artifacts import draw_best_trial_plots
    from hpo_ray.plots import plot_ofat_overview, plot_ofat_param

    exp_dir = Path(exp_dir).resolve()
    results = OfatResults.load(exp_dir)
    out = exp_dir / ARTIFACTS
    out.mkdir(parents=True, exist_ok=True)
    atomic_csv(results.table, out / "ofat_results.csv")
    base = results.cfg.training
    for param, group in results.table.groupby("param", sort=False):
        plot_ofat_param(
            group, str(param), getattr(base, str(param)), out / f"{param}_metrics_bw.png"
        )
    plot_ofat_overview(results.table, results.sensitivity(), out / "ofat_overview.png")
    if results.trials is not None and not results.trials.finished.empty:
        (out / "best_params.yaml").write_text(
            yaml.safe_dump(results.trials.best_params(), sort_keys=False)
        )
        draw_best_trial_plots(results.trials, exp_dir, results.cfg.run.trial_plots)
    (out / "summary.txt").write_text(results.summary())
    return out
