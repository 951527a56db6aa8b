"""A search on split tables given as parquet files, with sentence pairs, on the real stack."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import make_rows
from helpers import tiny_config

from hpo_ray.workflows.search import run_search

pytestmark = pytest.mark.e2e


def pair_table(n: int, seed: int) -> pd.DataFrame:
    """Rows split into two texts: the sentiment words may sit in either."""
    rows = []
    for text, score in make_rows(n, seed):
        words = text.split()
        rows.append((" ".join(words[:4]), " ".join(words[4:]), score))
    return pd.DataFrame(rows, columns=["premise", "hypothesis", "sent"])


def test_given_parquet_splits_with_pairs_search_save_and_classify(
    tmp_path, corpus_csv, tiny_model, ray_local
):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    paths = {}
    for split, (n, seed) in {"train": (300, 1), "validation": (60, 2), "test": (60, 3)}.items():
        table = pair_table(n, seed)
        if split == "test":
            table = pd.concat([table, pair_table(300, 1).head(2)], ignore_index=True)  # leaked
        paths[f"{split}_path"] = str(tmp_path / f"{split}.parquet")
        table.to_parquet(paths[f"{split}_path"], index=False)
    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        data={**paths, "text_column": "premise", "text_pair_column": "hypothesis"},
        training={"learning_rate": 3e-3, "num_train_epochs": 3},
        search={"num_samples": 3, "scheduler": "none", "max_concurrent_trials": 2},
        run={"name": "pairs", "trial_plots": 0},
    )
    outcome = run_search(cfg)

    described = json.loads((outcome.experiment_dir / "data_splits.json").read_text())
    assert described["sizes"] == {"train": 300, "validation": 60, "test": 62}
    assert described["given_splits"] == ["train", "validation", "test"] and described["pairs"]
    assert described["overlaps"] == {"test in train": 2}
    summary = (outcome.artifacts_dir / "summary.txt").read_text()
    assert "splits: train 300, validation 60, test 62 (given: train, validation, test)" in summary
    assert "leakage: 2 rows of test in train" in summary
    assert "test split given (data.test_path" in summary

    folder = outcome.trained_dir
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["made_by"].startswith("kept:") and metrics["test"]["test_accuracy"] > 0.8
    assert (folder / "baseline_metrics.json").is_file()  # the given test split scores it
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    test = pd.read_parquet(paths["test_path"])
    batch = tok(
        test["premise"].tolist(),
        test["hypothesis"].tolist(),
        truncation=True,
        max_length=32,
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        predicted = model(**batch).logits.argmax(-1).numpy()
    accuracy = float((predicted == (test["sent"] > 0).astype(int).to_numpy()).mean())
    assert accuracy == pytest.approx(metrics["test"]["test_accuracy"], abs=1e-6)
