"""The text of summary.txt, from fixed tables: every number it states must be the table's."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hpo_ray.config.loading import from_dict
from hpo_ray.config.schema import ExperimentConfig
from hpo_ray.config.trials import ofat_rows
from hpo_ray.layout import MODEL_METRICS
from hpo_ray.report.summary import (
    comparison_summary,
    final_scores,
    objective_statement,
    ofat_summary,
    reseed_summary,
    search_summary,
)
from hpo_ray.results.compare import comparison_table
from hpo_ray.results.ofat import COLUMNS, OfatResults
from hpo_ray.results.trials import SearchResults

LR_SPACE = {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True}}


def config(**sections: dict[str, Any]) -> ExperimentConfig:
    raw: dict[str, Any] = {"search": {"space": LR_SPACE}, "run": {"name": "sumexp"}}
    for section, values in sections.items():
        raw[section] = {**raw.get(section, {}), **values}
    return from_dict(raw)


def search_results(cfg: ExperimentConfig) -> SearchResults:
    rows = [
        (0, "aaa", 0.61, "completed", 1e-4, 2.0),
        (1, "bbb", 0.8125, "patience_stop", 3e-4, 1.0),
        (2, "ccc", 0.55, "scheduler_stop", 1e-3, 1.0),
        (3, "ddd", math.nan, "failed", 5e-3, math.nan),
        (4, "eee", math.nan, "running", 2e-5, 0.5),
        (5, "fff", 0.70, "completed", 5e-5, 2.0),
    ]
    frame = pd.DataFrame(
        [
            {
                "trial": n,
                "trial_id": t,
                "learning_rate": lr,
                "objective": o,
                "eval_f1": o,
                "eval_accuracy": o,
                "status": s,
                "epochs_run": e,
            }
            for n, t, o, s, lr, e in rows
        ]
    )
    overrides = {r[1]: {"learning_rate": r[4]} for r in rows}
    return SearchResults(cfg, frame, history={}, overrides=overrides)


def test_search_summary_counts_trials_and_names_the_best():
    cfg = config(search={"num_samples": 8, "epoch_budget": 10, "searcher": "random"})
    text = search_summary(search_results(cfg))
    lines = text.splitlines()
    assert text.endswith("\n")
    assert lines[0] == "experiment: sumexp"
    scheduler_line = "searcher: random (seed 42); scheduler: none (auto: trials of 3 epochs"
    assert any(line.startswith(scheduler_line) for line in lines)  # 3 epochs: not cut
    assert "trials: 6 of 8 requested" in lines
    assert "  completed: 2" in lines
    assert "  stopped early by patience: 1" in lines
    assert "  stopped early by the scheduler: 1" in lines
    assert "  failed: 1" in lines
    assert "  not finished: {'running': 1}" in lines
    assert not any("before a first evaluation" in line for line in lines)
    assert "epochs trained: 6.5 of an epoch budget of 10" in lines
    assert "best trial: 1 (bbb) objective=0.8125" in lines
    assert "  learning_rate: 0.0003" in lines
    for line in objective_statement(cfg):
        assert line in lines


def test_search_summary_without_a_finished_trial_names_no_best():
    cfg = config()
    frame = pd.DataFrame(
        [
            {"trial": 0, "trial_id": "x", "objective": math.nan, "status": "not_evaluated"},
            {"trial": 1, "trial_id": "y", "objective": math.nan, "status": "failed"},
        ]
    )
    text = search_summary(SearchResults(cfg, frame, history={}, overrides={}))
    assert "trials: 2 of 20 requested" in text
    assert "  ended before a first evaluation: 1\n" in text
    assert "  failed: 1\n" in text
    assert "best trial" not in text
    assert "epochs trained" not in text  # no epoch budget set


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({}, ["maximise eval_f1 (weighted F1)", "evaluated every 1 epoch", "loss: ce"]),
        ({"search": {"metric": "loss"}}, ["minimise eval_loss,"]),
        ({"search": {"metric": "roc_auc"}}, ["eval_roc_auc (binary, from class probabilities)"]),
        ({"search": {"metric": "pos_f1"}}, ["eval_pos_f1 (F1 of class positive)"]),
        (
            {
                "data": {"label_names": ["bad", "good"], "positive_label": "bad"},
                "search": {"metric": "pos_f1"},
            },
            ["(F1 of class bad)"],
        ),
        ({"training": {"eval_steps": 50}}, ["evaluated every 50 steps"]),
        (
            {"training": {"loss": "focal", "seed": 9}},
            ["loss: focal", "one training seed per trial (9)"],
        ),
        (
            {
                "search": {
                    "space": {
                        **LR_SPACE,
                        "loss": {"type": "categorical", "values": ["ce", "focal"]},
                    }
                }
            },
            ["loss: searched"],
        ),
        (
            {"data": {"folds": 3, "fold_aggregate": "median"}},
            ["3-fold CV of the train split, median over folds per epoch"],
        ),
        (
            {"data": {"validation_size": 0.25, "seed": 5, "test_size": 0.1}},
            ["validation split 0.25 (seed 5), no k-fold", "test split 0.1 (search never sees it)"],
        ),
        (
            {"search": {"reseed": {"top_k": 2, "seeds": 4}}},
            ["then the top 2 re-trained with 4 fresh seeds each, winner by mean"],
        ),
    ],
)
def test_objective_statement(sections, expected):
    text = "\n".join(objective_statement(config(**sections)))
    for part in expected:
        assert part in text


def test_final_scores_is_empty_before_a_refit(tmp_path):
    cfg = config(run={"trained_dir": str(tmp_path)})
    assert final_scores(cfg) == ""
    assert final_scores(cfg, 0.9) == ""


def write_metrics(cfg: ExperimentConfig, metrics: dict[str, Any]) -> Path:
    cfg.trained_path.mkdir(parents=True)
    path = cfg.trained_path / MODEL_METRICS
    path.write_text(json.dumps(metrics))
    return path


def test_final_scores_sets_validation_and_test_side_by_side(tmp_path):
    cfg = config(run={"trained_dir": str(tmp_path)})
    write_metrics(
        cfg,
        {
            "validation": {"eval_f1": 0.8, "eval_accuracy": 0.81, "eval_loss": 0.4321},
            "test": {"test_f1": 0.7, "test_accuracy": 0.72, "test_roc_auc": 0.9},
        },
    )
    text = final_scores(cfg, 0.8765)
    lines = text.splitlines()
    assert lines[0] == f"refit model {tmp_path / 'sumexp'}:"
    header = lines[1].split()
    assert header == ["metric", "validation", "test"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if not line.startswith("  (")}
    assert rows["accuracy"] == ["0.8100", "0.7200"]
    assert rows["f1"] == ["0.8000", "0.7000"]
    assert rows["roc_auc"] == ["-", "0.9000"]
    assert rows["loss"] == ["0.4321", "-"]
    assert "macro_f1" not in rows  # in neither split: no row
    assert "  search's best validation objective: 0.8765" in lines
    assert "no test split" not in text


def test_final_scores_without_a_test_split_says_so(tmp_path):
    cfg = config(run={"trained_dir": str(tmp_path)})
    write_metrics(cfg, {"validation": {"eval_f1": 0.8, "eval_accuracy": 0.75}})
    text = final_scores(cfg)
    assert text.splitlines()[1].split() == ["metric", "validation"]
    assert "  f1" in text and "0.8000" in text and "0.7500" in text
    assert "search's best" not in text
    assert "set data.test_size" in text


def ofat_results() -> OfatResults:
    cfg = config(
        training={"learning_rate": 2e-5, "warmup_ratio": 0.1},
        ofat={"grid": {"learning_rate": [1e-5, 2e-5, 1e-4], "warmup_ratio": [0.0, 0.1]}},
    )
    f1 = {"base": 0.7, "learning_rate=1e-05": 0.6, "learning_rate=0.0001": 0.5}
    records = []
    for row in ofat_rows(cfg.base_params(), cfg.ofat.grid):
        value = f1.get(row["variant"], math.nan)  # warmup_ratio=0.0 did not run
        record = dict.fromkeys(COLUMNS, math.nan)
        record.update(
            param=row["param"],
            value=row["value"],
            f1=value,
            accuracy=value + 0.05 if not math.isnan(value) else math.nan,
            status="completed" if not math.isnan(value) else "not_run",
            variant=row["variant"],
            shared_base=row["is_base"],
            trial_id="",
            error="",
        )
        records.append(record)
    return OfatResults(cfg, pd.DataFrame(records, columns=list(COLUMNS)), trials=None)


def test_ofat_summary_states_the_runs_base_and_sensitivity():
    text = ofat_summary(ofat_results())
    lines = text.splitlines()
    assert lines[0] == "experiment: sumexp (one factor at a time)"
    assert lines[1].startswith("grid: 5 (parameter, value) pairs, 4 distinct trainings")
    assert "validation split (0.2 of the data, seed 42); selected by eval_f1" in lines[2]
    # base appears twice in the table but is one run
    assert "runs: completed 3, not_run 1" in lines
    assert "base: f1=0.7000 accuracy=0.7500" in lines
    i = lines.index("sensitivity (F1 spread over the values, largest first):")
    assert lines[i + 1] == "  learning_rate: 0.2000 (F1 0.5000..0.7000; best at 2e-05)"
    assert lines[i + 2] == "  warmup_ratio: 0.0000 (F1 0.7000..0.7000; best at 0.1)"


def test_ofat_summary_before_any_run_has_no_base_or_sensitivity():
    results = ofat_results()
    results.table["f1"] = math.nan
    results.table["status"] = "not_run"
    text = ofat_summary(results)
    assert "runs: not_run 4" in text
    assert "base:" not in text
    assert "sensitivity" not in text


def test_reseed_summary_marks_the_winner():
    cfg = config(training={"seed": 3}, search={"reseed": {"top_k": 2, "seeds": 3}})
    table = pd.DataFrame(
        [
            {"rank": 2, "trial_id": "bbb", "mean": 0.7512, "sd": 0.0123, "n": 3, "winner": True},
            {"rank": 1, "trial_id": "aaa", "mean": 0.7401, "sd": 0.0456, "n": 3, "winner": False},
        ]
    )
    lines = reseed_summary(cfg, table).splitlines()
    assert lines[0] == "reseed: top 2 re-trained with seeds [1003, 2003, 3003]"
    assert lines[1] == "  rank 2 (bbb): objective 0.7512 +- 0.0123 (n=3)  <- refit"
    assert lines[2] == "  rank 1 (aaa): objective 0.7401 +- 0.0456 (n=3)"


def test_comparison_summary_has_a_line_per_point():
    space = {
        "finetune": {"type": "categorical", "values": ["full", "lora"]},
        "train_fraction": {"type": "categorical", "values": [0.5, 1.0]},
        "learning_rate": {"type": "categorical", "values": [3e-4, 3e-3]},
    }
    cfg = config(search={"searcher": "grid", "space": space})
    rows = []
    points = [
        ("full", 0.5, 3e-4, 0.70),
        ("full", 0.5, 3e-3, 0.40),
        ("lora", 1.0, 3e-4, 0.46),
        ("lora", 1.0, 3e-3, 0.75),
    ]
    for i, (mode, share, lr, f1) in enumerate(points):
        rows.append(
            {
                "trial": i,
                "trial_id": f"t{i}",
                "finetune": mode,
                "train_fraction": share,
                "learning_rate": lr,
                "objective": f1,
                "eval_f1": f1,
                "eval_accuracy": f1 + 0.01,
                "train_examples": 200 * share,
                "trainable_params": 2_000_000 if mode == "full" else 100_000,
                "train_seconds": 12.34 if mode == "full" else 5.0,
                "time_s": 20.0,
                "epochs_run": 2.0,
            }
        )
    results = SearchResults(cfg, pd.DataFrame(rows), history={}, overrides={})
    table = comparison_table(results)
    assert table is not None
    shown = table[table["best_at_point"]]
    lines = comparison_summary(results, shown).splitlines()
    assert lines[0] == "comparison (best epoch of each trial, best over learning_rate):"
    assert len(lines) == 3
    full, lora = lines[1], lines[2]
    assert full.lstrip().startswith("full ") and "train   50% (100 ex)" in full
    assert "eval_f1 0.7000, accuracy 0.7100" in full
    assert "2,000,000 trainable parameters, 12.3 s training, learning_rate=0.0003" in full
    assert lora.lstrip().startswith("lora ") and "train  100% (200 ex)" in lora
    assert "eval_f1 0.7500, accuracy 0.7600" in lora
    assert "100,000 trainable parameters, 5.0 s training, learning_rate=0.003" in lora
