"""Everything hpo_ray does with Ray Tune's private API, in one place, with its contract.

Ray's schedulers and searchers keep the state hpo_ray has to correct in private attributes:
Optuna's study and trials inside ``OptunaSearch``, PBT's per-trial state and generation
boundary, median stopping's set of stopped trials, the variant generator's live trials and the
search generator's count. Only ``ray[tune]`` pinned exactly protects them, so every use lives
here and ``CONTRACT`` lists each name this module relies on; ``broken_contract()`` builds the
real Ray objects and names whatever moved (a test runs it in CI, and
``tests/unit/test_architecture.py`` fails if one of these names is used outside this module).

The classes are made on first use (importing this module does not load Ray) and stay
reachable under the module names they were pickled with in Tune's experiment state
(``registry``, ``population``), so an experiment saved by an earlier hpo_ray still resumes.
``ResumableOptunaSearch`` (Ray's ``OptunaSearch``, corrected) is kept only for that: new
searches use hpo_ray's own Tune searcher over Optuna's ask and tell
(``tuning.optuna_search``), which needs no private name.

Example::

    broken_contract()          # [] with the pinned Ray; else "PopulationBasedTraining._quantiles
                               # is gone" and the like
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from hpo_ray.config.schema import TRAIN_DONE
from hpo_ray.config.trials import is_point
from hpo_ray.lazy import lazy_class, module_getattr
from hpo_ray.tuning.optuna_search import same_params

CONTRACT: dict[str, tuple[str, ...]] = {
    "ray.tune.search.optuna.OptunaSearch": (
        "_ot_trials",
        "_ot_study",
        "_completed_trials",
        "_space",
        "_metric",
    ),
    "ray.tune.schedulers.PopulationBasedTraining": (
        "_trial_state",
        "_next_perturbation_sync",
        "_perturbation_interval",
        "_time_attr",
        "_metric",
        "_save_trial_state",
        "_quantiles",
    ),
    "ray.tune.schedulers.pbt._PBTTrialState": (
        "last_train_time",
        "last_perturbation_time",
        "last_score",
    ),
    "ray.tune.schedulers.MedianStoppingRule": ("_stopped_trials",),
    "ray.tune.search.BasicVariantGenerator": ("_live_trials",),
    "ray.tune.search.SearchGenerator": ("_counter",),
    "ray.tune.search.ConcurrencyLimiter": ("live_trials", "num_unfinished_live_trials"),
}
"""Per Ray class, the private (or undocumented) attributes and methods used here."""

SIGNATURES: dict[str, tuple[str, ...]] = {
    "ray.tune.schedulers.PopulationBasedTraining._save_trial_state": (
        "self",
        "state",
        "time",
        "result",
        "trial",
    ),
    "ray.tune.schedulers.PopulationBasedTraining._quantiles": ("self",),
}
"""The parameters of the private methods overridden here."""

PRIVATE_NAMES = frozenset(name for names in CONTRACT.values() for name in names if name[0] == "_")
"""The private attribute names only this module may use (``tests/unit/test_architecture.py``)."""


def contract_objects() -> dict[str, Any]:
    """One real, fresh instance of each class in ``CONTRACT``, built as hpo_ray builds them."""
    import optuna
    from ray.tune.experiment import Trial
    from ray.tune.schedulers import MedianStoppingRule, PopulationBasedTraining
    from ray.tune.schedulers.pbt import _PBTTrialState
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter, SearchGenerator
    from ray.tune.search.optuna import OptunaSearch

    searcher = OptunaSearch(
        space={"x": optuna.distributions.FloatDistribution(0.0, 1.0)}, metric="m", mode="max"
    )
    return {
        "ray.tune.search.optuna.OptunaSearch": searcher,
        "ray.tune.schedulers.PopulationBasedTraining": PopulationBasedTraining(
            time_attr="epoch", metric="m", mode="max", hyperparam_mutations={"x": [0.1, 0.2]}
        ),
        "ray.tune.schedulers.pbt._PBTTrialState": _PBTTrialState(
            Trial("t", config={}, trial_id="t", stub=True)
        ),
        "ray.tune.schedulers.MedianStoppingRule": MedianStoppingRule(metric="m", mode="max"),
        "ray.tune.search.BasicVariantGenerator": BasicVariantGenerator(),
        "ray.tune.search.SearchGenerator": SearchGenerator(searcher),
        "ray.tune.search.ConcurrencyLimiter": ConcurrencyLimiter(searcher, max_concurrent=1),
    }


def broken_contract() -> list[str]:
    """What of ``CONTRACT`` and ``SIGNATURES`` the installed Ray no longer has (empty: all
    there), one line each, naming the class and the attribute or parameters."""
    import importlib

    broken = []
    for where, obj in contract_objects().items():
        for name in CONTRACT[where]:
            if not hasattr(obj, name):
                broken.append(f"{where}.{name} is gone (ray {ray_version()})")
    for where, expected in SIGNATURES.items():
        module_name, cls_name, method = where.rsplit(".", 2)
        cls = getattr(importlib.import_module(module_name), cls_name)
        found = getattr(cls, method, None)
        if found is None:
            broken.append(f"{where} is gone (ray {ray_version()})")
            continue
        params = tuple(inspect.signature(found).parameters)
        if params != expected:
            broken.append(f"{where} takes {params}, not {expected} (ray {ray_version()})")
    return broken


def ray_version() -> str:
    import ray

    return str(ray.__version__)


@lazy_class("ResumableOptunaSearch", __name__)
def resumable_optuna_search_class() -> type:
    """Ray's OptunaSearch, corrected for early stopping and for resume: the searcher of
    experiments saved before ``tuning.optuna_search`` replaced it, kept so they resume.

    - A trial the scheduler (ASHA, median stopping) or the epoch budget cut before its training
      ended reaches Optuna as PRUNED, its per-epoch objective kept as intermediate values: the
      sampler treats it as a partial observation, not as a finished trial whose first-epoch
      score is its final one (Ray marks it COMPLETE whenever it reported a value).
    - A trial the searcher never suggested is learnt when it ends, from its parameters and
      result (a trial made after the searcher's state was saved, restored after a driver
      crash; see ``hpo_ray.tuning.realign``); its intermediate results are not asked for (Ray's
      would end the resume with a KeyError). A define-by-run space cannot take such a trial:
      it still runs and is reported; only the sampler does not learn from it."""
    from ray.tune.search.optuna import OptunaSearch

    class ResumableOptunaSearch(OptunaSearch):
        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            if trial_id in self._ot_trials:
                super().on_trial_result(trial_id, result)

        def on_trial_complete(
            self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
        ) -> None:
            if trial_id in self._completed_trials:
                return
            if trial_id not in self._ot_trials:
                self._learn(trial_id, result, error)
                return
            study = self._ot_study
            if study is not None and result and not error and not result.get(TRAIN_DONE, True):
                import optuna

                ot_trial = self._ot_trials[trial_id]
                study.tell(ot_trial, state=optuna.trial.TrialState.PRUNED)
                self._completed_trials.add(trial_id)
                return
            super().on_trial_complete(trial_id, result, error)

        def replay(self, trial_id: str, config: dict[str, Any]) -> None:
            """Suggest again for a trial made after this searcher's state was saved, so the
            sampler moves on as it did then (its random draws, its Sobol index). Where the
            suggestion is the trial's own (a seeded sampler replays exactly) the trial is this
            searcher's again; else the replayed suggestion is dropped as failed and the trial
            is learnt when it ends."""
            import optuna

            if trial_id in self._ot_trials:
                return  # suggested by this searcher before its state was saved
            suggested = self.suggest(trial_id)
            if isinstance(suggested, dict) and same_params(suggested, config):
                return
            ot_trial = self._ot_trials.pop(trial_id, None)
            if ot_trial is not None and self._ot_study is not None:
                self._ot_study.tell(ot_trial, state=optuna.trial.TrialState.FAIL)

        def _learn(self, trial_id: str, result: dict[str, Any] | None, error: bool) -> None:
            """Add a trial it did not suggest to the study, from its parameters and result."""
            import optuna

            space, study = self._space, self._ot_study
            params = (result or {}).get("config") or {}
            value = (result or {}).get(str(self._metric))
            if error or value is None or study is None or not isinstance(space, dict):
                return  # nothing to learn, or a define-by-run space (no distributions)
            if not set(space) <= set(params):
                return
            done = result.get(TRAIN_DONE, True)
            state = optuna.trial.TrialState
            step = int(result.get("training_iteration", 1))
            study.add_trial(
                optuna.trial.create_trial(
                    state=state.COMPLETE if done else state.PRUNED,
                    value=value if done else None,
                    params={name: params[name] for name in space},
                    distributions=space,
                    intermediate_values={step: value},
                )
            )
            self._completed_trials.add(trial_id)

    return ResumableOptunaSearch


def spare_the_references(scheduler_class: type) -> type:
    """``scheduler_class`` that never stops a reference trial (the baseline, the Trainer's
    defaults): the references train their whole course, so the best trial is never worse than
    them on validation. Their results still count in the scheduler's statistics (rungs,
    medians) as any other trial's."""
    from ray.tune.schedulers import TrialScheduler

    class SparesBaseline(scheduler_class):
        def __init__(
            self, *args: Any, spared: list[dict[str, Any]] | None = None, **kwargs: Any
        ) -> None:
            super().__init__(*args, **kwargs)
            self.spared = spared or []

        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
            decision = super().on_trial_result(tune_controller, trial, result)
            if any(is_point(trial.config, point) for point in self.spared):
                # median stopping remembers whom it stopped and refuses their next result
                getattr(self, "_stopped_trials", set()).discard(trial)
                return str(TrialScheduler.CONTINUE)
            return str(decision)

    return SparesBaseline


@lazy_class("BaselineASHAScheduler", __name__)
def baseline_asha_class() -> type:
    """Ray's ``ASHAScheduler`` that never stops the baseline trial (``spare_the_references``)."""
    from ray.tune.schedulers import ASHAScheduler

    return spare_the_references(ASHAScheduler)


@lazy_class("BaselineMedianStoppingRule", __name__)
def baseline_median_class() -> type:
    """Ray's ``MedianStoppingRule`` that never stops the baseline trial."""
    from ray.tune.schedulers import MedianStoppingRule

    return spare_the_references(MedianStoppingRule)


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


def set_live_trials(generator: Any, trial_ids: set[str]) -> None:
    """A ``BasicVariantGenerator``'s running set (what its ``max_concurrent`` counts)."""
    generator._live_trials = set(trial_ids)


def set_trials_made(search_alg: Any, count: int) -> None:
    """A ``SearchGenerator``'s count of trials made (what ``num_samples`` is measured by)."""
    search_alg._counter = count


__getattr__ = module_getattr(__name__)
