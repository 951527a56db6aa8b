"""Tune's files read as plain JSON: cut last lines skipped, bad lines and pickles refused."""

from __future__ import annotations

import json
import logging

import pytest

from hpo_ray.errors import ExperimentError
from hpo_ray.layout import trial_dir
from hpo_ray.results.tune_state import PICKLED, read_results, read_trials


def write_results(exp, trial_id, lines):
    folder = trial_dir(exp, trial_id)
    folder.mkdir(parents=True)
    (folder / "result.json").write_text("\n".join(lines) + "\n")


def test_a_cut_last_line_is_skipped_with_a_warning(tmp_path, caplog):
    write_results(tmp_path, "t1", [json.dumps({"epoch": 1.0}), '{"epoch": 2.0, "obj'])
    with caplog.at_level(logging.WARNING):
        assert read_results(tmp_path, "t1") == [{"epoch": 1.0}]
    assert "the last line is cut short" in caplog.text


def test_a_bad_line_before_the_last_is_refused_naming_file_and_line(tmp_path):
    write_results(tmp_path, "t1", ["{not json", json.dumps({"epoch": 2.0})])
    with pytest.raises(ExperimentError, match=r"result.json: line 1 is not valid JSON"):
        read_results(tmp_path, "t1")


def test_a_pickle_in_a_result_is_refused_not_loaded(tmp_path):
    write_results(tmp_path, "t1", [json.dumps({"x": {"_type": PICKLED, "value": "00"}})])
    with pytest.raises(ExperimentError, match="holds a pickled Python object"):
        read_results(tmp_path, "t1")


def state_file(tmp_path, trials, metadata=None):
    entries = [[json.dumps(t), json.dumps(metadata or {"last_result": {}})] for t in trials]
    (tmp_path / "experiment_state-2026-01-01_00-00-00.json").write_text(
        json.dumps({"trial_data": entries})
    )


def test_trials_take_their_values_from_params_json_and_status_from_the_state(tmp_path):
    # The state's copy of the values holds a pickle; params.json (plain) is what is read.
    stored = {"learning_rate": {"_type": PICKLED, "value": "00"}}
    state_file(tmp_path, [{"trial_id": "t1", "status": "ERROR", "config": stored}])
    folder = trial_dir(tmp_path, "t1")
    folder.mkdir()
    (folder / "params.json").write_text(json.dumps({"learning_rate": 0.001}))
    (trial,) = read_trials(tmp_path)
    assert (trial.trial_id, trial.status, trial.config) == ("t1", "ERROR", {"learning_rate": 0.001})


def test_the_newest_state_is_read(tmp_path):
    state_file(tmp_path, [{"trial_id": "old", "status": "TERMINATED", "config": {}}])
    (tmp_path / "experiment_state-2026-01-01_00-00-00.json").rename(
        tmp_path / "experiment_state-2025-01-01_00-00-00.json"
    )
    state_file(tmp_path, [{"trial_id": "new", "status": "TERMINATED", "config": {}}])
    assert [t.trial_id for t in read_trials(tmp_path)] == ["new"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"trial_data": [', "is not valid JSON"),
        ('{"runner_data": {}}', "holds no trial list"),
        ('{"trial_data": [["{}", "{}"]]}', "a trial entry has no trial id"),
        ('{"trial_data": [[1, 2]]}', "is not Tune's [state, metadata] pair"),
    ],
)
def test_a_broken_state_is_one_line_naming_the_file(tmp_path, content, message):
    (tmp_path / "experiment_state-x.json").write_text(content)
    with pytest.raises(ExperimentError) as err:
        read_trials(tmp_path)
    assert message in str(err.value) and "experiment_state-x.json" in str(err.value)
