"""What trained a set of weights, epoch by epoch, and how to train by such a schedule again.

Under Population Based Training a trial's weights are shaped by values that change between
epochs and by weights copied from other trials. Each checkpoint carries its schedule: a list of
segments ``{"trial_id", "from_epoch", "values"}``, each the trial that trained from that epoch
on and the values it trained with (``hpo_ray.config.schema.PBT_MUTABLE``). A trial that starts
from a checkpoint continues the schedule inside it, so the schedule of the winner's weights is
its whole history, copies included, and the refit replays it from scratch.

Example::

    segments = continue_schedule(read_schedule(checkpoint), "b1c2", 1.0, {"learning_rate": 3e-5})
    values_at(segments, 2)   # the values epoch 2 (the third) trained with
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hpo_ray.config.formats import COPIED_FROM, FLOAT_TOL, LINEAGE, SCHEDULE
from hpo_ray.config.schema import PBT_MUTABLE
from hpo_ray.storage import write_file

SCHEDULE_FILE = "hpo_schedule.json"
"""A checkpoint's (and a kept model's) schedule: ``{"segments": [...], "epoch": E}``."""

Segment = dict[str, Any]


def mutable_values(params: dict[str, Any], names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The values of ``params`` a population may change (of the searched ``names``)."""
    return {n: params[n] for n in names if n in PBT_MUTABLE and n in params}


def read_schedule(folder: str | Path | None) -> list[Segment]:
    """The segments saved in ``folder`` (a checkpoint or kept model), or [] without any."""
    path = Path(folder) / SCHEDULE_FILE if folder else None
    if path is None or not path.is_file():
        return []
    return list(json.loads(path.read_text())["segments"])


def write_schedule(folder: str | Path, segments: list[Segment], epoch: float) -> None:
    record = {"segments": segments, "epoch": epoch}
    write_file(Path(folder) / SCHEDULE_FILE, json.dumps(record, indent=1))


def continue_schedule(
    segments: list[Segment], trial_id: str, epoch: float, values: dict[str, Any]
) -> tuple[list[Segment], str | None]:
    """``segments`` (of weights trained to ``epoch``) continued by ``trial_id`` with
    ``values``; also the trial whose weights were copied, when they were another's."""
    kept = [s for s in segments if float(s["from_epoch"]) < epoch - FLOAT_TOL]
    copied = kept[-1]["trial_id"] if kept and kept[-1]["trial_id"] != trial_id else None
    if kept and copied is None and kept[-1]["values"] == values:
        return kept, None  # the trial goes on as it was (resumed after a pause)
    return [*kept, {"trial_id": trial_id, "from_epoch": epoch, "values": values}], copied


def values_at(segments: list[Segment], epoch: int) -> dict[str, Any]:
    """The values in force while epoch ``epoch`` (0-based) trained."""
    current: dict[str, Any] = {}
    for segment in segments:
        if float(segment["from_epoch"]) <= epoch + FLOAT_TOL:
            current = segment["values"]
    return dict(current)


def describe(segments: list[Segment]) -> str:
    """One line: ``trial a1 from epoch 0 (learning_rate 2e-05), b2 from 1 (...)``."""
    parts = []
    for s in segments:
        shown = ", ".join(f"{k} {v:.3g}" for k, v in s["values"].items())
        parts.append(f"{s['trial_id']} from epoch {float(s['from_epoch']):g} ({shown})")
    return "; ".join(parts)


def compact(segments: list[Segment]) -> str:
    """The values per stretch of epochs, for a table cell: ``@0 learning_rate=0.001 | @2
    learning_rate=0.0045``."""
    return " | ".join(
        f"@{float(s['from_epoch']):g} " + " ".join(f"{k}={v:.3g}" for k, v in s["values"].items())
        for s in segments
    )


def apply_values(args: Any, optimizer: Any, lr_scheduler: Any, values: dict[str, Any]) -> None:
    """Set ``values`` on a running (or just resumed) training: the learning rate (the
    schedule's base, so warm-up and decay go on from where they are), the weight decay of the
    decayed parameter group, and gradient clipping."""
    if "max_grad_norm" in values:
        args.max_grad_norm = float(values["max_grad_norm"])
    if optimizer is None:
        return
    groups = optimizer.param_groups
    if "weight_decay" in values:
        groups[0]["weight_decay"] = float(values["weight_decay"])  # HF: group 0 is decayed
    if "learning_rate" in values and lr_scheduler is not None:
        scheduler = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate's wrapper
        lr = float(values["learning_rate"])
        for group, base in zip(groups, scheduler.base_lrs, strict=True):
            group["lr"] = group["lr"] * lr / base if base else lr
            group["initial_lr"] = lr
        scheduler.base_lrs = [lr] * len(groups)
        scheduler._last_lr = [group["lr"] for group in groups]


def schedule_callback_class() -> type:
    from transformers import TrainerCallback

    class FollowSchedule(TrainerCallback):
        """Trains by ``segments``: the values of each epoch set as it begins. With
        ``resumed`` the first values are set once training (re)starts, over what the
        checkpoint's optimizer and schedule brought back."""

        def __init__(self, segments: list[Segment], resumed: bool = False) -> None:
            self.segments = segments
            self.resumed = resumed
            self.current: dict[str, Any] | None = None

        def apply(self, args: Any, state: Any, kwargs: dict[str, Any], force: bool) -> None:
            values = values_at(self.segments, int(round(float(state.epoch or 0.0))))
            if force or values != self.current:
                apply_values(args, kwargs.get("optimizer"), kwargs.get("lr_scheduler"), values)
                self.current = values

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.apply(args, state, kwargs, force=self.resumed)
            if not self.resumed:
                self.current = values_at(self.segments, int(round(float(state.epoch or 0.0))))

        def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.apply(args, state, kwargs, force=False)

    return FollowSchedule


def follow_schedule(
    trainer: Any, reporter: Any, folder: str | None, values: dict[str, Any]
) -> None:
    """Population trials (in a Tune worker): continue the schedule of the checkpoint in
    ``folder`` (the trial's own, or another's it was handed) with this trial's ``values``, set
    them over what the checkpoint brings back, and have ``reporter`` report the schedule and
    whose weights were copied."""
    from ray import tune

    epoch = 0.0
    if folder is not None:
        with open(os.path.join(folder, "trainer_state.json")) as f:
            epoch = float(json.load(f).get("epoch") or 0.0)
    trial_id = tune.get_context().get_trial_id()
    segments, copied = continue_schedule(read_schedule(folder), trial_id, epoch, values)
    reporter.schedule = segments
    reporter.extra[LINEAGE] = " ".join(
        f"{s['trial_id']}@{float(s['from_epoch']):g}" for s in segments
    )
    reporter.extra[COPIED_FROM] = copied or ""
    reporter.extra[SCHEDULE] = compact(segments)
    trainer.add_callback(schedule_callback_class()(segments, resumed=folder is not None))
