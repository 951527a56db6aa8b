"""On a CUDA machine: four trials packed on one GPU (0.25 each, fp16), the kept model saved.

Skipped without CUDA (CI has none); run it where a GPU is: `python -m pytest tests/e2e/test_gpu.py`.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import tiny_config

from hpo_ray.results.trials import SearchResults
from hpo_ray.workflows.search import run_search

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_four_trials_share_one_gpu_and_the_kept_model_is_saved(
    tmp_path, corpus_csv, tiny_model, ray_local
):
    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        data={"test_size": 0.2},
        training={"num_train_epochs": 3, "learning_rate": 3e-3, "fp16": True},
        search={
            "num_samples": 8,
            "scheduler": "asha",
            "grace_period": 1,
            "max_concurrent_trials": 4,
        },
        resources={"cpu": 0.5, "gpu": 0.25},  # the test Ray has 2 CPUs
        run={"name": "gpu", "trial_plots": 1},
    )
    outcome = run_search(cfg)
    results = SearchResults.load(outcome.experiment_dir)
    assert (results.frame["status"] != "failed").all()
    windows = []
    for trial_id in results.frame["trial_id"]:
        folder = outcome.experiment_dir / f"trial_{trial_id}"
        rows = [json.loads(x) for x in (folder / "result.json").read_text().splitlines() if x]
        assert {r["device"] for r in rows} == {"cuda:0"}, trial_id
        end = rows[-1]["timestamp"]
        windows.append((end - rows[-1]["time_total_s"], end))
    # packed: at some moment at least two trials were training on the one GPU
    assert any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(windows) for b in windows[:i])
    metrics = json.loads((outcome.trained_dir / "metrics.json").read_text())
    assert metrics["made_by"].startswith("kept:")
    best = results.best_row()
    assert metrics["validation"]["eval_f1"] == pytest.approx(best["objective"], abs=1e-4)
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")
    assert len(table) == 8
