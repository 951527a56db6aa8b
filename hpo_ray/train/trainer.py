"""Glue between hpo_ray's training values and the Hugging Face Trainer.

Shared by the Tune trainable and by refit, so a trial and the final model train the same way.
The config keeps the familiar ``TrainingArguments`` names; ``training_arguments`` translates them
to what the installed transformers accepts (5.x dropped ``warmup_ratio``: ``warmup_steps`` below 1
is a ratio).
"""

from __future__ import annotations

from typing import Any

from hpo_ray.config.schema import eval_key
from hpo_ray.config.task import TaskMetrics
from hpo_ray.train.losses import balanced_class_weights, make_loss
from hpo_ray.train.metrics import make_compute_metrics
from hpo_ray.train.models import apply_lora, load_model

TRAINING_ARG_NAMES = (
    "learning_rate",
    "num_train_epochs",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "weight_decay",
    "lr_scheduler_type",
    "gradient_accumulation_steps",
    "max_grad_norm",
    "seed",
    "logging_steps",
    "fp16",
    "bf16",
)


TRAINER_FIELDS = {name: name for name in TRAINING_ARG_NAMES} | {"warmup_ratio": "warmup_steps"}
"""hpo_ray's training names -> the ``TrainingArguments`` field whose default means the same
(``warmup_steps`` is read as a ratio below 1, so its default 0 is a warmup ratio of 0)."""


def trainer_defaults(names: list[str]) -> dict[str, Any]:
    """The installed transformers' ``TrainingArguments`` defaults of those of ``names`` it
    defines (read from its dataclass fields, not written down here)."""
    import dataclasses

    from transformers import TrainingArguments

    fields = {f.name: f.default for f in dataclasses.fields(TrainingArguments)}
    out: dict[str, Any] = {}
    for name in names:
        default = fields.get(TRAINER_FIELDS.get(name, ""), dataclasses.MISSING)
        if default is dataclasses.MISSING or name not in TRAINER_FIELDS:
            continue
        value = getattr(default, "value", default)  # an enum (lr_scheduler_type): its name
        out[name] = float(value) if name == "warmup_ratio" else value
    return out


def pick_device() -> str:
    """CUDA, then Apple MPS, then CPU."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def training_arguments(
    params: dict[str, Any],
    output_dir: str,
    *,
    metric: str,
    mode: str,
    save: bool = False,
    resumable: bool = False,
    evaluate: bool = True,
    **extra: Any,
) -> Any:
    """``TrainingArguments`` for one run; ``params`` uses hpo_ray's training field names.

    ``evaluate`` false: no evaluation while training (a refit on train and validation)."""
    from transformers import TrainingArguments

    device = pick_device()
    eval_steps = params.get("eval_steps")
    strategy = ("steps" if eval_steps else "epoch") if evaluate else "no"
    kwargs: dict[str, Any] = {k: params[k] for k in TRAINING_ARG_NAMES if k in params}
    kwargs["num_train_epochs"] = int(params["num_train_epochs"])
    kwargs["warmup_steps"] = float(params.get("warmup_ratio", 0.0))
    if device != "cuda":
        kwargs["fp16"] = kwargs["bf16"] = False
    return TrainingArguments(
        output_dir=output_dir,
        eval_strategy=strategy,
        eval_steps=eval_steps,
        save_strategy=strategy if save or resumable else "no",
        save_steps=eval_steps if save and eval_steps else 500,
        save_total_limit=1 if save or resumable else None,
        load_best_model_at_end=save,
        metric_for_best_model=eval_key(metric),
        greater_is_better=mode == "max",
        use_cpu=device == "cpu",
        report_to="none",
        disable_tqdm=True,
        logging_strategy="steps",
        logging_nan_inf_filter=False,  # a diverged run must show (and fail), not be averaged away
        dataloader_num_workers=0,
        **kwargs,
        **extra,
    )


def init_model(
    model_path: str, label_names: list[str], trust_remote_code: bool, params: dict[str, Any]
) -> Any:
    """The model a run starts from: pretrained encoder, fresh head, LoRA adapters if asked."""
    model = load_model(model_path, label_names, trust_remote_code)
    return apply_lora(model, params) if params.get("finetune") == "lora" else model


def build_trainer(
    params: dict[str, Any],
    model_path: str,
    label_names: list[str],
    train: Any,
    validation: Any,
    tokenizer: Any,
    output_dir: str,
    *,
    metric: str,
    mode: str,
    callbacks: list[Any],
    task: Any = None,
    save: bool = False,
    resumable: bool = False,
    evaluate: bool = True,
    trust_remote_code: bool = False,
    quiet: bool = False,
) -> Any:
    """A Trainer whose model is built in ``model_init`` after seeding, so runs repeat exactly.

    ``task`` (a ``TaskMetrics``) decides which metrics are reported and which class is positive
    (default: binary, second class positive); ``params["loss"]`` picks the training loss.
    ``save`` keeps the best epoch's model (refit); ``resumable`` keeps the last epoch's full
    checkpoint so ``train(resume_from_checkpoint=True)`` continues it (k-fold); ``evaluate``
    false trains without evaluating.
    """
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer
    from transformers.utils import logging as hf_logging

    if task is None:
        task = TaskMetrics(
            len(label_names), positive=1 if len(label_names) == 2 else None, average=None
        )
    hf_logging.disable_progress_bar()
    args = training_arguments(
        params,
        output_dir,
        metric=metric,
        mode=mode,
        save=save,
        resumable=resumable,
        evaluate=evaluate,
    )
    patience = int(params.get("early_stopping_patience", 0))
    if patience > 0:
        # HF's callback only needs metric_for_best_model; it compares against the best metric
        # the Trainer tracks, no checkpoints required. It runs before ``callbacks`` so they see
        # its stop decision.
        callbacks = [EarlyStoppingCallback(early_stopping_patience=patience), *callbacks]
    trainer = Trainer(
        model_init=lambda *_: init_model(model_path, label_names, trust_remote_code, params),
        args=args,
        train_dataset=train,
        eval_dataset=validation,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8),
        compute_metrics=make_compute_metrics(task),
        compute_loss_func=make_loss(
            str(params.get("loss", "ce")),
            class_weights=balanced_class_weights(train["labels"], len(label_names))
            if params.get("loss") == "weighted_ce"
            else None,
            gamma=float(params.get("focal_gamma", 2.0)),
            alpha=float(params.get("focal_alpha", 0.25)),
            positive=task.positive,
        ),
        callbacks=callbacks,
    )
    if quiet:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # trials log to TensorBoard and Tune instead
    return trainer
