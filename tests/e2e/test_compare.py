"""The encoder as a hyperparameter and comparison sweeps (encoder x fine-tuning mode x
training-set size) on two tiny random-init encoders with different vocabularies."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_config, tokenized_entries
from PIL import Image
from transformers import AutoConfig, AutoTokenizer

from hpo_ray.data import dataset as data_mod
from hpo_ray.workflows.prepare import prepare_inputs
from hpo_ray.workflows.search import run_search

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, corpus_csv, tiny_model, tiny_distil, ray_local):
    tmp = tmp_path_factory.mktemp("compare")
    cfg = tiny_config(
        tmp,
        corpus_csv,
        tiny_model,
        training={
            "learning_rate": 5e-3,
            "num_train_epochs": 1,
            "early_stopping_patience": 0,
            "lora_r": 4,
        },
        search={
            "searcher": "grid",
            "scheduler": "none",
            "space": {
                "model_name": {
                    "type": "categorical",
                    "values": [str(tiny_model), str(tiny_distil)],
                },
                "finetune": {"type": "categorical", "values": ["full", "lora"]},
                "train_fraction": {"type": "categorical", "values": [0.5, 1.0]},
            },
        },
        run={"name": "compare"},
    )
    before = tokenized_entries(cfg.data.cache_dir)
    outcome = run_search(cfg)
    return cfg, outcome, tokenized_entries(cfg.data.cache_dir) - before


def test_grid_runs_every_combination_once(sweep):
    cfg, outcome, _ = sweep
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")
    assert len(table) == 8 and (table["status"] == "completed").all()
    combos = set(zip(table["model_name"], table["finetune"], table["train_fraction"], strict=True))
    assert len(combos) == 8
    assert "trials: 8 of 8 requested" in (outcome.artifacts_dir / "summary.txt").read_text()


def test_each_encoder_is_tokenized_once_and_trials_get_its_data(sweep):
    cfg, outcome, tokenize_calls = sweep
    assert tokenize_calls == 2  # one per encoder, reused by its 4 trials and the refit
    with mock.patch.object(data_mod, "read_labelled", wraps=data_mod.read_labelled) as read:
        models, data = prepare_inputs(cfg)
    assert read.call_count == 1  # the CSV is read, labelled and split once for both encoders
    assert set(models) == set(cfg.search.space["model_name"].values)
    first, second = (data[name] for name in models)
    assert first.train["labels"] == second.train["labels"]  # same rows, other token ids
    fingerprints = {name: d.fingerprint for name, d in data.items()}
    assert len(set(fingerprints.values())) == 2  # different vocabularies, different token ids
    vocab = {name: AutoTokenizer.from_pretrained(path).vocab_size for name, path in models.items()}
    assert len(set(vocab.values())) == 2
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")
    for row in table.to_dict("records"):
        history = outcome.experiment_dir / f"trial_{row['trial_id']}" / "result.json"
        last = json.loads(history.read_text().splitlines()[-1])
        assert last["data_fingerprint"] == fingerprints[row["model_name"]], row
    # Half the train split is half the examples (stratified, per class rounding).
    full = len(data[cfg.model.name].train)
    sizes = table.groupby("train_fraction")["train_examples"].unique()
    assert list(sizes[1.0]) == [full] and abs(int(sizes[0.5][0]) - full / 2) <= 1


def test_lora_trains_fewer_weights_for_both_encoders(sweep):
    _, outcome, _ = sweep
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")
    per = table.groupby(["model_name", "finetune"])["trainable_params"].first().unstack()
    assert (per["lora"] < per["full"] / 3).all()


def test_comparison_table_and_plots(sweep):
    cfg, outcome, _ = sweep
    out = outcome.artifacts_dir
    comparison = pd.read_csv(out / "comparison.csv")
    assert len(comparison) == 8
    encoders = [Path(m).name for m in cfg.search.space["model_name"].values or []]
    assert set(comparison["group"]) == {f"{m} / {f}" for m in encoders for f in ("full", "lora")}
    assert comparison["best_at_point"].all()  # nothing else searched: every trial is a point
    expected = comparison["eval_f1"] / (comparison["trainable_params"] / 1e6)
    assert np.allclose(comparison["f1_per_million_params"], expected)
    assert (comparison["train_seconds"] > 0).all()
    assert (comparison["train_seconds"] <= comparison["time_s"]).all()
    for name in ("compare_train_size.png", "compare_param_efficiency.png", "compare_tradeoff.png"):
        pixels = np.asarray(Image.open(out / name).convert("RGB")).astype(int)
        assert pixels.shape[0] > 100
        assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    assert "comparison (best epoch of each trial):" in (out / "summary.txt").read_text()


def test_refit_uses_the_winning_encoder_and_its_tokenizer(sweep):
    cfg, outcome, _ = sweep
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")
    best = table.sort_values(["objective", "trial"], ascending=[False, True]).iloc[0]
    saved = outcome.trained_dir
    params = (saved / "best_params.yaml").read_text()
    assert f"model_name: {best['model_name']}" in params
    winner = AutoConfig.from_pretrained(best["model_name"])
    assert AutoConfig.from_pretrained(saved).model_type == winner.model_type
    assert (
        AutoTokenizer.from_pretrained(saved).get_vocab()
        == AutoTokenizer.from_pretrained(best["model_name"]).get_vocab()
    )
