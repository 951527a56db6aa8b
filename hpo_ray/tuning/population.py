"""Population Based Training: Ray's PBT and PB2, judged on each trial's latest evaluation.

The population is ``search.num_samples`` trials drawn from ``search.space`` (the first is the
base ``training`` values when ``search.baseline`` is on). Every ``search.pbt.interval`` epochs a
trial in the worst ``quantile_fraction`` copies the latest checkpoint of one in the best (its
weights, optimizer, learning-rate schedule and step counters) and goes on with changed values:
PBT scales them by a ``perturbation_factors`` entry or draws them afresh, PB2 picks them with a
Gaussian-process bandit. The trainable records what trained each epoch (``train.schedule``),
so the refit can replay the winner's schedule.

Two changes to Ray's schedulers:

- Trials are compared on their latest ``eval_<metric>``, not on the objective (their best so
  far): PBT copies what a trial is now, not what it once was.
- The baseline trial is never replaced (it can be copied): the defaults train their whole
  course, so the tuned model is compared with them.

Example::

    scheduler = population_scheduler(cfg)   # for search.scheduler: pbt | pb2
"""

from __future__ import annotations

import math
from typing import Any

from hpo_ray.config.schema import TRAIN_DONE, ExperimentConfig, ParamSpec
from hpo_ray.lazy import lazy_class, module_getattr
from hpo_ray.tuning.baseline import baseline_point, is_point
from hpo_ray.tuning.space import tune_space


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


def population_scheduler(cfg: ExperimentConfig) -> Any:
    """Ray's PBT or PB2 (``search.scheduler``), set from ``search.pbt`` and ``search.space``,
    with the changes this module's docstring lists."""
    p, space = cfg.search.pbt, cfg.search.space
    common: dict[str, Any] = {
        "baseline": baseline_point(cfg),
        "judge": cfg.search.tune_metric,
        "time_attr": "epoch",
        "perturbation_interval": p.interval,
        "quantile_fraction": p.quantile_fraction,
        "custom_explore_fn": KeepInRange(space),
        "log_config": True,
        "synch": True,  # generations: every trial perturbs at the same epochs
    }
    if cfg.search.scheduler == "pb2":
        bounds = {name: [spec.low, spec.high] for name, spec in space.items()}
        return population_class("pb2")(hyperparam_bounds=bounds, **common)
    return population_class("pbt")(
        hyperparam_mutations=tune_space(space),
        resample_probability=p.resample_probability,
        perturbation_factors=tuple(p.perturbation_factors),
        **common,
    )


def population_class(kind: str) -> type:
    return baseline_pb2_class() if kind == "pb2" else baseline_pbt_class()


def judged_now(scheduler_class: type) -> type:
    """``scheduler_class`` (PBT or a subclass) comparing trials on ``judge`` (the latest
    evaluation), never replacing the baseline trial, and leaving a trial whose training ended
    out of the population."""
    from ray.tune.schedulers import TrialScheduler

    class JudgedNow(scheduler_class):
        def __init__(
            self, *args: Any, judge: str, baseline: dict[str, Any] | None = None, **kwargs: Any
        ) -> None:
            super().__init__(*args, **kwargs)
            self.judge = judge
            self.baseline = baseline
            self.baseline_trial: str | None = None
            self.picked_up = False

        def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
            if self.baseline_trial is None and is_point(trial.config, self.baseline):
                self.baseline_trial = trial.trial_id
            super().on_trial_add(tune_controller, trial)
            trained = float((trial.last_result or {}).get(self._time_attr) or 0.0)
            if trained > 0:
                self.pick_up(trial, trained)

        def pick_up(self, trial: Any, trained: float) -> None:
            """A trial added with results behind it (the experiment resumed, or the trial
            retried) goes on from where it was: Ray's fresh state would count it at epoch 0
            and, in generations, wait for a boundary that has passed, forever.

            It is added paused, not pending: Tune starts every pending trial it has room for,
            so a trial a generation ahead would train on (and finish, and have its checkpoints
            removed) while a trial behind still has to copy one of them. Paused, it runs when
            ``choose_trial_to_run`` picks it: the trials behind first."""
            from ray.tune.experiment import Trial

            if trial.status == Trial.PENDING:
                trial.set_status(Trial.PAUSED)
            state = self._trial_state[trial]
            result = dict(trial.last_result)
            if self._metric in result and not result.get(TRAIN_DONE):  # it can copy, be copied
                self._save_trial_state(state, trained, result, trial)
            state.last_train_time = state.last_perturbation_time = trained
            if not self.picked_up:  # the first: the boundary Ray set for a fresh start is past
                self._next_perturbation_sync = trained + self._perturbation_interval
                self.picked_up = True
            # the next boundary is the first one a trial still has to reach
            self._next_perturbation_sync = min(
                self._next_perturbation_sync, trained + self._perturbation_interval
            )

        def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
            super().on_trial_error(tune_controller, trial)
            self.release(tune_controller, trial)

        def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
            super().on_trial_complete(tune_controller, trial, result)
            self.release(tune_controller, trial)

        def release(self, tune_controller: Any, ended: Any) -> None:
            """A trial that ended (failed, or trained its last epoch) is no longer waited
            for: when every other live trial has reached the generation boundary, the
            generation happens now. Ray's PBT waits for the trial that ended, forever."""
            from ray.tune.experiment import Trial

            live = [
                t
                for t in tune_controller.get_live_trials()
                if t is not ended and t in self._trial_state and not t.is_finished()
            ]
            boundary = self._next_perturbation_sync
            if not live or any(self._trial_state[t].last_train_time < boundary for t in live):
                return
            interval = self._perturbation_interval
            due = [
                t
                for t in live
                if t.status == Trial.PAUSED
                and t.last_result
                and self._trial_state[t].last_train_time
                - self._trial_state[t].last_perturbation_time
                >= interval
            ]
            if due:  # the generation, as the last trial to arrive would have made it
                super().on_trial_result(tune_controller, due[0], dict(due[0].last_result))
            else:  # every live trial was perturbed where it stands: on to the next boundary
                reached = min(self._trial_state[t].last_train_time for t in live)
                self._next_perturbation_sync = max(boundary, reached + interval)

        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            if result.get(TRAIN_DONE):  # its training ended: neither copied into nor from
                if trial in self._trial_state:
                    self._trial_state[trial].last_score = None
                return str(TrialScheduler.CONTINUE)
            return str(super().on_trial_result(tune_controller, trial, result))

        def _save_trial_state(self, state: Any, time: Any, result: dict, trial: Any) -> Any:
            # Ray scores a trial by the Tuner's metric (the best so far); use the latest one.
            now = {**result, self._metric: result.get(self.judge, result[self._metric])}
            return super()._save_trial_state(state, time, now, trial)

        def _quantiles(self) -> tuple[list[Any], list[Any]]:
            # The baseline keeps its own course: the worst of the others copy in its place.
            lower, upper = super()._quantiles()
            if all(t.trial_id != self.baseline_trial for t in lower):
                return lower, upper
            ranked = sorted(
                (
                    t
                    for t, state in self._trial_state.items()
                    if state.last_score is not None
                    and not math.isnan(state.last_score)
                    and not t.is_finished()
                ),
                key=lambda t: self._trial_state[t].last_score,
            )
            others = [t for t in ranked if t.trial_id != self.baseline_trial and t not in upper]
            return others[: len(lower)], upper

    return JudgedNow


@lazy_class("BaselinePBT", __name__)
def baseline_pbt_class() -> type:
    """Ray's ``PopulationBasedTraining``, judged now and sparing the baseline."""
    from ray.tune.schedulers import PopulationBasedTraining

    return judged_now(PopulationBasedTraining)


@lazy_class("BaselinePB2", __name__)
def baseline_pb2_class() -> type:
    """Ray's ``PB2``, judged now and sparing the baseline."""
    from ray.tune.schedulers.pb2 import PB2

    return judged_now(PB2)


__getattr__ = module_getattr(__name__)
