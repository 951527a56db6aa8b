"""The paired statistics tested as statistics: the interval covers a known difference as often
as it claims, the metrics on resampled rows are scikit-learn's, McNemar's test and the seed
part behave as their definitions say."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from hpo_ray.results.paired import compare, mcnemar, metric_on_rows, standard_error


def one_hot_probs(pred: np.ndarray, classes: int, rng: np.random.Generator) -> np.ndarray:
    """Class probabilities whose argmax is ``pred`` (confidence drawn per row)."""
    top = rng.uniform(0.55, 0.95, len(pred))
    probs = np.repeat(((1 - top) / (classes - 1))[:, None], classes, axis=1)
    probs[np.arange(len(pred)), pred] = top
    return probs


def population(rng: np.random.Generator, size: int) -> tuple[np.ndarray, ...]:
    """Two correlated binary classifiers: A right on 80% of rows, B on 74%, B's errors
    shared with A's on 60% of rows (as two fine-tunings of one encoder are)."""
    labels = rng.integers(0, 2, size)
    u = rng.uniform(size=size)
    v = np.where(rng.uniform(size=size) < 0.6, u, rng.uniform(size=size))
    pred_a = np.where(u < 0.80, labels, 1 - labels)
    pred_b = np.where(v < 0.74, labels, 1 - labels)
    return labels, one_hot_probs(pred_a, 2, rng), one_hot_probs(pred_b, 2, rng)


@pytest.mark.parametrize("metric", ["f1", "accuracy"])
def test_the_interval_covers_a_known_difference_95_percent_of_the_time(metric):
    rng = np.random.default_rng(7)
    labels, a, b = population(rng, 200_000)
    rows = np.arange(len(labels))
    truth = float(
        metric_on_rows(metric, labels, a, rows, 1) - metric_on_rows(metric, labels, b, rows, 1)
    )
    assert 0.04 < truth < 0.08  # the difference the simulation was built with
    covered, better = 0, 0
    for i in range(500):
        sample = rng.choice(len(labels), 300, replace=False)
        d = compare(labels[sample], a[sample], b[sample], metric, positive=1, seed=i)
        covered += d.low <= truth <= d.high
        better += d.verdict == "better"
    assert 0.92 <= covered / 500 <= 0.98
    assert better > 0  # a real difference of 0.06 on 300 rows is found some of the time


def test_metrics_on_resampled_rows_are_scikit_learns():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 120)
    probs = rng.dirichlet([1, 1, 1], 120)
    sets = rng.integers(0, 120, (4, 120))
    for metric, reference in [
        ("accuracy", lambda y, p: accuracy_score(y, p)),
        ("f1", lambda y, p: f1_score(y, p, average="weighted", zero_division=0)),
        ("macro_f1", lambda y, p: f1_score(y, p, average="macro", zero_division=0)),
        ("pos_f1", lambda y, p: f1_score(y, p, labels=[1], average="macro", zero_division=0)),
    ]:
        ours = metric_on_rows(metric, labels, probs, sets, 1)
        theirs = [reference(labels[s], probs.argmax(1)[s]) for s in sets]
        assert ours == pytest.approx(theirs), metric
    binary = labels % 2
    two = np.stack([probs[:, 0], 1 - probs[:, 0]], axis=1)
    ours = metric_on_rows("roc_auc", binary, two, sets, 1)
    assert ours == pytest.approx([roc_auc_score(binary[s] == 1, two[s, 1]) for s in sets])


def test_a_model_against_itself_is_not_distinguishable_and_mcnemar_counts_disagreements():
    rng = np.random.default_rng(0)
    labels, a, b = population(rng, 300)
    same = compare(labels, a, a, "f1", positive=1)
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    assert same.verdict == "not distinguishable"
    test = mcnemar(labels, a, b)
    right_a, right_b = a.argmax(1) == labels, b.argmax(1) == labels
    assert test["only_model_right"] == int((right_a & ~right_b).sum())
    assert test["only_reference_right"] == int((~right_a & right_b).sum())
    assert 0.0 < test["p_value"] <= 1.0
    assert mcnemar(labels, a, a)["p_value"] == 1.0


def test_seed_spread_widens_the_interval_and_a_lower_loss_counts_as_better():
    rng = np.random.default_rng(1)
    labels, a, b = population(rng, 300)
    rows_only = compare(labels, a, b, "accuracy", positive=1)
    with_seeds = compare(labels, a, b, "accuracy", positive=1, seed_sds=(0.03, 0.04))
    assert with_seeds.seed_sd == pytest.approx(0.05)
    half = 1.96 * np.sqrt(rows_only.bootstrap_sd**2 + 0.05**2)
    assert with_seeds.high - with_seeds.value == pytest.approx(half, rel=1e-3)
    assert with_seeds.high - with_seeds.low > rows_only.high - rows_only.low
    sharp = np.where(np.arange(2)[None, :] == labels[:, None], 0.99, 0.01)  # always right
    loss = compare(labels, sharp, b, "loss", positive=1, mode="min")
    assert loss.value > 0 and loss.verdict == "better"
    assert standard_error(labels, b, "accuracy", positive=1) == pytest.approx(
        np.sqrt(0.74 * 0.26 / 300), abs=0.01
    )
