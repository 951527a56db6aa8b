"""Nothing a user owns is lost or deleted: folders hpo_ray did not make are never removed,
overlapping places are refused, files are written whole, a second search of the same name is
refused, Ctrl-C stops a search that resume then finishes, and the saved model is readable by
others as the umask says. Refusals run the real CLI in-process (they end before Ray starts);
the Ctrl-C run is a real search in its own process."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import driver_env, terminated_trials, tiny_config

from hpo_ray.cli import main
from hpo_ray.config.loading import dump_config
from hpo_ray.errors import ConfigError
from hpo_ray.layout import LOCK_SUFFIX, OWNER_MARK, SEARCH_ARTIFACTS, SUMMARY
from hpo_ray.results.trials import SearchResults
from hpo_ray.storage import held_lock, replacing, write_file
from hpo_ray.workflows.refit import swap_in


def _config(tmp_path: Path, corpus_csv: Path, tiny_model: Path, **sections) -> Path:
    cfg = tiny_config(tmp_path, corpus_csv, tiny_model, **sections)
    path = tmp_path / "cfg.yaml"
    dump_config(cfg, path)
    return path


def _refusal(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_overwrite_never_removes_a_folder_hpo_ray_did_not_make(
    tmp_path, corpus_csv, tiny_model, capsys
):
    config = _config(tmp_path, corpus_csv, tiny_model)
    notes = tmp_path / "ray_results" / "exp" / "notes.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("mine")
    for extra in ([], ["--overwrite"]):
        line = _refusal(capsys, ["search", str(config), *extra])
        assert "hpo_ray did not write" in line and "--overwrite" not in line, line
    assert notes.read_text() == "mine"


def test_overwrite_never_removes_a_model_folder_hpo_ray_did_not_make(
    tmp_path, corpus_csv, tiny_model, capsys
):
    config = _config(tmp_path, corpus_csv, tiny_model, run={"refit": "keep"})
    weights = tmp_path / "trained" / "exp" / "my_weights.bin"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"\0" * 8)
    line = _refusal(capsys, ["search", str(config), "--overwrite"])
    assert "model folder" in line and "hpo_ray did not write" in line, line
    assert weights.read_bytes() == b"\0" * 8


def test_a_marked_experiment_folder_may_be_overwritten(tmp_path, corpus_csv, tiny_model, capsys):
    config = _config(tmp_path, corpus_csv, tiny_model)
    exp = tmp_path / "ray_results" / "exp"
    exp.mkdir(parents=True)
    (exp / OWNER_MARK).write_text("experiment")
    (exp / "old.txt").write_text("old")
    line = _refusal(capsys, ["search", str(config)])
    assert "already holds results" in line and "--overwrite" in line, line


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"run": {"trained_dir": "{tmp}/ray_results"}}, "overlap"),
        ({"run": {"storage": "{tmp}/trained/exp/runs"}}, "overlap"),
        ({"data": {"path": "{tmp}/ray_results/exp/data.csv"}}, "data.path="),
        ({"model": {"name": "{tmp}/trained/exp"}}, "model.name="),
    ],
    ids=["model-in-storage", "experiment-in-model", "data-in-experiment", "encoder-is-model"],
)
def test_overlapping_places_are_refused(
    tmp_path, corpus_csv, tiny_model, capsys, sections, message
):
    filled = {
        section: {k: v.format(tmp=tmp_path) for k, v in values.items()}
        for section, values in sections.items()
    }
    for value in (v for values in filled.values() for v in values.values()):
        if value.endswith(".csv"):
            Path(value).parent.mkdir(parents=True, exist_ok=True)
            Path(value).write_bytes(corpus_csv.read_bytes())
        elif "trained/exp" in value and "model" in filled:
            Path(value).mkdir(parents=True, exist_ok=True)
            for f in tiny_model.iterdir():
                (Path(value) / f.name).write_bytes(f.read_bytes())
    encoder = Path(filled.pop("model")["name"]) if "model" in filled else tiny_model
    config = _config(tmp_path, corpus_csv, encoder, **filled)
    line = _refusal(capsys, ["search", str(config)])
    assert message in line, line


def test_a_write_is_whole_or_not_at_all_and_replaces_a_symlink(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("not yours")
    link = tmp_path / "summary.txt"
    link.symlink_to(target)
    write_file(link, "new")
    assert target.read_text() == "not yours"
    assert not link.is_symlink() and link.read_text() == "new"
    with pytest.raises(RuntimeError), replacing(link) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert link.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.txt", "summary.txt"]
    mode = stat.S_IMODE(link.stat().st_mode)
    assert mode == 0o666 & ~_umask()


def test_a_model_swap_that_fails_puts_the_old_model_back(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "weights").write_text("old")
    with pytest.raises(OSError):
        swap_in(tmp_path / "never-made", out)
    assert (out / "weights").read_text() == "old"
    new = tmp_path / "new"
    new.mkdir()
    (new / "weights").write_text("new")
    swap_in(new, out)
    assert (out / "weights").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_held_lock_refuses_and_a_dead_ones_is_taken_over(tmp_path, caplog):
    exp = tmp_path / "exp"
    with held_lock(exp) as lock:
        assert lock is not None and lock.name == "exp" + LOCK_SUFFIX
        with pytest.raises(ConfigError, match="in use by process"), held_lock(exp):
            pass
    assert not lock.exists()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lock.write_text(f"{gone.pid} {os.uname().nodename}\n")
    with held_lock(exp) as taken:
        assert taken == lock and lock.read_text().split()[0] == str(os.getpid())
    assert "taking over the lock" in caplog.text
    assert not lock.exists()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hpo_ray.cli", *args],
        env=driver_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kw,
    )


@pytest.mark.e2e
def test_ctrl_c_stops_the_search_and_resume_finishes_it(tmp_path, corpus_csv, tiny_model):
    config = _config(
        tmp_path,
        corpus_csv,
        tiny_model,
        training={"num_train_epochs": 2, "early_stopping_patience": 0},
        search={"num_samples": 4, "scheduler": "none", "max_concurrent_trials": 1},
        run={"refit": "keep", "verbose": 0},
    )
    exp, model = tmp_path / "ray_results" / "exp", tmp_path / "trained" / "exp"
    lock = exp.with_name("exp" + LOCK_SUFFIX)
    driver = _cli("search", str(config))
    try:
        deadline = time.time() + 300
        while not lock.exists() and driver.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        # A second search of the same name, started while the first runs: refused at once.
        second = subprocess.run(
            [sys.executable, "-m", "hpo_ray.cli", "search", str(config), "--overwrite"],
            env=driver_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 2 and "in use by process" in second.stderr, second.stderr
        while not terminated_trials(exp) and driver.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert driver.poll() is None, "the search ended before Ctrl-C"
        done_first = terminated_trials(exp)
        driver.send_signal(signal.SIGINT)
        _, err = driver.communicate(timeout=180)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 130, err[-3000:]
    assert f"hpo-ray resume {exp}" in err
    assert not model.exists(), "no refit after Ctrl-C"
    assert not (exp / SEARCH_ARTIFACTS / SUMMARY).exists()
    assert not lock.exists()
    before = SearchResults.load(exp).frame.set_index("trial_id")
    assert len(before) < 4 or (before["status"] != "completed").any(), "nothing left to resume"

    resumed = _cli("resume", str(exp))
    try:
        _, err = resumed.communicate(timeout=400)
    finally:
        if resumed.poll() is None:
            os.killpg(resumed.pid, signal.SIGKILL)
    assert resumed.returncode == 0, err[-3000:]
    after = SearchResults.load(exp).frame.set_index("trial_id")
    assert len(after) == 4 and (after["status"] == "completed").all()
    for trial_id in done_first:  # kept, not re-run
        assert after.loc[trial_id, "time_s"] == before.loc[trial_id, "time_s"]
    # The saved model carries the marker and the user's normal permissions.
    assert (model / OWNER_MARK).is_file() and (exp / OWNER_MARK).is_file()
    assert stat.S_IMODE(model.stat().st_mode) == 0o777 & ~_umask()
    weights = next(model.glob("*.safetensors"))
    assert stat.S_IMODE(weights.stat().st_mode) == 0o666 & ~_umask()
    # A report written over a planted symlink replaces the link, never its target.
    target = tmp_path / "not-yours.txt"
    target.write_text("keep")
    summary = exp / SEARCH_ARTIFACTS / SUMMARY
    summary.unlink()
    summary.symlink_to(target)
    assert main(["report", str(exp)]) == 0
    assert target.read_text() == "keep" and not summary.is_symlink()


def test_a_folder_is_trusted_for_resume_only_with_this_users_id(tmp_path, monkeypatch):
    from hpo_ray.storage import made_by_this_user, mark_owned, user_id

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "me"))
    assert user_id(make=False) is None
    folder = tmp_path / "exp"
    folder.mkdir()
    assert not made_by_this_user(folder)  # no marker
    mark_owned(folder, "experiment")
    me = user_id(make=False)
    assert me is not None and len(me) == 32 and user_id() == me  # kept, not remade
    assert made_by_this_user(folder)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "someone-else"))
    assert not made_by_this_user(folder)  # another user: no id yet
    user_id()
    assert not made_by_this_user(folder)  # another user's own id


def test_a_folder_made_elsewhere_gets_this_machines_output_paths(tmp_path, monkeypatch):
    """Its author's trained_dir and cache_dir are not used (a refit would write, and
    --overwrite remove, there) unless trusted; a saved trust_remote_code is refused."""
    import dataclasses

    from hpo_ray.config.loading import dump_config, from_dict, load_experiment_config
    from hpo_ray.errors import ConfigError
    from hpo_ray.storage import mark_owned, trust

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "author"))
    exp = tmp_path / "from-a-colleague" / "exp"
    exp.mkdir(parents=True)
    raw = {
        "data": {"cache_dir": "/their/cache"},
        "run": {"name": "exp", "storage": "/their/runs", "trained_dir": "/their/trained"},
    }
    cfg = from_dict(raw)
    dump_config(cfg, exp / "hpo_config.yaml")
    mark_owned(exp, "experiment")
    assert load_experiment_config(exp).run.trained_dir == "/their/trained"  # the author's own

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "me"))
    monkeypatch.chdir(tmp_path)
    mine = load_experiment_config(exp)
    assert mine.run.trained_dir == str(tmp_path / "trained")
    assert mine.data.cache_dir == str(tmp_path / "datasets" / ".cache")
    assert mine.run.storage == str(exp.parent)  # the folder is where it is

    remote = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, trust_remote_code=True))
    dump_config(remote, exp / "hpo_config.yaml")
    with pytest.raises(ConfigError, match="made elsewhere with model.trust_remote_code"):
        load_experiment_config(exp)
    trust(exp)  # --trust-folder
    trusted = load_experiment_config(exp)
    assert trusted.model.trust_remote_code and trusted.run.trained_dir == "/their/trained"
