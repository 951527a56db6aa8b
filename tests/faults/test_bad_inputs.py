"""Every bad input is refused through the real CLI (a subprocess) in one line, exit 2, before
Ray starts and with nothing written.

Each case runs `python -m hpo_ray.cli ...` in a folder of its own that is also its HOME and
holds Ray's temp root (RAY_TMPDIR), with a valid config, a small CSV and a tiny model beside
it. The test asserts: exit code 2, exactly one line on stderr (no library log lines), no
traceback, Ray never started (its temp root and ~/.ray are absent) and no file or folder
added or changed in the case's folder. The cases run a few at a time to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import make_rows, write_csv

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"learning_rate": {"type": "float", "low": 1e-4, "high": 5e-3, "log": True}}


def base_config(model: Path) -> dict[str, Any]:
    return {
        "data": {"path": "data.csv", "max_length": 32, "cache_dir": "cache"},
        "model": {"name": str(model)},
        "training": {"learning_rate": 1e-3, "num_train_epochs": 2},
        "search": {"num_samples": 2, "scheduler": "asha", "space": SPACE},
        "resources": {"cpu": 1},
        "run": {"name": "exp", "storage": "ray_results", "trained_dir": "trained"},
    }


# (id, command after `hpo-ray`, what the message must contain). In commands, CFG is the valid
# config.yaml of the case folder; files the case needs are made by SETUP below.
CASES: list[tuple[str, list[str], str]] = [
    # search values
    ("num_samples", ["search", "CFG", "search.num_samples=0"], "search.num_samples=0"),
    ("metric", ["search", "CFG", "search.metric=precision"], "search.metric='precision'"),
    ("searcher", ["search", "CFG", "search.searcher=bayes"], "search.searcher='bayes'"),
    ("scheduler", ["search", "CFG", "search.scheduler=bohb"], "search.scheduler="),
    ("refit_mode", ["search", "CFG", "run.refit=best"], "run.refit='best'"),
    ("sync_period", ["search", "CFG", "run.sync_period_s=0"], "run.sync_period_s=0"),
    ("sampler", ["search", "CFG", "search.sampler=bayes"], "search.sampler='bayes'"),
    ("concurrent", ["search", "CFG", "search.max_concurrent_trials=0"], "max_concurrent"),
    ("time_budget", ["search", "CFG", "search.time_budget_s=-1"], "search.time_budget_s"),
    ("epoch_budget", ["search", "CFG", "search.epoch_budget=0"], "search.epoch_budget"),
    ("startup", ["search", "CFG", "search.n_startup_trials=0"], "search.n_startup_trials"),
    ("grace_zero", ["search", "CFG", "search.grace_period=0"], "search.grace_period=0"),
    ("grace_long", ["search", "CFG", "search.grace_period=5"], "must be below training.num"),
    ("reduction", ["search", "CFG", "search.reduction_factor=1"], "search.reduction_factor"),
    ("average", ["search", "CFG", "search.average=micro"], "search.average='micro'"),
    ("top_k", ["search", "CFG", "search.reseed.top_k=-1"], "search.reseed.top_k"),
    ("seeds", ["search", "CFG", "search.reseed.seeds=1"], "search.reseed.seeds"),
    ("space_empty", ["search", "CFG", "search.space={}"], "search.space is empty"),
    (
        "space_range",
        ["search", "CFG", "search.space.learning_rate={type: float, low: 1e-3, high: 1e-5}"],
        "empty range",
    ),
    (
        "space_no_type",
        ["search", "CFG", "search.space.learning_rate={low: 1e-5, high: 1e-3}"],
        "search.space.learning_rate.type is required",
    ),
    (
        "space_step",
        ["search", "CFG", "search.space.weight_decay={type: float, low: 0, high: 1, step: -1}"],
        "step=-1.0 must be > 0",
    ),
    ("space_name", ["search", "CFG", "search.space.nope={type: int, low: 1, high: 2}"], "nope"),
    (
        "space_loss",
        ["search", "CFG", "search.space.loss={type: categorical, values: [hinge]}"],
        "'hinge' is not known",
    ),
    (
        "space_conditional",
        ["search", "CFG", "search.space.focal_gamma={type: float, low: 1, high: 2}"],
        "only matters when training.loss",
    ),
    (
        "space_epochs",
        ["search", "CFG", "search.space.num_train_epochs={type: int, low: 1, high: 3}"],
        "cannot be searched with search.scheduler=asha",
    ),
    (
        "space_log",
        ["search", "CFG", "search.space.weight_decay={type: float, low: 0, high: 1, log: true}"],
        "a log scale needs low > 0",
    ),
    # training values
    ("lr_zero", ["search", "CFG", "training.learning_rate=0"], "training.learning_rate=0.0"),
    ("lr_text", ["search", "CFG", "training.learning_rate=abc"], "must be a number"),
    ("epochs_zero", ["search", "CFG", "training.num_train_epochs=0"], "num_train_epochs=0"),
    ("epochs_frac", ["search", "CFG", "training.num_train_epochs=1.5"], "must be an integer"),
    ("batch", ["search", "CFG", "training.per_device_train_batch_size=0"], "batch_size=0"),
    ("warmup", ["search", "CFG", "training.warmup_ratio=1.5"], "training.warmup_ratio=1.5"),
    ("decay", ["search", "CFG", "training.weight_decay=-0.1"], "training.weight_decay=-0.1"),
    ("lr_schedule", ["search", "CFG", "training.lr_scheduler_type=exp"], "lr_scheduler_type"),
    ("loss", ["search", "CFG", "training.loss=hinge"], "training.loss='hinge'"),
    ("finetune", ["search", "CFG", "training.finetune=adapter"], "training.finetune="),
    ("fp16_text", ["search", "CFG", "training.fp16=maybe"], "must be true or false"),
    ("fp16_bf16", ["search", "CFG", "training.fp16=true", "training.bf16=true"], "pick one"),
    ("fraction", ["search", "CFG", "training.train_fraction=0"], "training.train_fraction"),
    ("focal_alpha", ["search", "CFG", "training.focal_alpha=1.5"], "training.focal_alpha"),
    ("eval_steps", ["search", "CFG", "training.eval_steps=0"], "training.eval_steps=0"),
    ("patience", ["search", "CFG", "training.early_stopping_patience=-1"], "patience=-1"),
    ("model_name_key", ["search", "CFG", "training.model_name=x"], "unknown key"),
    # data values
    ("val_size", ["search", "CFG", "data.validation_size=0"], "data.validation_size=0.0"),
    ("test_size", ["search", "CFG", "data.test_size=0.9"], "data.test_size=0.9"),
    ("folds", ["search", "CFG", "data.folds=1"], "data.folds=1"),
    ("text_is_label", ["search", "CFG", "data.label_column=text"], "is a text column too"),
    (
        "val_one_class",
        ["search", "CFG", "data.train_path=data.csv", "data.validation_path=oneclass.csv"],
        "every row of the validation table has class 'positive'",
    ),
    (
        "test_unseen_class",
        ["search", "CFG", "data.train_path=ab.csv", "data.test_path=abc.csv"]
        + ["data.label_rule=categorical", "data.test_size=0"],
        "class 'c' is in the test table but not in the train table",
    ),
    ("aggregate", ["search", "CFG", "data.fold_aggregate=mode"], "data.fold_aggregate"),
    ("max_length_small", ["search", "CFG", "data.max_length=4"], "data.max_length=4"),
    ("max_length_large", ["search", "CFG", "data.max_length=100000"], "64 positions"),
    ("max_rows", ["search", "CFG", "data.max_rows=5"], "data.max_rows=5"),
    ("label_rule", ["search", "CFG", "data.label_rule=regex"], "data.label_rule='regex'"),
    ("label_names_3", ["search", "CFG", "data.label_names=[a,b,c]"], "must name 2 classes"),
    ("label_names_dup", ["search", "CFG", "data.label_names=[a,a]"], "lists 'a' twice"),
    ("positive", ["search", "CFG", "data.positive_label=maybe"], "data.positive_label='maybe'"),
    ("text_column", ["search", "CFG", "data.text_column=nope"], "column 'nope' not in"),
    ("label_column", ["search", "CFG", "data.label_column=nope"], "column 'nope' not in"),
    ("threshold", ["search", "CFG", "data.threshold=100"], "every row gets the same class"),
    ("words_as_scores", ["search", "CFG", "data.path=words.csv"], "are not numbers"),
    (
        "metric_classes",
        [
            "search",
            "CFG",
            "data.path=three.csv",
            "data.label_rule=categorical",
            "search.metric=roc_auc",
        ],
        "search.metric='roc_auc' is not defined",
    ),
    ("data_missing", ["search", "CFG", "data.path=missing.csv"], "hpo-ray prepare-data"),
    ("data_no_user", ["search", "CFG", "data.path=~nosuchuser/x.csv"], "no such user"),
    ("data_empty", ["search", "CFG", "data.path=empty.csv"], "is empty"),
    ("format", ["search", "CFG", "data.format=xlsx"], "data.format='xlsx'"),
    ("parquet_broken", ["search", "CFG", "data.path=broken.parquet"], "not a readable parquet"),
    ("jsonl_broken", ["search", "CFG", "data.path=broken.jsonl"], "not a readable jsonl"),
    ("train_missing", ["search", "CFG", "data.train_path=nope.parquet"], "data.train_path: file"),
    (
        "val_without_train",
        ["search", "CFG", "data.validation_path=data.csv"],
        "need data.train_path",
    ),
    (
        "test_twice",
        [
            "search",
            "CFG",
            "data.train_path=data.csv",
            "data.test_path=data.csv",
            "data.test_size=0.2",
        ],
        "the test table is given",
    ),
    ("pair_column", ["search", "CFG", "data.text_pair_column=nope"], "column 'nope' not in"),
    ("pair_is_text", ["search", "CFG", "data.text_pair_column=text"], "is the text column too"),
    ("not_datasets", ["search", "CFG", "data.path=emptydir"], "cannot load"),
    (
        "datasets_split",
        ["search", "CFG", "data.path=dsdict", "data.split=dev"],
        "data.split='dev' is not a split",
    ),
    # resources and outputs
    ("cpu_zero", ["search", "CFG", "resources.cpu=0"], "resources.cpu=0"),
    ("cpu_many", ["search", "CFG", "resources.cpu=1000"], "this machine has"),
    ("gpu_none", ["search", "CFG", "resources.gpu=1"], "GPUs visible to torch"),
    ("gpu_frac", ["search", "CFG", "resources.gpu=1.5"], "whole GPUs"),
    ("checkpoint", ["search", "CFG", "run.checkpoint=all"], "run.checkpoint='all'"),
    ("keep", ["search", "CFG", "run.keep_checkpoints=0"], "run.keep_checkpoints=0"),
    ("trial_plots", ["search", "CFG", "run.trial_plots=-2"], "run.trial_plots=-2"),
    ("max_failures", ["search", "CFG", "run.max_failures=-2"], "run.max_failures=-2"),
    ("run_name", ["search", "CFG", "run.name=a/b"], "plain folder name"),
    ("run_name_mark", ["search", "CFG", "run.name=a?b"], "run.name='a?b' must be at most"),
    ("run_name_long", ["search", "CFG", "run.name=" + "n" * 300], "must be at most 100"),
    ("run_name_dot", ["search", "CFG", "run.name=.hidden"], "not starting with '.'"),
    # values every trial would fail on
    ("lr_inf", ["search", "CFG", "training.learning_rate=.inf"], "must be a finite number"),
    ("grad_norm", ["search", "CFG", "training.max_grad_norm=-1"], "training.max_grad_norm=-1"),
    ("grad_nan", ["search", "CFG", "training.max_grad_norm=.nan"], "must be a finite number"),
    ("threshold_nan", ["search", "CFG", "data.threshold=.nan"], "data.threshold=nan"),
    ("nul_path", ["search", "nul.yaml"], "holds a NUL character"),
    (
        "space_warmup",
        ["search", "CFG", "search.space.warmup_ratio={type: float, low: 0, high: 2}"],
        "search.space.warmup_ratio.high=2.0: training.warmup_ratio=2.0 must be in [0, 1)",
    ),
    (
        "space_lr_negative",
        ["search", "CFG", "search.space.learning_rate={type: float, low: -1, high: 1}"],
        "search.space.learning_rate.low=-1.0",
    ),
    (
        "space_inf",
        ["search", "CFG", "search.space.weight_decay={type: float, low: 0, high: .inf}"],
        "must be a finite number",
    ),
    (
        "space_batch_zero",
        ["search", "CFG", "search.space.per_device_train_batch_size={type: int, low: 0, high: 8}"],
        "per_device_train_batch_size=0 must be >= 1",
    ),
    ("space_int_key", ["search", "intkey.yaml"], "the key 3 is not a name"),
    ("cfg_deep", ["search", "deep.yaml"], "nested too deep"),
    ("override_deep", ["search", "CFG", "search.space=" + "[" * 3000 + "]" * 3000], "too deep"),
    ("alias_bomb", ["search", "bomb.yaml"], "run.name"),
    # object stores: the cases' S3 endpoint is a closed port on 127.0.0.1
    ("storage_s3", ["search", "CFG", "run.storage=s3://bucket/x"], "the store does not answer"),
    ("trained_s3", ["search", "CFG", "run.trained_dir=s3://b/t"], "the store does not answer"),
    ("storage_scheme", ["search", "CFG", "run.storage=nosuch://b/x"], "pyarrow cannot open"),
    ("cache_s3", ["search", "CFG", "data.cache_dir=s3://b/c"], "token cache is a local folder"),
    ("resume_s3", ["resume", "s3://bucket/x/exp"], "the store does not answer"),
    (
        "storage_secret",
        ["search", "CFG", "run.storage=s3://bucket/x?secret_key=SEKRIT"],
        "run.storage='s3://bucket/x': the store does not answer",
    ),
    (
        "mlflow_secret",
        ["search", "CFG", "tracking.mlflow.uri=https://me:SEKRIT@ml.example.com?api_key=SEKRIT"],
        "carries a credential (api_key)",
    ),
    ("storage_file", ["search", "CFG", "run.storage=afile"], "is a file, not a folder"),
    ("trained_file", ["search", "CFG", "run.trained_dir=afile"], "is a file, not a folder"),
    ("cache_file", ["search", "CFG", "data.cache_dir=afile"], "is a file, not a folder"),
    ("exists", ["search", "CFG"], "hpo_ray did not write"),
    ("mlflow_empty", ["search", "CFG", "tracking.mlflow={}"], "tracking.mlflow.uri is required"),
    ("mlflow_uri", ["search", "CFG", "tracking.mlflow.uri=folder"], "must be a tracking URI"),
    # models
    ("model_empty", ["search", "CFG", "model.name=''"], "model.name is empty"),
    ("pkg_any", ["search", "CFG", "model.name=pkg:this"], "declares no get_model_path()"),
    ("pkg_blank", ["search", "CFG", "model.name='pkg:'"], "is not a module name"),
    ("pkg_relative", ["search", "CFG", "model.name=pkg:..foo"], "is not a module name"),
    ("pkg_missing", ["search", "CFG", "model.name=pkg:no_such_model_pkg"], "not installed"),
    ("model_config_only", ["search", "CFG", "model.name=only_config"], "has no weights"),
    ("model_no_tokenizer", ["search", "CFG", "model.name=no_tokenizer"], "has no tokenizer"),
    ("model_no_config", ["search", "CFG", "model.name=no_config"], "has no config.json"),
    ("model_missing", ["search", "CFG", "model.name=./nope"], "no such folder"),
    ("pkg_parent", ["search", "CFG", "model.name=pkg:planted_parent.child"], "not installed"),
    ("model_empty_weights", ["search", "CFG", "model.name=empty_weights"], "is empty (0 bytes)"),
    ("model_bad_json", ["search", "CFG", "model.name=bad_json"], "not a readable JSON object"),
    ("hub_offline", ["search", "CFG", "model.name=bert-base-uncased"], "local Hugging Face cache"),
    ("hub_like_folder", ["search", "CFG", "model.name=models/mine"], "local Hugging Face cache"),
    # the config file itself
    ("cfg_missing", ["search", "missing.yaml"], "not found"),
    ("cfg_binary", ["search", "binary.yaml"], "not a UTF-8 text file"),
    ("cfg_syntax", ["search", "syntax.yaml"], "syntax.yaml:3:1: not valid YAML"),
    ("cfg_twice", ["search", "twice.yaml"], "'search' is written twice"),
    ("cfg_list", ["search", "list.yaml"], "the top level must be a mapping"),
    ("cfg_section", ["search", "section.yaml"], "search must be a mapping"),
    ("unknown_key", ["search", "CFG", "search.bogus=1"], "unknown key 'search.bogus'"),
    ("unknown_section", ["search", "CFG", "bogus.x=1"], "unknown key 'bogus'"),
    ("override_form", ["search", "CFG", "search.num_samples"], "is not key=value"),
    ("override_value", ["search", "CFG", "search.num_samples.x=1"], "is a value, not a section"),
    ("ofat_empty", ["ofat", "CFG"], "ofat.grid is empty"),
    ("ofat_twice", ["ofat", "CFG", "ofat.grid.learning_rate=[1e-3,1e-3]"], "twice"),
    # other commands
    ("report_empty", ["report", "emptydir"], "is not an hpo_ray experiment folder"),
    ("report_broken", ["report", "broken_exp"], "not valid YAML"),
    ("resume_empty", ["resume", "emptydir"], "is not an hpo_ray experiment folder"),
    ("resume_no_state", ["resume", "no_state_exp"], "holds no Tune experiment state"),
    ("refit_empty", ["refit", "emptydir"], "is not an hpo_ray experiment folder"),
    ("refit_no_state", ["refit", "no_state_exp"], "has no Tune experiment state"),
    # experiment folders from elsewhere: read as plain JSON, a planted pickle never loaded
    ("report_planted", ["report", "planted_exp"], "holds a pickled Python object"),
    ("refit_planted", ["refit", "planted_exp"], "holds a pickled Python object"),
    ("resume_foreign", ["resume", "planted_exp"], "lacks your id), and resuming runs"),
    ("report_half_state", ["report", "half_state_exp"], "is not valid JSON (line"),
    ("report_no_trial", ["report", "no_trial_exp"], "the experiment holds no trial"),
    ("refit_remote_code", ["refit", "remote_code_exp"], "made elsewhere with model.trust_remote"),
    ("refit_no_trial", ["refit", "no_trial_exp"], "the experiment holds no trial"),
    ("prepare_out_other", ["prepare-data", "--out", "other.csv"], "not the movie-snippets"),
    ("prepare_out_split", ["prepare-data", "--out", "broken.jsonl", "--split"], "exists but"),
    ("prepare_out_dir", ["prepare-data", "--out", "emptydir"], "is a folder"),
    ("cluster_missing", ["check-cluster", "missing.yaml"], "not found"),
    ("cluster_broken", ["check-cluster", "syntax.yaml"], "not valid YAML"),
    ("no_command", [], "required: command"),
    ("no_config", ["search"], "required: config"),
    ("bad_command", ["frobnicate"], "invalid choice"),
    ("bad_flag", ["search", "CFG", "--bogus"], "unrecognized arguments: --bogus"),
]


def make_datasets_dict(folder: Path, rows: list[tuple[str, float]]) -> None:
    """A DatasetDict with train and validation splits, written by save_to_disk."""
    import datasets

    texts, sents = [r[0] for r in rows], [r[1] for r in rows]
    half = len(rows) // 2
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": texts[:half], "sent": sents[:half]}),
            "validation": datasets.Dataset.from_dict({"text": texts[half:], "sent": sents[half:]}),
        }
    ).save_to_disk(str(folder))


class Planted:
    """Unpickled, it writes PLANTED in the working folder (the case's): code from a folder."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, ("open('PLANTED', 'w').write('ran')",))


def tune_state(trials: list[dict[str, Any]]) -> str:
    """An experiment state as Tune writes it: each trial a JSON string with its metadata's."""
    entries = [[json.dumps(t), json.dumps({"last_result": {}})] for t in trials]
    return json.dumps({"trial_data": entries, "runner_data": {}})


def experiment_folder(folder: Path, model: Path, state: str) -> None:
    """An experiment folder with a valid config and ``state`` as Tune's experiment state."""
    folder.mkdir()
    (folder / "hpo_config.yaml").write_text(yaml.safe_dump(base_config(model)))
    (folder / "experiment_state-2026-12-04_00-00-00.json").write_text(state)


def setup_case(folder: Path, model: Path, rows: list[tuple[str, float]]) -> None:
    """The case folder: a valid config, data files, broken models, broken configs."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(base_config(model)))
    write_csv(folder / "data.csv", rows)
    (folder / "words.csv").write_text("text,sent\nfine film,good\ndull film,bad\n" * 10)
    three = ["text,sent"] + [f"film number {i},{('a', 'b', 'c')[i % 3]}" for i in range(60)]
    (folder / "three.csv").write_text("\n".join(three) + "\n")
    (folder / "ab.csv").write_text("\n".join(three[:1] + [r for r in three[1:] if r[-1] != "c"]))
    (folder / "abc.csv").write_text("\n".join(three[:21]) + "\n")
    write_csv(folder / "oneclass.csv", [r for r in rows if r[1] > 0][:20])
    (folder / "empty.csv").write_text("")
    (folder / "other.csv").write_text("review,stars\nfine,5\ndull,1\n")
    (folder / "broken.parquet").write_bytes(b"PAR1 not really parquet")
    (folder / "broken.jsonl").write_text('{"text": "a", "sent": 1}\n{"text": \n')
    make_datasets_dict(folder / "dsdict", rows)
    (folder / "afile").write_text("not a folder\n")
    planted = folder / "planted_parent"  # importing it (not its child) would run this:
    planted.mkdir()
    (planted / "__init__.py").write_text("open('PLANTED', 'w').write('ran')\n")
    for name, files in (
        ("empty_weights", ["config.json", "tokenizer.json"]),
        ("bad_json", ["model.safetensors", "tokenizer.json"]),
        ("only_config", ["config.json"]),
        ("no_tokenizer", ["config.json", "model.safetensors"]),
        ("no_config", ["model.safetensors", "tokenizer.json"]),
    ):
        (folder / name).mkdir()
        for f in files:
            (folder / name / f).write_bytes((model / f).read_bytes())
    (folder / "empty_weights" / "model.safetensors").write_bytes(b"")
    (folder / "bad_json" / "config.json").write_text("{not json")
    (folder / "binary.yaml").write_bytes(bytes(range(256)))
    (folder / "syntax.yaml").write_text("search:\n  space: [a\n")
    (folder / "twice.yaml").write_text("search:\n  num_samples: 2\nsearch:\n  metric: f1\n")
    (folder / "list.yaml").write_text("- search\n- data\n")
    (folder / "section.yaml").write_text("search: 5\n")
    (folder / "emptydir").mkdir()
    base = base_config(model)
    (folder / "nul.yaml").write_text(
        yaml.safe_dump({**base, "data": {**base["data"], "path": "data\0.csv"}})
    )
    intkey = {**base, "search": {**base.get("search", {}), "space": {3: {"type": "float"}}}}
    (folder / "intkey.yaml").write_text(yaml.safe_dump(intkey))
    (folder / "deep.yaml").write_text("search:\n  space: " + "[" * 5000 + "]" * 5000 + "\n")
    levels = ["a: &a [" + ", ".join(["x"] * 10) + "]"]
    for i, name in enumerate("bcdef"):
        prev = "abcdef"[i]
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    bomb = "run:\n  name: {" + ", ".join(levels) + "}\n"
    (folder / "bomb.yaml").write_text(bomb)
    (folder / "broken_exp").mkdir()
    (folder / "broken_exp" / "hpo_config.yaml").write_text("data: {path: [\n")
    (folder / "no_state_exp").mkdir()
    (folder / "no_state_exp" / "hpo_config.yaml").write_text(yaml.safe_dump(base_config(model)))
    import pickle

    payload = {"_type": "CLOUDPICKLE_FALLBACK", "value": pickle.dumps(Planted()).hex()}
    trial = {"trial_id": "a1", "status": "TERMINATED", "experiment_tag": "1_lr=0.001"}
    planted = tune_state([{**trial, "config": {"learning_rate": payload}}])
    experiment_folder(folder / "planted_exp", model, planted)
    (folder / "planted_exp" / "tuner.pkl").write_bytes(pickle.dumps(Planted()))  # resume's
    experiment_folder(folder / "half_state_exp", model, planted[: len(planted) // 2])
    experiment_folder(folder / "no_trial_exp", model, tune_state([]))
    experiment_folder(folder / "remote_code_exp", model, planted)
    remote = {**base_config(model), "model": {"name": str(model), "trust_remote_code": True}}
    (folder / "remote_code_exp" / "hpo_config.yaml").write_text(yaml.safe_dump(remote))
    (folder / "ray_results" / "exp").mkdir(parents=True)
    (folder / "ray_results" / "exp" / "earlier.txt").write_text("a result to keep\n")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def run_case(folder: Path, args: list[str]) -> dict[str, Any]:
    if args[:1] == ["search"] and args[1:2] == ["CFG"] and len(args) == 2:
        pass  # the "exists" case: ray_results/exp already holds a result
    elif "CFG" in args:
        (folder / "ray_results" / "exp" / "earlier.txt").unlink()
        (folder / "ray_results" / "exp").rmdir()
    args = ["config.yaml" if a == "CFG" else a for a in args]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "HF_", "TRANSFORMERS_"))
    }
    env.update(
        HOME=str(folder),
        RAY_TMPDIR=str(folder / "ray-tmp"),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(ROOT),
        MPLCONFIGDIR=str(folder.parent / f"{folder.name}-mpl"),
        AWS_ENDPOINT_URL="http://127.0.0.1:9",  # nothing listens: refused at once
        AWS_ACCESS_KEY_ID="none",
        AWS_SECRET_ACCESS_KEY="none",
        AWS_DEFAULT_REGION="us-east-1",
        HPO_RAY_WORK_DIR=str(folder.parent / f"{folder.name}-work"),
    )
    before = snapshot(folder)
    done = subprocess.run(
        [sys.executable, "-m", "hpo_ray.cli", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return {
        "rc": done.returncode,
        "stderr": done.stderr,
        "stdout": done.stdout,
        "added_or_changed": sorted(k for k, v in snapshot(folder).items() if before.get(k) != v),
        "removed": sorted(set(before) - set(snapshot(folder))),
    }


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, tiny_model) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("bad-inputs")
    rows = make_rows(60)
    for name, _, _ in CASES:
        setup_case(root / name, tiny_model, rows)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = pool.map(lambda case: run_case(root / case[0], case[1]), CASES)
        return {case[0]: result for case, result in zip(CASES, results, strict=True)}


def test_a_planted_pickle_is_a_real_one_that_would_run(tmp_path, monkeypatch):
    """The planted payload runs when unpickled (so its cases show the readers never do)."""
    import pickle

    monkeypatch.chdir(tmp_path)
    pickle.loads(pickle.dumps(Planted()))
    assert (tmp_path / "PLANTED").read_text() == "ran"


def test_a_credential_in_a_uri_is_never_echoed(outcomes):
    for case in ("storage_secret", "mlflow_secret"):
        assert "SEKRIT" not in outcomes[case]["stderr"] + outcomes[case]["stdout"]


def test_a_huge_value_is_cut_in_the_message(outcomes):
    assert len(outcomes["alias_bomb"]["stderr"]) < 1000


def test_there_are_many_distinct_cases():
    assert len({name for name, _, _ in CASES}) == len(CASES) >= 60


@pytest.mark.parametrize(("name", "args", "message"), CASES, ids=[c[0] for c in CASES])
def test_refused_in_one_line_before_ray_with_nothing_written(outcomes, name, args, message):
    out = outcomes[name]
    lines = [line for line in out["stderr"].splitlines() if line.strip()]
    assert out["rc"] == 2, out["stderr"][-2000:]
    assert len(lines) == 1, out["stderr"][-2000:]
    assert "Traceback" not in out["stderr"]
    assert message in lines[0], lines[0]
    assert out["added_or_changed"] == [] and out["removed"] == [], out
    assert out["stdout"] == ""


def test_the_valid_config_of_the_cases_is_valid(tmp_path, tiny_model):
    """The cases' base config passes every check (so each case fails for its own reason)."""
    from hpo_ray.config.loading import load_config
    from hpo_ray.tuning.plan import search_plan
    from hpo_ray.workflows.prepare import preflight

    setup_case(tmp_path / "ok", tiny_model, make_rows(60))
    cwd = Path.cwd()
    os.chdir(tmp_path / "ok")
    try:
        cfg = load_config("config.yaml")
        search_plan(cfg)
        preflight(cfg)
    finally:
        os.chdir(cwd)
    assert json.loads((tiny_model / "config.json").read_text())["max_position_embeddings"] == 64
