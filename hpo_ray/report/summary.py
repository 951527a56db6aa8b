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

from hpo_ray.config.formats import (
    TRAIN_EXAMPLES,
    TRAIN_SECONDS,
    TRAINABLE_PARAMS,
    ModelScores,
    eval_key,
)
from hpo_ray.config.schema import METRICS, OBJECTIVE, ExperimentConfig
from hpo_ray.config.trials import BASE, ofat_variants
from hpo_ray.layout import BASELINE_METRICS, DATA_SPLITS, MODEL_METRICS
from hpo_ray.results.compare import AXES
from hpo_ray.results.ofat import OfatResults
from hpo_ray.results.reseed import fresh_seeds, seed_spread
from hpo_ray.results.trials import SearchResults, plain
from hpo_ray.tuning.baseline import baseline_outside, trainer_reference
from hpo_ray.tuning.schedulers import scheduler_of
from hpo_ray.tuning.searchers import searcher_of


def search_summary(results: SearchResults) -> str:
    """The search's trial counts, settings and best trial, as lines of text."""
    counts = results.frame["status"].value_counts().to_dict()
    s = results.cfg.search
    lines = [
        f"experiment: {results.cfg.run.name}",
        *objective_statement(results.cfg),
        f"searcher: {searcher_of(results.cfg).name} "
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
        elif "training" in s.references and searcher_of(results.cfg).runs_references:
            why = baseline_outside(results.cfg) or "it did not finish an evaluation"
            lines.append(f"baseline trial: none ({why})")
        lines += trainer_lines(results, best)
    return "\n".join(lines) + "\n"


def trainer_lines(results: SearchResults, best: pd.Series) -> list[str]:
    """The Trainer-defaults reference trial's score, or why it did not run as a trial."""
    if "trainer" not in results.cfg.search.references:
        return []
    row = results.reference_row("trainer")
    if row is not None and pd.notna(row[OBJECTIVE]):
        gain = best[OBJECTIVE] - row[OBJECTIVE]
        gain = gain if results.cfg.search.mode == "max" else -gain
        return [
            f"Trainer-defaults trial (the Trainer's own values for the searched keys): "
            f"{int(row['trial'])} {OBJECTIVE}={row[OBJECTIVE]:.4f}; best is {gain:+.4f} on "
            "validation"
        ]
    _, why = trainer_reference(results.cfg)
    return [f"Trainer-defaults trial: none ({why or 'it did not finish an evaluation'})"]


def sampler_lines(cfg: ExperimentConfig) -> list[str]:
    """Which Optuna sampler proposed the trials and why (Optuna searches only), or how a
    population (PBT, PB2) was drawn and evolved."""
    return scheduler_of(cfg).strategy.describe(cfg) or searcher_of(cfg).describe(cfg)


def scheduler_statement(cfg: ExperimentConfig) -> str:
    """The scheduler the search ran with; for ``auto``, the one it chose and why."""
    chosen = scheduler_of(cfg)
    if not chosen.auto:
        return chosen.name
    return f"{chosen.name} (auto: {chosen.reason})"


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


def replay_lines(cfg: ExperimentConfig, metrics: ModelScores) -> list[str]:
    """How close a population's replay came to the search's own model (saved beside it in
    ``search_model/``), on validation and test."""
    found = metrics.extra.get("search_model")
    if not found:
        return []
    own = ModelScores.from_dict(found)
    name = cfg.search.metric
    parts = []
    for split in ("validation", "test"):
        replay, search = metrics.score(split, name), own.score(split, name)
        if replay is not None and search is not None:
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
    metrics = ModelScores.read(cfg.trained_path / MODEL_METRICS)
    if metrics is None:
        return ""
    splits = metrics.splits
    lines = [f"refit model {cfg.trained_path}:"]
    if metrics.made_by:
        lines.append(f"  made by: {metrics.made_by}")
    lines.append("  metric      " + "".join(f"{s:>12}" for s in splits))
    for name in METRICS:
        values = [metrics.score(s, name) for s in splits]
        if all(v is None for v in values):
            continue
        cells = "".join(f"{v:>12.4f}" if v is not None else f"{'-':>12}" for v in values)
        lines.append(f"  {name:<12}{cells}")
    if search_best is not None:
        lines.append(f"  search's best validation {OBJECTIVE}: {search_best:.4f}")
    lines += replay_lines(cfg, metrics)
    if metrics.test is None:
        lines.append(
            "  (no test split: set data.test_size or data.test_path to see how optimistic "
            "validation is)"
        )
    return "\n".join(lines) + "\n" + baseline_against_tuned(cfg, results)


ANSWER_COLUMNS = ("search val", "refit val", "test", "val-test drop", "seed sd")
REFERENCE_LABELS = {
    "training": "baseline",
    "trainer": "Trainer defaults",
    "best_single": "best single trial",
    "uniform_soup": "uniform soup",
}
"""How the answer names each reference (``search.baseline``)."""


@dataclass(frozen=True)
class Answer:
    """The references against the tuned model: one row of ``ANSWER_COLUMNS`` values per model
    (None where not measured), the claims with their intervals, and what the reader should
    know about them (where each reference's values came from, the winner's curse, ties)."""

    metric: str
    rows: dict[str, list[float | None]]
    claims: list[tuple[str, str]]
    """Per reference, the verdict with its interval, and the detail (accuracy, McNemar)."""
    notes: list[str]


def references_scored(cfg: ExperimentConfig) -> dict[str, ModelScores]:
    """Each reference's scores from the model folder, by name (a folder written before there
    were two references holds the baseline's record alone)."""
    found = read_json(cfg.trained_path / BASELINE_METRICS)
    if found is None:
        return {}
    records = {"training": found} if "params" in found else found
    return {who: ModelScores.from_dict(record) for who, record in records.items()}


def answer(cfg: ExperimentConfig, results: SearchResults | None = None) -> Answer | None:
    """The answer to "was the search worth it": each reference against the tuned model on the
    metric searched, on validation (the search's own number and the refit's) and on the test
    split the search never saw, with the paired interval of each difference, and the seed
    spread where reseeding measured it. None before a refit that scored a reference."""
    tuned = ModelScores.read(cfg.trained_path / MODEL_METRICS)
    references = references_scored(cfg)
    if tuned is None or not references:
        return None
    metric = cfg.search.metric
    spread = seed_spread(cfg)
    sign = 1.0 if cfg.search.mode == "max" else -1.0
    others: dict[str, ModelScores] = dict(references)
    soup = tuned.soup
    if soup:  # the soup against its ingredients: the best of them, and all of them averaged
        for who in ("best_single", "uniform_soup"):
            others[who] = ModelScores.from_dict(soup[who])
        spread = {("best_single" if k == "tuned" else k): v for k, v in spread.items()}
    rows: dict[str, list[float | None]] = {}
    for who, scored in {**others, "tuned": tuned}.items():
        search_val = None if who == "tuned" and soup else search_value(results, who)
        test = scored.score("test", metric)
        drop = None if search_val is None or test is None else sign * (search_val - test)
        rows[label_of(who, soup)] = [
            search_val,
            scored.score("validation", metric),
            test,
            drop,
            spread.get(who),
        ]
    claims = [claim(cfg, who, others[who], tuned) for who in others]
    notes = [values_note(who, references[who]) for who in references]
    notes += curse_notes(cfg, rows, results, tuned)
    return Answer(metric, rows, [c for c in claims if c[0]], [n for n in notes if n])


def label_of(who: str, soup: Any = None) -> str:
    """The answer's name for model ``who`` (a reference, a soup's ingredient, ``tuned``)."""
    if who == "tuned":
        return "tuned (greedy soup)" if soup else "tuned"
    return REFERENCE_LABELS.get(who, who)


def search_value(results: SearchResults | None, who: str) -> float | None:
    """The search's own validation score of model ``who`` (the best trial for ``tuned`` and
    ``best_single``; none for a soup, which never ran in the search)."""
    if results is None or results.finished.empty or who == "uniform_soup":
        return None
    row = results.best_row() if who in ("tuned", "best_single") else results.reference_row(who)
    if row is None or pd.isna(row[OBJECTIVE]):
        return None
    return float(row[OBJECTIVE])


def claim(
    cfg: ExperimentConfig, who: str, reference: ModelScores, tuned: ModelScores
) -> tuple[str, str]:
    """One sentence: whether the tuned model is better than, not distinguishable from, or
    worse than reference ``who``, decided by the 95% interval of the difference on the test
    split (validation without one), with both parts of the interval named."""
    label = REFERENCE_LABELS.get(who, who)
    if reference.extra.get("same_as_tuned"):
        return f"the search chose the values of the {label}: the tuned model is that model", ""
    comparisons = tuned.comparisons.get(who, {})
    split = "test" if "test" in comparisons else "validation"
    entry = comparisons.get(split)
    where = "test split (never seen by the search)" if split == "test" else "validation split"
    if entry is None:
        return point_claim(cfg, label, reference, tuned), ""
    metric = cfg.search.metric
    d = entry[metric]
    relation = {"better": "better than", "worse": "worse than"}.get(
        d["verdict"], "not distinguishable from"
    )
    parts = f"resampling its {d['n']} rows"
    if d.get("seed_sd"):
        parts += f" (sd {d['bootstrap_sd']:.4f}) and the training seed (sd {d['seed_sd']:.4f})"
    text = (
        f"the tuned model is {relation} the {label} on the {where}: {metric} "
        f"{interval(d)} (95% interval from {parts})"
    )
    detail = []
    if "accuracy" in entry and metric != "accuracy":
        detail.append(f"accuracy {interval(entry['accuracy'])}")
    test = entry.get("mcnemar")
    if test is not None:
        detail.append(
            f"exact McNemar p={test['p_value']:.3g} ({test['only_model_right']} rows only the "
            f"tuned model gets right, {test['only_reference_right']} only the {label})"
        )
    return text, "; ".join(detail)


def interval(d: dict[str, Any]) -> str:
    """``+0.0990 [+0.0410, +0.1580]``."""
    return f"{d['value']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def point_claim(
    cfg: ExperimentConfig, label: str, reference: ModelScores, tuned: ModelScores
) -> str:
    """The difference alone, for a model folder written before the intervals: it says no more
    than how far apart the two scores are."""
    metric = cfg.search.metric
    split = tuned.splits[-1]
    ours, theirs = tuned.score(split, metric), reference.score(split, metric)
    if ours is None or theirs is None:
        return ""
    gain = ours - theirs if cfg.search.mode == "max" else theirs - ours
    return (
        f"the tuned model scored {gain:+.4f} {metric} against the {label} on the {split} split "
        "(no interval: refit again to compute one)"
    )


def values_note(who: str, reference: ModelScores) -> str:
    """Which values reference ``who`` trained with and where each came from."""
    values = reference.extra.get("values")
    if not values:
        return ""
    parts = []
    for key, entry in values.items():
        text = f"{key}={plain(entry['value'])} ({entry['source']}"
        if "trainer_default" in entry and entry["source"] != "the Trainer's default":
            text += f"; the Trainer's {plain(entry['trainer_default'])}"
        parts.append(text + ")")
    return f"{REFERENCE_LABELS.get(who, who)}: " + ", ".join(parts)


def curse_notes(
    cfg: ExperimentConfig,
    rows: dict[str, list[float | None]],
    results: SearchResults | None,
    tuned: ModelScores,
) -> list[str]:
    """The winner's curse, shown: how much each model lost from the search's validation score
    to the test split (the winner was picked on validation, so it loses more), and how many
    trials lie within one validation standard error of the best (their order is noise)."""
    drops = {who: cells[3] for who, cells in rows.items() if cells[3] is not None}
    notes = []
    winner = "best single trial" if "best single trial" in drops else "tuned"
    if winner in drops:
        others = "; ".join(f"{who} {d:+.4f}" for who, d in drops.items() if who != winner)
        notes.append(
            f"winner's curse: from the search's validation score to test the {winner} model, "
            f"picked on validation, drops {drops[winner]:+.4f}" + (f" ({others})" if others else "")
        )
    if tuned.soup:
        notes.append("the soup's validation score is optimistic: its ingredients were chosen there")
    se = tuned.validation_se.get(cfg.search.metric)
    if se is not None and results is not None and not results.finished.empty:
        best = float(results.best_row()[OBJECTIVE])
        close = int((results.finished[OBJECTIVE].sub(best).abs() <= se).sum())
        n = next(
            (
                c["validation"][cfg.search.metric]["n"]
                for c in tuned.comparisons.values()
                if "validation" in c
            ),
            None,
        )
        size = f", {n} rows" if n else ""
        tied = close - 1
        notes.append(
            (f"{tied} other trial{'s' if tied != 1 else ''}" if tied else "no other trial")
            + f" within one validation standard error ({se:.4f}{size}) of the best"
            + (": the order among them is noise" if tied else "")
        )
    return notes


def baseline_against_tuned(cfg: ExperimentConfig, results: SearchResults | None = None) -> str:
    """``answer`` as lines of text (empty before a refit that scored a reference)."""
    found = answer(cfg, results)
    if found is None:
        return ""
    lines = [
        f"the references (no search) against the tuned model, {found.metric}:",
        "  " + " " * 22 + "".join(f"{h:>15}" for h in ANSWER_COLUMNS),
    ]
    for label, cells in found.rows.items():
        text = "".join(f"{c:>15.4f}" if c is not None else f"{'-':>15}" for c in cells)
        lines.append(f"  {label:<22}{text}")
    for text, detail in found.claims:
        lines += [f"  {text}"] + ([f"    {detail}"] if detail else [])
    lines += [f"  {n}" for n in found.notes]
    return "\n".join(lines) + "\n"


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
            f"({row[TRAIN_EXAMPLES]:.0f} ex): {metric} {row[metric]:.4f}, "
            f"accuracy {row[eval_key('accuracy')]:.4f}, {row[TRAINABLE_PARAMS]:,.0f} trainable "
            f"parameters, {row[TRAIN_SECONDS]:.1f} s training{setting}"
        )
    return "\n".join(lines) + "\n"
