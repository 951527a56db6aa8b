"""The Tune function trainable: a thin adapter around the Hugging Face Trainer.

Runs inside Ray workers. Everything it needs arrives as arguments: the sampled hyperparameters
as ``config``, a ``TrialSetup`` and the tokenized data through the object store. With
``reuse_actors`` a worker runs many trials; the data is fetched once per worker and kept here,
keyed by its content fingerprint.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
from typing import Any

from hpo_ray.config.formats import (
    COPIED_FROM,
    DATA_FINGERPRINT,
    DEVICE,
    NODE_ID,
    SECONDS_PER_STEP,
    TRAIN_EXAMPLES,
    TrialReport,
    eval_key,
    numeric_scores,
)
from hpo_ray.config.trials import trial_overrides, trial_params
from hpo_ray.data.dataset import train_subset
from hpo_ray.layout import OWN_FAILURE, TRIAL_BEST_MODEL, trial_dir
from hpo_ray.train.kfold import train_folds
from hpo_ray.train.models import load_tokenizer_from_path
from hpo_ray.train.objective import RunningBest
from hpo_ray.train.schedule import follow_schedule, mutable_values, write_schedule
from hpo_ray.train.setup import DataHandle, TrialSetup
from hpo_ray.train.trainer import build_trainer
from hpo_ray.train.trial_files import KeptInfo, save_best_weights, write_trial_artifacts

_DATA_CACHE: dict[str, Any] = {}


class TrialDiverged(FloatingPointError):
    """The training or evaluation loss is not finite."""


def make_data_handles(data: dict[str, Any]) -> DataHandle:
    import ray

    return DataHandle(
        {name: d.fingerprint for name, d in data.items()},
        {name: [ray.put(d)] for name, d in data.items()},
    )


def fetch_data(handle: DataHandle, model_name: str) -> Any:
    """The data tokenized for ``model_name``, from this worker's cache or (first trial of that
    encoder on the worker) the object store."""
    fingerprint = handle.fingerprints[model_name]
    if fingerprint not in _DATA_CACHE:
        import ray

        for stale in set(_DATA_CACHE) - set(handle.fingerprints.values()):
            del _DATA_CACHE[stale]  # another experiment's data
        _DATA_CACHE[fingerprint] = ray.get(handle.refs[model_name][0])
    return _DATA_CACHE[fingerprint]


def _guard_callback_class() -> type:
    from transformers import TrainerCallback

    class DivergenceGuard(TrainerCallback):
        """Fails the trial when the training or evaluation loss stops being finite.

        Runs before the report callback, so a diverged evaluation is never reported."""

        def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            loss = (kwargs.get("logs") or {}).get("loss")
            if loss is not None and not math.isfinite(loss):
                raise TrialDiverged(
                    f"training loss is {loss} at step {state.global_step}; the run diverged "
                    "(lower learning_rate, or raise warmup_ratio / max_grad_norm)"
                )

        def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            loss = (kwargs.get("metrics") or {}).get("eval_loss", 0.0)
            if not math.isfinite(loss):
                raise TrialDiverged(
                    f"eval_loss is {loss} at step {state.global_step}; the run diverged "
                    "(lower learning_rate, or raise warmup_ratio / max_grad_norm)"
                )

    return DivergenceGuard


def _report_callback_class() -> type:
    from transformers import TrainerCallback

    class TuneReportCallback(TrainerCallback):
        """Reports every evaluation to Tune, with a weights-only checkpoint unless finished.

        ``objective`` is the trial's best ``eval_<metric>`` so far: the one number the searcher,
        the scheduler and best-trial selection all use (refit also keeps its best epoch).
        """

        def __init__(
            self,
            checkpoint: str,
            metric: str,
            mode: str,
            artifacts_dir: str | None = None,
            label_names: list[str] | None = None,
            keep_best: bool = False,
            full_checkpoints: bool = False,
            keep_dir: str | None = None,
        ) -> None:
            self.checkpoint = checkpoint
            self.metric = eval_key(metric)
            self.best = RunningBest(mode)
            self.node_id = _node_id()
            self.artifacts_dir = artifacts_dir
            self.label_names = label_names or []
            self.keep_best = keep_best and artifacts_dir is not None
            self.keep_dir = keep_dir or artifacts_dir
            """Where the kept weights go: the experiment's trial folder where this node sees it
            (Tune's artifact sync can put an older copy back over it after a restart)."""
            self.computer: Any = None  # the Trainer's MetricsComputer, set after it is built
            self.started = time.perf_counter()
            self.steps_at_start = 0
            self.extra: dict[str, Any] = {}
            """Constant facts about the trial added to every report (training-set size...)."""
            self.full_checkpoints = full_checkpoints
            """Report after the Trainer saved its full checkpoint (optimizer, schedule, RNG),
            with that checkpoint, so another trial can go on from it (PBT)."""
            self.pending: dict[str, Any] | None = None
            self.schedule: list[dict[str, Any]] = []
            """What trained the weights so far (``train.schedule``; PBT)."""

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started = time.perf_counter()
            self.steps_at_start = int(state.global_step)

        def write_artifacts(self, state: Any, result: dict[str, Any]) -> None:
            steps = max(1, int(state.global_step) - self.steps_at_start)
            metrics = {**result, SECONDS_PER_STEP: (time.perf_counter() - self.started) / steps}
            last = getattr(self.computer, "last", None)
            if self.artifacts_dir:
                write_trial_artifacts(
                    self.artifacts_dir, state.log_history, metrics, last, self.label_names
                )

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            # With step-wise evaluation make sure the last step is evaluated too, so the final
            # report carries train_done=True.
            if args.eval_strategy == "steps" and state.global_step >= state.max_steps:
                control.should_evaluate = True

        def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            from ray import tune

            done = state.global_step >= state.max_steps or bool(control.should_training_stop)
            scores = numeric_scores(kwargs.get("metrics") or {})
            before = self.best.value
            best = self.best.update(scores[self.metric])
            if self.keep_best and best != before:
                info = KeptInfo(
                    float(state.epoch or 0.0),
                    int(state.global_step),
                    self.metric,
                    best,
                    list(self.schedule or []),
                )
                save_best_weights(kwargs["model"], str(self.keep_dir), info)
            report = TrialReport(
                scores,
                objective=best,
                train_done=done,
                epoch=float(state.epoch or 0.0),
                step=int(state.global_step),
                node_id=self.node_id,
                train_seconds=time.perf_counter() - self.started,
                trainable_params=sum(
                    p.numel() for p in kwargs["model"].parameters() if p.requires_grad
                )
                if done
                else None,
                facts=dict(self.extra),
            )
            if self.extra.get(COPIED_FROM):
                self.extra[COPIED_FROM] = ""  # a copy is reported with its first evaluation
            result = report.as_result()
            if done:
                self.write_artifacts(state, result)
            if self.full_checkpoints:
                self.pending = result  # reported with the checkpoint the Trainer saves next
                return
            if self.checkpoint == "none" or done:
                tune.report(result)
                return
            folder = tempfile.mkdtemp(prefix="hpo-ckpt-")
            try:
                kwargs["model"].save_pretrained(folder)
                state.save_to_json(os.path.join(folder, "trainer_state.json"))
                tune.report(result, checkpoint=tune.Checkpoint.from_directory(folder))
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            from ray import tune

            if self.pending is None:
                return
            result, self.pending = self.pending, None
            folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            write_schedule(folder, self.schedule, float(state.epoch or 0.0))
            tune.report(result, checkpoint=tune.Checkpoint.from_directory(folder))

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            from ray import tune

            if self.pending is not None:  # an evaluation no checkpoint followed
                result, self.pending = self.pending, None
                tune.report(result)

    return TuneReportCallback


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


def _failure_markers(setup: TrialSetup, own_dir: str) -> list[str]:
    """The trial's own folder, and its folder in the experiment when this node can see it
    (Tune syncs the former to the latter only on the next report, which a failure never makes).
    """
    from ray import tune

    markers = [os.path.join(own_dir, OWN_FAILURE)]
    shared = str(trial_dir(setup.experiment_dir, tune.get_context().get_trial_id()))
    if setup.experiment_dir and os.path.isdir(shared) and not os.path.samefile(shared, own_dir):
        markers.append(os.path.join(shared, OWN_FAILURE))
    return markers


def train_trial(config: dict[str, Any], setup: TrialSetup, data: DataHandle) -> None:
    """One trial: train with the sampled ``config`` and report each evaluation to Tune."""
    import torch
    from ray import tune
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    torch.set_num_threads(max(1, int(setup.cpus_per_trial)))
    params = trial_params(setup.base_params, trial_overrides(config))
    own_dir = tune.get_context().get_trial_dir()
    markers = _failure_markers(setup, own_dir)
    for marker in markers:
        if os.path.exists(marker):
            with open(marker) as f:
                raise RuntimeError(f"not retried, the trial failed on its own: {f.read().strip()}")

    model_path = setup.models[params["model_name"]]
    prepared = fetch_data(data, params["model_name"])
    writer = SummaryWriter(log_dir=own_dir)
    guards: list[Any] = [_guard_callback_class()(), *setup.callbacks]
    reporter = _report_callback_class()(
        setup.checkpoint,
        setup.metric,
        setup.mode,
        own_dir,
        setup.label_names,
        keep_best=setup.keep_best and float(params.get("train_fraction", 1.0)) >= 1.0,
        full_checkpoints=setup.population,
        keep_dir=os.path.dirname(markers[-1]),
    )
    kept = kept_best(markers)
    if kept is not None:  # a trial resumed (or handed another's weights) stays judged by its best
        reporter.best.update(kept)
    callbacks = [*guards, reporter, TensorBoardCallback(writer)]
    with tempfile.TemporaryDirectory(prefix="hpo-trial-") as scratch:
        if prepared.folds:
            node = _node_id()
            try:
                train_folds(
                    params,
                    setup,
                    model_path,
                    prepared,
                    scratch,
                    own_dir,
                    guards,
                    lambda report: tune.report({**report.as_result(), NODE_ID: node}),
                )
            except (TrialDiverged, torch.OutOfMemoryError) as exc:
                _mark_own_failure(markers, exc)
                raise
            finally:
                writer.close()
            return
        train = train_subset(prepared.train, params["train_fraction"], prepared.seed)
        reporter.extra = {TRAIN_EXAMPLES: len(train), DATA_FINGERPRINT: prepared.fingerprint}
        trainer = build_trainer(
            params,
            model_path,
            setup.label_names,
            train,
            prepared.validation,
            load_tokenizer_from_path(model_path, setup.trust_remote_code),
            scratch,
            metric=setup.metric,
            mode=setup.mode,
            callbacks=callbacks,
            task=setup.task(),
            resumable=setup.population,
            trust_remote_code=setup.trust_remote_code,
            quiet=True,
        )
        reporter.computer = trainer.compute_metrics
        reporter.extra[DEVICE] = str(trainer.args.device)  # cuda:0, mps or cpu
        checkpoint = tune.get_checkpoint()
        values = mutable_values(params, setup.searched)  # what a population may change
        try:
            if checkpoint is not None:
                with checkpoint.as_directory() as folder:
                    if setup.population:
                        follow_schedule(trainer, reporter, folder, values)
                    trainer.train(resume_from_checkpoint=folder)
            else:
                if setup.population:
                    follow_schedule(trainer, reporter, None, values)
                trainer.train()
        except (TrialDiverged, torch.OutOfMemoryError) as exc:
            _mark_own_failure(markers, exc)
            raise
        finally:
            writer.close()


def kept_best(markers: list[str]) -> float | None:
    """The best score of the trial's kept weights (in its own folder or the experiment's),
    or None where it kept none yet."""
    for marker in markers:
        info = KeptInfo.read(os.path.join(os.path.dirname(marker), TRIAL_BEST_MODEL))
        if info is not None and info.metric:
            return info.score
    return None


def _mark_own_failure(markers: list[str], exc: BaseException) -> None:
    for marker in markers:
        with open(marker, "w") as f:
            f.write(f"{type(exc).__name__}: {exc}\n")
