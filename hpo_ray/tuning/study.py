"""An Optuna study in SQLite mirroring the Tune trials, for ``optuna-dashboard``.

The searcher keeps its own study in memory: Tune pickles it with the experiment, so
``Tuner.restore`` brings it back intact. Handing OptunaSearch an SQLite storage instead breaks
restore (the pickled searcher and the database disagree about finished trials), so the database
here is a mirror: written live by a Tune callback as trials end, and brought up to date from the
experiment folder by every report. Each trial is stored once, keyed by its Tune trial id.

``hpo_ray.report.writer.sync_study`` does the bringing up to date.

Example::

    study = open_study(exp_dir / STUDY_FILE, cfg)
    add_trial(study, cfg, "a1b2c3", {"learning_rate": 3e-5}, [0.61, 0.66], "complete")
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo_ray.config.schema import OBJECTIVE, TRAIN_DONE, ExperimentConfig
from hpo_ray.config.trials import trial_overrides
from hpo_ray.layout import STUDY_FILE
from hpo_ray.lazy import lazy_class, module_getattr
from hpo_ray.tuning.space import optuna_space

if TYPE_CHECKING:
    import optuna

TRIAL_ID_ATTR = "ray_trial_id"


def open_study(db_path: Path, cfg: ExperimentConfig) -> optuna.Study:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = (
        optuna.study.StudyDirection.MAXIMIZE
        if cfg.search.mode == "max"
        else optuna.study.StudyDirection.MINIMIZE
    )
    return optuna.create_study(
        storage=f"sqlite:///{db_path}",
        study_name=cfg.run.name,
        direction=direction,
        load_if_exists=True,
    )


def stored_ids(study: optuna.Study) -> set[str]:
    """The Tune trial ids already in ``study``."""
    return {str(t.user_attrs.get(TRIAL_ID_ATTR)) for t in study.get_trials(deepcopy=False)}


def add_trial(
    study: optuna.Study,
    cfg: ExperimentConfig,
    trial_id: str,
    params: dict[str, Any],
    curve: list[float],
    state: str,
    known: set[str] | None = None,
) -> bool:
    """Store one Tune trial (``state``: complete | pruned | fail) unless already stored.

    ``known``: the Tune ids already in ``study`` (``stored_ids``), kept up to date here; pass
    it when storing many trials, since reading them back from SQLite grows with the study."""
    import optuna

    if known is None:
        known = stored_ids(study)
    if trial_id in known:
        return False
    known.add(trial_id)
    space = optuna_space(cfg.search.space)
    values = [v for v in curve if v is not None and not math.isnan(v)]
    trial_state = {
        "complete": optuna.trial.TrialState.COMPLETE,
        "pruned": optuna.trial.TrialState.PRUNED,
        "fail": optuna.trial.TrialState.FAIL,
    }[state]
    if trial_state == optuna.trial.TrialState.COMPLETE and not values:
        trial_state = optuna.trial.TrialState.FAIL
    kept = {k: params[k] for k in space if k in params}
    study.add_trial(
        optuna.trial.create_trial(
            state=trial_state,
            value=values[-1] if trial_state == optuna.trial.TrialState.COMPLETE else None,
            params=kept,
            distributions={k: space[k] for k in kept},
            intermediate_values=dict(enumerate(values, start=1)),
            user_attrs={TRIAL_ID_ATTR: trial_id},
        )
    )
    return True


def study_mirror(cfg: ExperimentConfig) -> Any:
    """The Tune callback that adds each trial to the SQLite study as soon as it ends."""
    return study_mirror_class()(cfg)


@lazy_class("StudyMirror", __name__)
def study_mirror_class() -> type:
    """The ``StudyMirror`` Tune callback class (made on first use, so importing this module
    does not load Ray). Subclass it to observe the search (the benchmarks time trials so)."""
    from ray import tune

    class StudyMirror(tune.Callback):
        """Adds each trial to the SQLite study as soon as it ends (live view in the dashboard)."""

        def __init__(self, cfg: ExperimentConfig) -> None:
            self.cfg = cfg
            self.curves: dict[str, list[float]] = {}
            self._study: optuna.Study | None = None
            self._known: set[str] = set()

        def __getstate__(self) -> dict[str, Any]:
            # Tune pickles its callbacks with the experiment; a database connection does not
            # travel.
            return {**self.__dict__, "_study": None, "_known": set()}

        def _store(self, trial: Any, state: str) -> None:
            if self._study is None:  # opened once per run: a new engine per trial costs ~0.1 s
                self._study = open_study(Path(self.cfg.experiment_dir) / STUDY_FILE, self.cfg)
                self._known = stored_ids(self._study)
            add_trial(
                self._study,
                self.cfg,
                trial.trial_id,
                trial_overrides(trial.config),
                self.curves.pop(trial.trial_id, []),
                state,
                self._known,
            )

        def on_trial_result(
            self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
        ) -> None:
            self.curves.setdefault(trial.trial_id, []).append(
                float(result.get(OBJECTIVE, math.nan))
            )

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            done = bool((trial.last_result or {}).get(TRAIN_DONE))
            self._store(trial, "complete" if done else "pruned")

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._store(trial, "fail")

    return StudyMirror


__getattr__ = module_getattr(__name__)
