"""The formats trials and refits write: a trial's report and a model's scores read back as
written, and the one float rule."""

import json
import math

import pytest

from hpo_ray.config.formats import (
    COPIED_FROM,
    OBJECTIVE,
    TRAIN_DONE,
    ModelScores,
    TrialReport,
    same_float,
    whole_epochs,
)
from hpo_ray.config.trials import same_value


def test_a_trial_report_reads_back_from_its_tune_row():
    report = TrialReport(
        {"eval_f1": 0.8, "eval_loss": 0.4, "fold0_eval_f1": 0.7},
        objective=0.8,
        train_done=True,
        epoch=2.0,
        step=20,
        node_id="n1",
        train_seconds=3.5,
        trainable_params=1234,
        facts={COPIED_FROM: "t2"},
    )
    row = {**report.as_result(), "training_iteration": 2, "time_total_s": 4.0}
    assert row[OBJECTIVE] == 0.8 and row[TRAIN_DONE] is True
    back = TrialReport.from_result(row)
    assert back.scores == report.scores
    assert (back.objective, back.train_done, back.epoch, back.step) == (0.8, True, 2.0, 20)
    assert (back.node_id, back.train_seconds, back.trainable_params) == ("n1", 3.5, 1234)
    assert back.facts == {COPIED_FROM: "t2", "training_iteration": 2, "time_total_s": 4.0}


def test_a_report_before_the_last_leaves_out_what_it_does_not_know():
    row = TrialReport({"eval_f1": 0.5}, objective=0.5, train_done=False, epoch=1.0).as_result()
    assert set(row) == {"eval_f1", OBJECTIVE, TRAIN_DONE, "epoch"}


def test_model_scores_round_trip_through_their_file(tmp_path):
    scores = ModelScores(
        made_by="kept weights of trial 3",
        validation={"eval_f1": 0.81},
        test={"test_f1": 0.78},
        validation_se={"f1": 0.02},
        extra={"search_model": {"validation": {"eval_f1": 0.8}}},
    )
    path = tmp_path / "metrics.json"
    scores.write(path)
    assert json.loads(path.read_text())["test"] == {"test_f1": 0.78}
    back = ModelScores.read(path)
    assert back == scores
    assert back.score("test", "f1") == 0.78 and back.score("validation", "f1") == 0.81
    assert back.score("test", "accuracy") is None
    assert back.splits == ["validation", "test"]
    assert ModelScores.read(tmp_path / "absent.json") is None


def test_scores_without_a_test_split_have_validation_only():
    scores = ModelScores.from_dict({"validation": {"eval_f1": 0.6}})
    assert scores.splits == ["validation"] and scores.score("test", "f1") is None
    assert "test" not in scores.as_dict()


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (1e-5, 0.00001, True),
        (1e-5, 1e-5 * (1 + 1e-12), True),
        (1e-5, 1.1e-5, False),
        (0.0, 1e-12, True),
        (0.0, 1e-6, False),
        (math.nan, math.nan, True),
        (math.nan, 0.0, False),
    ],
)
def test_one_float_rule(a, b, same):
    assert same_float(a, b) is same
    assert same_value(a, b) is same


def test_a_partial_epoch_counts_as_one():
    assert [whole_epochs(e) for e in (0.3, 1.0, 1.0 + 1e-12, 1.5, 2.0)] == [1, 1, 1, 2, 2]
