"""OFAT plots: grayscale, told apart by line style and marker, readable on a black-and-white
printout (one figure per parameter and an overview ranked by sensitivity)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hpo_ray.config.schema import MODEL_NAME
from hpo_ray.report.plots import gray_rc, pyplot, save_figure
from hpo_ray.results.compare import model_label


def _ofat_axis(ax: Any, group: pd.DataFrame, param: str) -> list[Any]:
    """Put the values on the x axis: log for learning rate, categories for strings."""
    values = list(group["value"])
    if any(isinstance(v, str) for v in values):
        names = [model_label(str(v)) if param == MODEL_NAME else str(v) for v in values]
        ax.set_xticks(range(len(values)), names, rotation=20)
        return list(range(len(values)))
    x = [float(v) for v in values]
    if param == "learning_rate":
        ax.set_xscale("log")
        ax.minorticks_off()
    ax.set_xticks(x, [f"{v:g}" for v in x], rotation=30 if len(x) > 5 else 0)
    return x


def _base_x(group: pd.DataFrame, x: list[Any]) -> Any:
    shared = list(group["shared_base"])
    return x[shared.index(True)] if True in shared else None


def plot_ofat_param(group: pd.DataFrame, param: str, base_value: Any, path: Path) -> None:
    """Accuracy and F1 against one parameter's values (others at base), in grayscale."""
    plt = pyplot()
    with plt.rc_context(gray_rc()):
        fig, ax = plt.subplots(figsize=(6, 4))
        x = _ofat_axis(ax, group, param)
        ax.plot(x, group["accuracy"], linestyle="-", marker="o", color="black", label="accuracy")
        ax.plot(
            x,
            group["f1"],
            linestyle="--",
            marker="s",
            markerfacecolor="white",
            color="0.35",
            label="F1 (weighted)",
        )
        bx = _base_x(group, x)
        if bx is not None:
            ax.axvline(bx, linestyle=":", color="0.5", label=f"base ({base_value})")
        ax.set_xlabel(param)
        ax.set_ylabel("validation score (best epoch)")
        ax.set_title(f"{param}: one factor at a time")
        ax.grid(color="0.85")
        ax.legend()
        save_figure(plt, fig, path)


def plot_ofat_overview(table: pd.DataFrame, sensitivity: pd.DataFrame, path: Path) -> None:
    """One panel per parameter (most sensitive first) with its F1 spread, plus the ranking."""
    plt = pyplot()
    order = list(sensitivity["param"]) + [
        p for p in dict.fromkeys(table["param"]) if p not in set(sensitivity["param"])
    ]
    panels = len(order) + 1
    cols = min(3, panels)
    rows = -(-panels // cols)
    with plt.rc_context(gray_rc()):
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
        flat = list(axes.flat)
        f1 = table["f1"].dropna()
        low, high = (f1.min(), f1.max()) if not f1.empty else (0.0, 1.0)
        pad = max(0.01, (high - low) * 0.1)
        for ax, param in zip(flat, order, strict=False):
            group = table[table["param"] == param]
            x = _ofat_axis(ax, group, param)
            ax.plot(x, group["f1"], linestyle="-", marker="o", color="black")
            bx = _base_x(group, x)
            if bx is not None:
                ax.axvline(bx, linestyle=":", color="0.5")
            spread = group["f1"].max() - group["f1"].min()
            ax.set_title(f"{param} (F1 spread {spread:.3f})", fontsize=9)
            ax.set_ylim(low - pad, high + pad)
            ax.grid(color="0.85")
            ax.tick_params(labelsize=7)
        rank = flat[len(order)]
        names = list(sensitivity["param"])[::-1]
        rank.barh(names, list(sensitivity["spread"])[::-1], color="0.4", edgecolor="black")
        rank.set_title("sensitivity: F1 max - min", fontsize=9)
        rank.tick_params(labelsize=7)
        for ax in flat[len(order) + 1 :]:
            ax.axis("off")
        fig.suptitle("OFAT: validation F1 per parameter (others at base)")
        save_figure(plt, fig, path)
