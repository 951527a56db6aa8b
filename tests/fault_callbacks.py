"""Faults injected into real trials through ``run_search(..., trainer_callbacks=...)``: the
Trainer callbacks every trial adds after hpo_ray's own. A crash when training starts, and
weights turned to NaN after the first optimizer step (a diverging run). Pickled by value, so
Ray's workers need not import this folder."""

from __future__ import annotations

import sys
from typing import Any

import ray.cloudpickle
from transformers import TrainerCallback


def matches(args: Any, values: dict[str, Any]) -> bool:
    """Whether the trial's ``TrainingArguments`` hold every item of ``values``."""
    return all(getattr(args, k) == v for k, v in values.items())


class FailOn(TrainerCallback):
    """A trial whose training arguments match ``values`` raises when training starts."""

    def __init__(self, **values: Any) -> None:
        self.values = values

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if matches(args, self.values):
            raise RuntimeError(f"injected failure for params {self.values}")


class PoisonWeights(TrainerCallback):
    """A trial whose training arguments match ``values`` gets NaN in its first weight
    matrix after its first optimizer step."""

    def __init__(self, **values: Any) -> None:
        self.values = values

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == 1 and matches(args, self.values):
            import torch

            with torch.no_grad():
                next(kwargs["model"].parameters()).fill_(float("nan"))


ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
