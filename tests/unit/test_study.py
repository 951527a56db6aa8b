"""The SQLite study mirror: each Tune trial stored once, across a pickle round trip (as Tune
does with its callbacks when it saves and restores an experiment)."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import optuna

from hpo_ray.config.loading import from_dict
from hpo_ray.layout import STUDY_FILE
from hpo_ray.tuning.study import study_mirror


def _trial(trial_id: str, lr: float, done: bool = True) -> SimpleNamespace:
    return SimpleNamespace(
        trial_id=trial_id, config={"learning_rate": lr}, last_result={"train_done": done}
    )


def test_mirror_stores_each_trial_once_and_survives_pickling(tmp_path):
    space = {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}}
    cfg = from_dict({"search": {"space": space}, "run": {"name": "m", "storage": str(tmp_path)}})
    (tmp_path / "m").mkdir()
    mirror = study_mirror(cfg)
    first = _trial("a", 1e-4)
    for value in (0.5, 0.7):
        mirror.on_trial_result(0, [], first, {"objective": value})
    mirror.on_trial_complete(0, [], first)
    mirror.on_trial_complete(0, [], first)  # a repeated end event adds nothing

    restored = pickle.loads(pickle.dumps(mirror))
    assert restored._study is None  # the connection is reopened, not pickled
    restored.on_trial_complete(0, [], _trial("a", 1e-4))
    pruned = _trial("b", 3e-4, done=False)
    restored.on_trial_result(0, [], pruned, {"objective": 0.4})
    restored.on_trial_complete(0, [], pruned)

    study = optuna.load_study(study_name="m", storage=f"sqlite:///{tmp_path / 'm' / STUDY_FILE}")
    states = {t.user_attrs["ray_trial_id"]: t for t in study.trials}
    assert sorted(states) == ["a", "b"]
    assert states["a"].state == optuna.trial.TrialState.COMPLETE and states["a"].value == 0.7
    assert states["a"].intermediate_values == {1: 0.5, 2: 0.7}
    assert states["b"].state == optuna.trial.TrialState.PRUNED
