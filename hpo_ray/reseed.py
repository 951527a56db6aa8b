"""Seed-robust selection: re-train the search's top configurations with fresh seeds.

Fine-tuning results move with the random seed about as much as with many hyperparameters, so
the single luckiest trial is an optimistic pick. With ``search.reseed: {top_k, seeds}`` the
``top_k`` best configurations are trained again with ``seeds`` fresh training seeds each (a Tune
grid, in parallel, under ``ray_results/<name>/reseed/``); the winner is the best mean, and refit
uses it. ``hpo_artifacts/reseed.csv`` and ``reseed.png`` show mean +- sd per configuration.

Example::

    table = reseed_table(cfg)   # one row per candidate: rank, mean, sd, n, winner, params
    selected_params(cfg)        # what refit trains: the reseed winner, else the best trial
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from hpo_ray.config import OBJECTIVE, ExperimentConfig, dump_config

RESEED_DIR = "reseed"


def reseed_dir(cfg: ExperimentConfig) -> Path:
    return cfg.experiment_dir / RESEED_DIR


def fresh_seeds(cfg: ExperimentConfig) -> list[int]:
    """Seeds the search did not use: the training seed plus 1000, 2000, ..."""
    return [cfg.training.seed + 1000 * (i + 1) for i in range(cfg.search.reseed.seeds)]


def _sub_config(cfg: ExperimentConfig) -> ExperimentConfig:
    run = dataclasses.replace(
        cfg.run, storage=str(cfg.experiment_dir), name=RESEED_DIR, refit=False
    )
    search = dataclasses.replace(
        cfg.search, reseed=dataclasses.replace(cfg.search.reseed, top_k=0), scheduler="none"
    )
    return dataclasses.replace(cfg, run=run, search=search)


def run_reseed(cfg: ExperimentConfig) -> Path | None:
    """Re-train the top configurations once per fresh seed (skipped if already done)."""
    from ray.tune.schedulers import FIFOScheduler

    from hpo_ray.results import SearchResults
    from hpo_ray.search import CONFIG_FILE, TunePlan, _prepare, build_tuner, ray_session
    from hpo_ray.space import reseed_param_space

    if not cfg.search.reseed.top_k:
        return None
    folder = reseed_dir(cfg)
    candidates = _candidates(SearchResults.load(cfg.experiment_dir), cfg.search.reseed.top_k)
    expected = len(candidates) * cfg.search.reseed.seeds
    if folder.is_dir() and _finished_runs(folder) == expected:
        return folder
    shutil.rmtree(folder, ignore_errors=True)  # a partial re-run is cheaper to redo than merge
    sub = _sub_config(cfg)
    folder.mkdir(parents=True)
    dump_config(sub, folder / CONFIG_FILE)
    plan = TunePlan(
        "reseed", None, reseed_param_space(candidates, fresh_seeds(cfg)), FIFOScheduler(), 1
    )
    models, data = _prepare(cfg)
    with ray_session(cfg.run.address, cfg.run.dashboard):
        build_tuner(sub, plan, models, data).fit()
    return folder


def _candidates(results: Any, top_k: int) -> list[dict[str, Any]]:
    done = results.finished
    ascending = results.cfg.search.mode == "min"
    top = done.sort_values([OBJECTIVE, "trial"], ascending=[ascending, True]).head(top_k)
    return [
        {"rank": rank, "trial_id": row["trial_id"], "params": results.overrides[row["trial_id"]]}
        for rank, (_, row) in enumerate(top.iterrows(), start=1)
    ]


def _finished_runs(folder: Path) -> int:
    from hpo_ray.results import SearchResults

    try:
        return len(SearchResults.load(folder).finished)
    except Exception:  # noqa: BLE001 - an unreadable partial folder counts as not done
        return 0


def reseed_table(cfg: ExperimentConfig) -> pd.DataFrame | None:
    """Mean +- sd of the objective per candidate, best first; None without reseed runs."""
    from hpo_ray.results import SearchResults

    folder = reseed_dir(cfg)
    if not cfg.search.reseed.top_k or not list(folder.glob("experiment_state-*")):
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


def selected_params(cfg: ExperimentConfig) -> dict[str, Any]:
    """What refit trains: the reseed winner's values (with the base seed), else the best trial's."""
    from hpo_ray.results import SearchResults

    table = reseed_table(cfg)
    results = SearchResults.load(cfg.experiment_dir)
    if table is None or table.empty or table["mean"].isna().all():
        return results.best_params()
    winner = table.iloc[0]["trial_id"]
    params = dataclasses.asdict(cfg.training)
    params.update(results.overrides[winner])
    return params


def write_reseed_report(cfg: ExperimentConfig, out: Path) -> str:
    """reseed.csv and reseed.png in ``out``; returns lines for the summary."""
    from hpo_ray.plots import plot_reseed
    from hpo_ray.results import atomic_csv

    table = reseed_table(cfg)
    if table is None:
        return ""
    atomic_csv(table, out / "reseed.csv")
    plot_reseed(table, cfg.search.metric, out / "reseed.png")
    lines = [f"reseed: top {cfg.search.reseed.top_k} re-trained with seeds {fresh_seeds(cfg)}"]
    for row in table.to_dict("records"):
        mark = "  <- refit" if row["winner"] else ""
        lines.append(
            f"  rank {row['rank']} ({row['trial_id']}): {OBJECTIVE} {row['mean']:.4f} +- "
            f"{row['sd']:.4f} (n={row['n']}){mark}"
        )
    return "\n".join(lines) + "\n"
