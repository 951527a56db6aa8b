"""Population Based Training: Ray's PBT and PB2, judged on each trial's latest evaluation.

The population is ``search.num_samples`` trials drawn from ``search.space`` (the first is the
base ``training`` values when ``search.baseline`` is on). Every ``search.pbt.interval`` epochs a
trial in the worst ``quantile_fraction`` copies the latest checkpoint of one in the best (its
weights, optimizer, learning-rate schedule and step counters) and goes on with changed values:
PBT scales them by a ``perturbation_factors`` entry or draws them afresh, PB2 picks them with a
Gaussian-process bandit. The trainable records what trained each epoch (``train.schedule``),
so the refit can replay the winner's schedule.

Two changes to Ray's schedulers (made in ``tuning.ray_seam``; ``tuning.schedulers`` builds them):

- Trials are compared on their latest ``eval_<metric>``, not on the objective (their best so
  far): PBT copies what a trial is now, not what it once was.
- The baseline trial is never replaced (it can be copied): the defaults train their whole
  course, so the tuned model is compared with them.

Example::

    SCHEDULERS["pbt"].build(cfg)   # tuning.schedulers
"""

from __future__ import annotations

from typing import Any

from hpo_ray.config.schema import ParamSpec
from hpo_ray.lazy import lazy_alias, module_getattr
from hpo_ray.tuning.ray_seam import baseline_pb2_class, baseline_pbt_class


class KeepInRange:
    """PBT's explore step, bounded: a value scaled past its range is put back at the edge
    (Ray's PBT scales without bounds). A class, not a closure: Tune pickles the scheduler."""

    def __init__(self, space: dict[str, ParamSpec]) -> None:
        self.bounds = {
            name: (float(spec.low), float(spec.high))
            for name, spec in space.items()
            if spec.type != "categorical" and spec.low is not None and spec.high is not None
        }
        self.integers = {name for name, spec in space.items() if spec.type == "int"}

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        for name, (low, high) in self.bounds.items():
            if name in config:
                value = min(max(float(config[name]), low), high)
                config[name] = int(round(value)) if name in self.integers else value
        return config


# Experiments saved before these classes moved to tuning.ray_seam name them here.
lazy_alias("BaselinePBT", __name__, baseline_pbt_class)
lazy_alias("BaselinePB2", __name__, baseline_pb2_class)

__getattr__ = module_getattr(__name__)
