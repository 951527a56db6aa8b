"""LoRA against full fine-tuning on the tiny model: fewer trainable weights, a merged model
that loads with from_pretrained."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from helpers import tiny_config
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from hpo_ray.workflows.search import run_ofat

pytestmark = pytest.mark.e2e


def test_lora_trial_and_merged_refit(tmp_path, corpus_csv, tiny_model, ray_local):
    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        training={
            "learning_rate": 5e-3,
            "num_train_epochs": 2,
            "early_stopping_patience": 0,
            "lora_r": 4,
            "lora_target_modules": "query,value",
        },
        ofat={"grid": {"finetune": ["full", "lora"]}},
        run={"name": "lora"},
    )
    outcome = run_ofat(cfg)
    table = pd.read_csv(outcome.artifacts_dir / "ofat_results.csv").set_index("value")
    assert (table["status"] == "completed").all()
    params = {}
    for mode in ("full", "lora"):
        folder = outcome.experiment_dir / f"trial_{table.loc[mode, 'trial_id']}"
        params[mode] = json.loads((folder / "metrics.json").read_text())["trainable_params"]
    assert 0 < params["lora"] < params["full"] / 5  # adapters and the head only
    assert 0 <= table.loc["lora", "f1"] <= 1 and table.loc["full", "f1"] > 0.8

    # Refit the LoRA variant: saved with the adapters merged, it loads as a plain model.
    from hpo_ray.results.trials import SearchResults
    from hpo_ray.workflows.refit import refit_best

    lora_params = {**SearchResults.load(outcome.experiment_dir).best_params(), "finetune": "lora"}
    lora_params.update(lora_r=4, lora_target_modules="query,value")
    folder = refit_best(cfg, overwrite=True, params=lora_params)
    assert not (folder / "adapter_config.json").exists()
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    batch = tokenizer(["great and wonderful film"], return_tensors="pt")
    with torch.no_grad():
        assert model(**batch).logits.shape == (1, 2)
    metrics = json.loads((folder / "metrics.json").read_text())["validation"]
    assert 0 <= metrics["eval_f1"] <= 1
    # The merged weights are the trained ones: the saved model scores what the refit reported.
    from transformers import DataCollatorWithPadding

    from hpo_ray.workflows.prepare import prepare_inputs

    data = prepare_inputs(cfg)[1][cfg.model.name]
    batch = DataCollatorWithPadding(tokenizer)([dict(r) for r in data.validation])
    labels = batch.pop("labels")
    with torch.no_grad():
        accuracy = (model(**batch).logits.argmax(-1) == labels).float().mean().item()
    assert accuracy == pytest.approx(metrics["eval_accuracy"], abs=1e-6)
