"""Smoke tests of scripts/bench_overhead.py's tiny mode (trial-count scaling): 2 trials of the
tiny random-init BERT through `hpo-ray search` (way a), and through the sequential Trainer loop
(way b), each without the throughput probes; plus its helpers on made-up figures."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "bench_overhead.py"


@pytest.fixture(scope="module")
def overhead() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_bench_overhead_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tiny(tmp_path: Path, corpus_csv: Path, way: str) -> dict[str, Any]:
    """The tiny mode at 2 trials, one way, no throughput probes; the report it wrote."""
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(SCRIPT), "--model", "tiny", "--trials", "2", "--only", way]
    cmd += ["--no-limit", "--data", str(corpus_csv), "--rows", "200", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.read_text())
    assert report["mode"] == "tiny" and report["throughput"] is None
    assert report["workload"]["trials"] == [2]
    entry = report["sizes"]["2"]
    assert entry["limit_s"] is None
    name = {"a": "a_hpo_ray", "b": "b_sequential_2_threads"}[way]
    assert set(entry) == {"limit_s", name}
    result = entry[name]
    assert result["wall_s"] > 0
    assert math.isclose(result["wall_s_per_trial"], result["wall_s"] / 2)
    assert result["ratio_to_limit"] is None
    assert result["driver_peak_rss_mb"] > 100 and result["tree_peak_rss_mb"] > 100
    assert 0 < result["prepare_data_s"] < result["wall_s"]
    return report


def test_tiny_mode_hpo_ray_search(tmp_path: Path, corpus_csv: Path) -> None:
    started = time.perf_counter()
    report = run_tiny(tmp_path, corpus_csv, "a")
    a = report["sizes"]["2"]["a_hpo_ray"]
    # Both trials ran and completed; the probes saw them start and report.
    assert a["statuses"] == {"completed": 2} and a["trials_started"] == 2
    assert 0 < a["first_trial_start_s"] <= a["first_result_s"] < a["wall_s"]
    # Tokenized once per experiment, in the driver, from a cold cache.
    assert a["tokenize_calls"] == 1
    assert 0 < a["tokenize_s"] <= a["prepare_data_s"]
    # Ray's processes (raylet, GCS, workers) add to the driver's process tree.
    assert a["tree_peak_rss_mb"] > a["driver_peak_rss_mb"]
    scaling = report["scaling"]["a_hpo_ray"]
    assert scaling["tokenization_flat"] is True
    assert scaling["first_trial_start_s"]["2"] == a["first_trial_start_s"]
    print(f"overhead tiny way a: {time.perf_counter() - started:.1f}s")


def test_tiny_mode_sequential(tmp_path: Path, corpus_csv: Path) -> None:
    started = time.perf_counter()
    report = run_tiny(tmp_path, corpus_csv, "b")
    assert report["sizes"]["2"]["b_sequential_2_threads"]["trainings"] == 2
    assert "first_trial_start_s" not in report["sizes"]["2"]["b_sequential_2_threads"]
    print(f"overhead tiny way b: {time.perf_counter() - started:.1f}s")


def test_trials_need_tiny_mode() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--trials", "8"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "--model tiny" in proc.stderr


def test_tiny_learning_rates_are_distinct_and_log_spaced(overhead: ModuleType) -> None:
    for n in (1, 2, 8, 128):
        lrs = overhead.tiny_lrs(n)
        assert len(lrs) == n == len(set(lrs))
        assert math.isclose(lrs[0], overhead.TINY_LR_LOW)
    lrs = overhead.tiny_lrs(8)
    assert math.isclose(lrs[-1], overhead.TINY_LR_HIGH)
    ratios = [b / a for a, b in zip(lrs, lrs[1:], strict=False)]
    assert max(ratios) - min(ratios) < 1e-9


def test_tokenization_flatness(overhead: ModuleType) -> None:
    def entry(prepare_s: float, calls: int = 1) -> dict[str, object]:
        way = {
            "wall_s": 10.0,
            "wall_s_per_trial": 1.0,
            "ratio_to_limit": None,
            "driver_peak_rss_mb": 600.0,
            "first_trial_start_s": 5.0,
            "prepare_data_s": prepare_s,
            "tokenize_calls": calls,
        }
        return {"a_hpo_ray": way}

    flat = {"8": entry(0.40), "32": entry(0.45), "128": entry(0.52)}
    assert overhead.tiny_scaling(flat, ["a"])["a_hpo_ray"]["tokenization_flat"]
    growing = {"8": entry(0.4), "32": entry(1.6), "128": entry(6.4)}
    assert not overhead.tiny_scaling(growing, ["a"])["a_hpo_ray"]["tokenization_flat"]
    twice = {"8": entry(0.4), "32": entry(0.4, calls=2)}
    assert not overhead.tiny_scaling(twice, ["a"])["a_hpo_ray"]["tokenization_flat"]
