"""K-fold training inside one trial, with the real Hugging Face Trainer on a tiny random-init
BERT and no Ray: one aggregated report per epoch, each fold's value alongside."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from hpo_ray.config.loading import from_dict
from hpo_ray.data.dataset import split_data, tokenize_splits
from hpo_ray.train.kfold import train_folds
from hpo_ray.train.models import load_tokenizer_from_path
from hpo_ray.train.setup import TrialSetup


@pytest.fixture(scope="module")
def fold_reports(
    tiny_model: Path, corpus_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[dict[str, Any]], Path]:
    """Train 2 folds for 2 epochs once; the reports and the trial folder."""
    import torch

    tmp = tmp_path_factory.mktemp("kfold")
    cfg = from_dict(
        {
            "data": {
                "path": str(corpus_csv),
                "folds": 2,
                "max_length": 32,
                "cache_dir": str(tmp / "cache"),
            },
            "model": {"name": str(tiny_model)},
            "training": {
                "num_train_epochs": 2,
                "per_device_train_batch_size": 8,
                "early_stopping_patience": 0,
                "learning_rate": 1e-3,
                "logging_steps": 5,
            },
            "run": {"name": "kfold"},
        }
    )
    split = split_data(cfg.data)
    assert len(split.folds) == 2
    prepared = tokenize_splits(split, cfg.data, load_tokenizer_from_path(str(tiny_model)))
    assert len(prepared.folds) == 2
    params = {
        **cfg.base_params(),
        "model_name": str(tiny_model),
        "num_train_epochs": 2,
        "per_device_train_batch_size": 8,
        "early_stopping_patience": 0,
        "learning_rate": 1e-3,
    }
    setup = TrialSetup(
        base_params=params,
        models={str(tiny_model): str(tiny_model)},
        label_names=prepared.label_names,
        metric=cfg.search.metric,
        mode=cfg.search.mode,
        cpus_per_trial=1,
        checkpoint="none",
    )
    reports: list[dict[str, Any]] = []
    trial = tmp / "trial"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model trains fastest on one thread, and shares the CPU well
    try:
        train_folds(
            params,
            setup,
            str(tiny_model),
            prepared,
            str(tmp / "scratch"),
            str(trial),
            callbacks=[],
            report=lambda report: reports.append(report.as_result()),
        )
    finally:
        torch.set_num_threads(threads)
    return reports, trial


def test_one_report_per_epoch(fold_reports):
    reports, _ = fold_reports
    assert [r["epoch"] for r in reports] == [1.0, 2.0]
    assert [r["train_done"] for r in reports] == [False, True]
    assert all(r["folds"] == 2 for r in reports)


def test_the_trial_value_is_the_mean_over_folds(fold_reports):
    reports, _ = fold_reports
    for r in reports:
        for key in ("eval_f1", "eval_accuracy", "eval_loss"):
            folds = [r[f"fold0_{key}"], r[f"fold1_{key}"]]
            assert all(math.isfinite(v) for v in folds)
            assert r[key] == pytest.approx(sum(folds) / 2)
        assert 0.0 <= r["eval_f1"] <= 1.0
        assert "fold2_eval_f1" not in r


def test_the_objective_is_the_running_best(fold_reports):
    reports, _ = fold_reports
    f1 = [r["eval_f1"] for r in reports]
    assert [r["objective"] for r in reports] == [f1[0], max(f1)]


def test_each_fold_logs_to_its_own_tensorboard_folder(fold_reports):
    _, trial = fold_reports
    for i in range(2):
        assert list((trial / f"fold{i}").glob("events.out.tfevents.*"))
