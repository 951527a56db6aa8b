"""Plots from the trial table: each takes a DataFrame and a path; matplotlib loads lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hpo_ray.config.formats import (
    EPOCH,
    EVAL_PREFIX,
    STEP,
    TRAIN_EXAMPLES,
    TRAIN_SECONDS,
    eval_key,
)
from hpo_ray.config.schema import MODEL_NAME, OBJECTIVE, ParamSpec
from hpo_ray.config.trials import same_value
from hpo_ray.results.compare import model_label
from hpo_ray.storage import replacing

F1, ACCURACY, LOSS = eval_key("f1"), eval_key("accuracy"), eval_key("loss")


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(plt: Any, fig: Any, path: Path) -> None:
    """Lay out, write and close a figure (closing keeps a long report's memory flat)."""
    fig.tight_layout()
    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)


def gray_rc() -> dict[str, Any]:
    """Matplotlib settings for grayscale figures (OFAT, comparison sweeps): black lines, told
    apart by line style and marker."""
    from cycler import cycler

    return {"axes.prop_cycle": cycler(color=["black"]), "legend.edgecolor": "0.5"}


STOPPED = "scheduler_stop"
"""The status of a trial the scheduler (or the epoch budget) cut before its training ended."""


def trial_kinds(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Boolean masks: trials that trained their course, trials the scheduler cut, the
    baseline (the base values)."""
    stopped = frame["status"] == STOPPED if "status" in frame else pd.Series(False, frame.index)
    baseline = (
        frame["baseline"].astype(bool) if "baseline" in frame else pd.Series(False, frame.index)
    )
    return {"full": ~stopped, "stopped": stopped, "baseline": baseline}


def category_positions(values: pd.Series, choices: list[Any]) -> pd.Series:
    """Each value's position among ``choices`` (NaN where it matches none), comparing numbers
    as numbers, so a column pandas turned into floats (4.0) still finds its choice (4)."""

    def position(value: Any) -> float:
        for i, choice in enumerate(choices):
            if same_value(value, choice) or str(value) == str(choice):
                return float(i)
        return float("nan")

    return values.map(position)


def plot_metrics_vs_param(frame: pd.DataFrame, param: str, spec: ParamSpec, path: Path) -> None:
    """Validation F1 and accuracy (best epoch) against one parameter, one point per trial.

    A trial the scheduler cut is drawn as a cross with the epochs it trained, so it does not
    look like a bad configuration; the baseline is ringed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    x = frame[param]
    if spec.type == "categorical":
        choices = list(spec.values or [])
        x = category_positions(frame[param], choices)
        names = [model_label(str(v)) if param == MODEL_NAME else str(v) for v in choices]
        ax.set_xticks(range(len(choices)), names, rotation=20)
    kinds = trial_kinds(frame)
    full, stopped = kinds["full"], kinds["stopped"]
    ax.scatter(x[full], frame[F1][full], marker="o", label="F1 (weighted)", alpha=0.8)
    ax.scatter(x[full], frame[ACCURACY][full], marker="^", label="accuracy", alpha=0.8)
    if stopped.any():
        ax.scatter(
            x[stopped],
            frame[F1][stopped],
            marker="x",
            color="0.45",
            label="F1, cut by the scheduler",
        )
        epochs = frame["epochs_run"] if "epochs_run" in frame else frame[F1] * float("nan")
        for xi, yi, ep in zip(x[stopped], frame[F1][stopped], epochs[stopped], strict=True):
            if pd.notna(ep):
                ax.annotate(
                    f"{ep:g} ep",
                    (xi, yi),
                    textcoords="offset points",
                    xytext=(4, -10),
                    fontsize=7,
                    color="0.35",
                )
    base = kinds["baseline"]
    if base.any():
        ax.scatter(
            x[base],
            frame[F1][base],
            s=160,
            facecolors="none",
            edgecolors="black",
            label="baseline (defaults)",
        )
    if spec.log:
        readable_log_axis(ax)
    ax.set_xlabel(param)
    ax.set_ylabel("validation score (best epoch)")
    ax.set_title(f"metrics vs {param}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(plt, fig, path)


def readable_log_axis(ax: Any) -> None:
    """A log x axis labelled at powers of ten only (minor ticks unlabelled), so the labels of a
    narrow range do not overlap."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10.0, numticks=8))
    ax.xaxis.set_major_formatter(LogFormatterSciNotation(base=10.0))
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_history(frame: pd.DataFrame, mode: str, path: Path) -> None:
    """Objective per trial in creation order, with the best so far; trials the scheduler cut
    are crosses, the baseline is ringed."""
    plt = pyplot()
    ordered = frame.sort_values("trial")
    best = ordered[OBJECTIVE].cummax() if mode == "max" else ordered[OBJECTIVE].cummin()
    fig, ax = plt.subplots(figsize=(6, 4))
    kinds = trial_kinds(ordered)
    full, stopped, base = kinds["full"], kinds["stopped"], kinds["baseline"]
    ax.scatter(ordered["trial"][full], ordered[OBJECTIVE][full], label="trial", marker="o")
    if stopped.any():
        ax.scatter(
            ordered["trial"][stopped],
            ordered[OBJECTIVE][stopped],
            marker="x",
            color="0.45",
            label="cut by the scheduler",
        )
    if base.any():
        ax.scatter(
            ordered["trial"][base],
            ordered[OBJECTIVE][base],
            s=160,
            facecolors="none",
            edgecolors="black",
            label="baseline (defaults)",
        )
    ax.step(ordered["trial"], best, where="post", label="best so far", color="black")
    ax.set_xlabel("trial number")
    ax.set_ylabel(OBJECTIVE)
    ax.set_title("optimisation history")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(plt, fig, path)


MIN_IMPORTANCE_TRIALS = 10
"""Fewest completed trials the importances are drawn from. Optuna's default evaluator
(PED-ANOVA) contrasts the best 10% of trials with all of them: below 10 trials that top group
is a single trial, and the bars say more about one lucky run than about the parameters."""
FEW_IMPORTANCE_TRIALS = 30
"""Below this many completed trials the bars carry a warning that they are rough."""


def plot_importances(study: Any, path: Path) -> str:
    """Bar chart of Optuna's parameter importances, titled with the trial count; returns a
    note for the summary (why they were left out, or how many trials they rest on)."""
    import optuna

    complete = [
        t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE
    ]
    n = len(complete)
    if n < MIN_IMPORTANCE_TRIALS:
        return (
            f"param importances: left out: {n} completed trials ({n}); PED-ANOVA needs at "
            f"least {MIN_IMPORTANCE_TRIALS} to be more than noise\n"
        )
    try:
        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as exc:
        return f"param importances: skipped ({exc})\n"
    plt = pyplot()
    names = list(importances)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(names) + 1.5))
    ax.barh(names, [importances[n] for n in names], color="0.4")
    ax.set_xlabel("importance (PED-ANOVA, completed trials)")
    rough = n < FEW_IMPORTANCE_TRIALS
    ax.set_title(f"parameter importances, {n} trials{' (few: rough)' if rough else ''}")
    save_figure(plt, fig, path)
    if rough:
        return f"param importances: from {n} completed trials only: rough, read with care\n"
    return f"param importances: from {n} completed trials\n"


def plot_reseed(table: pd.DataFrame, metric: str, path: Path) -> None:
    """Mean +- sd of the objective per re-seeded configuration, with each seed's value."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    labels = [f"rank {r}\n{t}" for r, t in zip(table["rank"], table["trial_id"], strict=True)]
    x = list(range(len(table)))
    ax.errorbar(x, table["mean"], yerr=table["sd"].fillna(0), fmt="s", color="black", capsize=6)
    for i, values in enumerate(table["values"]):
        points = [float(v) for v in str(values).split()]
        ax.scatter([i + 0.12] * len(points), points, marker="o", color="0.55", s=14)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel(f"best eval_{metric} per seed")
    ax.set_title("top configurations re-trained with fresh seeds (mean +- sd)")
    ax.grid(color="0.85")
    save_figure(plt, fig, path)


def plot_confusion(labels: Any, preds: Any, label_names: list[str], path: Path) -> None:
    """Confusion matrix of one evaluation, counts in the cells."""
    from sklearn.metrics import confusion_matrix

    plt = pyplot()
    matrix = confusion_matrix(labels, preds, labels=list(range(len(label_names))))
    size = 1.2 + 0.6 * len(label_names)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Greys")
    ax.set_xticks(range(len(label_names)), label_names, rotation=30)
    ax.set_yticks(range(len(label_names)), label_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        color = "white" if count > threshold else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=color)
    fig.colorbar(image, ax=ax)
    save_figure(plt, fig, path)


def plot_losses(log_history: list[dict[str, Any]], per_step: Path, per_epoch: Path) -> None:
    """Training loss per logging step; training and validation loss per epoch."""
    plt = pyplot()
    frame = pd.DataFrame(log_history)
    train = frame.dropna(subset=["loss"]) if "loss" in frame else frame.iloc[0:0]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(train.get(STEP, []), train.get("loss", []), color="black", marker=".")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.set_title("training loss per logging step")
    ax.grid(color="0.85")
    save_figure(plt, fig, per_step)

    fig, ax = plt.subplots(figsize=(6, 4))
    if not train.empty and EPOCH in train:
        by_epoch = train.groupby(np.ceil(train[EPOCH]))["loss"].mean()
        ax.plot(by_epoch.index, by_epoch.values, "o-", color="black", label="training (mean)")
    if LOSS in frame:
        evals = frame.dropna(subset=[LOSS])
        ax.plot(evals[EPOCH], evals[LOSS], "s--", color="0.45", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("loss per epoch")
    ax.grid(color="0.85")
    ax.legend()
    save_figure(plt, fig, per_epoch)


# ---------------------------------------------------------------------------------------------
# Comparison sweeps (training size x fine-tuning mode x encoder): grayscale, one style per line

_STYLES = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1)), "v"), ("-", "x")]


def plot_train_size(table: pd.DataFrame, metric: str, path: Path) -> None:
    """Accuracy and ``metric`` against training examples, a line per group."""
    plt = pyplot()
    with plt.rc_context(gray_rc()):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
        for (group, rows), (line, marker) in zip(
            table.groupby("group", sort=False), _cycle(), strict=False
        ):
            rows = rows.sort_values(TRAIN_EXAMPLES)
            for ax, col in zip(axes, [ACCURACY, metric], strict=True):
                ax.plot(
                    rows[TRAIN_EXAMPLES],
                    rows[col],
                    linestyle=line,
                    marker=marker,
                    markerfacecolor="white",
                    color="black",
                    label=str(group),
                )
        for ax, col in zip(axes, ["accuracy", metric.removeprefix(EVAL_PREFIX)], strict=True):
            ax.set_xlabel("training examples")
            ax.set_ylabel(f"validation {col} (best epoch)")
            ax.set_title(f"{col} vs training-set size")
            ax.grid(color="0.85")
        axes[0].legend()
        save_figure(plt, fig, path)


def plot_param_efficiency(table: pd.DataFrame, path: Path) -> None:
    """F1 per million trainable parameters, a bar per trial (grouped, by training size)."""
    plt = pyplot()
    labels = [f"{g}, {f:.0%}" for g, f in zip(table["group"], table["train_fraction"], strict=True)]
    values = table["f1_per_million_params"].fillna(0.0)
    with plt.rc_context(gray_rc()):
        fig, ax = plt.subplots(figsize=(7, 0.4 * len(labels) + 1.6))
        shades = {
            g: f"{0.2 + 0.5 * i / max(1, table['group'].nunique() - 1):.2f}"
            for i, g in enumerate(dict.fromkeys(table["group"]))
        }
        ax.barh(
            labels[::-1],
            values[::-1],
            color=[shades[g] for g in table["group"][::-1]],
            edgecolor="black",
        )
        for y, v in enumerate(values[::-1]):
            ax.annotate(f" {v:,.1f}", (v, y), va="center", fontsize=8)
        ax.set_xlim(0, values.max() * 1.2 if values.max() > 0 else 1)
        ax.set_xlabel("validation F1 per million trainable parameters")
        ax.set_title("parameter efficiency")
        ax.grid(axis="x", color="0.85")
        save_figure(plt, fig, path)


def plot_tradeoff(table: pd.DataFrame, metric: str, path: Path) -> None:
    """``metric`` against training time, a marker per group, labelled with the training share."""
    plt = pyplot()
    with plt.rc_context(gray_rc()):
        fig, ax = plt.subplots(figsize=(6, 4))
        for (group, rows), (_, marker) in zip(
            table.groupby("group", sort=False), _cycle(), strict=False
        ):
            ax.scatter(
                rows[TRAIN_SECONDS],
                rows[metric],
                marker=marker,
                color="black",
                facecolors="white" if marker != "x" else "black",
                label=str(group),
            )
            points = zip(rows[TRAIN_SECONDS], rows[metric], rows["train_fraction"], strict=True)
            for t, m, f in points:
                ax.annotate(
                    f"{f:.0%}", (t, m), textcoords="offset points", xytext=(4, 4), fontsize=8
                )
        ax.set_xlabel("training time (s)")
        ax.set_ylabel(f"validation {metric.removeprefix('eval_')} (best epoch)")
        ax.set_title("efficiency trade-off")
        ax.grid(color="0.85")
        ax.legend()
        save_figure(plt, fig, path)


def _cycle() -> Any:
    import itertools

    return itertools.cycle(_STYLES)


def plot_learning_curves(curves: pd.DataFrame, metric: str, path: Path) -> None:
    """Validation ``metric`` per epoch of a few trials (columns ``label``, ``epoch``,
    ``value``, ``baseline``): the best ones and the baseline, dashed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, group in curves.groupby("label", sort=False):
        group = group.sort_values(EPOCH)
        dashed = bool(group["baseline"].iloc[0])
        ax.plot(
            group[EPOCH],
            group["value"],
            marker="o",
            linestyle="--" if dashed else "-",
            color="black" if dashed else None,
            label=str(label),
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {metric}")
    ax.set_title("learning curves of the best trials")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(plt, fig, path)
