"""End-to-end runs on a real local Ray with a tiny random-init BERT and the real HF Trainer."""

from __future__ import annotations

import html.parser
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fault_callbacks import FailOn
from helpers import tiny_config, tokenized_entries
from sklearn.metrics import f1_score

from hpo_ray.cli import main
from hpo_ray.errors import ConfigError
from hpo_ray.layout import SEARCH_ARTIFACTS as ARTIFACTS
from hpo_ray.layout import STUDY_FILE
from hpo_ray.report.writer import write_report
from hpo_ray.results.trials import SearchResults
from hpo_ray.workflows.search import run_search

pytestmark = pytest.mark.e2e

STATUSES = {"completed", "patience_stop", "scheduler_stop", "failed"}


@pytest.fixture(scope="module")
def asha_run(tmp_path_factory, corpus_csv, tiny_model, ray_local):
    tmp = tmp_path_factory.mktemp("asha")
    cfg = tiny_config(
        tmp,
        corpus_csv,
        tiny_model,
        training={"num_train_epochs": 3, "early_stopping_patience": 0, "learning_rate": 3e-3},
        data={"test_size": 0.2},
        search={
            "num_samples": 6,
            "scheduler": "asha",
            "grace_period": 1,
            "reduction_factor": 2,
            "max_concurrent_trials": 2,
            "space": {
                "learning_rate": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True},
                "weight_decay": {"type": "float", "low": 0.0, "high": 0.1},
            },
        },
        run={"trial_plots": 1},
    )
    before = tokenized_entries(cfg.data.cache_dir)
    outcome = run_search(cfg)
    return cfg, outcome, tokenized_entries(cfg.data.cache_dir) - before


def test_asha_search_writes_the_trial_table(asha_run):
    cfg, outcome, _ = asha_run
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")
    assert len(table) == 6
    assert table["trial"].tolist() == list(range(6))
    for col in (
        "learning_rate",
        "weight_decay",
        "objective",
        "eval_f1",
        "eval_accuracy",
        "epochs_run",
        "time_s",
        "status",
        "error",
    ):
        assert col in table.columns
    assert set(table["status"]) <= STATUSES
    # ASHA (rungs at 1 and 2 evaluations) stopped some trials before their 3 epochs.
    stopped = table[table["status"] == "scheduler_stop"]
    assert len(stopped) >= 1 and (stopped["epochs_run"] < 3).all()
    assert (table.loc[table["status"] == "completed", "epochs_run"] == 3).all()
    # The objective is each trial's best validation F1, and the best trial learned something.
    assert (table["objective"] >= table["eval_f1"] - 1e-9).all()
    assert table["objective"].max() > 0.8


def test_asha_search_artifacts(asha_run):
    cfg, outcome, _ = asha_run
    out = outcome.artifacts_dir
    for name in (
        "metrics_vs_learning_rate.png",
        "metrics_vs_weight_decay.png",
        "optimization_history.png",
        "summary.txt",
        "best_params.yaml",
    ):
        assert (out / name).stat().st_size > 0, name
    best = yaml.safe_load((out / "best_params.yaml").read_text())
    table = pd.read_csv(out / "hpo_trials.csv")
    top = table.sort_values("objective", ascending=False).iloc[0]
    assert best["learning_rate"] == pytest.approx(top["learning_rate"])
    summary = (out / "summary.txt").read_text()
    assert (
        "trials: 6 of 6 requested" in summary
        and "maximise eval_f1 (weighted F1), best evaluation per trial" in summary
    )
    # 6 trials are too few for parameter importances: said, not drawn
    assert "param importances: left out: " in summary
    assert not (out / "param_importances.png").exists()
    # The summary and the page give the same cost, the saved model's size included (the
    # summary once said "model 0.0 MB": its cost was read before the refit saved the model).
    disk = re.search(r"disk: experiment ([\d.]+ MB), model ([\d.]+ MB)", summary)
    assert disk is not None and disk.group(2) != "0.0 MB"
    page = (outcome.experiment_dir / "report.html").read_text()
    assert f"{disk.group(1)} / {disk.group(2)}" in page


def test_the_references_run_first_and_the_summary_answers_with_intervals(asha_run):
    from transformers import TrainingArguments

    cfg, outcome, _ = asha_run
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv", keep_default_na=False)
    first, second = (table[table["trial"] == n].iloc[0] for n in (0, 1))
    assert first["baseline"] in (True, "True") and first["reference"] == "training"
    assert first["learning_rate"] == pytest.approx(3e-3)  # the training: value
    assert first["weight_decay"] == pytest.approx(0.01)
    trainer = TrainingArguments.__dataclass_fields__
    assert second["reference"] == "trainer"  # the Trainer's own defaults, read from it
    assert second["learning_rate"] == pytest.approx(trainer["learning_rate"].default)
    assert second["weight_decay"] == pytest.approx(trainer["weight_decay"].default)
    for ref in (first, second):  # ASHA never cuts a reference
        assert ref["status"] in ("completed", "patience_stop")
    objective = pd.to_numeric(table["objective"], errors="coerce")
    assert objective.max() >= max(float(first["objective"]), float(second["objective"]))
    summary = (outcome.artifacts_dir / "summary.txt").read_text()
    assert "  sampler: qmc: at most 6 trials, fewer than a model needs" in summary
    assert f"baseline trial (the training: values): 0 objective={first['objective']:.4f}" in (
        summary
    )
    assert "Trainer-defaults trial (the Trainer's own values for the searched keys): 1" in summary
    references = json.loads((outcome.trained_dir / "baseline_metrics.json").read_text())
    tuned = json.loads((outcome.trained_dir / "metrics.json").read_text())
    assert set(references) == {"training", "trainer"}
    assert references["training"]["params"]["learning_rate"] == pytest.approx(3e-3)
    assert references["trainer"]["values"]["learning_rate"]["source"] == "the Trainer's default"
    # Every claim comes from the per-row predictions saved beside the model.
    with np.load(outcome.trained_dir / "predictions.npz") as saved:
        labels = saved["labels_test"]
        for who, scores in [("tuned", tuned), *references.items()]:
            pred = saved[f"{who}_test"].argmax(axis=1)
            f1 = f1_score(labels, pred, average="weighted")
            assert f1 == pytest.approx(scores["test"]["test_f1"], abs=1e-6), who
    lines = summary.rstrip().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("the references (no search)"))
    assert lines[at + 1].split() == [
        "search",
        "val",
        "refit",
        "val",
        "test",
        "val-test",
        "drop",
        "seed",
        "sd",
    ]
    rows = {line[:24].strip(): line[24:].split() for line in lines[at + 2 : at + 5]}
    assert set(rows) == {"baseline", "Trainer defaults", "tuned"}
    assert float(rows["baseline"][0]) == pytest.approx(float(first["objective"]), abs=1e-4)
    assert float(rows["tuned"][2]) == pytest.approx(tuned["test"]["test_f1"], abs=1e-4)
    for name, label in (("training", "baseline"), ("trainer", "Trainer defaults")):
        if references[name]["same_as_tuned"]:
            continue
        d = tuned["comparisons"][name]["test"]["f1"]
        assert d["low"] <= d["value"] <= d["high"] and d["n"] == len(labels)
        relation = {"better": "better than", "worse": "worse than"}.get(
            d["verdict"], "not distinguishable from"
        )
        assert f"the tuned model is {relation} the {label} on the test split" in summary
        assert f"f1 {d['value']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]" in summary


def test_optuna_study_mirrors_every_trial(asha_run):
    import optuna

    cfg, outcome, _ = asha_run
    study = optuna.load_study(
        study_name=cfg.run.name, storage=f"sqlite:///{outcome.experiment_dir / STUDY_FILE}"
    )
    assert len(study.trials) == 6
    ids = {t.user_attrs["ray_trial_id"] for t in study.trials}
    assert ids == set(pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")["trial_id"])
    assert any(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)


def test_tokenized_once_for_all_trials_and_refit(asha_run):
    _, _, tokenize_calls = asha_run
    assert tokenize_calls == 1


def test_tensorboard_curves_and_bounded_checkpoints(asha_run):
    cfg, outcome, _ = asha_run
    trial_dirs = sorted(outcome.experiment_dir.glob("trial_*"))
    assert len(trial_dirs) == 6
    for trial_dir in trial_dirs:
        assert list(trial_dir.glob("events.out.tfevents.*")), trial_dir
        assert not list(trial_dir.rglob("checkpoint-*")), "HF wrote its own checkpoints"
        assert len(list(trial_dir.glob("checkpoint_*"))) <= cfg.run.keep_checkpoints
        for ckpt in trial_dir.glob("checkpoint_*"):
            assert not (ckpt / "optimizer.pt").exists()


def test_trials_that_finish_leave_their_evidence(asha_run):
    """Every finished trial keeps its numbers; the report draws the plots of the
    run.trial_plots best ones only (drawing them in the workers cost ~0.5 s per trial)."""
    import numpy as np

    from hpo_ray.layout import TRIAL_DATA_FILES as DATA_FILES
    from hpo_ray.layout import TRIAL_PLOT_FILES as PLOT_FILES

    cfg, outcome, _ = asha_run
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")
    finished = table[table["status"].isin(["completed", "patience_stop"])]
    assert len(finished) >= 1
    order = finished.sort_values(["objective", "trial"], ascending=[False, True])
    ranked = order["trial_id"].tolist()
    for rank, trial_id in enumerate(ranked):
        folder = outcome.experiment_dir / f"trial_{trial_id}"
        for name in DATA_FILES:
            assert (folder / name).stat().st_size > 0, (trial_id, name)
        drawn = [(folder / name).is_file() for name in PLOT_FILES]
        assert drawn == [rank < cfg.run.trial_plots] * len(PLOT_FILES), (rank, trial_id)
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["seconds_per_step"] > 0 and metrics["trainable_params"] > 1000
        history = json.loads((folder / "log_history.json").read_text())
        assert any("eval_f1" in h for h in history) and any("loss" in h for h in history)
        saved = np.load(folder / "predictions.npz")
        assert saved["logits"].shape == (len(saved["labels"]), 2)
        assert list(saved["label_names"]) == ["negative", "positive"]
        accuracy = (saved["logits"].argmax(1) == saved["labels"]).mean()
        assert accuracy == pytest.approx(metrics["eval_accuracy"])
    copied = outcome.trained_dir / "trial_artifacts"
    assert (copied / "metrics.json").is_file() and (copied / "confusion_matrix.png").is_file()


def test_refit_model_reloads_and_predicts(asha_run):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    cfg, outcome, _ = asha_run
    folder = outcome.trained_dir
    assert json.loads((folder / "labels.json").read_text()) == ["negative", "positive"]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["validation"]["eval_f1"] > 0.8
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    batch = tok(
        ["the film was great and wonderful", "dull and boring plot"],
        return_tensors="pt",
        padding=True,
    )
    with torch.no_grad():
        preds = model(**batch).logits.argmax(-1).tolist()
    assert preds == [1, 0]


def test_the_model_is_the_best_trials_kept_weights_and_nothing_else_stays(asha_run):
    """run.refit: keep (the default): the saved model is the best trial's best epoch, scored
    again to the same numbers; only the best trial and the references keep weights, and no
    finished trial keeps Tune checkpoints."""
    cfg, outcome, _ = asha_run
    results = SearchResults.load(outcome.experiment_dir)
    best, base = results.best_row(), results.baseline_row()
    trainer = results.reference_row("trainer")
    metrics = json.loads((outcome.trained_dir / "metrics.json").read_text())
    assert metrics["made_by"].startswith(f"kept: trial {best['trial_id']}'s weights at epoch")
    assert metrics["validation"]["eval_f1"] == pytest.approx(best["objective"], abs=1e-6)
    assert base is not None
    references = json.loads((outcome.trained_dir / "baseline_metrics.json").read_text())
    for row, scored in ((base, references["training"]), (trainer, references["trainer"])):
        assert row is not None
        assert scored["made_by"].startswith(f"kept: trial {row['trial_id']}'s weights")
        assert scored["validation"]["eval_f1"] == pytest.approx(row["objective"], abs=1e-6)
    best_dir = outcome.experiment_dir / f"trial_{best['trial_id']}"
    rows = [json.loads(x) for x in (best_dir / "result.json").read_text().splitlines() if x]
    assert {r["device"] for r in rows} == {"cpu"}  # resources.gpu 0: Ray hides any GPU
    kept = {d.parent.name for d in outcome.experiment_dir.glob("trial_*/best_model")}
    assert kept == {f"trial_{t}" for t in (best["trial_id"], base["trial_id"], trainer["trial_id"])}
    assert not list(outcome.experiment_dir.glob("trial_*/checkpoint_*"))
    assert not list(outcome.experiment_dir.glob("trial_*/.*best_model"))


def test_retrain_reproduces_the_kept_model_and_train_validation_trains_on_both(asha_run, tmp_path):
    import dataclasses

    from hpo_ray.workflows.refit import refit_best

    cfg, outcome, _ = asha_run
    kept = json.loads((outcome.trained_dir / "metrics.json").read_text())

    def refit(how: str) -> dict:
        again = dataclasses.replace(
            cfg, run=dataclasses.replace(cfg.run, trained_dir=str(tmp_path / how))
        )
        return json.loads((refit_best(again, how=how, baseline=False) / "metrics.json").read_text())

    retrained = refit("retrain")
    assert retrained["made_by"] == "retrained on the train split"
    for key in ("eval_accuracy", "eval_f1", "eval_loss"):
        assert round(kept["validation"][key], 4) == round(retrained["validation"][key], 4), key
    both = refit("train+validation")
    best_epoch = SearchResults.load(outcome.experiment_dir).best_row()["best_epoch"]
    assert both["made_by"].startswith("retrained on the train and validation splits for")
    assert f"for {int(-(-best_epoch // 1))} epoch(s)" in both["made_by"]
    assert "validation" not in both and both["test"]["test_f1"] > 0.5


def test_rerun_refuses_to_overwrite(asha_run):
    cfg, outcome, _ = asha_run
    before = (outcome.artifacts_dir / "hpo_trials.csv").read_bytes()
    with pytest.raises(ConfigError, match="already holds results.*--overwrite"):
        run_search(cfg)
    assert (outcome.artifacts_dir / "hpo_trials.csv").read_bytes() == before


def test_report_regenerates_from_the_folder(asha_run, capsys):
    cfg, outcome, _ = asha_run
    expected = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")
    shutil.rmtree(outcome.artifacts_dir)
    assert main(["report", str(outcome.experiment_dir)]) == 0
    again = pd.read_csv(outcome.experiment_dir / ARTIFACTS / "hpo_trials.csv")
    pd.testing.assert_frame_equal(expected, again)
    assert "best trial" in capsys.readouterr().out


def test_median_scheduler_and_a_failing_trial(tmp_path, corpus_csv, tiny_model, ray_local):
    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        training={"early_stopping_patience": 0},
        search={
            "num_samples": 4,
            "scheduler": "median",
            "searcher": "random",
            "space": {
                "per_device_train_batch_size": {"type": "categorical", "values": [4, 8]},
                "weight_decay": {"type": "categorical", "values": [0.0, 0.01]},
            },
        },
        run={"refit": False},
    )
    outcome = run_search(cfg, trainer_callbacks=[FailOn(per_device_train_batch_size=4)])
    results = SearchResults.load(outcome.experiment_dir)
    frame = results.frame
    assert len(frame) == 4
    failed = frame[frame["per_device_train_batch_size"] == 4]
    assert (failed["status"] == "failed").all()
    assert failed["error"].str.contains("injected failure").all()
    ok = frame[frame["per_device_train_batch_size"] == 8]
    assert (ok["status"] != "failed").all() and ok["objective"].notna().all()
    assert outcome.trained_dir is None
    write_report(outcome.experiment_dir)  # a report with failures still writes everything
    assert "failed: " + str(len(failed)) in (outcome.artifacts_dir / "summary.txt").read_text()


def test_random_search_keeps_to_max_concurrent_trials(tmp_path, corpus_csv, tiny_model, ray_local):
    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        training={"num_train_epochs": 2, "early_stopping_patience": 0},
        search={
            "searcher": "random",
            "scheduler": "none",
            "num_samples": 2,
            "max_concurrent_trials": 1,  # the test's Ray could run 2 at once
            "space": {"learning_rate": {"type": "float", "low": 1e-4, "high": 5e-3, "log": True}},
        },
        run={"name": "one_at_a_time", "refit": False},
    )
    outcome = run_search(cfg)
    spans = sorted(_span(d) for d in outcome.experiment_dir.glob("trial_*"))
    assert len(spans) == 2
    assert spans[0][1] <= spans[1][0] + 1.5, f"the two trials ran at once: {spans}"


def _span(trial_dir: Path) -> tuple[float, float]:
    """When a trial started and when it made its last report (Tune's clock, whole seconds)."""
    results = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines()]
    first, last = results[0], results[-1]
    return first["timestamp"] - first["time_total_s"], last["timestamp"]


def test_cli_user_errors_exit_2_before_ray(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("search:\n  scheduler: bohb\n")
    assert main(["search", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "search.scheduler='bohb'" in err
    assert (
        main(
            [
                "search",
                str(cfg),
                "search.scheduler=asha",
                "search.space.learning_rate={type: float, low: 1.0e-5, high: 1.0e-3}",
                "data.path=/nonexistent.csv",
                f"run.storage={tmp_path}/rr",
            ]
        )
        == 2
    )
    assert "data.path" in capsys.readouterr().err
    assert not (tmp_path / "rr").exists()


def test_epoch_budget_ends_the_search(tmp_path, corpus_csv, tiny_model, ray_local):
    cfg = tiny_config(
        tmp_path,
        corpus_csv,
        tiny_model,
        training={"num_train_epochs": 1},
        search={
            "searcher": "random",
            "scheduler": "none",
            "num_samples": 12,
            "epoch_budget": 3,
            "max_concurrent_trials": 2,
            "space": {"learning_rate": {"type": "float", "low": 1e-4, "high": 5e-3, "log": True}},
        },
        run={"name": "budget", "refit": False},
    )
    outcome = run_search(cfg)
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")
    trained = table["epochs_run"].fillna(0).sum()
    # The budget stops the search after the third epoch; a trial finishing at the same moment
    # may add one more. Trials cut short report nothing.
    assert 3 <= trained <= 4
    assert (table["status"] == "completed").sum() == trained
    assert set(table["status"]) == {"completed", "not_evaluated"}  # none failed
    summary = (outcome.artifacts_dir / "summary.txt").read_text()
    assert f"epochs trained: {trained:g} of an epoch budget of 3" in summary


class Cells(html.parser.HTMLParser):
    """The text of every cell of the table with a given id, row by row."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth, self.rows = table_id, 0, []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_cells(page: str, table_id: str) -> list[list[str]]:
    parser = Cells(table_id)
    parser.feed(page)
    return parser.rows


def test_the_report_page_is_one_self_contained_file(asha_run):
    cfg, outcome, _ = asha_run
    page = (outcome.experiment_dir / "report.html").read_text()
    assert len(page.encode()) < 2_000_000
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)  # nothing fetched
    table = pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv", dtype={"trial_id": str})
    rows = table_cells(page, "trials")
    assert rows[0] == list(table.columns) and len(rows) == len(table) + 1
    ids = [r[rows[0].index("trial_id")] for r in rows[1:]]
    assert ids == list(table["trial_id"])
    objective = [float(r[rows[0].index("objective")]) for r in rows[1:]]
    assert objective == pytest.approx(list(table["objective"]), rel=1e-5)
    answer = table_cells(page, "answer")
    baseline = json.loads((outcome.trained_dir / "baseline_metrics.json").read_text())
    assert [row[0] for row in answer[1:]] == ["baseline", "Trainer defaults", "tuned"]
    test_f1 = baseline["training"]["test"]["test_f1"]
    assert float(answer[1][3]) == pytest.approx(test_f1, abs=1e-4)
    assert float(answer[3][1]) == pytest.approx(table["objective"].max(), abs=1e-4)
    assert page.count("<img ") >= 4  # history, learning curves, metrics per parameter


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(chromium() is None, reason="no headless Chromium (.ci/run installs it)")
def test_the_report_opens_in_a_headless_browser(asha_run, tmp_path):
    cfg, outcome, _ = asha_run
    report = outcome.experiment_dir / "report.html"
    shot = outcome.experiment_dir / "report.png"
    base = [
        str(chromium()),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # any network request would fail loudly
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [*base, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # no script error, no failed load
    assert 'data-sortable="ready"' in dom.stdout  # the page's script ran
    decoded = re.search(r'data-images="(\d+)/(\d+)"', dom.stdout)
    assert decoded is not None and decoded.group(1) == decoded.group(2) != "0"
    rows = table_cells(dom.stdout, "trials")
    assert len(rows) == len(pd.read_csv(outcome.artifacts_dir / "hpo_trials.csv")) + 1
    done = subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1280,2400", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
