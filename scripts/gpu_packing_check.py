"""Fractional-GPU packing check: one trial on a whole GPU against four trials at 0.25 GPU each.

Runs hpo_ray's real OFAT path (``hpo_ray.workflows.search.run_ofat``) twice on the same GPU, on
the demo corpus (``datasets/dataset.csv``) with a DistilBERT-sized random-init classifier and a
WordPiece
vocabulary trained on the corpus (no downloads):

  (a) 1 trial,  resources {cpu: 4, gpu: 1}     (the OFAT base alone)
  (b) 4 trials, resources {cpu: 3, gpu: 0.25}  (OFAT grid over 4 learning rates, one = base)

Each trial: 1 epoch, scheduler none (OFAT: FIFO), refit off, training.fp16 on. A background
NVML sampler records GPU memory, utilisation and the compute processes (their pids are matched
with the trials' pids from result.json, which shows every trial ran on the GPU). Training spans
come from each trial's TensorBoard events (HF's ``train_runtime`` and its wall time), so the
4-trial overlap and the aggregate throughput exclude worker start-up; whole-run wall times
(run_ofat start to return) are reported too.

Usage (from the repo root, with ray[tune], optuna, datasets importable):
  python scripts/gpu_packing_check.py --out OUTDIR
  python scripts/gpu_packing_check.py --out /tmp/x --smoke   # tiny CPU-only dry run of the logic

hpo_ray is imported from PYTHONPATH (the script runs from --work, not the repo root, because Ray
puts the driver's cwd on its workers' sys.path), so a snapshot can be tested, e.g.
``git archive HEAD hpo_ray | tar -x -C .gpu/src; PYTHONPATH=$PWD/.gpu/src:/tmp/site``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:  # loaded from elsewhere
    sys.path.insert(0, str(SCRIPTS))
from benchlib import (  # noqa: E402 - shared by the benchmark scripts
    DEMO_CSV,
    build_config,
    corpus_texts,
    event_files,
    experiment_raw,
    local_ray,
    scalar_events,
    trial_folders,
    worker_hpo_ray_file,
)

BASE_LR = 1e-4
OTHER_LRS = [3e-5, 2e-4, 4e-4]


def log(msg: str) -> None:
    print(f"[packing {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Model and tokenizer


def build_model(folder: Path, csv: Path, vocab: int, tiny: bool) -> dict[str, Any]:
    from tiny_models import train_wordpiece
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    fast = train_wordpiece(corpus_texts(csv), vocab, "distilbert")
    fast.save_pretrained(folder)
    tok_vocab = len(fast)
    if tiny:
        config = DistilBertConfig(
            vocab_size=tok_vocab, dim=32, hidden_dim=64, n_layers=1, n_heads=2
        )
    else:
        # DistilBERT defaults (vocab 30522: the embedding keeps distilbert-base's size, ids
        # above the trained vocabulary are simply never used), 2 labels.
        config = DistilBertConfig()
    config.num_labels = 2
    model = DistilBertForSequenceClassification(config)
    model.save_pretrained(folder)
    return {
        "params": int(sum(p.numel() for p in model.parameters())),
        "tokenizer_vocab": int(tok_vocab),
        "model_vocab": int(config.vocab_size),
        "layers": int(config.n_layers),
        "dim": int(config.dim),
    }


# ---------------------------------------------------------------------------------------------
# GPU sampler


class GpuSampler(threading.Thread):
    """Polls NVML (or nvidia-smi) every ``period`` s: memory used, utilisation, compute pids."""

    def __init__(self, period: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.samples: list[dict[str, Any]] = []
        self.stop_flag = threading.Event()
        self.source = "none"
        self.error = ""
        self._nvml: Any = None
        self._handle: Any = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self.source = "nvml"
        except Exception as exc:  # noqa: BLE001
            self.error = f"nvml: {type(exc).__name__}: {exc}"
            if shutil.which("nvidia-smi"):
                self.source = "nvidia-smi"

    def sample(self) -> dict[str, Any] | None:
        t = time.time()
        if self.source == "nvml":
            nv, h = self._nvml, self._handle
            mem = nv.nvmlDeviceGetMemoryInfo(h)
            util = nv.nvmlDeviceGetUtilizationRates(h)
            try:
                procs = nv.nvmlDeviceGetComputeRunningProcesses(h)
                pids = {int(p.pid): int((p.usedGpuMemory or 0) // 2**20) for p in procs}
            except Exception:  # noqa: BLE001
                pids = {}
            return {
                "t": t,
                "mem_mib": mem.used / 2**20,
                "util": float(util.gpu),
                "pids": pids,
            }
        if self.source == "nvidia-smi":
            q = subprocess.run(
                [
                    "nvidia-smi",
                    "--query-gpu=memory.used,utilization.gpu",
                    "--format=csv,noheader,nounits",
                ],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.split("\n")[0]
            apps = subprocess.run(
                [
                    "nvidia-smi",
                    "--query-compute-apps=pid,used_memory",
                    "--format=csv,noheader,nounits",
                ],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout
            pids = {}
            for line in apps.strip().splitlines():
                parts = [x.strip() for x in line.split(",")]
                if len(parts) == 2 and parts[0].isdigit():
                    pids[int(parts[0])] = int(float(parts[1] or 0))
            mem, util = (float(x) for x in q.split(","))
            return {"t": t, "mem_mib": mem, "util": util, "pids": pids}
        return None

    def run(self) -> None:
        while not self.stop_flag.is_set():
            try:
                s = self.sample()
                if s is not None:
                    self.samples.append(s)
            except Exception as exc:  # noqa: BLE001
                self.error = f"sample: {type(exc).__name__}: {exc}"
            self.stop_flag.wait(self.period)

    def window(self, t0: float, t1: float) -> dict[str, Any]:
        inside = [s for s in self.samples if t0 <= s["t"] <= t1]
        if not inside:
            return {"samples": 0}
        pids: dict[int, int] = {}
        for s in inside:
            for pid, mib in s["pids"].items():
                pids[pid] = max(pids.get(pid, 0), mib)
        return {
            "samples": len(inside),
            "mem_used_peak_mib": round(max(s["mem_mib"] for s in inside), 1),
            "mem_used_min_mib": round(min(s["mem_mib"] for s in inside), 1),
            "util_mean_pct": round(sum(s["util"] for s in inside) / len(inside), 1),
            "max_concurrent_compute_procs": max(len(s["pids"]) for s in inside),
            "compute_pids_peak_mib": {str(k): v for k, v in sorted(pids.items())},
        }


# ---------------------------------------------------------------------------------------------
# Reading a finished experiment


def read_events(trial_dir: Path) -> dict[str, Any]:
    """HF's final train metrics and their wall time from the trial's TensorBoard events."""
    files = event_files(trial_dir)
    out: dict[str, Any] = {"event_files": len(files)}
    for f in files:
        for tag, events in scalar_events(f).items():
            if not events:
                continue
            key = tag.replace("/", "_")
            if tag in ("train/train_runtime", "train/train_samples_per_second", "train/train_loss"):
                out[key] = float(events[-1].value)
                if tag == "train/train_runtime":
                    out["train_end_wall"] = float(events[-1].wall_time)
            if tag == "train/loss":
                out["first_loss_wall"] = float(events[0].wall_time)
                out["first_loss_step"] = int(events[0].step)
                out["last_loss"] = float(events[-1].value)
    if "train_end_wall" in out and "train_train_runtime" in out:
        out["train_start_wall"] = out["train_end_wall"] - out["train_train_runtime"]
    return out


def read_trials(exp: Path) -> list[dict[str, Any]]:
    from hpo_ray.config.formats import EPOCH, STEP, TRAIN_DONE, eval_key

    trials = []
    for d in trial_folders(exp):
        rec: dict[str, Any] = {"trial": d.name}
        rj = d / "result.json"
        if rj.is_file():
            lines = [json.loads(x) for x in rj.read_text().splitlines() if x.strip()]
            if lines:
                last = lines[-1]
                cfg = last.get("config", {})
                variant = cfg.get("ofat")
                rec.update(
                    pid=last.get("pid"),
                    hostname=last.get("hostname"),
                    variant=variant,
                    eval_f1=last.get(eval_key("f1")),
                    eval_accuracy=last.get(eval_key("accuracy")),
                    eval_loss=last.get(eval_key("loss")),
                    epoch=last.get(EPOCH),
                    step=last.get(STEP),
                    train_done=last.get(TRAIN_DONE),
                    time_total_s=last.get("time_total_s"),
                    end_wall=last.get("timestamp"),
                )
                if last.get("timestamp") is not None and last.get("time_total_s") is not None:
                    rec["start_wall"] = float(last["timestamp"]) - float(last["time_total_s"])
        err = d / "error.txt"
        if err.is_file():
            rec["error"] = err.read_text()[-2000:]
        try:
            rec.update(read_events(d))
        except Exception as exc:  # noqa: BLE001
            rec["events_error"] = f"{type(exc).__name__}: {exc}"
        trials.append(rec)
    return trials


def overlap_s(spans: list[tuple[float, float]]) -> float:
    """Seconds during which every span is active at once."""
    if not spans:
        return 0.0
    return max(0.0, min(e for _, e in spans) - max(s for s, _ in spans))


# ---------------------------------------------------------------------------------------------
# One run


def make_config(
    args: argparse.Namespace, model: Path, name: str, n: int, cpu: float, gpu: float
) -> Any:
    """The validated config of one run: an OFAT grid of ``n`` learning rates, outputs in
    ``--work``."""
    grid = [BASE_LR] + OTHER_LRS[: max(0, n - 1)]
    raw = experiment_raw(
        args.work,
        data={
            "path": str(DEMO_CSV),
            "max_rows": args.max_rows or None,
            "max_length": args.max_length,
        },
        model=str(model),
        training={
            "learning_rate": BASE_LR,
            "num_train_epochs": args.epochs,
            "per_device_train_batch_size": args.batch,
            "per_device_eval_batch_size": 128,
            "warmup_ratio": args.warmup_ratio,
            "early_stopping_patience": 0,
            "logging_steps": 20,
            "fp16": True,
        },
        search={"metric": "f1", "scheduler": "none"},
        ofat={"grid": {"learning_rate": grid}},
        resources={"cpu": cpu, "gpu": gpu},
        run={"name": name, "checkpoint": "none", "refit": False, "verbose": 1},
    )
    return build_config(raw)


def one_run(args, model: Path, name: str, n: int, cpu: float, gpu: float, sampler) -> dict:
    from hpo_ray.workflows.search import run_ofat

    cfg = make_config(args, model, name, n, cpu, gpu)
    log(f"run {name}: {n} trial(s) at cpu={cpu} gpu={gpu}")
    t0 = time.time()
    error = None
    try:
        run_ofat(cfg, overwrite=True)
    except Exception as exc:  # noqa: BLE001
        import traceback

        error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    t1 = time.time()
    trials = read_trials(cfg.experiment_dir)
    out: dict[str, Any] = {
        "name": name,
        "trials_requested": n,
        "resources": {"cpu": cpu, "gpu": gpu},
        "wall_s": round(t1 - t0, 2),
        "error": error,
        "trials": trials,
    }
    n_train = [
        t.get("train_train_runtime", 0) * t.get("train_train_samples_per_second", 0) for t in trials
    ]
    out["train_samples_per_trial"] = [round(x) for x in n_train]
    total = sum(round(x) for x in n_train)
    out["train_samples_total"] = total
    spans = [
        (t["train_start_wall"], t["train_end_wall"]) for t in trials if "train_start_wall" in t
    ]
    if spans:
        union = max(e for _, e in spans) - min(s for s, _ in spans)
        out["train_span_s"] = round(union, 2)
        out["train_all_overlap_s"] = round(overlap_s(spans), 2)
        out["agg_train_samples_per_s"] = round(total / union, 1) if union > 0 else None
        out["per_trial_train_runtime_s"] = [round(e - s, 2) for s, e in spans]
        out["per_trial_train_samples_per_s"] = [
            round(t.get("train_train_samples_per_second", 0), 1) for t in trials
        ]
        out["train_spans_rel_to_run_start_s"] = [
            [round(s - t0, 2), round(e - t0, 2)] for s, e in spans
        ]
    tspans = [(t["start_wall"], t["end_wall"]) for t in trials if "start_wall" in t]
    if tspans:
        out["trial_spans_rel_to_run_start_s"] = [
            [round(s - t0, 2), round(e - t0, 2)] for s, e in tspans
        ]
        out["trial_all_overlap_s"] = round(overlap_s(tspans), 2)
    out["wall_train_samples_per_s"] = round(total / (t1 - t0), 1) if total else None
    out["eval_f1"] = [t.get("eval_f1") for t in trials]
    out["trials_errored"] = sum(1 for t in trials if "error" in t)
    out["trial_errors_last_line"] = [
        t["error"].strip().splitlines()[-1] for t in trials if t.get("error", "").strip()
    ]
    if sampler is not None:
        gpu_window = sampler.window(t0, t1)
        out["gpu"] = gpu_window
        pids = set(gpu_window.get("compute_pids_peak_mib", {}))
        out["trial_pids"] = [t.get("pid") for t in trials]
        out["trial_pids_seen_on_gpu"] = [str(t.get("pid")) in pids for t in trials]
        if spans:
            out["gpu_during_training"] = sampler.window(
                min(s for s, _ in spans), max(e for _, e in spans)
            )
    from hpo_ray.layout import OFAT_ARTIFACTS, OFAT_CSV

    art = cfg.experiment_dir / OFAT_ARTIFACTS / OFAT_CSV
    if art.is_file() and args.out:
        shutil.copy(art, Path(args.out) / f"ofat_{name}.csv")
    return out


def fp16_check(args, model: Path) -> dict[str, Any]:
    """In the driver, after the runs: does hpo_ray's Trainer engage fp16 autocast on CUDA?"""
    import torch

    from hpo_ray.data.dataset import prepare_data
    from hpo_ray.train.models import load_tokenizer_from_path
    from hpo_ray.train.trainer import build_trainer

    cfg = make_config(args, model, "fp16check", 1, 1, 0)
    data = prepare_data(cfg.data, load_tokenizer_from_path(str(model)))
    from dataclasses import asdict

    params = asdict(cfg.training)
    out: dict[str, Any] = {"cuda_available": torch.cuda.is_available()}
    with __import__("tempfile").TemporaryDirectory() as scratch:
        trainer = build_trainer(
            params,
            str(model),
            data.label_names,
            data.train.select(range(min(64, len(data.train)))),
            data.validation.select(range(min(64, len(data.validation)))),
            load_tokenizer_from_path(str(model)),
            scratch,
            metric="f1",
            mode="max",
            callbacks=[],
            quiet=True,
        )
        out["args_fp16"] = bool(trainer.args.fp16)
        out["args_device"] = str(trainer.args.device)
        out["accelerator_mixed_precision"] = str(
            getattr(getattr(trainer, "accelerator", None), "mixed_precision", None)
        )
        seen: list[str] = []

        class Hook:
            def __call__(self, module, inputs, output):
                seen.append(str(output.dtype))

        trainer.args.max_steps = 2
        handles = []
        orig_init = trainer.model_init

        def model_init(*a):
            m = orig_init(*a)
            handles.append(m.pre_classifier.register_forward_hook(Hook()))
            return m

        trainer.model_init = model_init
        trainer.train()
        out["linear_output_dtypes_in_training"] = sorted(set(seen))
        out["model_param_device"] = str(next(trainer.model.parameters()).device)
    return out


# ---------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/gpu_packing"))
    ap.add_argument("--max-rows", type=int, default=0, help="0: all rows")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--warmup-ratio", type=float, default=0.1)
    ap.add_argument("--num-cpus", type=int, default=16)
    ap.add_argument("--num-gpus", type=float, default=1)
    ap.add_argument("--cpu-a", type=float, default=4)
    ap.add_argument("--gpu-a", type=float, default=1)
    ap.add_argument("--cpu-b", type=float, default=3)
    ap.add_argument("--gpu-b", type=float, default=0.25)
    ap.add_argument("--n-b", type=int, default=4)
    ap.add_argument("--smoke", action="store_true", help="tiny model, CPU only, 2 CPUs")
    ap.add_argument("--skip-fp16-check", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.max_rows, args.num_cpus, args.num_gpus = args.max_rows or 300, 2, 0
        args.cpu_a, args.gpu_a, args.cpu_b, args.gpu_b, args.n_b = 1, 0, 1, 0, 2
        args.vocab, args.max_length = 500, 64
    args.out, args.work = args.out.resolve(), args.work.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    # Not the repo root: Ray puts the driver's cwd on its workers' sys.path, and hpo_ray must
    # come from PYTHONPATH alone (a snapshot may be tested while the checkout is being edited).
    os.chdir(args.work)
    report: dict[str, Any] = {"argv": sys.argv[1:], "python": sys.version.split()[0]}

    import importlib.metadata as md

    report["versions"] = {}
    for pkg in (
        "torch",
        "transformers",
        "tokenizers",
        "ray",
        "optuna",
        "datasets",
        "accelerate",
        "huggingface-hub",
        "pyarrow",
        "pandas",
        "numpy",
        "fsspec",
        "tensorboard",
    ):
        try:
            report["versions"][pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            report["versions"][pkg] = None
    if shutil.which("nvidia-smi"):
        report["nvidia_smi_L"] = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True
        ).stdout.strip()
    log(json.dumps(report))

    t = time.time()
    model = args.work / "model"
    report["model"] = build_model(model, DEMO_CSV, args.vocab, args.smoke)
    report["model"]["build_s"] = round(time.time() - t, 2)
    log(f"model: {report['model']}")

    sampler = GpuSampler() if args.num_gpus > 0 else None
    if sampler is not None:
        report["gpu_sampler"] = {"source": sampler.source, "error": sampler.error}
        sampler.start()

    import ray

    t = time.time()
    with local_ray(
        num_cpus=args.num_cpus,
        num_gpus=args.num_gpus,
        object_store_memory=2 * 10**9,
        log_to_driver=True,
    ):
        report["ray_init_s"] = round(time.time() - t, 2)
        import hpo_ray

        report["hpo_ray_driver"] = hpo_ray.__file__
        report["hpo_ray_worker"] = worker_hpo_ray_file()
        stamp = Path(hpo_ray.__file__).parents[1] / "HPO_RAY_COMMIT"
        report["hpo_ray_commit"] = stamp.read_text().strip() if stamp.is_file() else "working tree"
        log(f"hpo_ray: {report['hpo_ray_driver']} (workers: {report['hpo_ray_worker']})")
        report["ray_resources"] = ray.cluster_resources()
        log(f"ray up: {report['ray_resources']}")
        report["a_1x1"] = one_run(args, model, "pack_a_1x1", 1, args.cpu_a, args.gpu_a, sampler)
        log(f"a: {json.dumps({k: v for k, v in report['a_1x1'].items() if k != 'trials'})}")
        report["b_4x025"] = one_run(
            args, model, "pack_b_4x025", args.n_b, args.cpu_b, args.gpu_b, sampler
        )
        log(f"b: {json.dumps({k: v for k, v in report['b_4x025'].items() if k != 'trials'})}")

    a, b = report["a_1x1"], report["b_4x025"]
    summary: dict[str, Any] = {}
    for key in (
        "wall_s",
        "train_samples_total",
        "agg_train_samples_per_s",
        "wall_train_samples_per_s",
        "train_span_s",
    ):
        summary[key] = {"a": a.get(key), "b": b.get(key)}
    if a.get("agg_train_samples_per_s") and b.get("agg_train_samples_per_s"):
        summary["speedup_train_throughput_b_over_a"] = round(
            b["agg_train_samples_per_s"] / a["agg_train_samples_per_s"], 2
        )
    if a.get("wall_train_samples_per_s") and b.get("wall_train_samples_per_s"):
        summary["speedup_wall_throughput_b_over_a"] = round(
            b["wall_train_samples_per_s"] / a["wall_train_samples_per_s"], 2
        )
    summary["b_all_trials_training_overlap_s"] = b.get("train_all_overlap_s")
    summary["b_all_trial_pids_on_gpu"] = (
        all(b.get("trial_pids_seen_on_gpu") or [False]) if sampler else None
    )
    summary["a_trial_pid_on_gpu"] = (
        all(a.get("trial_pids_seen_on_gpu") or [False]) if sampler else None
    )
    summary["gpu_peak_mib"] = {
        "a": (a.get("gpu") or {}).get("mem_used_peak_mib"),
        "b": (b.get("gpu") or {}).get("mem_used_peak_mib"),
    }
    summary["eval_f1"] = {"a": a.get("eval_f1"), "b": b.get("eval_f1")}
    summary["trials_errored"] = {"a": a.get("trials_errored"), "b": b.get("trials_errored")}
    report["summary"] = summary
    log(f"summary: {json.dumps(summary)}")
    (args.out / "gpu_packing.json").write_text(json.dumps(report, indent=2, default=str))

    if not args.skip_fp16_check:
        try:
            report["fp16_check"] = fp16_check(args, model)
        except Exception as exc:  # noqa: BLE001
            import traceback

            traceback.print_exc()
            report["fp16_check"] = {"error": f"{type(exc).__name__}: {exc}"}
        log(f"fp16 check: {report['fp16_check']}")
    if sampler is not None:
        sampler.stop_flag.set()
        sampler.join(timeout=2)
        with open(args.out / "gpu_samples.csv", "w") as f:
            f.write("t,mem_mib,util,n_procs,pids\n")
            for s in sampler.samples:
                pids = " ".join(f"{k}:{v}" for k, v in s["pids"].items())
                f.write(
                    f"{s['t']:.2f},{s['mem_mib']:.0f},{s['util']:.0f},{len(s['pids'])},{pids}\n"
                )
    (args.out / "gpu_packing.json").write_text(json.dumps(report, indent=2, default=str))
    log(f"wrote {args.out / 'gpu_packing.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
