"""MLflow tracking against a real SQLite tracking store: a parent run, a child run per trial."""

from __future__ import annotations

import pytest
from helpers import tiny_config

from hpo_ray.config.loading import from_dict
from hpo_ray.errors import ConfigError
from hpo_ray.workflows.search import run_search

pytestmark = pytest.mark.e2e


def test_trials_nest_under_the_experiment_run(tmp_path, corpus_csv, tiny_model, ray_local):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        training={"num_train_epochs": 2, "early_stopping_patience": 0},
        search={
            "num_samples": 2,
            "scheduler": "none",
            "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 5e-3, "log": True}},
        },
        run={"name": "tracked", "refit": False},
        tracking={"mlflow": {"uri": uri}},
    )
    run_search(cfg)
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("tracked")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.data.params["metric"] == "f1" and parent.info.status == "FINISHED"
    assert 0 <= parent.data.metrics["best_objective"] <= 1
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert "learning_rate" in child.data.params
        history = client.get_metric_history(child.info.run_id, "eval_f1")
        assert [m.step for m in history] == [1, 2]  # one point per epoch
        assert child.info.status == "FINISHED"


def test_plain_folders_are_refused_as_tracking_uri():
    with pytest.raises(ConfigError, match=r"tracking.mlflow.uri='mlruns' must be a tracking URI"):
        from_dict({"tracking": {"mlflow": {"uri": "mlruns"}}})
