"""Faults a long search meets, with real Ray processes: a diverging trial, a request no node
can satisfy, the driver killed mid-search and resumed, a worker node lost mid-search."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from fault_callbacks import PoisonWeights
from helpers import driver_env, start_search, terminated_trials, tiny_config

from hpo_ray.cli import main
from hpo_ray.config.loading import dump_config
from hpo_ray.errors import ConfigError
from hpo_ray.layout import OWN_FAILURE
from hpo_ray.results.trials import SearchResults
from hpo_ray.workflows.search import run_ofat, run_search

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parents[1]  # tests/, beside the helper scripts


def test_a_diverging_trial_fails_alone_and_is_not_retried(
    tmp_path, corpus_csv, tiny_model, ray_local
):
    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        training={"learning_rate": 3e-3, "num_train_epochs": 2, "logging_steps": 2},
        ofat={"grid": {"learning_rate": [3e-3, 5e-3]}},
        run={"refit": False, "max_failures": 2},
    )
    outcome = run_ofat(cfg, trainer_callbacks=[PoisonWeights(learning_rate=5e-3)])
    table = pd.read_csv(outcome.artifacts_dir / "ofat_results.csv")
    bad = table[table["value"] == 5e-3].iloc[0]
    assert bad["status"] == "failed" and "diverged" in bad["error"]
    good = table[table["value"] == 3e-3].iloc[0]
    assert good["status"] == "completed" and good["f1"] > 0.5
    marker = outcome.experiment_dir / f"trial_{bad['trial_id']}" / OWN_FAILURE
    assert "TrialDiverged: training loss is nan" in marker.read_text()
    # max_failures=2 retries lost workers; the diverged trial's first retry stops at the marker.
    assert "not retried, the trial failed on its own" in bad["error"]
    log = (outcome.experiment_dir / f"trial_{bad['trial_id']}" / "error.txt").read_text()
    failures = log.split("Failure #")[1:]
    assert len(failures) == 3  # the run and its 2 retries
    assert "not retried" not in failures[0]
    assert all("not retried, the trial failed on its own" in f for f in failures[1:])


def test_a_request_no_node_can_satisfy_is_refused(tmp_path, corpus_csv, tiny_model, ray_local):
    from hpo_ray.tuning.runner import check_resources

    cfg = tiny_config(tmp_path, corpus_csv, tiny_model, resources={"cpu": 1, "gpu": 1})
    # a local Ray: refused against this machine, before Ray or the data
    with pytest.raises(ConfigError, match=r"resources.gpu=1: this machine has 0 GPUs"):
        run_search(cfg)
    assert not cfg.experiment_dir.exists()
    # a cluster (here the running test session): refused against its nodes
    with pytest.raises(ConfigError, match=r"asks for CPU 1 GPU 1 but no node has that"):
        check_resources(cfg)


def test_driver_killed_then_resume_finishes_the_search(tmp_path, corpus_csv, tiny_model, ray_local):
    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        training={"num_train_epochs": 2, "early_stopping_patience": 0},
        search={"num_samples": 6, "scheduler": "none", "max_concurrent_trials": 2},
        run={"name": "killed", "refit": True, "verbose": 0},
    )
    path = tmp_path / "killed.yaml"
    dump_config(cfg, path)
    exp = cfg.experiment_dir
    driver = start_search(path)
    deadline = time.time() + 300
    early: dict[str, bytes] = {}
    while len(terminated_trials(exp)) < 2 and driver.poll() is None and time.time() < deadline:
        early = early or _searcher_snapshot(exp)
        time.sleep(0.2)
    assert driver.poll() is None, "the search ended before it could be killed"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    time.sleep(3)  # Ray's processes follow their driver down
    if _alive_group(driver.pid):
        os.killpg(driver.pid, signal.SIGKILL)
    # The searcher's state as it was before any trial ended, beside the newer trial states:
    # what a store holds when the driver dies while Tune uploads its snapshot (the searcher's
    # files not yet replaced). Its running trials have ended since; it made fewer trials.
    assert early, "no searcher state was seen before the first trial ended"
    for name, content in early.items():
        (exp / name).write_bytes(content)
    before = SearchResults.load(exp).frame
    finished = terminated_trials(exp)
    done_before = before[before["trial_id"].isin(finished)].set_index("trial_id")
    assert len(done_before) >= 2
    assert len(before) < 6 or (before["status"] != "completed").any(), "nothing left to resume"
    assert not cfg.trained_path.exists()

    resumed = subprocess.Popen(
        [sys.executable, "-m", "hpo_ray.cli", "resume", str(exp)],
        env=driver_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, err = resumed.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(resumed.pid, signal.SIGKILL)
        raise AssertionError("the resumed search stopped making progress") from None
    assert resumed.returncode == 0, err[-3000:]
    after = SearchResults.load(exp).frame.set_index("trial_id")
    assert len(after) == 6 and (after["status"] == "completed").all()
    for trial_id, row in done_before.iterrows():  # kept, not re-run
        assert after.loc[trial_id, "objective"] == row["objective"]
        assert after.loc[trial_id, "time_s"] == row["time_s"]
    # The resumed searcher continued Optuna's study: a from-scratch seeded TPE would suggest
    # the first trials' learning rates again.
    first = set(before.sort_values("trial")["learning_rate"].round(12))
    new = after[~after.index.isin(before["trial_id"])]
    assert not set(new["learning_rate"].round(12)) & first
    # The restored searcher learnt every trial: the ones it had running when its state was
    # saved, the ones made after, its new ones.
    study = _searcher_study(exp)
    assert len(study.trials) == 6
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    assert (cfg.trained_path / "model.safetensors").is_file()


def _searcher_snapshot(exp: Path) -> dict[str, bytes]:
    """The searcher's saved state while trials run and none has ended, else {}."""
    states = sorted(exp.glob("experiment_state-*.json"))
    searcher = [*exp.glob("search_gen_state-*.json"), *exp.glob("searcher-state-*.pkl")]
    if not states or len(searcher) != 2:
        return {}
    try:
        trials = [json.loads(t[0]) for t in json.loads(states[-1].read_text())["trial_data"]]
        snapshot = {p.name: p.read_bytes() for p in searcher}
    except (json.JSONDecodeError, OSError):
        return {}  # caught mid-write
    running = [t for t in trials if t["status"] == "RUNNING"]
    ended = [t for t in trials if t["status"] in ("TERMINATED", "ERROR")]
    return snapshot if len(running) == 2 and not ended else {}


def _alive_group(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _searcher_study(exp: Path):
    from hpo_ray.tuning.optuna_search import optuna_searcher_class

    cls = optuna_searcher_class()
    searcher = cls.__new__(cls)  # its state comes from the experiment's searcher checkpoint
    searcher.restore_from_dir(str(exp))
    return searcher.study


def test_resume_refuses_a_folder_without_state(tmp_path, capsys):
    assert main(["resume", str(tmp_path)]) == 2
    assert "not an hpo_ray experiment folder" in capsys.readouterr().err


def test_losing_a_worker_node_mid_search(tmp_path, corpus_csv, tiny_model):
    """Three simulated nodes; one is removed while trials run on it; every trial finishes."""
    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        training={"num_train_epochs": 3, "early_stopping_patience": 0},
        search={
            "num_samples": 6,
            "scheduler": "none",
            "searcher": "random",
            # every trial runs 3 epochs, so one seen on the node is still running when it goes
            "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 5e-3, "log": True}},
        },
        run={"name": "nodes", "refit": False, "max_failures": 3, "verbose": 0},
    )
    path = tmp_path / "nodes.yaml"
    dump_config(cfg, path)
    out = tmp_path / "scenario.json"
    proc = subprocess.run(
        [sys.executable, str(HERE / "cluster_scenario.py"), str(path), str(out)],
        env=driver_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    frame = SearchResults.load(cfg.experiment_dir).frame
    assert len(frame) == 6
    assert (frame["status"] == "completed").all(), frame[["trial_id", "status", "error"]]
    nodes = {n for ids in report["nodes_per_trial"].values() for n in ids}
    assert len(nodes) >= 2, "trials did not spread over the nodes"
    removed = report["removed_node"]
    hit = [t for t, ids in report["nodes_per_trial"].items() if removed in ids]
    assert hit, "no trial was running on the removed node"
    for trial_id in hit:  # retried elsewhere and finished
        assert report["nodes_per_trial"][trial_id][-1] != removed
        assert report["failures"][trial_id] >= 1
    for trial_dir in cfg.experiment_dir.glob("trial_*"):  # curves from every node landed
        assert list(trial_dir.glob("events.out.tfevents.*")), trial_dir


def test_fractional_resources_reach_tune(tmp_path, corpus_csv, tiny_model, ray_local):
    from hpo_ray.tuning.runner import make_trainable
    from hpo_ray.workflows.prepare import prepare_inputs

    cfg = tiny_config(tmp_path, corpus_csv, tiny_model, resources={"cpu": 2, "gpu": 0.25})
    models, data = prepare_inputs(cfg)
    request = make_trainable(cfg, models, data)._resources
    assert request.required_resources == {"CPU": 2.0, "GPU": 0.25}
