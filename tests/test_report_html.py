"""report.html from a fixed trial table (no Ray): the answer first, the table, inline plots,
escaped text, nothing fetched."""

from __future__ import annotations

import json
import re

import pandas as pd

from hpo_ray.config.loading import dump_config, from_dict
from hpo_ray.layout import BASELINE_METRICS, CONFIG_FILE, MODEL_METRICS, REPORT_HTML
from hpo_ray.report.html import write_html
from hpo_ray.report.plots import plot_history
from hpo_ray.results.cost import search_cost
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


def test_the_page_answers_first_and_holds_the_evidence(tmp_path):
    res = fixed(tmp_path)
    exp = res.cfg.experiment_dir
    out = exp / "hpo_artifacts"
    out.mkdir(parents=True)
    dump_config(res.cfg, exp / CONFIG_FILE)
    plot_history(res.finished, "max", out / "optimization_history.png")
    model = res.cfg.trained_path
    model.mkdir(parents=True)
    scores = {"validation": {"eval_f1": 0.73}, "test": {"test_f1": 0.70}}
    base = {"validation": {"eval_f1": 0.60}, "test": {"test_f1": 0.58}, "same_as_tuned": False}
    (model / MODEL_METRICS).write_text(json.dumps(scores))
    (model / BASELINE_METRICS).write_text(json.dumps({"params": {}, **base}))
    path = write_html(exp, res.cfg, out, "summary <text>", results=res, cost=search_cost(res))
    assert path == exp / REPORT_HTML
    page = path.read_text()
    assert page.index("The answer") < page.index("The cost") < page.index("The evidence")
    assert "0.1200 better on the test split" in page  # 0.70 - 0.58
    assert re.search(r"<td>0\.6100</td>\s*<td>0\.6000</td>\s*<td>0\.5800</td>", page)
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page  # escaped
    assert "summary &lt;text&gt;" in page
    assert page.count('<tr class="completed baseline">') == 1
    assert page.count('<tr class="completed best">') == 1
    assert page.count('<tr class="scheduler_stop">') == 1
    assert page.count("data:image/png;base64,") == 1
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "learning_rate: 1.0e-05" in page or "learning_rate:" in page  # the exact config
    assert f"optuna-dashboard sqlite:///{exp}" not in page  # no study file, no command for it


def test_without_a_refit_the_page_says_the_answer_is_missing(tmp_path):
    res = fixed(tmp_path)
    out = tmp_path / "a"
    out.mkdir()
    page = write_html(tmp_path, res.cfg, out, "", results=res).read_text()
    assert "No baseline against tuned comparison yet" in page
    assert re.findall(r"objective =\s*([0-9.]+)", page) == ["0.7400"]  # the best trial
