"""Ray subclasses made on first use: named as top-level classes, found by pickle by name."""

from __future__ import annotations

import pickle

import pytest

import hpo_ray.tuning.study as study_module
from hpo_ray.config.loading import from_dict
from hpo_ray.tuning.registry import epoch_budget_class
from hpo_ray.tuning.study import study_mirror, study_mirror_class


def test_a_lazy_class_is_made_once_and_named_at_the_top_of_its_module():
    cls = study_mirror_class()
    assert cls is study_mirror_class() is study_module.StudyMirror
    assert (cls.__module__, cls.__qualname__) == ("hpo_ray.tuning.study", "StudyMirror")
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = study_module.Nope


def test_lazy_instances_pickle_by_reference():
    mirror = study_mirror(from_dict({}))
    again = pickle.loads(pickle.dumps(mirror))
    assert type(again) is study_mirror_class() and again.cfg == mirror.cfg
    budget = pickle.loads(pickle.dumps(epoch_budget_class()(4.0)))
    assert budget.budget == 4.0 and type(budget).__name__ == "EpochBudget"
