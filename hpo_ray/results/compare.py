"""Comparison sweeps: training-set size x fine-tuning mode (x encoder) as one grid.

A search whose space varies ``train_fraction``, ``finetune`` or ``model_name`` (usually with
``search.searcher: grid``) also gets ``comparison.csv`` and three plots:

- ``compare_train_size.png``: accuracy and the objective metric against training examples,
  one line per mode / encoder (a learning curve);
- ``compare_param_efficiency.png``: F1 per million trainable parameters;
- ``compare_tradeoff.png``: the metric against training time (seconds from the first
  training step to the last evaluation: worker start-up and imports excluded).

Example::

    table = comparison_table(SearchResults.load("ray_results/compare_demo"))
    table[["finetune", "train_fraction", "eval_accuracy", TRAINABLE_PARAMS]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hpo_ray.config.formats import TRAIN_EXAMPLES, TRAIN_SECONDS, TRAINABLE_PARAMS
from hpo_ray.config.schema import MODEL_NAME, OBJECTIVE, PKG_PREFIX
from hpo_ray.results.trials import SearchResults

AXES = (MODEL_NAME, "finetune", "train_fraction")
"""The parameters a comparison sweep crosses; ``train_fraction`` is the x axis of the curve."""


def comparison_axes(space: dict[str, Any]) -> list[str]:
    return [a for a in AXES if a in space]


def model_label(name: str) -> str:
    """A short name for an encoder: the package of ``pkg:`` models, else the folder name."""
    if name.startswith(PKG_PREFIX):
        return name.removeprefix(PKG_PREFIX)
    return Path(name).name or name


def comparison_table(results: SearchResults) -> pd.DataFrame | None:
    """One row per finished trial with the compared values and what each costs; None when
    the experiment compares none of ``AXES``. ``best_at_point`` marks, per group and training
    share, the trial the plots show (the only one unless other parameters are searched too)."""
    cfg = results.cfg
    axes = comparison_axes(cfg.search.space)
    if not axes or results.finished.empty:
        return None
    done = results.finished.copy()
    metric = cfg.search.tune_metric
    base = cfg.base_params()
    table = pd.DataFrame({"trial": done["trial"], "trial_id": done["trial_id"]})
    for axis in AXES:
        values = done[axis] if axis in axes else [base[axis]] * len(done)
        table[axis] = list(values)
    table["model"] = table["model_name"].map(lambda n: model_label(str(n)))
    table["group"] = [_group(row, axes) for row in table.to_dict("records")]
    for col in dict.fromkeys(["eval_accuracy", "eval_f1", metric, OBJECTIVE]):
        table[col] = done[col].to_numpy() if col in done else float("nan")
    for col in (TRAIN_EXAMPLES, TRAINABLE_PARAMS, TRAIN_SECONDS, "time_s", "epochs_run"):
        table[col] = done[col].to_numpy() if col in done else float("nan")
    table["f1_per_million_params"] = table["eval_f1"] / (table[TRAINABLE_PARAMS] / 1e6)
    others = [p for p in cfg.search.space if p not in AXES]
    for p in others:
        table[p] = done[p].to_numpy()
    # Other searched values (a learning rate per mode, say): each point of the comparison is
    # the best trial at that point, so every mode is compared at its own best setting.
    ranked = table.set_index("trial_id").loc[results.ranked()["trial_id"]]
    best = set(ranked.groupby(["group", "train_fraction"], sort=False).head(1).index)
    table["best_at_point"] = table["trial_id"].isin(best)
    return table.sort_values(["group", "train_fraction", "trial"], kind="stable").reset_index(
        drop=True
    )


def _group(row: dict[Any, Any], axes: list[str]) -> str:
    """The line a trial belongs to: every compared value except the training-set size."""
    parts = []
    if MODEL_NAME in axes:
        parts.append(row["model"])
    if "finetune" in axes:
        parts.append(str(row["finetune"]))
    return " / ".join(parts) or "all"
