"""K-fold cross-validation inside one trial: k Trainers advanced one epoch at a time in turn.

With ``data.folds: k`` a trial trains its configuration on k stratified folds of the train split
(the folds are index subsets of the one tokenized split: nothing is tokenized again). After
each epoch every fold has been evaluated, and the trial reports the aggregate over folds
(``data.fold_aggregate``: mean, median, min or max) as ``eval_<metric>``, with each fold's value
as ``fold<i>_eval_<metric>``: the searcher and ASHA / median stopping see the aggregate epoch by
epoch. A fold pauses at the end of each epoch with a full checkpoint (optimizer and scheduler
included) in the trial's scratch folder and resumes from it for the next epoch, so its learning
rate schedule is the one a single uninterrupted run would have.

The fold indices come from ``hpo_ray.data.folds``.

Example::

    send = lambda report: tune.report(report.as_result())
    train_folds(params, setup, model_path, prepared, scratch, trial_dir, guards, send)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from hpo_ray.config.formats import FOLDS, TrialReport, eval_key, numeric_scores
from hpo_ray.data.dataset import PreparedData, train_subset
from hpo_ray.train.models import load_tokenizer_from_path
from hpo_ray.train.objective import RunningBest
from hpo_ray.train.setup import TrialSetup
from hpo_ray.train.trainer import build_trainer

AGGREGATES: dict[str, Callable[[Any], Any]] = {
    "mean": np.mean,
    "median": np.median,
    "min": np.min,
    "max": np.max,
}


def _pause_callback_class() -> type:
    from transformers import TrainerCallback

    class PauseAtEpochEnd(TrainerCallback):
        """Stops ``train()`` after each epoch's evaluation and checkpoint."""

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            control.should_training_stop = True

    return PauseAtEpochEnd


def train_folds(
    params: dict[str, Any],
    setup: TrialSetup,
    model_path: str,
    prepared: PreparedData,
    scratch: str,
    trial_dir: str,
    callbacks: list[Any],
    report: Callable[[TrialReport], None],
) -> None:
    """Train every fold epoch by epoch and ``report`` the aggregate after each epoch."""
    from torch.utils.tensorboard import SummaryWriter
    from transformers import EarlyStoppingCallback
    from transformers.integrations import TensorBoardCallback

    task = setup.task()
    tokenizer = load_tokenizer_from_path(model_path, setup.trust_remote_code)
    aggregate = AGGREGATES[setup.fold_aggregate]
    metric = eval_key(setup.metric)
    k = len(prepared.folds)
    latest: list[dict[str, float]] = [{} for _ in range(k)]
    done = [False] * k
    writers = [SummaryWriter(log_dir=os.path.join(trial_dir, f"fold{i}")) for i in range(k)]
    best = RunningBest(setup.mode)
    epochs = int(params["num_train_epochs"])
    try:
        for epoch in range(1, epochs + 1):
            for i, (train_idx, val_idx) in enumerate(prepared.folds):
                if done[i]:
                    continue
                fold_train = prepared.train.select(train_idx)
                trainer = build_trainer(
                    params,
                    model_path,
                    setup.label_names,
                    train_subset(fold_train, params["train_fraction"], prepared.seed),
                    prepared.train.select(val_idx),
                    tokenizer,
                    os.path.join(scratch, f"fold{i}"),
                    metric=setup.metric,
                    mode=setup.mode,
                    callbacks=[
                        _pause_callback_class()(),
                        TensorBoardCallback(writers[i]),
                        *callbacks,
                    ],
                    task=task,
                    resumable=True,
                    trust_remote_code=setup.trust_remote_code,
                    quiet=True,
                )
                trainer.train(resume_from_checkpoint=epoch > 1)
                evals = [h for h in trainer.state.log_history if metric in h]
                latest[i] = numeric_scores(evals[-1])
                stopper = next(
                    (
                        c
                        for c in trainer.callback_handler.callbacks
                        if isinstance(c, EarlyStoppingCallback)
                    ),
                    None,
                )
                patience_out = stopper is not None and (
                    stopper.early_stopping_patience_counter >= stopper.early_stopping_patience
                )
                done[i] = trainer.state.global_step >= trainer.state.max_steps or patience_out
            scores: dict[str, float] = {}
            for key in latest[0]:
                values = [fold.get(key, float("nan")) for fold in latest]
                scores[key] = float(aggregate(values))
                scores.update({f"fold{i}_{key}": v for i, v in enumerate(values)})
            finished = all(done) or epoch == epochs
            report(
                TrialReport(
                    scores,
                    objective=best.update(scores[metric]),
                    train_done=finished,
                    epoch=float(epoch),
                    facts={FOLDS: k},
                )
            )
            if finished:
                return
    finally:
        for writer in writers:
            writer.close()
