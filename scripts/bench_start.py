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
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent


def tiny_model(work: Path, csv: Path) -> Path:
    import pandas as pd

    sys.path.insert(0, str(SCRIPTS))
    from tiny_models import save_tiny_model

    texts = pd.read_csv(csv)["text"].astype(str).tolist()
    return save_tiny_model(work / "model", texts, vocab_size=1000, kind="bert", layers=2)


def write_config(work: Path, csv: Path, model: Path) -> Path:
    import yaml

    raw = {
        "data": {
            "path": str(csv),
            "max_rows": 400,
            "validation_size": 0.2,
            "max_length": 64,
            "cache_dir": str(work / "cache"),
        },
        "model": {"name": str(model)},
        "training": {
            "num_train_epochs": 1,
            "per_device_train_batch_size": 16,
            "early_stopping_patience": 0,
            "logging_steps": 1,
        },
        "search": {
            "searcher": "random",
            "scheduler": "none",
            "num_samples": 2,
            "space": {"learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True}},
        },
        "resources": {"cpu": 1},
        "run": {
            "storage": str(work / "ray_results"),
            "trained_dir": str(work / "trained"),
            "verbose": 0,
            "dashboard": False,
        },
    }
    path = work / "start.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def event_times(exp: Path) -> tuple[float, float]:
    """(first ``train/loss`` event, last event of any tag) over every trial's TensorBoard file."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    firsts, lasts = [], []
    for events in exp.glob("trial_*/events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        tags = acc.Tags()["scalars"]
        if "train/loss" in tags:
            firsts.append(min(e.wall_time for e in acc.Scalars("train/loss")))
        lasts += [max(e.wall_time for e in acc.Scalars(tag)) for tag in tags]
    return min(firsts), max(lasts)


def one_run(code: Path, config: Path, name: str, env: dict[str, str], address: str | None):
    args = [sys.executable, "-m", "hpo_ray.cli", "search", str(config), f"run.name={name}"]
    args += ["--no-refit"] + (["--address", address] if address else [])  # after: older CLIs
    start = time.time()
    done = subprocess.run(args, cwd=code, env=env, capture_output=True, text=True)
    end = time.time()
    if done.returncode != 0:
        raise SystemExit(f"run {name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return start, end


def measure(code: Path, work: Path, runs: int, address: str | None) -> dict[str, Any]:
    csv = REPO / "datasets" / "dataset.csv"
    config = write_config(work, csv, tiny_model(work, csv))
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("RAY_ADDRESS", None)
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
            exp = work / "ray_results" / name
            first_step, last_event = event_times(exp)
            trial_made = min(p.stat().st_mtime for p in exp.glob("trial_*/params.json"))
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
