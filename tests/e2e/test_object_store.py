"""Results in an object store: a search with ``run.storage: s3://...`` against a real
S3-compatible server (moto's, on 127.0.0.1), its driver SIGKILLed mid-search, resumed,
reported and refit, every command a real ``hpo-ray`` process with its own local Ray, and
nothing left on local disk under the experiment's name."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import driver_env, tiny_config
from pyarrow.fs import FileSelector

from hpo_ray.config.loading import dump_config
from hpo_ray.errors import ConfigError
from hpo_ray.storage import WorkCopy, filesystem, holds_files, join

pytestmark = pytest.mark.e2e

BUCKET = "hpo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_env():
    """A moto S3 server on 127.0.0.1 with an empty bucket; the environment that points
    pyarrow (in this process and in every ``hpo-ray`` process) at it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from pyarrow import fs

        store = fs.S3FileSystem(
            endpoint_override=env["AWS_ENDPOINT_URL"],
            allow_bucket_creation=True,
            region="us-east-1",
        )
        deadline = time.time() + 30
        while True:
            try:
                store.create_dir(BUCKET)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        yield env
    finally:
        server.terminate()
        server.wait(timeout=30)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def read_bytes(location: str) -> bytes:
    fs, path = filesystem(location)
    with fs.open_input_stream(path) as f:
        return bytes(f.read())


def terminated(exp: str) -> set[str]:
    """Ids of the trials the store's newest experiment state records as finished."""
    from pyarrow import fs as pafs

    store, path = filesystem(exp)
    infos = store.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    states = sorted(i.path for i in infos if i.base_name.startswith("experiment_state-"))
    if not states:
        return set()
    try:
        with store.open_input_stream(states[-1]) as f:
            data = json.loads(f.read())
    except (json.JSONDecodeError, OSError):
        return set()  # caught mid-write
    trials = [json.loads(t[0]) for t in data["trial_data"]]
    return {t["trial_id"] for t in trials if t["status"] == "TERMINATED"}


def hpo_ray(args: list[str], cwd: Path, env: dict[str, str], **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hpo_ray.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def finish(proc: subprocess.Popen, timeout: float = 420) -> str:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"ran past {timeout} s; its last words:\n{err[-3000:]}") from None
    assert proc.returncode == 0, err[-3000:]
    return out


def test_search_killed_resumed_reported_and_refit_in_s3(tmp_path, corpus_csv, tiny_model, s3_env):
    storage, trained = f"s3://{BUCKET}/runs", f"s3://{BUCKET}/models"
    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        training={"num_train_epochs": 2, "early_stopping_patience": 0},
        search={
            "num_samples": 6,
            "scheduler": "none",
            "max_concurrent_trials": 2,
            "reseed": {"top_k": 1, "seeds": 2},
        },
        run={
            "name": "s3run",
            "storage": storage,
            "trained_dir": trained,
            "verbose": 0,
            "sync_period_s": 1,  # the store gets Tune's state every second: the kill finds
        },  # finished trials there and unfinished ones to resume
    )
    exp, model = join(storage, "s3run"), join(trained, "s3run")
    cwd, work = tmp_path / "cwd", tmp_path / "work"
    cwd.mkdir()
    dump_config(cfg, cwd / "s3run.yaml")
    env = {**driver_env(), **s3_env, "HPO_RAY_WORK_DIR": str(work)}

    driver = hpo_ray(["search", "s3run.yaml"], cwd, env, start_new_session=True)
    out = kill_and_resume(driver, exp, model, cwd, env)
    assert f"tuned model: {model}" in out
    assert f"results: {join(exp, 'hpo_artifacts')}" in out
    after = terminated(exp)
    # 6 also where the kill fell inside Tune's upload of its state (the experiment state and
    # the searcher's then disagree; hpo_ray.tuning.realign)
    assert len(after) == 6
    # A resume of the finished search restores it from the store, runs nothing, reports.
    out = finish(hpo_ray(["resume", exp, "--no-refit"], cwd, env, start_new_session=True))
    assert f"results: {join(exp, 'hpo_artifacts')}" in out and terminated(exp) == after
    check_results_in_the_store(exp, model, after, cwd, env, work)


def kill_and_resume(driver, exp: str, model: str, cwd: Path, env: dict[str, str]) -> str:
    """SIGKILL the search after two trials finished; resume it; its output."""
    deadline = time.time() + 300
    while len(terminated(exp)) < 2 and driver.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    assert driver.poll() is None, f"the search ended before it could be killed: {driver.stderr}"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    time.sleep(3)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(driver.pid, signal.SIGKILL)  # what is left of its local Ray
    done_before = terminated(exp)
    assert 2 <= len(done_before) < 6
    # What a resume needs reached the store while the trials ran.
    assert read_bytes(join(exp, "hpo_config.yaml")).startswith(b"data:")
    assert not holds_files(model)

    out = finish(hpo_ray(["resume", exp], cwd, env, start_new_session=True))
    assert done_before <= terminated(exp)
    return out


def check_results_in_the_store(
    exp: str, model: str, after: set[str], cwd: Path, env: dict[str, str], work: Path
) -> None:
    table = pd.read_csv(io.BytesIO(read_bytes(join(exp, "hpo_artifacts", "hpo_trials.csv"))))
    assert len(table) == len(after) and (table["status"] == "completed").all()
    assert read_bytes(join(exp, "optuna_study.db")).startswith(b"SQLite format 3")
    assert read_bytes(join(exp, "report.html")).lstrip().lower().startswith(b"<!doctype html")
    reseed = pd.read_csv(io.BytesIO(read_bytes(join(exp, "hpo_artifacts", "reseed.csv"))))
    assert len(reseed) >= 1 and all(len(str(s).split()) == 2 for s in reseed["seeds"])
    assert terminated(join(exp, "reseed"))  # the reseed runs' own experiment, in the store
    metrics = json.loads(read_bytes(join(model, "metrics.json")))
    assert metrics["made_by"].startswith("kept: trial")
    assert len(read_bytes(join(model, "model.safetensors"))) > 1000
    # The kept weights of beaten trials were removed from the store while the search ran.
    kept = [t for t in table["trial_id"] if holds_files(join(exp, f"trial_{t}", "best_model"))]
    assert 1 <= len(kept) <= 2, kept

    # A report and a refit read the store and write to it.
    csv = join(exp, "hpo_artifacts", "hpo_trials.csv")
    fs, path = filesystem(csv)
    before = fs.get_file_info(path).mtime_ns
    time.sleep(1.1)
    out = finish(hpo_ray(["report", exp], cwd, env))
    assert "best" in out.lower()
    assert fs.get_file_info(path).mtime_ns > before
    refused = subprocess.run(
        [sys.executable, "-m", "hpo_ray.cli", "refit", exp],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 2 and "is not empty" in refused.stderr
    out = finish(hpo_ray(["refit", exp, "--how", "retrain", "--overwrite"], cwd, env))
    assert f"tuned model: {model}" in out
    metrics = json.loads(read_bytes(join(model, "metrics.json")))
    assert metrics["made_by"] == "retrained on the train split"

    # Nothing on local disk: no results folders where the commands ran, no work copy left.
    assert sorted(p.name for p in cwd.iterdir()) == ["s3run.yaml"]
    assert not [p for p in work.rglob("*") if p.is_file()]


def test_work_copy_pushes_only_what_changed(tmp_path, s3_env):
    exp = f"s3://{BUCKET}/unit/exp"
    os.environ["HPO_RAY_WORK_DIR"] = str(tmp_path / "work")
    try:
        copy = WorkCopy(exp)
        copy.local.mkdir(parents=True)
        (copy.local / "a.txt").write_text("one")
        (copy.local / "sub").mkdir()
        (copy.local / "sub" / "b.txt").write_text("two")
        assert copy.push() == ["a.txt", "sub/b.txt"]
        assert copy.push() == []
        (copy.local / "a.txt").write_text("one, changed")
        assert copy.push() == ["a.txt"]
        (copy.local / "sub" / "b.txt").write_text("two, changed")
        (copy.local / "c.txt").write_text("three")
        assert copy.push(top_only=True) == ["c.txt"]  # the driver's own files only
        assert copy.push() == ["sub/b.txt"]
        copy.discard()
        assert not copy.local.exists()

        again = WorkCopy(exp)
        again.pull()
        assert (again.local / "sub" / "b.txt").read_text() == "two, changed"
        assert again.push() == []  # pulled files are not sent back
        again.discard()
    finally:
        os.environ.pop("HPO_RAY_WORK_DIR", None)


def test_a_missing_bucket_is_refused_before_ray(tmp_path, corpus_csv, tiny_model, s3_env, capsys):
    from hpo_ray.cli import main

    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        run={"name": "nobucket", "storage": "s3://no-such-bucket/runs"},
    )
    dump_config(cfg, tmp_path / "c.yaml")
    assert main(["search", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("bucket 'no-such-bucket' does not exist; create it first"), err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "ray_results").exists() and not (tmp_path / "trained").exists()


def test_a_key_that_would_leave_the_work_copy_is_refused(tmp_path, s3_env):
    import boto3

    exp = f"s3://{BUCKET}/unit/escape"
    boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"]).put_object(
        Bucket=BUCKET, Key="unit/escape/../../outside.txt", Body=b"planted"
    )
    os.environ["HPO_RAY_WORK_DIR"] = str(tmp_path / "work")
    try:
        copy = WorkCopy(exp)
        with pytest.raises(ConfigError, match="outside the work copy"):
            copy.pull()
        assert not any(p.name == "outside.txt" for p in tmp_path.rglob("*"))
        assert stat.S_IMODE(copy.local.parent.stat().st_mode) == 0o700
    finally:
        os.environ.pop("HPO_RAY_WORK_DIR", None)


def test_the_old_model_goes_only_after_the_new_one_is_up(tmp_path, s3_env):
    model = f"s3://{BUCKET}/unit/model"
    os.environ["HPO_RAY_WORK_DIR"] = str(tmp_path / "work")
    try:
        old = WorkCopy(model)
        old.local.mkdir(parents=True)
        (old.local / "old_only.bin").write_text("old")
        (old.local / "labels.json").write_text("[]")
        old.push()
        old.discard()
        new = WorkCopy(model)
        new.local.mkdir(parents=True)
        (new.local / "labels.json").write_text('["a", "b"]')
        new.push()
        fs, base = filesystem(model)
        assert fs.get_file_info(base + "/old_only.bin").size == 3  # still there after the push
        assert new.prune() == ["old_only.bin"]
        names = {i.base_name for i in fs.get_file_info(FileSelector(base, recursive=True))}
        assert names == {"labels.json"}
    finally:
        os.environ.pop("HPO_RAY_WORK_DIR", None)
