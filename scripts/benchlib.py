"""What the benchmark scripts share: a child process timed whole (with its process tree's peak
memory), the environment it runs in, experiment configs whose outputs stay in one work folder,
a local Ray for the length of a block, TensorBoard scalars, and a finished experiment's
statuses and sizes. Experiment file and folder names come from ``hpo_ray.layout``.

Example::

    raw = experiment_raw(work, data={"path": str(DEMO_CSV)}, search={"num_samples": 2})
    child = run_child([sys.executable, "-m", "hpo_ray.cli", "search", str(write_yaml(raw,
        work / "bench.yaml"))], env=child_env(), log=work / "child.log")
    child.wall_s, child.tree_peak_rss_mb
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:  # loaded from elsewhere (the tests load scripts by path)
    sys.path.insert(0, str(SCRIPTS))
from tree_memory import TreeRss  # noqa: E402 - the sampler the child runner uses

REPO = SCRIPTS.parent
DEMO_CSV = REPO / "datasets" / "dataset.csv"
"""The demo corpus (``hpo-ray prepare-data``)."""
RESULTS_DIR, TRAINED_DIR, CACHE_DIR = "ray_results", "trained", "cache"
"""The folders of a work folder that ``experiment_raw`` points run.storage, run.trained_dir
and data.cache_dir at."""
EVENTS_GLOB = "events.out.tfevents*"
"""TensorBoard's event files (a trial writes its own in its folder)."""
LOG_TAIL = 4000
"""Characters of a failed child's log quoted in the error."""


# ---------------------------------------------------------------------------------------------
# Child processes


@dataclass(frozen=True)
class ChildRun:
    """A finished child process: its exit status, its wall from start to exit and when it
    started (Unix time), its tree's peak RSS (None when not sampled), and the JSON it wrote."""

    rc: int
    wall_s: float
    started_unix: float
    tree_peak_rss_mb: float | None
    result: dict[str, Any] | None


def child_env(
    drop: Sequence[str] = ("OMP_NUM_THREADS", "RAY_ADDRESS"), *, offline: bool = True, **set_: str
) -> dict[str, str]:
    """This process's environment for a child: ``drop`` removed (a user's thread count would
    oversubscribe the cores; a Ray address would join a cluster instead of starting Ray),
    ``HF_HUB_OFFLINE=1`` when ``offline``, and ``set_`` on top."""
    env = {**os.environ, **({"HF_HUB_OFFLINE": "1"} if offline else {}), **set_}
    for name in drop:
        env.pop(name, None)
    return env


def run_child(
    cmd: Sequence[str],
    *,
    env: dict[str, str],
    log: Path | None = None,
    result: Path | None = None,
    what: str = "child",
    sample_tree: bool = True,
    cwd: Path | None = None,
) -> ChildRun:
    """Run ``cmd`` (in ``cwd``) to its end and time it whole; stdout and stderr go to ``log``
    (without one: stdout is dropped, stderr shown). With ``sample_tree`` the summed RSS of its
    process tree is sampled every 0.5 s (``TreeRss``). Raises RuntimeError, quoting the log's
    tail, when it fails or does not write ``result``; gives the run with ``result``'s JSON."""
    with contextlib.ExitStack() as stack:
        if log is None:
            out, err = subprocess.DEVNULL, None
        else:
            out, err = stack.enter_context(open(log, "w")), subprocess.STDOUT
        started_unix, t0 = time.time(), time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=err)
        if sample_tree:
            with TreeRss(proc.pid) as tree:
                rc = proc.wait()
            peak: float | None = tree.peak_mb
        else:
            rc, peak = proc.wait(), None
        wall = time.perf_counter() - t0
    if rc != 0 or (result is not None and not result.is_file()):
        tail = log.read_text()[-LOG_TAIL:] if log is not None else ""
        raise RuntimeError(f"{what} failed (exit {rc}); log {log}:\n{tail}")
    data = json.loads(result.read_text()) if result is not None else None
    return ChildRun(rc, wall, started_unix, peak, data)


def own_peak_rss() -> dict[str, float]:
    """This process's peak RSS, and the largest peak among its reaped descendants (MB)."""
    return {
        "driver_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "largest_child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def load_script(name: str) -> ModuleType:
    """Another script of this folder (``bench_quality``), imported from its file."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no script {name}.py in {SCRIPTS}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# Configs


def experiment_raw(
    work: Path,
    *,
    data: dict[str, Any] | None = None,
    model: str | None = None,
    training: dict[str, Any] | None = None,
    search: dict[str, Any] | None = None,
    resources: dict[str, Any] | None = None,
    run: dict[str, Any] | None = None,
    **sections: dict[str, Any],
) -> dict[str, Any]:
    """An experiment config as plain data (a YAML's mapping) whose outputs all land in
    ``work``: the token cache (``work/cache``, with a data section), ``work/ray_results`` and
    ``work/trained``; 1 CPU per trial and no dashboard (Ray's dashboard would compete for the
    cores). What a section gives overrides these; ``sections`` adds others (``ofat``)."""
    raw: dict[str, Any] = {}
    if data is not None:
        raw["data"] = {**data, "cache_dir": data.get("cache_dir", str(work / CACHE_DIR))}
    if model is not None:
        raw["model"] = {"name": model}
    if training is not None:
        raw["training"] = dict(training)
    if search is not None:
        raw["search"] = dict(search)
    raw.update({k: dict(v) for k, v in sections.items()})
    raw["resources"] = {"cpu": 1, **(resources or {})}
    raw["run"] = {
        "storage": str(work / RESULTS_DIR),
        "trained_dir": str(work / TRAINED_DIR),
        "dashboard": False,
        **(run or {}),
    }
    return raw


def write_yaml(raw: dict[str, Any], path: Path, *, sort_keys: bool = True) -> Path:
    """``raw`` written as YAML to ``path``; gives ``path``."""
    import yaml

    path.write_text(yaml.safe_dump(raw, sort_keys=sort_keys))
    return path


def build_config(raw: dict[str, Any]) -> Any:
    """The validated ``ExperimentConfig`` of ``raw``, every path in it absolute."""
    from hpo_ray.config.loading import from_dict, resolve_paths

    return resolve_paths(from_dict(raw))


# ---------------------------------------------------------------------------------------------
# Models and data


def corpus_texts(csv: Path) -> list[str]:
    """The ``text`` column of a corpus CSV."""
    import pandas as pd

    return pd.read_csv(csv)["text"].astype(str).tolist()


def tiny_bert(csv: Path, folder: Path, vocab_size: int = 1000) -> Path:
    """A 2-layer random-init BERT (hidden 32) with a WordPiece vocabulary of ``vocab_size``
    trained on the corpus text, saved in ``folder`` (``tiny_models.save_tiny_model``)."""
    from tiny_models import save_tiny_model

    return save_tiny_model(folder, corpus_texts(csv), vocab_size=vocab_size, kind="bert", layers=2)


# ---------------------------------------------------------------------------------------------
# Ray


@contextlib.contextmanager
def local_ray(num_cpus: int = 2, temp_dir: Path | None = None, **init: Any) -> Iterator[None]:
    """A private local Ray of ``num_cpus`` CPUs, no dashboard, for the block (``init``: more
    ``ray.init`` arguments); a Ray already initialised in this process (the tests') is used
    and left running. A plain ``ray.init``: Ray as a user of HF's search starts it, without
    hpo_ray's lean settings (``hpo_ray.tuning.runner.ray_session`` has those)."""
    import ray

    if ray.is_initialized():
        yield
        return
    if temp_dir is not None:
        init["_temp_dir"] = str(temp_dir)
    init.setdefault("include_dashboard", False)
    ray.init(address="local", num_cpus=num_cpus, **init)
    try:
        yield
    finally:
        ray.shutdown()


def worker_hpo_ray_file() -> str:
    """Where a Ray worker imports hpo_ray from (a check that workers use the same library)."""
    import ray

    @ray.remote(num_cpus=0)
    def where() -> str:
        import hpo_ray

        return str(hpo_ray.__file__)

    return str(ray.get(where.remote()))


# ---------------------------------------------------------------------------------------------
# Reading what a run left


def event_files(folder: Path) -> list[Path]:
    """The TensorBoard event files under ``folder``, at any depth, in path order."""
    return sorted(folder.rglob(EVENTS_GLOB))


def scalar_events(path: Path) -> dict[str, list[Any]]:
    """Every scalar of one TensorBoard event file, none sampled away: tag -> its events in
    order (each with ``wall_time``, ``step``, ``value``)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: list(acc.Scalars(tag)) for tag in acc.Tags().get("scalars", [])}


def trial_folders(exp: Path) -> list[Path]:
    """The trial folders of an experiment folder, in name order."""
    from hpo_ray.layout import trial_dir_name

    return sorted(exp.glob(trial_dir_name("*")))


def trial_statuses(exp: Path) -> dict[str, int]:
    """How many trials ended in each status, from the search report's trial table (empty when
    there is none)."""
    from hpo_ray.layout import SEARCH_ARTIFACTS, TRIALS_CSV

    table = exp / SEARCH_ARTIFACTS / TRIALS_CSV
    if not table.is_file():
        return {}
    import pandas as pd

    counts = pd.read_csv(table)["status"].value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
