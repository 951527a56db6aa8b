"""Start and tail benchmark: how long `hpo-ray search` takes to start training, and to exit.

Runs the real command (``python -m hpo_ray.cli search CONFIG``, whichever hpo_ray ``--code``
points at: a frozen worktree of any commit) on a tiny random-init BERT (scripts/tiny_models.py,
2 layers, hidden 32, WordPiece vocabulary trained on the corpus), 400 rows of the demo corpus,
2 one-epoch trials side by side, no refit, the token cache warm (one untimed run first). Per
run, from the run's own files (no hooks in hpo_ray):

- ``to_first_step_s``: command start -> the first training step of any trial (the wall time
  of the first ``train/loss`` event in the trials' TensorBoard files; ``logging_steps: 1``);
- ``tail_s``: the last event of any trial (its final evaluation) -> the command's exit;
- ``phases``: command start -> Ray's session folder made (imports, checks, data read); ->
  the first trial folder made (Ray's start, tokenizing, the Tuner); -> the first step (the
  worker's start, imports, data fetch, model). With ``--address auto`` Ray was started before
  the command (``ray start --head``), so the first phase is not measured.

Usage (from the repo root; --code defaults to this checkout)::

  python scripts/bench_start.py --out start.json --runs 3
  python scripts/bench_start.py --out start_auto.json --runs 3 --address auto
  python scripts/bench_start.py --code /tmp/wt-old --out start_old.json --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:  # loaded from elsewhere
    sys.path.insert(0, str(SCRIPTS))
from benchlib import (  # noqa: E402 - shared by the benchmark scripts
    DEMO_CSV,
    REPO,
    RESULTS_DIR,
    child_env,
    event_files,
    experiment_raw,
    run_child,
    scalar_events,
    tiny_bert,
    trial_folders,
    write_yaml,
)


def write_config(work: Path, csv: Path, model: Path) -> Path:
    """The run's config (400 rows, 2 one-epoch trials, a loss event every step) as YAML."""
    raw = experiment_raw(
        work,
        data={"path": str(csv), "max_rows": 400, "validation_size": 0.2, "max_length": 64},
        model=str(model),
        training={
            "num_train_epochs": 1,
            "per_device_train_batch_size": 16,
            "early_stopping_patience": 0,
            "logging_steps": 1,
        },
        search={
            "searcher": "random",
            "scheduler": "none",
            "num_samples": 2,
            "space": {"learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True}},
        },
        run={"verbose": 0},
    )
    return write_yaml(raw, work / "start.yaml")


def event_times(exp: Path) -> tuple[float, float]:
    """(first ``train/loss`` event, last event of any tag) over every trial's TensorBoard file."""
    firsts, lasts = [], []
    for trial in trial_folders(exp):
        for path in event_files(trial):
            scalars = scalar_events(path)
            if "train/loss" in scalars:
                firsts.append(min(e.wall_time for e in scalars["train/loss"]))
            lasts += [max(e.wall_time for e in events) for events in scalars.values() if events]
    return min(firsts), max(lasts)


def one_run(
    code: Path, config: Path, name: str, env: dict[str, str], address: str | None
) -> tuple[float, float]:
    """One ``hpo-ray search`` of ``code``'s hpo_ray: its start and end (Unix time)."""
    args = [sys.executable, "-m", "hpo_ray.cli", "search", str(config), f"run.name={name}"]
    args += ["--no-refit"] + (["--address", address] if address else [])  # after: older CLIs
    log = config.with_name(f"{name}.log")
    done = run_child(args, env=env, log=log, what=f"run {name}", sample_tree=False, cwd=code)
    return done.started_unix, done.started_unix + done.wall_s


def measure(code: Path, work: Path, runs: int, address: str | None) -> dict[str, Any]:
    csv = DEMO_CSV
    config = write_config(work, csv, tiny_bert(csv, work / "model"))
    env = child_env(drop=("RAY_ADDRESS",), offline=False, PYTHONPATH=str(code))
    if address:
        subprocess.run(
            ["ray", "start", "--head", "--num-cpus", "2", "--include-dashboard", "false"],
            check=True,
            env=env,
            capture_output=True,
        )
    rows = []
    try:
        one_run(code, config, "warm-cache", env, address)  # untimed: fills the token cache
        for i in range(runs):
            name = f"run{i}"
            ray_tmp = work / f"ray-{i}"
            ray_tmp.mkdir()
            start, end = one_run(code, config, name, {**env, "RAY_TMPDIR": str(ray_tmp)}, address)
            exp = work / RESULTS_DIR / name
            first_step, last_event = event_times(exp)
            trial_made = min((t / "params.json").stat().st_mtime for t in trial_folders(exp))
            row: dict[str, Any] = {
                "wall_s": end - start,
                "to_first_step_s": first_step - start,
                "tail_s": end - last_event,
                "to_first_trial_s": trial_made - start,
            }
            sessions = sorted(ray_tmp.rglob("session_2*"))
            if sessions and not address:
                row["to_ray_session_s"] = sessions[0].stat().st_ctime - start
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if address:
            subprocess.run(["ray", "stop", "--force"], env=env, capture_output=True)
    medians = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    return {"code": str(code), "address": address, "runs": rows, "median": medians}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--code", default=str(REPO), help="the checkout whose hpo_ray runs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--address", help="auto: join a Ray started here by `ray start`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        result = measure(Path(args.code).resolve(), Path(tmp), args.runs, args.address)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result["median"], indent=2))


if __name__ == "__main__":
    main()
