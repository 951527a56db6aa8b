"""report.html from a fixed trial table (no Ray): the answer first, the table, inline plots,
escaped text, nothing fetched."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from hpo_ray.config.loading import dump_config, from_dict
from hpo_ray.layout import BASELINE_METRICS, CONFIG_FILE, MODEL_METRICS, REPORT_HTML
from hpo_ray.report.html import write_html
from hpo_ray.report.plots import plot_history
from hpo_ray.report.summary import final_scores
from hpo_ray.results.cost import search_cost
from hpo_ray.results.paired import compare_all
from hpo_ray.results.trials import SearchResults

SPACE = {"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}}


def fixed(tmp_path) -> SearchResults:
    cfg = from_dict(
        {
            "data": {"test_size": 0.2},
            "search": {"space": SPACE},
            "run": {
                "name": "h",
                "storage": str(tmp_path / "rr"),
                "trained_dir": str(tmp_path / "t"),
            },
        }
    )
    frame = pd.DataFrame(
        {
            "trial": [0, 1, 2],
            "trial_id": ["base0", "<b>x</b>", "c2"],
            "learning_rate": [2e-5, 3e-4, 1e-3],
            "baseline": [True, False, False],
            "objective": [0.61, 0.74, 0.52],
            "status": ["completed", "completed", "scheduler_stop"],
            "time_s": [30.0, 31.0, 12.0],
            "epochs_run": [2.0, 2.0, 1.0],
        }
    )
    return SearchResults(cfg, frame, history={}, overrides={})


def probs_right_on(labels: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Binary class probabilities that pick the true class exactly on the ``right`` rows."""
    pred = np.where(right, labels, 1 - labels)
    return np.stack([np.where(pred == 0, 0.8, 0.2), np.where(pred == 1, 0.8, 0.2)], axis=1)


def write_refit(res: SearchResults) -> dict[str, Any]:
    """A model folder as the refit writes it: the tuned model right on 80% of 300 test rows,
    the baseline on 60% (a gap no resample closes), the Trainer's defaults on 79% (a gap
    of one row in a hundred, well inside the noise). Returns the tuned model's metrics."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    u = rng.uniform(size=300)
    other = rng.uniform(size=300)  # the Trainer's model errs on other rows
    models = {"tuned": u < 0.80, "training": u < 0.60, "trainer": other < 0.79}
    probs = {who: probs_right_on(labels, right) for who, right in models.items()}
    predictions = {
        who: {"test": (labels, p), "validation": (labels, p)} for who, p in probs.items()
    }
    f1 = {who: f1_score(labels, p.argmax(1), average="weighted") for who, p in probs.items()}
    scores = {who: {"validation": {"eval_f1": f1[who]}, "test": {"test_f1": f1[who]}} for who in f1}
    tuned = {
        **scores["tuned"],
        "validation_se": {"f1": 0.2},  # wide: every finished trial is tied with the best
        "comparisons": compare_all(predictions, "f1", mode="max", positive=1),
    }
    model = res.cfg.trained_path
    model.mkdir(parents=True)
    (model / MODEL_METRICS).write_text(json.dumps(tuned))
    references = {
        who: {"params": {}, "same_as_tuned": False, **scores[who]}
        for who in ("training", "trainer")
    }
    references["training"]["values"] = {
        "learning_rate": {"value": 2e-5, "source": "hpo_ray's default", "trainer_default": 5e-5}
    }
    (model / BASELINE_METRICS).write_text(json.dumps(references))
    return tuned


def test_the_page_answers_first_with_intervals_and_holds_the_evidence(tmp_path):
    res = fixed(tmp_path)
    exp = res.cfg.experiment_dir
    out = exp / "hpo_artifacts"
    out.mkdir(parents=True)
    dump_config(res.cfg, exp / CONFIG_FILE)
    plot_history(res.finished, "max", out / "optimization_history.png")
    tuned = write_refit(res)
    summary = final_scores(res.cfg, 0.74, res)
    path = write_html(exp, res.cfg, out, "summary <text>", results=res, cost=search_cost(res))
    assert path == exp / REPORT_HTML
    page = path.read_text()
    assert page.index("The answer") < page.index("The cost") < page.index("The evidence")
    vs_base = tuned["comparisons"]["training"]["test"]["f1"]
    vs_trainer = tuned["comparisons"]["trainer"]["test"]["f1"]
    assert vs_base["low"] > 0 and vs_trainer["low"] < 0 < vs_trainer["high"]
    for text in (summary, page):
        flat = " ".join(html.unescape(text).split())
        assert (
            "the tuned model is better than the baseline on the test split (never "
            f"seen by the search): f1 {vs_base['value']:+.4f} [{vs_base['low']:+.4f}, "
            f"{vs_base['high']:+.4f}] (95% interval from resampling its 300 rows)"
        ) in flat
        assert (
            "the tuned model is not distinguishable from the Trainer defaults on the test split"
        ) in flat
        assert "better than the Trainer defaults" not in flat  # its interval includes zero
        assert "exact McNemar p=" in flat
        assert "learning_rate=2e-05 (hpo_ray's default; the Trainer's 5e-05)" in flat
        assert (
            "1 other trial within one validation standard error (0.2000, 300 rows) of the best"
            in flat
        )
    # the answer table: search val, refit val, test, val-test drop; the baseline trial's 0.61
    drop = 0.61 - tuned_f1(tmp_path, "training")
    assert re.search(
        rf"<td>0\.6100</td>\s*<td>[0-9.]+</td>\s*<td>[0-9.]+</td>\s*<td>{drop:.4f}</td>", page
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page  # escaped
    assert "summary &lt;text&gt;" in page
    assert page.count('<tr class="completed baseline">') == 1
    assert page.count('<tr class="completed best">') == 1
    assert page.count('<tr class="scheduler_stop">') == 1
    assert page.count("data:image/png;base64,") == 1
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "learning_rate: 1.0e-05" in page or "learning_rate:" in page  # the exact config
    assert f"optuna-dashboard sqlite:///{exp}" not in page  # no study file, no command for it


def tuned_f1(tmp_path: Any, who: str) -> float:
    found = json.loads((tmp_path / "t" / "h" / BASELINE_METRICS).read_text())
    return float(found[who]["test"]["test_f1"])


def test_without_a_refit_the_page_says_the_answer_is_missing(tmp_path):
    res = fixed(tmp_path)
    out = tmp_path / "a"
    out.mkdir()
    page = write_html(tmp_path, res.cfg, out, "", results=res).read_text()
    assert "No comparison with the references yet" in page
    assert re.findall(r"objective =\s*([0-9.]+)", page) == ["0.7400"]  # the best trial
