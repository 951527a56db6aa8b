"""Each metric on fixed predictions, against hand-computed values and scikit-learn."""

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from hpo_ray.config.task import TaskMetrics, check_metric, task_metrics
from hpo_ray.errors import ConfigError
from hpo_ray.train.metrics import score

# 8 examples, binary: logits column 1 minus column 0 is the positive score.
LABELS = np.array([1, 1, 1, 0, 0, 0, 0, 1])
POS_SCORE = np.array([2.0, 1.0, -0.5, -2.0, 0.5, -1.0, -3.0, 3.0])
LOGITS = np.stack([np.zeros(8), POS_SCORE], axis=1)


def test_binary_metrics():
    out = score(LOGITS, LABELS, TaskMetrics(2, positive=1, average=None))
    # predictions: 1 1 0 0 1 0 0 1 -> 6 of 8 right; positive class: tp 3, fp 1, fn 1
    assert out["accuracy"] == 0.75
    assert out["pos_f1"] == pytest.approx(0.75)
    # ranking: 15 of the 16 (positive, negative) pairs are ordered right
    assert out["roc_auc"] == pytest.approx(15 / 16)
    assert out["pr_auc"] == pytest.approx(average_precision_score(LABELS, POS_SCORE))
    assert out["f1"] == pytest.approx(f1_score(LABELS, POS_SCORE > 0, average="weighted"))
    assert out["macro_f1"] == pytest.approx(f1_score(LABELS, POS_SCORE > 0, average="macro"))


def test_positive_class_can_be_the_first():
    out = score(LOGITS, LABELS, TaskMetrics(2, positive=0, average=None))
    assert out["roc_auc"] == pytest.approx(15 / 16)  # same ranking, seen from class 0
    assert out["pos_f1"] == pytest.approx(f1_score(LABELS, POS_SCORE > 0, pos_label=0))


def test_multiclass_with_averaging():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 6)
    logits = rng.normal(size=(30, 5)) + 2.0 * np.eye(5)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    out = score(logits, labels, TaskMetrics(5, positive=2, average="macro"))
    assert out["roc_auc"] == pytest.approx(roc_auc_score(labels, probs, multi_class="ovr"))
    assert out["pos_f1"] == pytest.approx(
        f1_score(labels, logits.argmax(1), labels=[2], average="macro")
    )
    no_avg = score(logits, labels, TaskMetrics(5, positive=None, average=None))
    assert "roc_auc" not in no_avg and "pos_f1" not in no_avg


def test_auc_is_nan_when_the_split_has_one_class():
    out = score(LOGITS[:3], LABELS[:3], TaskMetrics(2, positive=1, average=None))
    assert math.isnan(out["roc_auc"]) and out["accuracy"] == pytest.approx(2 / 3)


def test_undefined_metrics_are_refused():
    five = task_metrics(["a", "b", "c", "d", "e"], None, None)
    with pytest.raises(ConfigError, match=r"'roc_auc' is not defined for a 5-class task.*average"):
        check_metric("roc_auc", five)
    with pytest.raises(ConfigError, match=r"'pos_f1' .*data.positive_label"):
        check_metric("pos_f1", five)
    check_metric("roc_auc", task_metrics(["a", "b", "c", "d", "e"], None, "weighted"))
    check_metric("pr_auc", task_metrics(["neg", "pos"], None, None))
    with pytest.raises(ConfigError, match=r"data.positive_label='x' is not one of the classes"):
        task_metrics(["neg", "pos"], "x", None)
