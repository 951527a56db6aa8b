"""scripts/benchlib.py, the benchmark scripts' shared helpers: the child runner, its
environment, the config factory, the event reader and the readers of a finished experiment."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import benchlib  # noqa: E402 - a script module, not a package


@pytest.fixture(scope="module")
def lib() -> ModuleType:
    return benchlib


def test_child_env_drops_and_sets(lib: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    env = lib.child_env()
    assert "OMP_NUM_THREADS" not in env and "RAY_ADDRESS" not in env
    assert env["HF_HUB_OFFLINE"] == "1"
    env = lib.child_env(drop=("RAY_ADDRESS",), offline=False, PYTHONPATH="/code")
    assert env["OMP_NUM_THREADS"] == "4" and env["PYTHONPATH"] == "/code"
    assert "RAY_ADDRESS" not in env


def test_run_child_times_samples_and_reads_the_result(lib: ModuleType, tmp_path: Path) -> None:
    result = tmp_path / "out.json"
    code = f"import json, time; time.sleep(0.6); open({str(result)!r}, 'w').write('{{\"x\": 1}}')"
    child = lib.run_child([sys.executable, "-c", code], env=lib.child_env(), log=tmp_path / "l")
    assert child.rc == 0 and child.result is None  # no result asked for
    child = lib.run_child(
        [sys.executable, "-c", code], env=lib.child_env(), log=tmp_path / "l", result=result
    )
    assert child.result == {"x": 1}
    assert child.wall_s >= 0.6 and child.started_unix > 0
    assert child.tree_peak_rss_mb is not None and child.tree_peak_rss_mb > 1
    quiet = lib.run_child([sys.executable, "-c", "pass"], env=lib.child_env(), sample_tree=False)
    assert quiet.tree_peak_rss_mb is None


def test_run_child_failure_quotes_the_log(lib: ModuleType, tmp_path: Path) -> None:
    code = "import sys; print('the reason'); sys.exit(3)"
    with pytest.raises(RuntimeError, match=r"size 4 failed \(exit 3\)(.|\n)*the reason"):
        lib.run_child(
            [sys.executable, "-c", code], env=lib.child_env(), log=tmp_path / "l", what="size 4"
        )
    with pytest.raises(RuntimeError, match="exit 0"):  # ran, but wrote no result
        lib.run_child(
            [sys.executable, "-c", "pass"],
            env=lib.child_env(),
            log=tmp_path / "l",
            result=tmp_path / "missing.json",
        )


def test_experiment_raw_keeps_outputs_in_work_and_validates(
    lib: ModuleType, tmp_path: Path
) -> None:
    raw = lib.experiment_raw(
        tmp_path,
        data={"path": "/data.csv", "max_rows": 100},
        model="/model",
        search={"num_samples": 3},
        resources={"gpu": 0},
        run={"name": "x", "dashboard": True},
        ofat={"grid": {"learning_rate": [1e-4, 2e-4]}},
    )
    assert raw["data"]["cache_dir"] == str(tmp_path / "cache")
    assert raw["resources"] == {"cpu": 1, "gpu": 0}
    assert raw["run"]["storage"] == str(tmp_path / "ray_results")
    assert raw["run"]["trained_dir"] == str(tmp_path / "trained")
    assert raw["run"]["dashboard"] is True  # what a section gives wins
    assert lib.experiment_raw(tmp_path)["run"]["dashboard"] is False
    assert "data" not in lib.experiment_raw(tmp_path)
    cfg = lib.build_config(raw)
    assert cfg.experiment_dir == tmp_path / "ray_results" / "x"
    assert cfg.search.num_samples == 3 and cfg.model.name == "/model"
    path = lib.write_yaml(raw, tmp_path / "c.yaml", sort_keys=False)
    from hpo_ray.config.loading import load_config

    assert load_config(path).run.name == "x"


def test_scalar_events_reads_every_event(lib: ModuleType, tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    trial = tmp_path / "trial_abc"
    writer = SummaryWriter(log_dir=str(trial))
    for step in range(3):
        writer.add_scalar("train/loss", 1.0 - step / 10, step)
    writer.add_scalar("eval/f1", 0.5, 2)
    writer.close()
    assert lib.trial_folders(tmp_path) == [trial]
    (path,) = lib.event_files(tmp_path)
    scalars = lib.scalar_events(path)
    assert set(scalars) == {"train/loss", "eval/f1"}
    assert [e.step for e in scalars["train/loss"]] == [0, 1, 2]
    assert scalars["train/loss"][-1].value == pytest.approx(0.8)
    assert all(e.wall_time > 0 for e in scalars["eval/f1"])


def test_statuses_and_sizes_of_an_experiment(lib: ModuleType, tmp_path: Path) -> None:
    from hpo_ray.layout import SEARCH_ARTIFACTS, TRIALS_CSV

    assert lib.trial_statuses(tmp_path) == {}
    (tmp_path / SEARCH_ARTIFACTS).mkdir()
    table = tmp_path / SEARCH_ARTIFACTS / TRIALS_CSV
    table.write_text("trial_id,status\na,completed\nb,completed\nc,scheduler_stop\n")
    assert lib.trial_statuses(tmp_path) == {"completed": 2, "scheduler_stop": 1}
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f").write_bytes(b"\0" * 100)
    assert lib.folder_bytes(tmp_path) == 100 + table.stat().st_size


def test_load_script_and_own_peak_rss(lib: ModuleType) -> None:
    trust = lib.load_script("bench_trust")
    assert callable(trust.pool)
    with pytest.raises((ImportError, FileNotFoundError)):
        lib.load_script("no_such_script")
    rss = lib.own_peak_rss()
    assert rss["driver_peak_rss_mb"] > 10
    json.dumps(rss)
