"""Smoke test of scripts/bench_scale.py: 4 and 8 trivial trials through the real search path
(searcher, scheduler, callbacks, report), each size in its own subprocess joined to the test
session's Ray; and the superlinearity verdict on made-up figures."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from hpo_ray.layout import SEARCH_ARTIFACTS, TRIALS_CSV, trial_dir_name

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_{name}_under_test", REPO / "scripts" / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scale() -> ModuleType:
    return load_script("bench_scale.py")


def test_scale_smoke(scale: ModuleType, tmp_path: Path, ray_local: None) -> None:
    import ray

    started = time.perf_counter()
    address = ray.get_runtime_context().gcs_address
    report = scale.bench([4, 8], tmp_path, address=address)
    json.dumps(report)  # the CLI writes it as JSON
    assert set(report["sizes"]) == {"4", "8"}
    for n in (4, 8):
        s = report["sizes"][str(n)]
        # Every trial ended: completed its 3 evaluations or was stopped by ASHA.
        assert sum(s["statuses"].values()) == n
        assert set(s["statuses"]) <= {"completed", "scheduler_stop"}
        assert s["statuses"].get("completed", 0) >= 1
        assert s["csv_rows"] == n and s["study_trials"] == n
        for key in (
            "whole_s",
            "fit_s",
            "report_s",
            "whole_s_per_trial",
            "fit_s_per_trial",
            "driver_peak_rss_mb",
            "tree_peak_rss_mb",
            "exp_mb",
            "exp_files",
            "exp_kb_per_trial",
        ):
            assert s[key] > 0, key
        assert s["whole_s"] > s["fit_s"] + s["report_s"]
        assert s["mb_by_part"]["trials"] > 0 and s["mb_by_part"]["study_db"] > 0
        exp = tmp_path / "ray_results" / f"scale{n}"
        table = pd.read_csv(exp / SEARCH_ARTIFACTS / TRIALS_CSV)
        assert len(table) == n
        assert table["objective"].notna().all() and (table["objective"] > 0).all()
        assert (table["objective"] >= table["eval_f1"] - 1e-9).all()
        assert (table.loc[table["status"] == "completed", "epochs_run"] == 3).all()
        assert len(list(exp.glob(trial_dir_name("*")))) == n
        assert (exp / SEARCH_ARTIFACTS / "optimization_history.png").is_file()
    verdict = report["verdict"]
    assert set(verdict["metrics"]) == set(scale.METRICS)
    assert verdict["method"].startswith("per-trial ratio")
    assert isinstance(verdict["linear_or_better"], bool)
    # More trials, more files: the folder grows with the trial count.
    assert report["sizes"]["8"]["exp_files"] > report["sizes"]["4"]["exp_files"]
    print(f"scale smoke: {time.perf_counter() - started:.1f}s")


def _sizes(total: Callable[[int], float]) -> dict[int, dict[str, float]]:
    """Made-up figures for 16, 64, 256 trials: walls from ``total``, linear memory and disk."""
    return {
        n: {
            "whole_s": total(n),
            "fit_s": total(n),
            "report_s": total(n),
            "driver_peak_rss_mb": 500.0 + 0.01 * n,
            "tree_peak_rss_mb": 1500.0,
            "exp_mb": 0.05 * n,
            "exp_files": 8.0 * n + 20,
        }
        for n in (16, 64, 256)
    }


def test_verdict_tells_linear_from_quadratic(scale: ModuleType) -> None:
    v = scale.verdict(_sizes(lambda n: 20 + 1.5 * n), 1.3)
    assert v["linear_or_better"] and v["superlinear"] == []
    assert v["method"].startswith("marginal")
    v = scale.verdict(_sizes(lambda n: 20 + n + n * n / 50), 1.3)
    assert set(v["superlinear"]) == {"whole_s", "fit_s", "report_s"}
    assert v["metrics"]["fit_s"]["marginal_growth_last_to_first"] > 2
    # A small quadratic term (under 5% of the total at 256 trials) is not flagged.
    v = scale.verdict(_sizes(lambda n: 20 + 10 * n + n * n / 5000), 1.3)
    assert v["linear_or_better"]
