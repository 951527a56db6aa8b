"""``report.html``: one self-contained page per experiment, the answer first.

Images are inlined as data URIs, styles and the small table-sorting script are in the page:
it opens from a file manager, a CI artifact or ``scp`` with no network and no server, and reads
without JavaScript (the sort is a bonus). Rendered with Jinja2, autoescaped.

Example::

    write_html(exp_dir, cfg, exp_dir / "hpo_artifacts", text, results=results, cost=cost)
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from hpo_ray.config.schema import OBJECTIVE, ExperimentConfig
from hpo_ray.layout import CONFIG_FILE, REPORT_HTML, STUDY_FILE
from hpo_ray.report.summary import ANSWER_COLUMNS, Answer, answer, objective_statement
from hpo_ray.results.cost import Cost, megabytes
from hpo_ray.results.trials import SearchResults, plain
from hpo_ray.storage import write_file

TEMPLATE = Path(__file__).with_name("templates") / "report.html.j2"
"""The page, a Jinja2 template shipped with the package."""


def page() -> jinja2.Template:
    return jinja2.Environment(autoescape=True).from_string(TEMPLATE.read_text(encoding="utf-8"))


def fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if math.isfinite(seconds) else "-"


def trial_table(results: SearchResults) -> dict[str, Any]:
    """The trial table as display strings, each row tagged with its kind (CSS class)."""
    frame = results.frame
    best_id = results.best_row()["trial_id"] if not results.finished.empty else None
    rows = []
    for record in frame.to_dict("records"):
        css = [str(record.get("status", ""))]
        css += ["baseline"] if record.get("baseline") else []
        css += ["best"] if record.get("trial_id") == best_id else []
        rows.append({"css": " ".join(css), "cells": [cell(record[c]) for c in frame.columns]})
    return {"columns": list(frame.columns), "rows": rows}


def cell(value: Any) -> str:
    value = plain(value)
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def figures(folder: Path) -> list[dict[str, str]]:
    """Every PNG of the report folder, inlined (base64)."""
    return [
        {"name": png.stem, "data": base64.b64encode(png.read_bytes()).decode("ascii")}
        for png in sorted(folder.glob("*.png"))
    ]


def write_html(
    exp_dir: Path,
    cfg: ExperimentConfig,
    artifacts: Path,
    summary: str,
    *,
    results: SearchResults | None = None,
    table: dict[str, Any] | None = None,
    cost: Cost | None = None,
    kind: str = "search",
) -> Path:
    """Render ``report.html`` into the experiment folder; returns its path. ``table``: the
    rows to show (default: ``results``' trial table)."""
    found: Answer | None = answer(cfg, results)
    best = None
    if results is not None and not results.finished.empty:
        row = results.best_row()
        best = {
            "trial": int(row["trial"]),
            "trial_id": row["trial_id"],
            OBJECTIVE: float(row[OBJECTIVE]),
            "params": {k: plain(row[k]) for k in cfg.search.space if k in row},
        }
    study = exp_dir / STUDY_FILE
    config_file = exp_dir / CONFIG_FILE
    html = page().render(
        name=cfg.run.name,
        kind=kind,
        objective=objective_statement(cfg),
        answer=found,
        answer_columns=ANSWER_COLUMNS,
        best=best,
        objective_name=OBJECTIVE,
        model=str(cfg.trained_path) if cfg.trained_path.is_dir() else None,
        cost=cost,
        table=table if table is not None or results is None else trial_table(results),
        figures=figures(artifacts),
        summary=summary,
        config=config_file.read_text() if config_file.is_file() else "",
        exp_dir=str(exp_dir),
        study=str(study) if study.is_file() else None,
        mlflow=cfg.tracking.mlflow.uri if cfg.tracking.mlflow else None,
        fmt=fmt,
        minutes=minutes,
        mb=megabytes,
    )
    path = exp_dir / REPORT_HTML
    write_file(path, html)
    return path


def ofat_table(table: pd.DataFrame) -> dict[str, Any]:
    """The OFAT table as display strings (rows in grid order)."""
    rows = [
        {"css": str(r.get("status", "")), "cells": [cell(r[c]) for c in table.columns]}
        for r in table.to_dict("records")
    ]
    return {"columns": list(table.columns), "rows": rows}
