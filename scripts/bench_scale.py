"""Scale benchmark: many trials of a trivial trainable through hpo_ray's real search path.

What grows with the number of trials when training costs nothing? Each size runs in a fresh
subprocess ``hpo_ray.workflows.search.run_experiment`` itself, with the benchmark's trivial
trainable in place of the HF one (its ``trainable=`` argument: no data, no model, no refit):
the validated config (Optuna TPE, ASHA, a 3-parameter space: learning_rate, weight_decay,
warmup_ratio; 3 epochs), inside ``ray_session`` (private local Ray, 2 CPUs, no dashboard),
the run's checks, lock and folder files, the Tuner (same searcher, scheduler, StudyMirror
callback, checkpoint policy, reuse_actors, resources), then the report (trial CSV, plots,
summary, SQLite Optuna study). A Tune callback marks where the fit began and ended.

The trivial trainable reports 3 evaluations of a smooth synthetic objective of its config with
every key the report path reads (objective, eval_f1/accuracy/macro_f1/loss, epoch, step,
train_done, node_id, trainable_params on the last one) and, like the HF trainable with
``run.checkpoint: model``, a small checkpoint (``--checkpoint-kb``) with every non-final
report. No model, no data, no sleep: what is measured is Tune + hpo_ray overhead.

Per size: whole wall (subprocess start to exit), fit wall, report wall (fit end to the run's
return: the report, drawn as the run draws it), wall per trial, driver
peak RSS (``ru_maxrss`` of the driver), peak RSS of the driver's whole process tree (raylet,
GCS, workers; psutil sampling every 0.5 s), experiment folder size and file count.

Verdict: for each metric, the marginal cost per trial between consecutive sizes (differences
remove fixed costs such as Ray start-up and imports). Linear growth keeps it flat; a metric is
flagged as superlinear when the last segment's marginal cost exceeds the first segment's by
more than ``--tolerance`` (default 1.3) AND the excess is material (more than 5% of the
metric's total at the largest size). Why 1.3: marginal costs are differences of two runs, each
with ~10% run-to-run noise on a shared 2-core machine, so they carry roughly +-15-20% noise; 1.3
is above that, while a real quadratic term worth fixing (30% more per trial at the largest size)
still shows. With only two sizes there is one segment: the per-trial ratio (largest / smallest)
is compared with the tolerance instead (fixed costs keep it below 1 when growth is linear).

Usage (repo root, venv active):
  python scripts/bench_scale.py --trials 16,64,256 --out bench_scale.json
  python scripts/bench_scale.py --trials 4,8 --root /tmp/scale --keep   # smoke size
Options: --cpus 2, --tolerance 1.3, --checkpoint-kb 4 (0: run.checkpoint none), --keep (keep
the experiment folders under --root; default: a temp folder, deleted at the end), --address
(default local: a private Ray per size; a cluster address joins that cluster instead, which is
what the smoke test does to skip Ray start-up).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:  # loaded from elsewhere (the tests import it)
    sys.path.insert(0, str(SCRIPTS))
from benchlib import (  # noqa: E402 - shared by the benchmark scripts
    build_config,
    child_env,
    experiment_raw,
    own_peak_rss,
    run_child,
    trial_statuses,
)

EPOCHS = 3
STEPS_PER_EPOCH = 25
SPACE = {
    "learning_rate": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True},
    "weight_decay": {"type": "float", "low": 0.0, "high": 0.3},
    "warmup_ratio": {"type": "float", "low": 0.0, "high": 0.3},
}
TOLERANCE = 1.3
MATERIAL = 0.05
"""A superlinear excess smaller than this share of the metric's total is not flagged."""
METRICS = (
    "whole_s",
    "fit_s",
    "report_s",
    "driver_peak_rss_mb",
    "tree_peak_rss_mb",
    "exp_mb",
    "exp_files",
)


# ---------------------------------------------------------------------------------------------
# The trivial trainable (runs in Ray workers; pickled by value from __main__)


def synthetic_f1(config: dict[str, Any], epoch: int) -> float:
    """A smooth score in (0, 1): best near lr 3e-4, weight decay 0.05, warmup 0.1."""
    lr = float(config.get("learning_rate", 3e-4))
    wd = float(config.get("weight_decay", 0.05))
    wr = float(config.get("warmup_ratio", 0.1))
    peak = 0.92 - 0.06 * (math.log10(lr) - math.log10(3e-4)) ** 2
    peak -= 0.4 * (wd - 0.05) ** 2 + 0.5 * (wr - 0.1) ** 2
    learning = 1.0 - 0.35 * 0.5 ** (epoch - 1)
    return max(0.05, min(0.99, peak * learning))


def trivial_trainable(config: dict[str, Any], checkpoint_kb: int = 0) -> None:
    """Three evaluations of ``synthetic_f1``, reported as the HF trainable reports them (a
    ``TrialReport``); with ``checkpoint_kb`` a checkpoint of that size with each non-final one."""
    import ray
    from ray import tune

    from hpo_ray.config.formats import TrialReport, eval_key

    node = str(ray.get_runtime_context().get_node_id())
    best = -math.inf
    for epoch in range(1, EPOCHS + 1):
        f1 = synthetic_f1(config, epoch)
        best = max(best, f1)
        done = epoch == EPOCHS
        scores = {
            eval_key("loss"): 1.0 - f1 + 0.1,
            eval_key("accuracy"): min(1.0, f1 + 0.01),
            eval_key("f1"): f1,
            eval_key("macro_f1"): f1 - 0.005,
            eval_key("runtime"): 0.01,
            eval_key("samples_per_second"): 1000.0,
            eval_key("steps_per_second"): 100.0,
        }
        result = TrialReport(
            scores=scores,
            objective=best,
            train_done=done,
            epoch=float(epoch),
            step=epoch * STEPS_PER_EPOCH,
            node_id=node,
            trainable_params=1000 if done else None,
        ).as_result()
        if done or checkpoint_kb <= 0:
            tune.report(result)
            continue
        folder = tempfile.mkdtemp(prefix="scale-ckpt-")
        try:
            Path(folder, "model.safetensors").write_bytes(b"\0" * (checkpoint_kb * 1024))
            Path(folder, "trainer_state.json").write_text(json.dumps({"global_step": epoch}))
            tune.report(result, checkpoint=tune.Checkpoint.from_directory(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# One size (child process)


def scale_config(n: int, root: Path, checkpoint_kb: int) -> Any:
    """The validated config of one size: Optuna TPE + ASHA over SPACE, outputs in ``root``."""
    raw = experiment_raw(
        root,
        training={"num_train_epochs": EPOCHS, "early_stopping_patience": 0},
        search={
            "metric": "f1",
            "searcher": "optuna",
            "scheduler": "asha",
            "grace_period": 1,
            "reduction_factor": 2,
            "num_samples": n,
            "seed": 0,
            "space": SPACE,
        },
        run={
            "name": f"scale{n}",
            "checkpoint": "model" if checkpoint_kb > 0 else "none",
            "refit": False,
        },
    )
    return build_config(raw)


def folder_stats(exp: Path) -> dict[str, Any]:
    """Bytes and files in the experiment folder, split into trials, artifacts, study, rest."""
    from hpo_ray.layout import SEARCH_ARTIFACTS, STUDY_FILE, trial_dir_name

    parts = {"trials": 0, "artifacts": 0, "study_db": 0, "other": 0}
    files = 0
    for path in exp.rglob("*"):
        if not path.is_file():
            continue
        files += 1
        size = path.stat().st_size
        top = path.relative_to(exp).parts[0]
        if top.startswith(trial_dir_name("")):
            parts["trials"] += size
        elif top == SEARCH_ARTIFACTS:
            parts["artifacts"] += size
        elif top.startswith(STUDY_FILE):  # with SQLite's -journal / -wal files
            parts["study_db"] += size
        else:
            parts["other"] += size
    return {
        "exp_mb": sum(parts.values()) / 1e6,
        "exp_files": files,
        "mb_by_part": {k: v / 1e6 for k, v in parts.items()},
    }


def run_one(
    n: int, root: Path, cpus: int, checkpoint_kb: int, address: str = "local"
) -> dict[str, Any]:
    """``run_experiment`` of ``n`` stand-in trials in this process; the timings and what it
    left.

    ``address`` other than ``local`` joins that Ray cluster instead of starting one (and
    ``cpus`` is the cluster's business); a Ray already initialised in this process is reused.
    """
    t0 = time.perf_counter()
    import pandas as pd
    from ray import tune

    from hpo_ray.config.formats import OBJECTIVE
    from hpo_ray.layout import SEARCH_ARTIFACTS, STUDY_FILE, TRIALS_CSV
    from hpo_ray.tuning.kinds import Kind
    from hpo_ray.tuning.plan import search_plan
    from hpo_ray.tuning.runner import ray_session, run_callbacks
    from hpo_ray.workflows.search import run_experiment

    class FitClock(tune.Callback):  # type: ignore[misc]
        """When the Tuner's fit began and ended (Tune calls it in this process)."""

        began = ended = math.nan

        def setup(self, **info: Any) -> None:
            self.began = time.perf_counter()

        def on_experiment_end(self, trials: Any, **info: Any) -> None:
            self.ended = time.perf_counter()

    cfg = scale_config(n, root, checkpoint_kb)
    exp = cfg.experiment_dir
    out: dict[str, Any] = {"trials": n, "import_s": time.perf_counter() - t0}
    ray_tmp = Path(tempfile.mkdtemp(prefix="hpo-scale-ray-", dir="/tmp"))
    clock = FitClock()
    try:
        t = time.perf_counter()
        private = {"num_cpus": cpus, "_temp_dir": str(ray_tmp)} if address == "local" else {}
        with ray_session(address, False, **private):
            out["ray_start_s"] = time.perf_counter() - t
            t = time.perf_counter()
            run_experiment(
                cfg,
                search_plan,
                callbacks=[*run_callbacks(cfg, Kind.SEARCH), clock],
                trainable=tune.with_parameters(trivial_trainable, checkpoint_kb=checkpoint_kb),
            )
            done = time.perf_counter()
            out["before_fit_s"] = clock.began - t  # checks, the folder's files
            out["fit_s"] = clock.ended - clock.began
            out["report_s"] = done - clock.ended  # the report (trials CSV, plots, study)
            t = time.perf_counter()
        out["ray_shutdown_s"] = time.perf_counter() - t
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    out["child_total_s"] = time.perf_counter() - t0
    out.update(own_peak_rss())
    table = pd.read_csv(exp / SEARCH_ARTIFACTS / TRIALS_CSV)
    out["csv_rows"] = len(table)
    out["statuses"] = trial_statuses(exp)
    out["best_objective"] = float(table[OBJECTIVE].max())
    with sqlite3.connect(exp / STUDY_FILE) as db:
        out["study_trials"] = int(db.execute("select count(*) from trials").fetchone()[0])
    out.update(folder_stats(exp))
    return out


# ---------------------------------------------------------------------------------------------
# The driver of the benchmark (parent process)


def run_size(
    n: int, root: Path, cpus: int, checkpoint_kb: int, address: str = "local"
) -> dict[str, Any]:
    """Run one size in a fresh subprocess; its own figures plus whole wall and tree RSS."""
    result = root / f"scale{n}.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--one",
        str(n),
        "--root",
        str(root),
        "--cpus",
        str(cpus),
        "--checkpoint-kb",
        str(checkpoint_kb),
        "--result",
        str(result),
        "--address",
        address,
    ]
    child = run_child(
        cmd,
        env=child_env(drop=("RAY_ADDRESS",)),
        log=root / f"scale{n}.log",
        result=result,
        what=f"size {n}",
    )
    out = dict(child.result or {})
    whole = out["whole_s"] = child.wall_s
    out["tree_peak_rss_mb"] = child.tree_peak_rss_mb
    out["whole_s_per_trial"] = whole / n
    out["fit_s_per_trial"] = out["fit_s"] / n
    out["report_s_per_trial"] = out["report_s"] / n
    out["exp_kb_per_trial"] = out["exp_mb"] * 1e3 / n
    out["exp_files_per_trial"] = out["exp_files"] / n
    return out


def verdict(sizes: dict[int, dict[str, Any]], tolerance: float) -> dict[str, Any]:
    """Per metric: per-trial ratio (largest/smallest), marginal costs, superlinear flag."""
    ns = sorted(sizes)
    if len(ns) < 2:
        return {
            "tolerance": tolerance,
            "method": "one size: no verdict (give two sizes or more)",
            "superlinear": [],
            "linear_or_better": None,
        }
    per_metric: dict[str, Any] = {}
    for name in METRICS:
        values = [float(sizes[n][name]) for n in ns]
        per_trial_ratio = (values[-1] / ns[-1]) / (values[0] / ns[0]) if values[0] else math.nan
        marginal = [(values[i + 1] - values[i]) / (ns[i + 1] - ns[i]) for i in range(len(ns) - 1)]
        entry: dict[str, Any] = {
            "values": dict(zip(map(str, ns), values, strict=True)),
            "per_trial_ratio_largest_to_smallest": per_trial_ratio,
            "marginal_per_trial": marginal,
        }
        if len(marginal) >= 2:
            first, last = marginal[0], marginal[-1]
            excess = (last - first) * (ns[-1] - ns[-2])
            growth = last / first if first > 0 else math.inf if last > 0 else 1.0
            entry["marginal_growth_last_to_first"] = growth
            entry["excess_share_of_total"] = excess / values[-1] if values[-1] else 0.0
            entry["superlinear"] = bool(growth > tolerance and excess > MATERIAL * abs(values[-1]))
        else:
            entry["superlinear"] = bool(per_trial_ratio > tolerance)
        per_metric[name] = entry
    flagged = [k for k, v in per_metric.items() if v["superlinear"]]
    return {
        "tolerance": tolerance,
        "material_share": MATERIAL,
        "method": "marginal cost per trial, last segment vs first"
        if len(ns) >= 3
        else "per-trial ratio, largest vs smallest size",
        "metrics": per_metric,
        "superlinear": flagged,
        "linear_or_better": not flagged,
    }


def bench(
    trials: list[int],
    root: Path,
    *,
    cpus: int = 2,
    checkpoint_kb: int = 4,
    tolerance: float = TOLERANCE,
    address: str = "local",
) -> dict[str, Any]:
    """Every size in its own subprocess (smallest first), then the verdict."""
    sizes: dict[int, dict[str, Any]] = {}
    for n in sorted(trials):
        print(f"[scale] {n} trials ...", flush=True)
        sizes[n] = run_size(n, root, cpus, checkpoint_kb, address)
        s = sizes[n]
        print(
            f"[scale] {n:>4} trials: whole {s['whole_s']:.1f}s fit {s['fit_s']:.1f}s "
            f"report {s['report_s']:.1f}s | {s['whole_s_per_trial']:.2f}s/trial | driver "
            f"{s['driver_peak_rss_mb']:.0f}MB tree {s['tree_peak_rss_mb']:.0f}MB | "
            f"{s['exp_mb']:.1f}MB {s['exp_files']} files | {s['statuses']}",
            flush=True,
        )
    return {
        "setup": {
            "cpus": cpus,
            "address": address,
            "checkpoint_kb": checkpoint_kb,
            "epochs_per_trial": EPOCHS,
            "space": SPACE,
            "searcher": "optuna",
            "scheduler": "asha",
        },
        "sizes": {str(n): v for n, v in sizes.items()},
        "verdict": verdict(sizes, tolerance),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", default="16,64,256", help="comma-separated sizes")
    parser.add_argument("--out", default="bench_scale.json")
    parser.add_argument("--root", help="work folder (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the experiment folders")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--checkpoint-kb", type=int, default=4)
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    parser.add_argument(
        "--address",
        default="local",
        help="Ray to use: local (a private one per size, the default) or a cluster address",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        out = run_one(args.one, Path(args.root), args.cpus, args.checkpoint_kb, args.address)
        Path(args.result).write_text(json.dumps(out, indent=2))
        return 0
    trials = [int(x) for x in args.trials.split(",") if x.strip()]
    root = Path(args.root or tempfile.mkdtemp(prefix="hpo-bench-scale-")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    try:
        report = bench(
            trials,
            root,
            cpus=args.cpus,
            checkpoint_kb=args.checkpoint_kb,
            tolerance=args.tolerance,
            address=args.address,
        )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    v = report["verdict"]
    for name, m in v.get("metrics", {}).items():
        growth = m.get("marginal_growth_last_to_first")
        print(
            f"[scale] {name:<20} per-trial ratio largest/smallest "
            f"{m['per_trial_ratio_largest_to_smallest']:.2f}"
            + (f"  marginal growth last/first {growth:.2f}" if growth is not None else "")
            + ("  SUPERLINEAR" if m["superlinear"] else "")
        )
    print(json.dumps({k: v[k] for k in ("method", "superlinear", "linear_or_better")}, indent=2))
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
