"""How sure a comparison of two models is: a paired bootstrap interval of their difference on
the same rows, an exact McNemar test of their accuracies, and a three-way verdict.

Both models are scored on the same validation or test rows, so the noise of which rows were
drawn is shared: resampling the rows (SciPy's ``bootstrap``, the same resampled rows for both
models) measures how much the difference would move on another draw of that many rows. Where
reseeding measured how much the training seed moves each model, that variance is added
(difference +- 1.96 sqrt(bootstrap variance + each side's seed variance)).

Example::

    d = compare(labels, probs_tuned, probs_base, "f1", positive=1, mode="max")
    d.verdict  # "better", "not distinguishable" or "worse"
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

RESAMPLES = 2000
"""Bootstrap resamples per interval (SciPy's ``n_resamples``)."""
LEVEL = 0.95
Z = 1.959963984540054
"""The normal quantile of a two-sided 95% interval."""
VERDICTS = ("better", "not distinguishable", "worse")


@dataclass(frozen=True)
class Difference:
    """One model against a reference on one split and metric, oriented so that a positive
    ``value`` means the model is better (a lower loss counts as better)."""

    metric: str
    value: float
    low: float
    high: float
    bootstrap_sd: float
    """The sd of the difference over resampled rows (the rows' part of the noise)."""
    seed_sd: float | None
    """sqrt of the two sides' reseed variances where measured (the seeds' part), else None."""
    n: int
    verdict: str
    """``better`` where the 95% interval lies above zero, ``worse`` below, else ``not
    distinguishable``."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def interval(self, digits: int = 4) -> str:
        """``+0.0990 [+0.0410, +0.1580]``."""
        return f"{self.value:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def metric_on_rows(
    metric: str, labels: np.ndarray, probs: np.ndarray, rows: np.ndarray, positive: int | None
) -> np.ndarray:
    """``metric`` of the model whose class probabilities are ``probs`` on each set of row
    indices in ``rows`` (shape (..., n)); returns shape (...). The F1 family and accuracy are
    computed for all sets at once, as scikit-learn defines them (zero division gives 0; a
    macro average runs over the classes present in the labels or predictions); the AUCs call
    scikit-learn per set; ``loss`` is the mean negative log-likelihood."""
    y = labels[rows]
    if metric == "loss":
        picked = np.take_along_axis(probs, labels[:, None], axis=1)[:, 0]
        return np.asarray(-np.log(np.clip(picked[rows], 1e-12, None)).mean(axis=-1))
    if metric in ("roc_auc", "pr_auc"):
        return auc_on_rows(metric, labels, probs, rows, positive)
    pred = probs.argmax(axis=-1)[rows]
    if metric == "accuracy":
        return np.asarray((pred == y).mean(axis=-1))
    classes = probs.shape[-1]
    f1 = np.empty((*y.shape[:-1], classes))
    true_counts = np.empty_like(f1)
    present = np.empty_like(f1, dtype=bool)
    for k in range(classes):
        tp = ((pred == k) & (y == k)).sum(axis=-1)
        predicted, actual = (pred == k).sum(axis=-1), (y == k).sum(axis=-1)
        denominator = predicted + actual
        f1[..., k] = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
        true_counts[..., k] = actual
        present[..., k] = denominator > 0
    if metric == "f1":  # weighted by each class's support
        return np.asarray((f1 * true_counts).sum(axis=-1) / np.maximum(true_counts.sum(-1), 1))
    if metric == "macro_f1":
        return np.asarray((f1 * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1))
    if metric == "pos_f1":
        if positive is None:
            raise ValueError("pos_f1 needs a positive class")
        return np.asarray(f1[..., positive])
    raise ValueError(f"no paired statistic for metric {metric!r}")


def auc_on_rows(
    metric: str, labels: np.ndarray, probs: np.ndarray, rows: np.ndarray, positive: int | None
) -> np.ndarray:
    """ROC or PR AUC of the positive class (binary) on each set of rows; NaN where a set holds
    one class only. ROC AUC for all sets at once (the rank-sum form, ties counted half, as
    scikit-learn's); PR AUC (average precision) by scikit-learn per set."""
    from scipy.stats import rankdata
    from sklearn.metrics import average_precision_score

    pos = 1 if positive is None else positive
    if metric == "roc_auc":
        truth = labels[rows] == pos
        ranks = rankdata(probs[:, pos][rows], axis=-1)
        n_pos = truth.sum(axis=-1)
        n_neg = truth.shape[-1] - n_pos
        rank_sum = (ranks * truth).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
        return np.asarray(np.where((n_pos > 0) & (n_neg > 0), auc, np.nan))
    score = average_precision_score
    flat = rows.reshape(-1, rows.shape[-1])
    out = np.full(len(flat), np.nan)
    for i, r in enumerate(flat):
        truth = labels[r] == pos
        if truth.any() and not truth.all():
            out[i] = score(truth, probs[r, pos])
    return out.reshape(rows.shape[:-1])


def compare(
    labels: np.ndarray,
    probs: np.ndarray,
    reference: np.ndarray,
    metric: str,
    *,
    positive: int | None,
    mode: str = "max",
    seed: int = 0,
    seed_sds: tuple[float, float] | None = None,
    resamples: int = RESAMPLES,
) -> Difference:
    """The model of ``probs`` against the model of ``reference`` (class probabilities of the
    same rows, true classes ``labels``) on ``metric``: the difference with its 95% interval,
    from a seeded paired bootstrap of the rows; ``seed_sds`` (the model's and the reference's
    seed sd) widen it to difference +- 1.96 sqrt(bootstrap variance + both seed variances).
    ``mode`` ``min``: a lower value is better (the difference is reference minus model)."""
    from scipy.stats import bootstrap

    labels = np.asarray(labels)
    n = len(labels)
    sign = 1.0 if mode == "max" else -1.0

    def difference(rows: np.ndarray, axis: int = -1) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        ours = metric_on_rows(metric, labels, probs, rows, positive)
        theirs = metric_on_rows(metric, labels, reference, rows, positive)
        return np.asarray(sign * (ours - theirs))

    value = float(difference(np.arange(n)))
    boot = bootstrap(
        (np.arange(n),),
        difference,
        n_resamples=resamples,
        confidence_level=LEVEL,
        method="percentile",
        vectorized=True,
        batch=200,
        rng=np.random.default_rng(seed),
    )
    boot_sd = float(boot.standard_error)
    low, high = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
    seed_sd = None
    if seed_sds is not None:
        seed_sd = math.sqrt(sum(float(s) ** 2 for s in seed_sds))
        half = Z * math.sqrt(boot_sd**2 + seed_sd**2)
        low, high = value - half, value + half
    if not (math.isfinite(low) and math.isfinite(high)):  # a degenerate resample (AUC)
        low, high = -math.inf, math.inf
    return Difference(metric, value, low, high, boot_sd, seed_sd, n, verdict_of(low, high))


def verdict_of(low: float, high: float) -> str:
    """``better`` if the interval lies above zero, ``worse`` below, else ``not
    distinguishable``."""
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "not distinguishable"


def mcnemar(labels: np.ndarray, probs: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """The exact McNemar test of two models' accuracies on the same rows: the rows only one
    of them gets right, tested against an even split (SciPy's exact binomial test)."""
    from scipy.stats import binomtest

    labels = np.asarray(labels)
    ours = probs.argmax(axis=-1) == labels
    theirs = reference.argmax(axis=-1) == labels
    only_ours, only_theirs = int((ours & ~theirs).sum()), int((~ours & theirs).sum())
    disagree = only_ours + only_theirs
    p = 1.0 if disagree == 0 else float(binomtest(only_ours, disagree, 0.5).pvalue)
    return {
        "only_model_right": only_ours,
        "only_reference_right": only_theirs,
        "disagreement": float((probs.argmax(-1) != reference.argmax(-1)).mean()),
        "p_value": p,
    }


def standard_error(
    labels: np.ndarray, probs: np.ndarray, metric: str, *, positive: int | None, seed: int = 0
) -> float:
    """The bootstrap standard error of one model's ``metric`` on these rows (how far another
    draw of as many rows would move it)."""
    from scipy.stats import bootstrap

    labels = np.asarray(labels)

    def value(rows: np.ndarray, axis: int = -1) -> np.ndarray:
        return metric_on_rows(metric, labels, probs, np.asarray(rows, np.int64), positive)

    boot = bootstrap(
        (np.arange(len(labels)),),
        value,
        n_resamples=RESAMPLES,
        method="percentile",
        vectorized=True,
        batch=200,
        rng=np.random.default_rng(seed),
    )
    return float(boot.standard_error)


def compare_all(
    predictions: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]],
    metric: str,
    *,
    mode: str,
    positive: int | None,
    seed: int = 0,
    seed_sds: dict[str, float] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """The ``tuned`` entry of ``predictions`` (per model, per split: true classes and class
    probabilities) against every other entry, on each split both were scored on: ``metric``
    and accuracy as ``Difference`` dicts, and McNemar's test. ``seed_sds``: the seed sd of a
    model where reseeding measured it (both sides' are added where either is known)."""
    tuned = predictions["tuned"]
    seed_sds = seed_sds or {}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, other in predictions.items():
        if name == "tuned":
            continue
        sds = (seed_sds.get("tuned", 0.0), seed_sds.get(name, 0.0))
        widen = sds if any(sds) else None
        out[name] = {}
        for split in ("validation", "test"):
            if split not in tuned or split not in other:
                continue
            labels, ours = tuned[split]
            theirs = other[split][1]
            entry: dict[str, Any] = {}
            for name_ in dict.fromkeys((metric, "accuracy")):
                direction = mode if name_ == metric else "max"
                entry[name_] = compare(
                    labels,
                    ours,
                    theirs,
                    name_,
                    positive=positive,
                    mode=direction,
                    seed=seed,
                    seed_sds=widen,
                ).as_dict()
            entry["mcnemar"] = mcnemar(labels, ours, theirs)
            out[name][split] = entry
    return out
