"""hpo_ray's own Tune searcher over Optuna's ask-and-tell interface: Optuna keeps the study,
the samplers and the storage; this class is the whole of what Tune sees.

It replaces Ray's ``OptunaSearch``, whose behaviour hpo_ray had to correct in most of its
methods through private attributes:

- A trial the scheduler (ASHA, median stopping) or the epoch budget cut before its training
  ended reaches Optuna as PRUNED, its per-epoch objective kept as intermediate values: the
  sampler treats it as a partial observation, not as a finished trial whose first-epoch score
  is its final one.
- A trial it never suggested (made after its state was saved, restored after a driver crash;
  ``hpo_ray.tuning.realign``) is learnt when it ends, from its parameters and result; a
  define-by-run space cannot take such a trial (it still runs and is reported).
- ``replay`` suggests again for such a trial, so a seeded sampler moves on as it did then.

The references are enqueued before the first suggestion (``points_to_evaluate``). The class
is made on first use (importing this module does not load Ray or Optuna) and is pickled with
the experiment (``save``/``restore``: Tune's searcher checkpoints).

Example::

    searcher = optuna_searcher_class()(space=optuna_space(spec), sampler=TPESampler(seed=0),
                                       metric="objective", mode="max")
"""

from __future__ import annotations

import pickle
from typing import Any

from hpo_ray.config.schema import TRAIN_DONE
from hpo_ray.config.trials import same_value
from hpo_ray.lazy import lazy_class, module_getattr


def same_params(suggested: dict[str, Any], config: dict[str, Any]) -> bool:
    """Whether a trial's ``config`` holds the ``suggested`` values (``same_value``'s rule)."""
    return all(k in config and same_value(config[k], v) for k, v in suggested.items())


@lazy_class("OptunaTuneSearch", __name__)
def optuna_searcher_class() -> type:
    import optuna
    from ray.tune.search import Searcher

    State = optuna.trial.TrialState

    class OptunaTuneSearch(Searcher):
        """A Tune ``Searcher`` asking an Optuna study for each trial and telling it how
        each ended (see the module's docstring)."""

        def __init__(
            self,
            space: Any,
            sampler: Any,
            metric: str,
            mode: str,
            points_to_evaluate: list[dict[str, Any]] | None = None,
        ) -> None:
            super().__init__(metric=metric, mode=mode)
            self.space = space
            """Optuna distributions by name, or a define-by-run callable (``DefineByRun``)."""
            self.study = optuna.create_study(
                sampler=sampler,
                pruner=optuna.pruners.NopPruner(),
                direction="minimize" if mode == "min" else "maximize",
            )
            for point in points_to_evaluate or []:
                self.study.enqueue_trial(point)
            self.trials: dict[str, Any] = {}
            """Tune's trial id -> the Optuna trial asked for it (or learnt for it)."""
            self.ended: set[str] = set()

        def suggest(self, trial_id: str) -> dict[str, Any] | None:
            if trial_id not in self.trials:
                if isinstance(self.space, dict):
                    self.trials[trial_id] = self.study.ask(fixed_distributions=self.space)
                else:
                    ot_trial = self.study.ask()
                    self.space(ot_trial)
                    self.trials[trial_id] = ot_trial
            return dict(self.trials[trial_id].params)

        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            value = result.get(str(self.metric))
            if trial_id in self.ended or trial_id not in self.trials or value is None:
                return
            self.trials[trial_id].report(value, int(result.get("training_iteration", 1)))

        def on_trial_complete(
            self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
        ) -> None:
            if trial_id in self.ended:
                return
            if trial_id not in self.trials:
                self.learn(trial_id, result, error)
                return
            value = (result or {}).get(str(self.metric))
            ot_trial = self.trials[trial_id]
            if error:
                self.study.tell(ot_trial, state=State.FAIL)
            elif value is None or not (result or {}).get(TRAIN_DONE, True):
                self.study.tell(ot_trial, state=State.PRUNED)  # cut: its epochs are reported
            else:
                self.study.tell(ot_trial, value)
            self.ended.add(trial_id)

        def replay(self, trial_id: str, config: dict[str, Any]) -> None:
            """Suggest again for a trial made after this searcher's state was saved, so the
            sampler moves on as it did then (its random draws, its Sobol index). Where the
            suggestion is the trial's own (a seeded sampler replays exactly) the trial is
            this searcher's again; else the replayed suggestion is dropped as failed and the
            trial is learnt when it ends."""
            if trial_id in self.trials:
                return  # suggested by this searcher before its state was saved
            suggested = self.suggest(trial_id)
            if isinstance(suggested, dict) and same_params(suggested, config):
                return
            self.study.tell(self.trials.pop(trial_id), state=State.FAIL)

        def learn(self, trial_id: str, result: dict[str, Any] | None, error: bool) -> None:
            """Add a trial it did not suggest to the study, from its parameters and result."""
            params = (result or {}).get("config") or {}
            value = (result or {}).get(str(self.metric))
            if error or value is None or not isinstance(self.space, dict):
                return  # nothing to learn, or a define-by-run space (no distributions)
            if not set(self.space) <= set(params):
                return
            done = (result or {}).get(TRAIN_DONE, True)
            step = int((result or {}).get("training_iteration", 1))
            self.study.add_trial(
                optuna.trial.create_trial(
                    state=State.COMPLETE if done else State.PRUNED,
                    value=value if done else None,
                    params={name: params[name] for name in self.space},
                    distributions=self.space,
                    intermediate_values={step: value},
                )
            )
            self.ended.add(trial_id)

        def save(self, checkpoint_path: str) -> None:
            with open(checkpoint_path, "wb") as f:
                pickle.dump(self.__dict__.copy(), f)

        def restore(self, checkpoint_path: str) -> None:
            with open(checkpoint_path, "rb") as f:
                self.__dict__.update(pickle.load(f))

    return OptunaTuneSearch


__getattr__ = module_getattr(__name__)
