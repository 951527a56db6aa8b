"""The text of ``summary.txt``: what was optimised, what ran, what won, how it scored.

Example::

    print(search_summary(SearchResults.load("ray_results/demo")))
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hpo_ray.config.schema import OBJECTIVE, ExperimentConfig
from hpo_ray.config.trials import BASE, ofat_variants
from hpo_ray.layout import BASELINE_METRICS, DATA_SPLITS, MODEL_METRICS
from hpo_ray.results.compare import AXES
from hpo_ray.results.ofat import OfatResults
from hpo_ray.results.reseed import fresh_seeds, reseed_table
from hpo_ray.results.trials import SearchResults, plain
from hpo_ray.tuning.baseline import baseline_outside
from hpo_ray.tuning.samplers import choose_sampler, choose_scheduler


def search_summary(results: SearchResults) -> str:
    """The search's trial counts, settings and best trial, as lines of text."""
    counts = results.frame["status"].value_counts().to_dict()
    s = results.cfg.search
    lines = [
        f"experiment: {results.cfg.run.name}",
        *objective_statement(results.cfg),
        f"searcher: {'random' if s.population and s.searcher == 'optuna' else s.searcher} "
        f"(seed {s.seed}); scheduler: {scheduler_statement(results.cfg)}",
        *sampler_lines(results.cfg),
        f"trials: {len(results.frame)} of {results.requested()} requested",
        f"  completed: {counts.get('completed', 0)}",
        f"  stopped early by patience: {counts.get('patience_stop', 0)}",
        f"  stopped early by the scheduler: {counts.get('scheduler_stop', 0)}",
        *(
            [f"  ended before a first evaluation: {counts['not_evaluated']}"]
            if "not_evaluated" in counts
            else []
        ),
        f"  failed: {counts.get('failed', 0)}",
    ]
    other = {
        k: v
        for k, v in counts.items()
        if k not in ("completed", "patience_stop", "scheduler_stop", "not_evaluated", "failed")
    }
    if other:
        lines.append(f"  not finished: {other}")
    if s.epoch_budget is not None:
        used = results.frame["epochs_run"].fillna(0).sum()
        lines.append(f"epochs trained: {used:g} of an epoch budget of {s.epoch_budget:g}")
    if not results.finished.empty:
        best = results.best_row()
        lines.append(
            f"best trial: {int(best['trial'])} ({best['trial_id']}) "
            f"{OBJECTIVE}={best[OBJECTIVE]:.4f}"
        )
        for name in results.cfg.search.space:
            lines.append(f"  {name}: {plain(best[name])}")
        base = results.baseline_row()
        if base is not None and pd.notna(base[OBJECTIVE]):
            gain = best[OBJECTIVE] - base[OBJECTIVE]
            gain = gain if s.mode == "max" else -gain
            lines.append(
                f"baseline trial (the training: values): {int(base['trial'])} "
                f"{OBJECTIVE}={base[OBJECTIVE]:.4f}; best is {gain:+.4f} on validation"
            )
        elif s.baseline and s.searcher != "grid":
            why = baseline_outside(results.cfg) or "it did not finish an evaluation"
            lines.append(f"baseline trial: none ({why})")
    return "\n".join(lines) + "\n"


def sampler_lines(cfg: ExperimentConfig) -> list[str]:
    """Which Optuna sampler proposed the trials and why (Optuna searches only), or how a
    population (PBT, PB2) was drawn and evolved."""
    s = cfg.search
    if s.population:
        drawn = "the grid" if s.searcher == "grid" else "random draws from search.space"
        how = (
            "values picked by a Gaussian-process bandit (PB2)"
            if s.scheduler == "pb2"
            else f"values scaled by {s.pbt.perturbation_factors} or redrawn "
            f"(p={s.pbt.resample_probability:g})"
        )
        return [
            f"  population: {s.num_samples} trials from {drawn}; every {s.pbt.interval} "
            f"epoch(s) the worst {s.pbt.quantile_fraction:.0%} copy the best's checkpoint, "
            f"{how}; trials compared on their latest {s.tune_metric}"
        ]
    if s.searcher != "optuna":
        return []
    choice = choose_sampler(cfg)
    return [f"  sampler: {choice.name}: {choice.reason}"]


def scheduler_statement(cfg: ExperimentConfig) -> str:
    """The scheduler the search ran with; for ``auto``, the one it chose and why."""
    choice = choose_scheduler(cfg)
    if cfg.search.scheduler != "auto":
        return choice.name
    return f"{choice.name} (auto: {choice.reason})"


def objective_statement(cfg: ExperimentConfig) -> list[str]:
    """What exactly a trial is judged by, so that results of different experiments are not
    compared by mistake."""
    s, d = cfg.search, cfg.data
    verb = "maximise" if s.mode == "max" else "minimise"
    metric = s.tune_metric
    if s.metric == "f1":
        metric += " (weighted F1)"
    elif s.metric in ("roc_auc", "pr_auc"):
        metric += f" ({s.average or 'binary'}, from class probabilities)"
    elif s.metric == "pos_f1":
        metric += f" (F1 of class {d.positive_label or 'positive'})"
    seeds = f"one training seed per trial ({cfg.training.seed})"
    if s.reseed.top_k:
        seeds += (
            f"; then the top {s.reseed.top_k} re-trained with {s.reseed.seeds} fresh seeds "
            "each, winner by mean"
        )
    loss = cfg.training.loss if "loss" not in s.space else "searched"
    folds = (
        f"{d.folds}-fold CV of the train split, {d.fold_aggregate} over folds per epoch"
        if d.folds
        else (
            "validation split given (data.validation_path), no k-fold"
            if d.validation_path
            else f"validation split {d.validation_size:g} (seed {d.seed}), no k-fold"
        )
    )
    test = (
        "given (data.test_path; search never sees it)"
        if d.test_path
        else f"{d.test_size:g}{' (search never sees it)' if d.test_size else ''}"
    )
    return [
        f"objective: {verb} {metric}, best evaluation per trial (evaluated every "
        f"{cfg.training.eval_steps or 1} {'steps' if cfg.training.eval_steps else 'epoch'})",
        f"  data: {folds}; test split {test}",
        *data_lines(cfg),
        f"  seeds: {seeds}; loss: {loss}",
    ]


def data_lines(cfg: ExperimentConfig) -> list[str]:
    """The splits the run used (sizes, which were given) and any text shared between them."""
    info = read_json(cfg.experiment_dir / DATA_SPLITS)
    if info is None:
        return []
    sizes = ", ".join(f"{k} {v}" for k, v in info["sizes"].items())
    given = info.get("given_splits") or []
    lines = [
        f"  splits: {sizes}"
        + (f" (given: {', '.join(given)})" if given else " (split by hpo_ray)")
        + ("; sentence pairs" if info.get("pairs") else "")
    ]
    shared = info.get("overlaps") or {}
    if shared:
        where = "; ".join(f"{n} rows of {k}" for k, n in shared.items())
        lines.append(f"  leakage: {where} (the same text in both splits)")
    else:
        lines.append("  leakage: none (no text appears in two splits)")
    return lines


def replay_lines(cfg: ExperimentConfig, metrics: dict[str, Any]) -> list[str]:
    """How close a population's replay came to the search's own model (saved beside it in
    ``search_model/``), on validation and test."""
    own = metrics.get("search_model")
    if not own:
        return []
    name = cfg.search.metric
    parts = []
    for split in ("validation", "test"):
        key = split_key(split, name)
        if split in metrics and split in own and key in metrics[split] and key in own[split]:
            replay, search = float(metrics[split][key]), float(own[split][key])
            parts.append(f"{split} {replay:.4f} vs {search:.4f} ({replay - search:+.4f})")
    return [f"  replay against the search's own model (search_model/), {name}: " + "; ".join(parts)]


def final_scores(
    cfg: ExperimentConfig,
    search_best: float | None = None,
    results: SearchResults | None = None,
) -> str:
    """The refit model's validation and test scores side by side (empty before a refit), so the
    optimism of picking the best of many trials on the validation split is visible; then the
    baseline against the tuned model (``baseline_against_tuned``)."""
    path = cfg.trained_path / MODEL_METRICS
    if not path.is_file():
        return ""
    metrics = json.loads(path.read_text())
    splits = [s for s in ("validation", "test") if s in metrics]
    names = [m for m in ("accuracy", "f1", "macro_f1", "pos_f1", "roc_auc", "pr_auc", "loss")]
    lines = [f"refit model {cfg.trained_path}:"]
    if "made_by" in metrics:
        lines.append(f"  made by: {metrics['made_by']}")
    lines.append("  metric      " + "".join(f"{s:>12}" for s in splits))
    for name in names:
        values = [metrics[s].get(split_key(s, name)) for s in splits]
        if all(v is None for v in values):
            continue
        cells = "".join(f"{v:>12.4f}" if v is not None else f"{'-':>12}" for v in values)
        lines.append(f"  {name:<12}{cells}")
    if search_best is not None:
        lines.append(f"  search's best validation {OBJECTIVE}: {search_best:.4f}")
    lines += replay_lines(cfg, metrics)
    if "test" not in metrics:
        lines.append(
            "  (no test split: set data.test_size or data.test_path to see how optimistic "
            "validation is)"
        )
    return "\n".join(lines) + "\n" + baseline_against_tuned(cfg, results)


def split_key(split: str, metric: str) -> str:
    """The key of ``metric`` in the Trainer's scores of ``split`` (``eval_f1``, ``test_f1``)."""
    return f"{'test' if split == 'test' else 'eval'}_{metric}"


ANSWER_COLUMNS = ("search val", "refit val", "test", "seed sd")


@dataclass(frozen=True)
class Answer:
    """The baseline against the tuned model: one row of ``ANSWER_COLUMNS`` values each (None
    where not measured) and the sentence that says which is better."""

    metric: str
    rows: dict[str, list[float | None]]
    verdict: str


def answer(cfg: ExperimentConfig, results: SearchResults | None = None) -> Answer | None:
    """The answer to "was the search worth it": the base values against the tuned model on the
    metric searched, on validation (the search's own number and the refit's) and on the test
    split the search never saw, with the seed spread of each where reseeding measured it.
    None before a refit that scored the baseline."""
    tuned = read_json(cfg.trained_path / MODEL_METRICS)
    base = read_json(cfg.trained_path / BASELINE_METRICS)
    if tuned is None or base is None:
        return None
    metric = cfg.search.metric
    search_val: dict[str, float | None] = {"baseline": None, "tuned": None}
    if results is not None and not results.finished.empty:
        search_val["tuned"] = float(results.best_row()[OBJECTIVE])
        row = results.baseline_row()
        if row is not None and pd.notna(row[OBJECTIVE]):
            search_val["baseline"] = float(row[OBJECTIVE])
    spread = seed_spread(cfg)
    scores = {"baseline": base, "tuned": tuned}
    rows = {
        who: [
            search_val[who],
            scores[who].get("validation", {}).get(split_key("validation", metric)),
            scores[who].get("test", {}).get(split_key("test", metric)),
            spread.get(who),
        ]
        for who in ("baseline", "tuned")
    }
    return Answer(metric, rows, verdict(cfg, scores, spread))


def baseline_against_tuned(cfg: ExperimentConfig, results: SearchResults | None = None) -> str:
    """``answer`` as lines of text (empty before a refit that scored the baseline)."""
    found = answer(cfg, results)
    if found is None:
        return ""
    lines = [
        f"baseline (the training: values, no search) against the tuned model, {found.metric}:",
        "  " + " " * 20 + "".join(f"{h:>12}" for h in ANSWER_COLUMNS),
    ]
    for who, cells in found.rows.items():
        text = "".join(f"{c:>12.4f}" if c is not None else f"{'-':>12}" for c in cells)
        label = "baseline (defaults)" if who == "baseline" else "tuned"
        lines.append(f"  {label:<20}{text}")
    lines.append("  " + found.verdict)
    return "\n".join(lines) + "\n"


def verdict(
    cfg: ExperimentConfig, scores: dict[str, dict[str, Any]], spread: dict[str, float]
) -> str:
    """One sentence: how much better (or worse) the tuned model is on the test split, and
    whether that is more than the seed spread."""
    metric = cfg.search.metric
    if scores["baseline"].get("same_as_tuned"):
        return "the search chose the base values: the defaults were already the best found"
    split = "test" if "test" in scores["tuned"] else "validation"
    key = split_key(split, metric)
    tuned = scores["tuned"].get(split, {}).get(key)
    base = scores["baseline"].get(split, {}).get(key)
    if tuned is None or base is None:
        return ""
    gain = tuned - base if cfg.search.mode == "max" else base - tuned
    where = "test split (never seen by the search)" if split == "test" else "validation split"
    sentence = (
        f"the tuned model is {abs(gain):.4f} {'better' if gain >= 0 else 'worse'} on the {where}"
    )
    if spread:
        sd = max(spread.values())
        if abs(gain) <= 2 * sd:
            return sentence + f"; within 2 seed sd ({2 * sd:.4f}): not clearly a gain"
        return sentence + f"; {abs(gain) / sd:.1f} seed sd"
    return sentence + (
        "; seed spread not measured (set search.reseed.top_k to tell a gain from seed noise)"
    )


def seed_spread(cfg: ExperimentConfig) -> dict[str, float]:
    """The validation sd over fresh seeds of the baseline and of the tuned (winning)
    configuration, where reseeding measured them."""
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
            out["baseline"] = float(base["sd"].iloc[0])
    return out


def read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def ofat_summary(results: OfatResults) -> str:
    """The sweep's runs, base scores and sensitivity ranking, as lines of text."""
    counts = results.table.drop_duplicates("variant")["status"].value_counts().to_dict()
    variants = ofat_variants(results.cfg.base_params(), results.cfg.ofat.grid)
    lines = [
        f"experiment: {results.cfg.run.name} (one factor at a time)",
        f"grid: {len(results.table)} (parameter, value) pairs, {len(variants)} distinct "
        f"trainings (the base run stands for every value equal to the base)",
        f"metrics: best eval epoch per run on the validation split "
        f"({results.cfg.data.validation_size:g} of the data, seed {results.cfg.data.seed}); "
        f"selected by eval_{results.cfg.search.metric}",
        "runs: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
    ]
    base = results.table[results.table["variant"] == BASE]
    if not base.empty and not math.isnan(base["f1"].iloc[0]):
        lines.append(f"base: f1={base['f1'].iloc[0]:.4f} accuracy={base['accuracy'].iloc[0]:.4f}")
    sens = results.sensitivity()
    if not sens.empty:
        lines.append("sensitivity (F1 spread over the values, largest first):")
        for r in sens.to_dict("records"):
            lines.append(
                f"  {r['param']}: {r['spread']:.4f} "
                f"(F1 {r['min']:.4f}..{r['max']:.4f}; best at {r['best_value']})"
            )
    return "\n".join(lines) + "\n"


def reseed_summary(cfg: ExperimentConfig, table: pd.DataFrame) -> str:
    """Mean +- sd per reseeded candidate, the refit's pick marked."""
    lines = [f"reseed: top {cfg.search.reseed.top_k} re-trained with seeds {fresh_seeds(cfg)}"]
    for row in table.to_dict("records"):
        mark = "  <- refit" if row["winner"] else ""
        lines.append(
            f"  rank {row['rank']} ({row['trial_id']}): {OBJECTIVE} {row['mean']:.4f} +- "
            f"{row['sd']:.4f} (n={row['n']}){mark}"
        )
    return "\n".join(lines) + "\n"


def comparison_summary(results: SearchResults, shown: pd.DataFrame) -> str:
    """One line per compared point (the trials the comparison plots show)."""
    metric = results.cfg.search.tune_metric
    others = [p for p in results.cfg.search.space if p not in AXES]
    extra = f", best over {', '.join(others)}" if others else ""
    lines = [f"comparison (best epoch of each trial{extra}):"]
    for row in shown.to_dict("records"):
        setting = "".join(
            f", {p}={row[p]:g}" if isinstance(row[p], float) else f", {p}={row[p]}" for p in others
        )
        lines.append(
            f"  {row['group']:<24} train {row['train_fraction']:>5.0%} "
            f"({row['train_examples']:.0f} ex): {metric} {row[metric]:.4f}, "
            f"accuracy {row['eval_accuracy']:.4f}, {row['trainable_params']:,.0f} trainable "
            f"parameters, {row['train_seconds']:.1f} s training{setting}"
        )
    return "\n".join(lines) + "\n"
