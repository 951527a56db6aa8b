"""Objectives end to end: a conditional focal-loss space, reseeding the top trials, test-split
honesty in the report, and a metric the classes do not define refused before Ray starts."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from helpers import tiny_config

from hpo_ray.config.loading import from_dict
from hpo_ray.config.trials import trial_overrides
from hpo_ray.errors import ConfigError
from hpo_ray.workflows.search import run_search

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def focal_run(tmp_path_factory, corpus_csv, tiny_model, ray_local):
    tmp = tmp_path_factory.mktemp("focal")
    cfg = tiny_config(
        tmp,
        corpus_csv,
        tiny_model,
        data={"test_size": 0.2},
        training={"learning_rate": 3e-3, "num_train_epochs": 2, "early_stopping_patience": 0},
        search={
            "num_samples": 4,
            "scheduler": "none",
            "metric": "roc_auc",
            "max_concurrent_trials": 2,
            "reseed": {"top_k": 2, "seeds": 2},
            "space": {
                "loss": {"type": "categorical", "values": ["ce", "weighted_ce", "focal"]},
                "focal_gamma": {"type": "float", "low": 1.0, "high": 3.0},
                "focal_alpha": {"type": "float", "low": 0.1, "high": 0.5},
            },
        },
    )
    return cfg, run_search(cfg)


def test_focal_parameters_only_in_focal_trials(focal_run):
    _, outcome = focal_run
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")
    assert len(table) == 4 and table["eval_roc_auc"].between(0, 1).all()
    assert "eval_pr_auc" in table and "eval_pos_f1" in table
    focal = table["loss"] == "focal"
    assert table.loc[focal, ["focal_gamma", "focal_alpha"]].notna().all().all()
    assert table.loc[~focal, ["focal_gamma", "focal_alpha"]].isna().all().all()


def test_reseed_reports_mean_and_sd_and_refit_uses_the_winner(focal_run):
    cfg, outcome = focal_run
    reseed = pd.read_csv(outcome.artifacts_dir / "reseed.csv")
    assert len(reseed) == 2 and list(reseed["n"]) == [2, 2]
    assert reseed["sd"].notna().all() and (reseed["mean"].diff().dropna() <= 0).all()
    assert reseed["winner"].tolist() == [True, False]
    assert (outcome.artifacts_dir / "reseed.png").stat().st_size > 0
    for values, mean in zip(reseed["values"], reseed["mean"], strict=True):
        assert sum(float(v) for v in values.split()) / 2 == pytest.approx(mean, abs=1e-4)
    trials = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv").set_index("trial_id")
    winner = reseed.iloc[0]
    refit = yaml.safe_load((outcome.trained_dir / "best_params.yaml").read_text())
    assert refit["loss"] == trials.loc[winner["trial_id"], "loss"]
    assert refit["seed"] == cfg.training.seed  # the search's seed, not a reseed one
    summary = (outcome.artifacts_dir / "summary.txt").read_text()
    assert "top 2 re-trained with 2 fresh seeds" in summary and "<- refit" in summary


def test_report_states_validation_and_test_side_by_side(focal_run):
    _, outcome = focal_run
    summary = (outcome.artifacts_dir / "summary.txt").read_text()
    assert "eval_roc_auc (binary, from class probabilities)" in summary
    header = next(line for line in summary.splitlines() if line.strip().startswith("metric"))
    assert "validation" in header and "test" in header
    assert any(line.strip().startswith("roc_auc") for line in summary.splitlines())


def test_a_second_refit_reports_only_its_own_scores(focal_run):
    from hpo_ray.workflows.search import finish

    cfg, outcome = focal_run
    finish(cfg, overwrite=True)  # report + refit again over an existing model folder
    summary = (outcome.artifacts_dir / "summary.txt").read_text()
    assert summary.count("refit model") == 1


def test_conditional_values_drop_out_of_non_focal_trials():
    config = {"loss": "ce", "focal_gamma": 2.0, "learning_rate": 1e-4}
    assert trial_overrides(config) == {"loss": "ce", "learning_rate": 1e-4}
    ofat = {"ofat": {"param": "focal_gamma", "value": 3.0}}
    assert trial_overrides(ofat) == {"focal_gamma": 3.0, "loss": "focal"}


def test_focal_space_needs_a_focal_loss():
    with pytest.raises(ConfigError, match=r"search.space.focal_gamma only matters when"):
        from_dict({"search": {"space": {"focal_gamma": {"type": "float", "low": 1, "high": 3}}}})


def test_metric_undefined_for_the_classes_is_refused_before_ray(tmp_path, tiny_model):
    csv = tmp_path / "five.csv"
    rows = [(f"text number {i} about class {i % 5}", f"c{i % 5}") for i in range(100)]
    pd.DataFrame(rows, columns=["text", "sent"]).to_csv(csv, index=False)
    cfg = tiny_config(
        tmp_path,
        csv,
        tiny_model,
        data={"label_rule": "categorical"},
        search={"metric": "roc_auc"},
    )
    with pytest.raises(ConfigError, match=r"'roc_auc' is not defined for a 5-class task"):
        run_search(cfg)
    assert not cfg.experiment_dir.exists()


def test_kfold_reports_per_fold_and_aggregate(tmp_path, corpus_csv, tiny_model, ray_local):
    import json

    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        data={"folds": 3, "fold_aggregate": "mean"},
        training={"learning_rate": 3e-3, "num_train_epochs": 2, "early_stopping_patience": 0},
        search={"num_samples": 2, "scheduler": "asha", "max_concurrent_trials": 2},
        run={"refit": False},
    )
    outcome = run_search(cfg)
    for trial_dir in outcome.experiment_dir.glob("trial_*"):
        lines = (trial_dir / "result.json").read_text().splitlines()
        reports = [json.loads(line) for line in lines if line.strip()]
        assert [r["epoch"] for r in reports] == [float(e) for e in range(1, len(reports) + 1)]
        for r in reports:
            folds = [r[f"fold{i}_eval_f1"] for i in range(3)]
            assert r["eval_f1"] == pytest.approx(sum(folds) / 3)
            assert r["folds"] == 3
        assert list(trial_dir.glob("fold2/events.out.tfevents.*"))
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")
    assert len(table) == 2 and table["objective"].max() > 0.6
    summary = (outcome.artifacts_dir / "summary.txt").read_text()
    assert "3-fold CV of the train split, mean over folds per epoch" in summary
