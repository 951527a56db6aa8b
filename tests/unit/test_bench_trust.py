"""scripts/bench_trust.py's pooling on made-up records: paired differences per corpus and
pooled, their t intervals and the verdicts they allow."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from scipy.stats import t

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_trust.py"


def load():
    spec = importlib.util.spec_from_file_location("bench_trust", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_runs(folder: Path, soups: list[float], singles: list[float]) -> None:
    runs = [
        {
            "method": "auto_soup",
            "seed": i,
            "models": {
                "soup": {"test_f1": soup},
                "best_single": {"test_f1": single},
                "training": {"test_f1": 0.5},
            },
        }
        for i, (soup, single) in enumerate(zip(soups, singles, strict=True))
    ]
    folder.mkdir(parents=True)
    (folder / "quality.json").write_text(json.dumps({"runs": runs}))


def test_pairs_are_pooled_with_t_intervals_and_verdicts(tmp_path):
    trust = load()
    write_runs(tmp_path / "a", [0.80, 0.825, 0.83], [0.78, 0.80, 0.80])  # +0.02 .. +0.03
    write_runs(tmp_path / "b", [0.70, 0.60], [0.65, 0.66])  # +0.05, -0.06
    table = trust.pool(tmp_path, ["a", "b"])
    pair = table["pairs"]["soup - best_single"]
    diffs_a = [0.02, 0.025, 0.03]
    assert pair["a"]["mean"] == pytest.approx(0.025)
    half = t.ppf(0.975, 2) * 0.005 / 3**0.5  # sd of the three is 0.005
    assert pair["a"]["low"] == pytest.approx(0.025 - half)
    assert pair["a"]["verdict"] == "ahead"
    assert pair["b"]["verdict"] == "not distinguishable"
    assert pair["pooled"]["n"] == 5
    assert pair["pooled"]["mean"] == pytest.approx((sum(diffs_a) + 0.05 - 0.06) / 5)
    assert "soup - trainer" not in table["pairs"]  # no run scored the Trainer's defaults
    assert table["pairs"]["best_single - training"]["pooled"]["verdict"] == "ahead"
    text = trust.markdown(table, ["a", "b"])
    assert "| soup - best_single | +0.025 [" in text
