"""Tune's experiment state and trial files read as plain JSON, never unpickled.

Ray's own readers (``ExperimentAnalysis``, ``Trial.from_json_state``) turn some stored values
back into Python objects with cloudpickle, which runs whatever code a folder carries: a folder
from someone else could plant it. ``hpo-ray report`` and ``refit`` read through this module
instead. It takes from Tune's newest ``experiment_state-*.json`` each trial's id, status and
tag (its other, pickled fields are left as the text they are), the trial's values from its
``params.json`` and its evaluations from its ``result.json``; a value stored as a pickle where
plain data belongs is refused, not decoded. (``hpo-ray resume`` restores through Tune, which
unpickles by design: see ``docs/safety.md``.)

Example::

    for trial in read_trials(Path("ray_results/demo")):
        trial.trial_id, trial.status, trial.config
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpo_ray.errors import ExperimentError
from hpo_ray.layout import EXPERIMENT_STATE_GLOB, trial_dir

log = logging.getLogger(__name__)

PICKLED = "CLOUDPICKLE_FALLBACK"
"""The ``_type`` Tune's JSON encoder gives a value it stored as a cloudpickle."""
PARAMS_FILE = "params.json"
RESULT_FILE = "result.json"


@dataclass(frozen=True)
class TrialState:
    """One trial as Tune left it, in plain data."""

    trial_id: str
    status: str
    """Tune's status: TERMINATED, ERROR, RUNNING, PENDING, PAUSED."""
    experiment_tag: str
    config: dict[str, Any]
    last_result: dict[str, Any] = field(default_factory=dict)


def newest_state(exp_dir: Path) -> Path:
    """Tune's newest experiment state file in ``exp_dir`` (the one a restore would read)."""
    states = sorted(exp_dir.glob(EXPERIMENT_STATE_GLOB))
    if not states:
        raise ExperimentError(
            f"{exp_dir} has no Tune experiment state yet (the search never started a trial); "
            "run `hpo-ray search` again with --overwrite"
        )
    return states[-1]


def read_json(path: Path, text: str | None = None) -> Any:
    """``path``'s JSON (or ``text``, read from it), as plain data; one line if it is not."""
    try:
        return json.loads(path.read_text() if text is None else text)
    except UnicodeDecodeError:
        raise ExperimentError(f"{path} is not a UTF-8 text file; it cannot be read") from None
    except json.JSONDecodeError as err:
        raise ExperimentError(
            f"{path} is not valid JSON (line {err.lineno}: {err.msg}); it may be half "
            "written: restore it from a copy, or run the search again with --overwrite"
        ) from None


def refuse_pickles(value: Any, path: Path, what: str) -> None:
    """Refuse ``value`` when a pickled object sits anywhere in it (it is never decoded)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("_type") == PICKLED:
                raise ExperimentError(
                    f"{path}: {what} holds a pickled Python object, which hpo_ray does not "
                    "load (it could run code); read only folders you trust, and make this "
                    "one again with `hpo-ray search`"
                )
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def read_trials(exp_dir: Path) -> list[TrialState]:
    """Every trial of the experiment in ``exp_dir``, as Tune's newest state lists them."""
    path = newest_state(exp_dir)
    state = read_json(path)
    entries = state.get("trial_data") if isinstance(state, dict) else None
    if not isinstance(entries, list):
        raise ExperimentError(f"{path} holds no trial list; it is not a Tune experiment state")
    if not entries:
        raise ExperimentError(
            f"{exp_dir}: the experiment holds no trial (Tune's state lists none); run "
            "`hpo-ray search` again with --overwrite"
        )
    trials = []
    for entry in entries:
        if not (
            isinstance(entry, list) and len(entry) == 2 and all(isinstance(e, str) for e in entry)
        ):
            raise ExperimentError(f"{path}: a trial entry is not Tune's [state, metadata] pair")
        trial, meta = read_json(path, entry[0]), read_json(path, entry[1])
        if not isinstance(trial, dict) or not isinstance(trial.get("trial_id"), str):
            raise ExperimentError(f"{path}: a trial entry has no trial id")
        trial_id = trial["trial_id"]
        config = trial_config(exp_dir, trial_id, trial.get("config"), path)
        last = meta.get("last_result") if isinstance(meta, dict) else None
        last = last if isinstance(last, dict) else {}
        refuse_pickles(last, path, f"trial {trial_id}'s last result")
        trials.append(
            TrialState(
                trial_id=trial_id,
                status=str(trial.get("status") or "PENDING"),
                experiment_tag=str(trial.get("experiment_tag") or ""),
                config=config,
                last_result=last,
            )
        )
    return trials


def trial_config(exp_dir: Path, trial_id: str, stored: Any, state: Path) -> dict[str, Any]:
    """A trial's values: its ``params.json`` (Tune writes it plain), else those in the state."""
    params = trial_dir(exp_dir, trial_id) / PARAMS_FILE
    value = read_json(params) if params.is_file() else stored
    where = params if params.is_file() else state
    if not isinstance(value, dict):
        raise ExperimentError(f"{where}: trial {trial_id}'s values are not a mapping")
    refuse_pickles(value, where, f"trial {trial_id}'s values")
    return value


def read_results(exp_dir: Path, trial_id: str) -> list[dict[str, Any]]:
    """A trial's evaluations from its ``result.json``, one JSON object per line. A last line
    cut short (the trial or the machine stopped while Tune wrote it) is skipped with a
    warning; a bad line before it is refused, naming the file and line."""
    path = trial_dir(exp_dir, trial_id) / RESULT_FILE
    if not path.is_file():
        return []
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                log.warning("%s: the last line is cut short; it is skipped", path)
                break
            raise ExperimentError(
                f"{path}: line {number} is not valid JSON; restore the file from a copy"
            ) from None
        if not isinstance(record, dict):
            raise ExperimentError(f"{path}: line {number} is not a JSON object")
        refuse_pickles(record, path, f"line {number}")
        records.append(record)
    return records
