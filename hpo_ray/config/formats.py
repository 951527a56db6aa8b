"""The formats trials and refits write, each named once.

A trial reports a :class:`TrialReport` to Tune at every evaluation; Tune stores it flat (one
row of ``result.json``, one row of the trial table), so its keys are also the columns the
results layer reads: they are the constants below, never literals elsewhere. The refit's
scores (``metrics.json`` in the model folder) are :class:`ModelScores`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpo_ray.storage import write_file

OBJECTIVE = "objective"
"""Name of the reported value every trial is judged by: its best ``eval_<metric>`` so far."""
TRAIN_DONE = "train_done"
"""Reported true with a trial's last evaluation, when its training ran to its end."""
EPOCH = "epoch"
STEP = "step"
NODE_ID = "node_id"
TRAIN_SECONDS = "train_seconds"
TRAINABLE_PARAMS = "trainable_params"
"""With the last evaluation: parameters the optimizer updated (LoRA: the adapters only)."""
TRAIN_EXAMPLES = "train_examples"
DATA_FINGERPRINT = "data_fingerprint"
DEVICE = "device"
FOLDS = "folds"
SECONDS_PER_STEP = "seconds_per_step"
COPIED_FROM = "copied_from"
"""Population schedules: the trial whose checkpoint this one went on from (first report only)."""
LINEAGE = "lineage"
SCHEDULE = "schedule"

EVAL_PREFIX = "eval_"
TEST_PREFIX = "test_"

FLOAT_TOL = 1e-9
"""The one float rule: two values are the same when they differ by at most this, relatively
(absolutely below 1). Searched values written to YAML and read back, a suggestion matched to
its trial, a value on a range's bound and an epoch on a segment's edge all use it."""


def same_float(a: float, b: float) -> bool:
    """Whether ``a`` and ``b`` are the same value under the one float rule (NaN equals NaN)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= FLOAT_TOL * max(abs(a), abs(b), 1.0)


def slack(value: float) -> float:
    """How far past ``value`` another value may lie and still be ``value`` (the float rule)."""
    return FLOAT_TOL * max(abs(value), 1.0)


def whole_epochs(epoch: float) -> int:
    """The whole epochs a training of ``epoch`` epochs ran (a partial epoch counts as one)."""
    return max(1, math.ceil(epoch - FLOAT_TOL))


def eval_key(metric: str) -> str:
    """The key the Trainer reports ``metric`` under after an evaluation (``eval_f1``)."""
    return EVAL_PREFIX + metric


def split_key(split: str, metric: str) -> str:
    """The key of ``metric`` in the Trainer's scores of ``split`` (``eval_f1``, ``test_f1``)."""
    return (TEST_PREFIX if split == "test" else EVAL_PREFIX) + metric


_CORE = (OBJECTIVE, TRAIN_DONE, EPOCH, STEP, NODE_ID, TRAIN_SECONDS, TRAINABLE_PARAMS)


@dataclass
class TrialReport:
    """One evaluation a trial reports to Tune.

    ``scores`` are the evaluation's numbers by their Trainer keys (``eval_f1``; k-fold adds
    ``fold<i>_eval_f1``); ``facts`` are constant facts about the trial (``TRAIN_EXAMPLES``,
    ``DEVICE``, ``COPIED_FROM``...), added to every report."""

    scores: dict[str, float]
    objective: float
    train_done: bool
    epoch: float
    step: int | None = None
    node_id: str = ""
    train_seconds: float | None = None
    trainable_params: int | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    def as_result(self) -> dict[str, Any]:
        """The flat dictionary ``tune.report`` takes (what ``from_result`` reads back)."""
        out: dict[str, Any] = {
            **self.scores,
            OBJECTIVE: self.objective,
            TRAIN_DONE: self.train_done,
            EPOCH: self.epoch,
        }
        optional = {
            STEP: self.step,
            NODE_ID: self.node_id or None,
            TRAIN_SECONDS: self.train_seconds,
            TRAINABLE_PARAMS: self.trainable_params,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        out.update(self.facts)
        return out

    @classmethod
    def from_result(cls, result: Mapping[str, Any]) -> TrialReport:
        """A report from a Tune result row (Tune's own keys land in ``facts``)."""
        scores = {
            k: float(v)
            for k, v in result.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and _is_score(k)
        }
        params = result.get(TRAINABLE_PARAMS)
        seconds = result.get(TRAIN_SECONDS)
        step = result.get(STEP)
        return cls(
            scores=scores,
            objective=float(result.get(OBJECTIVE, math.nan)),
            train_done=bool(result.get(TRAIN_DONE, False)),
            epoch=float(result.get(EPOCH) or 0.0),
            step=None if step is None else int(step),
            node_id=str(result.get(NODE_ID) or ""),
            train_seconds=None if seconds is None else float(seconds),
            trainable_params=None if params is None else int(params),
            facts={k: v for k, v in result.items() if k not in _CORE and k not in scores},
        )


def _is_score(key: str) -> bool:
    return key.startswith(EVAL_PREFIX) or (key.startswith("fold") and EVAL_PREFIX in key)


def numeric_scores(metrics: Mapping[str, Any], prefix: str = EVAL_PREFIX) -> dict[str, float]:
    """An evaluation's ``prefix``ed numbers as floats (the Trainer mixes in other values)."""
    return {
        k: float(v)
        for k, v in metrics.items()
        if k.startswith(prefix) and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


MADE_BY = "made_by"
"""The key of how a model's weights were made (in its scores and in a soup's record)."""
_SCORE_FIELDS = (MADE_BY, "validation", "test", "soup", "comparisons", "validation_se")


@dataclass
class ModelScores:
    """A model's scores: the refit model's ``metrics.json`` in the model folder, and each
    reference's record (``baseline_metrics.json``) and soup ingredient, which share its shape.

    ``validation`` and ``test`` are the Trainer's evaluations (``eval_*`` / ``test_*``; test
    None without a test split); ``made_by`` says how the weights were made (kept trial weights,
    retrained, a soup); ``soup`` the soup's record with its ``best_single`` and
    ``uniform_soup`` ingredients; ``comparisons`` each reference's paired intervals by split;
    ``validation_se`` each metric's standard error on validation; ``extra`` the rest as written
    (the search model's scores, a reference's values and where they came from)."""

    made_by: str = ""
    validation: dict[str, Any] = field(default_factory=dict)
    test: dict[str, Any] | None = None
    soup: dict[str, Any] | None = None
    comparisons: dict[str, Any] = field(default_factory=dict)
    validation_se: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def score(self, split: str, metric: str) -> float | None:
        """``metric`` on ``split`` (``validation`` or ``test``), None where not measured."""
        scored = self.test if split == "test" else self.validation
        value = (scored or {}).get(split_key(split, metric))
        return None if value is None else float(value)

    @property
    def splits(self) -> list[str]:
        """The splits scored, validation first."""
        return ["validation"] + (["test"] if self.test is not None else [])

    def as_dict(self) -> dict[str, Any]:
        """The record as written (fields left empty are left out)."""
        out: dict[str, Any] = {MADE_BY: self.made_by} if self.made_by else {}
        optional = {
            "validation": self.validation,
            "test": self.test,
            "soup": self.soup,
            "comparisons": self.comparisons,
            "validation_se": self.validation_se,
        }
        out.update({k: v for k, v in optional.items() if v})
        return {**out, **self.extra}

    def write(self, path: Path) -> None:
        write_file(path, json.dumps(self.as_dict(), indent=2))

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ModelScores:
        return cls(
            made_by=str(record.get(MADE_BY) or ""),
            validation=dict(record.get("validation") or {}),
            test=None if record.get("test") is None else dict(record["test"]),
            soup=record.get("soup") or None,
            comparisons=dict(record.get("comparisons") or {}),
            validation_se=dict(record.get("validation_se") or {}),
            extra={k: v for k, v in record.items() if k not in _SCORE_FIELDS},
        )

    @classmethod
    def read(cls, path: Path) -> ModelScores | None:
        """The scores in ``path``; None when there is no such file."""
        if not path.is_file():
            return None
        return cls.from_dict(json.loads(path.read_text()))
