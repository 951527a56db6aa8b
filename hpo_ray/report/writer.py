"""The one report writer: an experiment folder -> CSVs, PNGs, best params, summary.txt and the
SQLite study, under ``hpo_artifacts/`` (a search) or ``ofat_artifacts/`` (an OFAT sweep).

Works on a finished or interrupted experiment folder alone (``hpo-ray report``).

Example::

    out = write_report("ray_results/demo")   # ray_results/demo/hpo_artifacts
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from hpo_ray.config.formats import EPOCH
from hpo_ray.config.schema import OBJECTIVE, ExperimentConfig
from hpo_ray.layout import (
    BEST_PARAMS,
    COMPARISON_CSV,
    OFAT_ARTIFACTS,
    OFAT_CSV,
    RESEED_CSV,
    SEARCH_ARTIFACTS,
    STUDY_FILE,
    SUMMARY,
    TRIALS_CSV,
    is_ofat,
)
from hpo_ray.report.html import ofat_table, write_html
from hpo_ray.report.ofat_plots import plot_ofat_overview, plot_ofat_param
from hpo_ray.report.plots import (
    plot_history,
    plot_importances,
    plot_learning_curves,
    plot_metrics_vs_param,
    plot_param_efficiency,
    plot_reseed,
    plot_tradeoff,
    plot_train_size,
)
from hpo_ray.report.population_plots import (
    kept_schedule,
    plot_population,
    plot_schedule,
    population_lines,
)
from hpo_ray.report.summary import (
    comparison_summary,
    final_scores,
    ofat_summary,
    reseed_summary,
    search_summary,
)
from hpo_ray.report.trial_plots import draw_best_trial_plots
from hpo_ray.results.compare import comparison_table
from hpo_ray.results.cost import search_cost
from hpo_ray.results.ofat import OfatResults
from hpo_ray.results.reseed import reseed_table
from hpo_ray.results.trials import SearchResults
from hpo_ray.storage import replacing, write_file
from hpo_ray.tuning.schedulers import is_population
from hpo_ray.tuning.study import add_trial, open_study

if TYPE_CHECKING:
    import optuna

STUDY_STATES = {
    "completed": "complete",
    "patience_stop": "complete",
    "scheduler_stop": "pruned",
    "not_evaluated": "pruned",
    "failed": "fail",
}
"""How a trial's status reaches the SQLite study (running and pending ones are added later)."""


def preload() -> None:
    """Import what the report draws and stores with (matplotlib, Optuna's SQLite storage), so
    the end of a run does not wait for it: called in a background thread while trials run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import optuna.storages  # noqa: F401


@dataclass(frozen=True)
class Report:
    """A drawn report (CSVs, plots, the study mirror) and what its summary.txt and
    report.html say above the cost: ``write_text`` composes both from these values and the
    cost read when it is called, so the summary and the page never disagree."""

    exp_dir: Path
    folder: Path
    """``hpo_artifacts/`` or ``ofat_artifacts/``."""
    cfg: ExperimentConfig
    body: str
    """The summary above the cost lines (the trials, the references, reseeding, ...)."""
    results: SearchResults | None
    best: float | None
    """The best trial's objective (None for an OFAT sweep or no finished trial)."""
    page: dict[str, Any] = field(default_factory=dict)
    """More arguments of ``write_html`` (an OFAT sweep's table and kind)."""


def write_report(exp_dir: str | Path, *, final: bool = True) -> Path:
    """Write the report of a search or an OFAT sweep; returns its folder.

    ``final`` adds the refit model's scores (pass False when a refit is about to replace them).
    """
    return build_report(exp_dir, final=final).folder


def build_report(exp_dir: str | Path, *, final: bool = True) -> Report:
    """Draw the report of a search or an OFAT sweep and write its text (``write_text``);
    after a refit, ``write_text(report, final=True)`` writes the text again, whole."""
    exp_dir = Path(exp_dir).resolve()
    report = draw_ofat_report(exp_dir) if is_ofat(exp_dir) else draw_search_report(exp_dir)
    write_text(report, final=final)
    return report


def write_text(report: Report, *, final: bool) -> str:
    """summary.txt and report.html from ``report`` and the cost as the folders are now (the
    saved model's size included); ``final`` adds the refit model's scores. Returns the text."""
    cost = search_cost(report.results) if report.results is not None else None
    text = report.body + ("\n".join(cost.lines()) + "\n" if cost is not None else "")
    text += final_scores(report.cfg, report.best, report.results) if final else ""
    write_file(report.folder / SUMMARY, text)
    write_html(
        report.exp_dir,
        report.cfg,
        report.folder,
        text,
        results=report.results,
        cost=cost,
        **report.page,
    )
    return text


def draw_search_report(exp_dir: Path) -> Report:
    """hpo_trials.csv, best_params.yaml, plots and the SQLite study of a search."""
    results = SearchResults.load(exp_dir)
    out = exp_dir / SEARCH_ARTIFACTS
    out.mkdir(parents=True, exist_ok=True)
    atomic_csv(results.frame, out / TRIALS_CSV)
    notes = []
    study = sync_study(results, exp_dir / STUDY_FILE)
    best = None
    if not results.finished.empty:
        write_yaml(results.best_params(), out / BEST_PARAMS)
        space = results.cfg.search.space
        for name in space:
            plot_metrics_vs_param(
                results.finished, name, space[name], out / f"metrics_vs_{name}.png"
            )
        plot_history(results.finished, results.cfg.search.mode, out / "optimization_history.png")
        notes.append(plot_importances(study, out / "param_importances.png"))
        draw_best_trial_plots(results, exp_dir, results.cfg.run.trial_plots)
        if is_population(results.cfg):
            plot_population(results, out / "population.png")
            segments, epochs = kept_schedule(results, str(results.best_row()["trial_id"]))
            if segments:
                plot_schedule(segments, epochs, out / "winner_schedule.png")
        curves = learning_curves(results)
        if not curves.empty:
            metric = results.cfg.search.metric
            plot_learning_curves(curves, metric, out / "learning_curves.png")
        best = float(results.best_row()[OBJECTIVE])
    body = search_summary(results) + "".join(n for n in notes if n)
    body += "".join(f"{line}\n" for line in population_lines(results))
    body += write_reseed_report(results.cfg, out) + write_comparison(results, out)
    return Report(exp_dir, out, results.cfg, body, results, best)


def draw_ofat_report(exp_dir: Path) -> Report:
    """ofat_results.csv, per-parameter grayscale plots, the overview, best params."""
    results = OfatResults.load(exp_dir)
    out = exp_dir / OFAT_ARTIFACTS
    out.mkdir(parents=True, exist_ok=True)
    atomic_csv(results.table, out / OFAT_CSV)
    base = results.cfg.base_params()
    for param, group in results.table.groupby("param", sort=False):
        name = str(param)
        plot_ofat_param(group, name, base[name], out / f"{name}_metrics_bw.png")
    plot_ofat_overview(results.table, results.sensitivity(), out / "ofat_overview.png")
    if results.trials is not None and not results.trials.finished.empty:
        write_yaml(results.trials.best_params(), out / BEST_PARAMS)
        draw_best_trial_plots(results.trials, exp_dir, results.cfg.run.trial_plots)
    page = {"table": ofat_table(results.table), "kind": "one factor at a time"}
    return Report(exp_dir, out, results.cfg, ofat_summary(results), results.trials, None, page)


LEARNING_CURVE_TRIALS = 5


def learning_curves(results: SearchResults) -> pd.DataFrame:
    """Validation metric per epoch of the ``LEARNING_CURVE_TRIALS`` best trials and the
    baseline: columns ``label``, ``epoch``, ``value``, ``baseline``."""
    key = results.cfg.search.tune_metric
    picked = list(results.ranked()["trial_id"][:LEARNING_CURVE_TRIALS])
    base = results.baseline_row()
    if base is not None and base["trial_id"] not in picked:
        picked.append(base["trial_id"])
    numbers = dict(zip(results.frame["trial_id"], results.frame["trial"], strict=True))
    parts = []
    for trial_id in picked:
        hist = results.history.get(trial_id)
        if hist is None or hist.empty or key not in hist or EPOCH not in hist:
            continue
        is_base = base is not None and trial_id == base["trial_id"]
        label = f"trial {numbers[trial_id]}" + (" (baseline)" if is_base else "")
        parts.append(
            pd.DataFrame(
                {"label": label, EPOCH: hist[EPOCH], "value": hist[key], "baseline": is_base}
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def write_reseed_report(cfg: ExperimentConfig, out: Path) -> str:
    """reseed.csv and reseed.png in ``out``; returns lines for the summary."""
    table = reseed_table(cfg)
    if table is None:
        return ""
    atomic_csv(table, out / RESEED_CSV)
    plot_reseed(table, cfg.search.metric, out / "reseed.png")
    return reseed_summary(cfg, table)


def write_comparison(results: SearchResults, out: Path) -> str:
    """comparison.csv and the three plots in ``out``; returns lines for the summary."""
    table = comparison_table(results)
    if table is None:
        return ""
    metric = results.cfg.search.tune_metric
    atomic_csv(table, out / COMPARISON_CSV)
    shown = table[table["best_at_point"]]
    plot_train_size(shown, metric, out / "compare_train_size.png")
    plot_param_efficiency(shown, out / "compare_param_efficiency.png")
    plot_tradeoff(shown, metric, out / "compare_tradeoff.png")
    return comparison_summary(results, shown)


def sync_study(results: SearchResults, db_path: Path) -> optuna.Study:
    """Rewrite the SQLite study from ``results``: every ended trial, in the trial table's order,
    so the study's trial numbers are the table's (the live mirror stores trials in the order
    they end) and its states are the table's (a trial the scheduler cut is PRUNED)."""
    # The file is a mirror made from the folder: written anew (one storage opened, not three).
    db_path.unlink(missing_ok=True)
    study = open_study(db_path, results.cfg)
    known: set[str] = set()
    for _, row in results.frame.iterrows():
        state = STUDY_STATES.get(row["status"])
        if state is None:
            continue  # still running or pending: added when it ends
        hist = results.history.get(row["trial_id"])
        curve = [] if hist is None or OBJECTIVE not in hist else hist[OBJECTIVE].tolist()
        params = results.overrides.get(row["trial_id"], {})
        add_trial(study, results.cfg, row["trial_id"], params, curve, state, known)
    return study


def write_yaml(data: dict, path: Path) -> None:
    write_file(path, yaml.safe_dump(data, sort_keys=False))


def atomic_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV so that a crash mid-write never leaves a truncated file behind."""
    with replacing(path) as tmp:
        frame.to_csv(tmp, index=False)
