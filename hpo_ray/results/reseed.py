"""Seed-robust selection, read side: the reseed runs as a table, and what refit trains.

Fine-tuning results move with the random seed about as much as with many hyperparameters, so
the single luckiest trial is an optimistic pick. With ``search.reseed: {top_k, seeds}`` the
``top_k`` best configurations are trained again with ``seeds`` fresh training seeds each
(``hpo_ray.workflows.reseed``, under ``ray_results/<name>/reseed/``); the winner is the best
mean, and refit uses it.

Example::

    table = reseed_table(cfg)   # one row per candidate: rank, mean, sd, n, winner, params
    selected_params(cfg)        # what refit trains: the reseed winner, else the best trial
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hpo_ray.config.schema import OBJECTIVE, ExperimentConfig
from hpo_ray.layout import CONFIG_FILE, RESEED_DIR, has_tune_state
from hpo_ray.results.trials import SearchResults


def reseed_dir(cfg: ExperimentConfig) -> Path:
    return cfg.experiment_dir / RESEED_DIR


def fresh_seeds(cfg: ExperimentConfig) -> list[int]:
    """Seeds the search did not use: the training seed plus 1000, 2000, ..."""
    return [cfg.training.seed + 1000 * (i + 1) for i in range(cfg.search.reseed.seeds)]


def reseed_candidates(results: SearchResults, top_k: int) -> list[dict[str, Any]]:
    """The ``top_k`` best trials as reseed candidates ``{"rank", "trial_id", "params",
    "baseline"}``, and the baseline trial after them when it is not among them (so the seed
    spread of the defaults is measured too, and they can win)."""
    top = results.ranked().head(top_k)
    rows = [row for _, row in top.iterrows()]
    baseline = results.baseline_row()
    if (
        baseline is not None
        and pd.notna(baseline[OBJECTIVE])
        and baseline["trial_id"] not in set(top["trial_id"])
    ):
        rows.append(baseline)
    return [
        {
            "rank": rank,
            "trial_id": row["trial_id"],
            "params": results.overrides[row["trial_id"]],
            "baseline": bool(row.get("baseline", False)),
        }
        for rank, row in enumerate(rows, start=1)
    ]


def finished_reseed_runs(folder: Path) -> int:
    """How many reseed runs in ``folder`` finished an evaluation (0 for a folder the runs
    never started in)."""
    if not (folder / CONFIG_FILE).is_file() or not has_tune_state(folder):
        return 0
    return len(SearchResults.load(folder).finished)


def reseed_table(cfg: ExperimentConfig) -> pd.DataFrame | None:
    """Mean +- sd of the objective per candidate, best first; None without reseed runs."""
    folder = reseed_dir(cfg)
    if not cfg.search.reseed.top_k or not has_tune_state(folder):
        return None
    runs = SearchResults.load(folder)
    frame = runs.frame
    rows = []
    for (_, trial_id), group in frame.groupby(["rank", "candidate"]):
        values = group[OBJECTIVE].dropna()
        params = runs.overrides[group["trial_id"].iloc[0]]
        rows.append(
            {
                "rank": int(group["rank"].iloc[0]),
                "trial_id": trial_id,
                "baseline": bool(group["baseline"].iloc[0]) if "baseline" in group else False,
                "mean": values.mean(),
                "sd": values.std(ddof=1) if len(values) > 1 else float("nan"),
                "n": len(values),
                "min": values.min(),
                "max": values.max(),
                "seeds": " ".join(str(int(s)) for s in group["seed"]),
                "values": " ".join(f"{v:.4f}" for v in group[OBJECTIVE]),
                **{k: v for k, v in params.items() if k != "seed"},
            }
        )
    table = pd.DataFrame(rows)
    ascending = cfg.search.mode == "min"
    table = table.sort_values(["mean", "rank"], ascending=[ascending, True], kind="stable")
    table["winner"] = [True] + [False] * (len(table) - 1)
    return table.reset_index(drop=True)


def seed_spread(cfg: ExperimentConfig) -> dict[str, float]:
    """The validation sd over fresh seeds of the tuned (winning) configuration (``tuned``)
    and of the baseline (``training``), where reseeding measured them."""
    table = reseed_table(cfg)
    if table is None or table.empty:
        return {}
    out: dict[str, float] = {}
    winner = table[table["winner"]]
    if not winner.empty and pd.notna(winner["sd"].iloc[0]):
        out["tuned"] = float(winner["sd"].iloc[0])
    if "baseline" in table:
        base = table[table["baseline"].astype(bool)]
        if not base.empty and pd.notna(base["sd"].iloc[0]):
            out["training"] = float(base["sd"].iloc[0])
    return out


def selected_trial(results: SearchResults) -> tuple[str, dict[str, Any]]:
    """What refit trains: the reseed winner (its search trial's id and values, with the base
    seed), else the best trial."""
    table = reseed_table(results.cfg)
    if table is None or table.empty or table["mean"].isna().all():
        trial_id = str(results.best_row()["trial_id"])
    else:
        trial_id = str(table.iloc[0]["trial_id"])
    return trial_id, results.params_of(trial_id)
