"""Model soups (``run.refit: soup``): refused where trials cannot be averaged, the right
number of trials keep their weights, and a real search on the tiny model saves the greedy
soup of its kept weights, scored beside the best single trial and the uniform soup."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import tiny_config
from sklearn.metrics import f1_score

from hpo_ray.config.loading import from_dict
from hpo_ray.errors import ConfigError
from hpo_ray.results.trials import SearchResults
from hpo_ray.train.soup import average, state_of
from hpo_ray.tuning.keep import keep_count
from hpo_ray.tuning.searchers import check_search as validate_search
from hpo_ray.workflows.search import run_search

LR = {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"run": {"soup_k": 1}}, "run.soup_k=1 must be >= 2"),
        ({"data": {"folds": 3}}, "run.refit=soup cannot follow data.folds=3"),
        ({"search": {"scheduler": "pbt"}}, "run.refit=soup cannot follow search.scheduler=pbt"),
        ({"training": {"train_fraction": 0.5}}, "run.refit=soup needs every trial trained"),
    ],
)
def test_a_soup_is_refused_in_one_line_where_trials_cannot_be_averaged(raw, message):
    sections = {"search": {"space": {"learning_rate": LR}}, "run": {"refit": "soup"}}
    for key, values in raw.items():
        sections[key] = {**sections.get(key, {}), **values}
    with pytest.raises(ConfigError, match=message) as refused:
        validate_search(from_dict(sections))  # the scheduler's own rule: when it is planned
    assert "\n" not in str(refused.value)


def test_a_soup_keeps_its_ingredients_or_the_reseeds_candidates():
    def count(run, reseed=0):
        raw = {"search": {"space": {"learning_rate": LR}, "reseed": {"top_k": reseed}}}
        return keep_count(from_dict({**raw, "run": run}))

    assert count({"refit": "soup", "soup_k": 5}) == 5
    assert count({"refit": "soup", "soup_k": 2}, reseed=3) == 3
    assert count({"refit": "keep", "soup_k": 5}) == 1


@pytest.fixture(scope="module")
def soup_run(tmp_path_factory, corpus_csv, tiny_model, ray_local):
    tmp = tmp_path_factory.mktemp("soup")
    cfg = tiny_config(
        tmp,
        corpus_csv,
        tiny_model,
        training={"num_train_epochs": 2, "early_stopping_patience": 0, "learning_rate": 3e-3},
        data={"test_size": 0.2},
        search={
            "num_samples": 5,
            "scheduler": "none",
            "baseline": "training",
            "max_concurrent_trials": 2,
            "space": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
        },
        run={"refit": "soup", "soup_k": 3, "trial_plots": 0},
    )
    return cfg, run_search(cfg)


@pytest.mark.e2e
def test_the_saved_model_is_the_greedy_soup_of_the_top_trials_kept_weights(soup_run):
    from transformers import AutoModelForSequenceClassification

    cfg, outcome = soup_run
    results = SearchResults.load(outcome.experiment_dir)
    top = [str(t) for t in results.ranked().head(3)["trial_id"]]
    base = str(results.baseline_row()["trial_id"])
    kept = {d.parent.name for d in outcome.experiment_dir.glob("trial_*/best_model")}
    assert kept == {f"trial_{t}" for t in {*top, base}}  # the soup's candidates, the baseline
    metrics = json.loads((outcome.trained_dir / "metrics.json").read_text())
    soup = metrics["soup"]
    assert soup["ingredients"] == top and soup["greedy"][0] == top[0]
    assert metrics["made_by"].startswith("greedy soup of trial")
    assert set(soup["greedy"]) <= set(top)
    # Greedy: never below the best single trial on validation (where it was chosen).
    assert metrics["validation"]["eval_f1"] >= soup["best_single"]["validation"]["eval_f1"] - 1e-9
    assert soup["best_single"]["validation"]["eval_f1"] == pytest.approx(
        results.best_row()["objective"], abs=1e-6
    )
    # The saved weights are the mean of the greedy ingredients' kept weights.
    saved = AutoModelForSequenceClassification.from_pretrained(outcome.trained_dir)
    folders = [outcome.experiment_dir / f"trial_{t}" / "best_model" for t in soup["greedy"]]
    mean = average([state_of(f) for f in folders])
    for key, value in saved.state_dict().items():
        assert value.float() == pytest.approx(mean[key].float(), abs=1e-5), key
    # Every model of the answer is scored from the saved per-row predictions, and compared.
    with np.load(outcome.trained_dir / "predictions.npz") as saved_preds:
        labels = saved_preds["labels_test"]
        pairs = [("tuned", metrics), *soup_scores(soup)]
        for who, scores in pairs:
            f1 = f1_score(labels, saved_preds[f"{who}_test"].argmax(1), average="weighted")
            assert f1 == pytest.approx(scores["test"]["test_f1"], abs=1e-6), who
    assert set(metrics["comparisons"]) == {"training", "best_single", "uniform_soup"}
    summary = outcome.summary
    assert "  tuned (greedy soup)" in summary and "  best single trial" in summary
    assert "the tuned model is" in summary and "the best single trial on the test split" in summary


def soup_scores(soup):
    return [("best_single", soup["best_single"]), ("uniform_soup", soup["uniform_soup"])]


def test_refit_how_soup_is_refused_for_a_population_before_any_work(tmp_path):
    from hpo_ray.workflows.refit import refit_best

    cfg = from_dict(
        {
            "search": {"scheduler": "pbt", "space": {"learning_rate": LR}},
            "run": {"storage": str(tmp_path / "rr"), "trained_dir": str(tmp_path / "t")},
        }
    )
    with pytest.raises(ConfigError, match="run.refit=soup cannot follow search.scheduler=pbt"):
        refit_best(cfg, how="soup")
    assert not (tmp_path / "t").exists()
