"""Plots of a population search (PBT, PB2): how the population's scores moved and where trials
copied each other, and the schedule of values the chosen model trained by.

Example::

    plot_population(results, out / "population.png")
    plot_schedule(segments, epochs, out / "winner_schedule.png")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hpo_ray.config.formats import COPIED_FROM, EPOCH, FLOAT_TOL
from hpo_ray.layout import TRIAL_BEST_MODEL, trial_dir
from hpo_ray.report.plots import pyplot, save_figure
from hpo_ray.results.trials import SearchResults, exploits
from hpo_ray.train.schedule import describe, values_at
from hpo_ray.train.trial_files import KeptInfo
from hpo_ray.tuning.schedulers import is_population


def kept_schedule(results: SearchResults, trial_id: str) -> tuple[list[dict[str, Any]], int]:
    """The schedule of trial ``trial_id``'s kept weights and the epochs they trained ([] and 0
    where it kept none)."""
    info = KeptInfo.read(trial_dir(results.cfg.experiment_dir, trial_id) / TRIAL_BEST_MODEL)
    return ([], 0) if info is None else (info.schedule, info.epochs())


def population_lines(results: SearchResults) -> list[str]:
    """The summary's account of a population search: copies made, and what trained the
    chosen model (the refit replays that)."""
    if not is_population(results.cfg) or results.finished.empty:
        return []
    best = results.best_row()
    segments, epochs = kept_schedule(results, str(best["trial_id"]))
    lines = [f"population: {len(exploits(results))} copies between trials"]
    if segments:
        lines.append(f"  best trial's weights ({epochs} epochs) trained by: {describe(segments)}")
    return lines


def plot_population(results: SearchResults, path: Path) -> None:
    """The latest ``eval_<metric>`` of every trial per epoch; a copy is drawn as a dotted line
    from the copied trial's score to the copier's next one, with an x where it lands."""
    plt = pyplot()
    key = results.cfg.search.tune_metric
    numbers = dict(zip(results.frame["trial_id"], results.frame["trial"], strict=True))
    fig, ax = plt.subplots(figsize=(7, 4))
    for trial_id, hist in results.history.items():
        if hist.empty or key not in hist:
            continue
        own = hist.sort_values(EPOCH, kind="stable")
        ax.plot(own[EPOCH], own[key], marker=".", linewidth=1, label=f"trial {numbers[trial_id]}")
    copies = exploits(results)
    for _, copy in copies.iterrows():
        donor = results.history.get(copy[COPIED_FROM])
        taker = results.history[copy["trial_id"]]
        after = taker[(taker[EPOCH] > copy[EPOCH] + FLOAT_TOL)].head(1)
        if donor is None or donor.empty or after.empty:
            continue
        at = donor[(donor[EPOCH] - copy[EPOCH]).abs() <= FLOAT_TOL].head(1)
        if at.empty:
            continue
        ax.plot(
            [copy[EPOCH], after[EPOCH].iloc[0]],
            [at[key].iloc[0], after[key].iloc[0]],
            linestyle=":",
            color="0.3",
        )
        ax.scatter(after[EPOCH], after[key], marker="x", color="black", zorder=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{key} (latest)")
    ax.set_title(f"population: {len(copies)} copies (x: first evaluation after a copy)")
    if len(results.history) <= 12:
        ax.legend(fontsize=7, ncol=2)
    save_figure(plt, fig, path)


def plot_schedule(segments: list[dict[str, Any]], epochs: int, path: Path) -> None:
    """The values each epoch of the chosen model trained with (one panel per value), with the
    trial that trained each stretch written at its start."""
    plt = pyplot()
    names = list(values_at(segments, 0))
    if not names or epochs < 1:
        return
    fig, axes = plt.subplots(len(names), 1, figsize=(6, 2.2 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        xs = list(range(epochs + 1))
        ys = [values_at(segments, min(e, epochs - 1))[name] for e in xs]
        ax.step(xs, ys, where="post", color="black")
        for segment in segments:
            start = float(segment["from_epoch"])
            if start < epochs:
                ax.axvline(start, color="0.7", linestyle=":")
                ax.annotate(str(segment["trial_id"])[-5:], (start, ys[int(start)]), fontsize=7)
        if name == "learning_rate":
            ax.set_yscale("log")
        ax.set_ylabel(name)
    axes[-1, 0].set_xlabel("epoch")
    axes[0, 0].set_title("the chosen model's schedule")
    save_figure(plt, fig, path)
