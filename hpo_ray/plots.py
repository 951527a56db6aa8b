"""Plots from the trial table: each takes a DataFrame and a path; matplotlib loads lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hpo_ray.config import OBJECTIVE, ParamSpec


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_metrics_vs_param(frame: pd.DataFrame, param: str, spec: ParamSpec, path: Path) -> None:
    """Scatter of validation F1 and accuracy against one parameter (one point per trial)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    x = frame[param]
    if spec.type == "categorical":
        labels = [str(v) for v in (spec.values or [])]
        x = frame[param].astype(str).map({v: i for i, v in enumerate(labels)})
        ax.set_xticks(range(len(labels)), labels, rotation=20)
    ax.scatter(x, frame["eval_f1"], marker="o", label="F1 (weighted)", alpha=0.8)
    ax.scatter(x, frame["eval_accuracy"], marker="^", label="accuracy", alpha=0.8)
    if spec.log:
        ax.set_xscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel("validation score (best epoch)")
    ax.set_title(f"metrics vs {param}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_history(frame: pd.DataFrame, mode: str, path: Path) -> None:
    """Objective per trial in creation order, with the best so far."""
    plt = _pyplot()
    ordered = frame.sort_values("trial")
    best = ordered[OBJECTIVE].cummax() if mode == "max" else ordered[OBJECTIVE].cummin()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(ordered["trial"], ordered[OBJECTIVE], label="trial", marker="o")
    ax.step(ordered["trial"], best, where="post", label="best so far", color="black")
    ax.set_xlabel("trial number")
    ax.set_ylabel(OBJECTIVE)
    ax.set_title("optimisation history")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_importances(study: Any, path: Path) -> str:
    """Bar chart of Optuna's parameter importances; returns a note when they cannot be had."""
    import optuna

    complete = [
        t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE
    ]
    if len(complete) < 2:
        return f"param importances: skipped, fewer than 2 completed trials ({len(complete)})\n"
    try:
        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as exc:
        return f"param importances: skipped ({exc})\n"
    plt = _pyplot()
    names = list(importances)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(names) + 1.5))
    ax.barh(names, [importances[n] for n in names], color="0.4")
    ax.set_xlabel("importance (fANOVA, completed trials)")
    ax.set_title("parameter importances")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return ""
