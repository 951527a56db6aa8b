"""Which model to hand back, decided with intervals: the soup, the best single trial and the
two references on the three packaged corpora, paired by design.

For every corpus and seed one search runs (``scripts/bench_quality.py --methods auto_soup``:
hpo_ray's default search with ``run.refit: soup`` and both references), and its refit scores,
on the same test rows, the greedy soup of the top trials, the best single trial, the uniform
soup, the baseline (the ``training:`` values) and the Trainer's defaults. Every pair of those
models is then a paired difference per (corpus, seed); this script gives, per corpus and
pooled over all pairs, the mean paired difference of test F1 with its 95% t interval, and a
verdict: ahead / behind where the interval excludes zero, else not distinguishable at this
budget.

Usage::

    python scripts/bench_trust.py --out /tmp/trust --seeds 0 1 2 3 4 --budget 16
    python scripts/bench_trust.py --out /tmp/trust --pool-only     # re-read the outputs

Outputs in ``--out``: ``<corpus>/quality.json`` (bench_quality's), ``trust.json`` (every
pair's differences and intervals) and ``trust.md`` (the table for BENCHMARKS.md). Wall time
per search at 16 epochs, alone on this 2-core machine: about 4 minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:  # loaded from elsewhere (the tests import it)
    sys.path.insert(0, str(SCRIPTS))
from benchlib import load_script  # noqa: E402 - shared by the benchmark scripts

CORPORA = ("movie-snippets", "tweets", "rotten-tomatoes")
PAIRS = (
    ("soup", "best_single"),
    ("soup", "uniform"),
    ("best_single", "training"),
    ("best_single", "trainer"),
    ("soup", "training"),
    ("soup", "trainer"),
    ("trainer", "training"),
)
"""(model, reference): the difference is the model's test F1 minus the reference's."""


def runs_of(out: Path, corpus: str) -> list[dict[str, Any]]:
    """The soup searches' records of one corpus (none before its run)."""
    path = out / corpus / "quality.json"
    if not path.is_file():
        return []
    return [r for r in json.loads(path.read_text())["runs"] if "models" in r]


def t_interval(values: list[float]) -> dict[str, Any]:
    """Mean, sd and the 95% t interval of paired differences, with the verdict it allows."""
    from scipy.stats import t

    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n) if n > 1 else math.inf
    low, high = mean - half, mean + half
    verdict = "ahead" if low > 0 else "behind" if high < 0 else "not distinguishable"
    return {"n": n, "mean": mean, "sd": sd, "low": low, "high": high, "verdict": verdict}


def pool(out: Path, corpora: Sequence[str]) -> dict[str, Any]:
    """Every pair's paired differences per corpus and pooled, and each model's mean test F1."""
    by_corpus = {c: runs_of(out, c) for c in corpora}
    table: dict[str, Any] = {"pairs": {}, "means": {}, "runs": {}}
    for corpus, runs in by_corpus.items():
        table["runs"][corpus] = len(runs)
        names = sorted({m for r in runs for m in r["models"]})
        table["means"][corpus] = {
            m: sum(r["models"][m]["test_f1"] for r in runs if m in r["models"]) / len(runs)
            for m in names
        }
    for model, reference in PAIRS:
        key = f"{model} - {reference}"
        entry: dict[str, Any] = {}
        everything: list[float] = []
        for corpus, runs in by_corpus.items():
            diffs = [
                r["models"][model]["test_f1"] - r["models"][reference]["test_f1"]
                for r in runs
                if model in r["models"] and reference in r["models"]
            ]
            if diffs:
                entry[corpus] = t_interval(diffs)
                everything += diffs
        if everything:
            entry["pooled"] = t_interval(everything)
            table["pairs"][key] = entry
    return table


def markdown(table: dict[str, Any], corpora: Sequence[str]) -> str:
    """The pairs as a table: mean paired difference [95% interval] per corpus and pooled."""
    head = ["pair (test F1)", *corpora, "pooled"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, entry in table["pairs"].items():
        cells = []
        for where in [*corpora, "pooled"]:
            e = entry.get(where)
            cells.append(
                "-"
                if e is None
                else f"{e['mean']:+.3f} [{e['low']:+.3f}, {e['high']:+.3f}] (n={e['n']})"
            )
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| mean test F1 | " + " | ".join(corpora) + " |")
    lines.append("|---|" + "---|" * len(corpora))
    names = sorted({m for c in corpora for m in table["means"].get(c, {})})
    for name in names:
        cells = [f"{table['means'].get(c, {}).get(name, math.nan):.3f}" for c in corpora]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--budget", type=float, default=16, help="training epochs per search")
    p.add_argument("--corpora", nargs="+", choices=CORPORA, default=list(CORPORA))
    p.add_argument("--pool-only", action="store_true", help="only pool what --out holds")
    p.add_argument("extra", nargs="*", help="more bench_quality arguments (after --)")
    args = p.parse_args(argv)
    out = Path(args.out).resolve()
    started = time.perf_counter()
    if not args.pool_only:
        quality = load_script("bench_quality")
        for corpus in args.corpora:
            seeds = [str(s) for s in args.seeds]
            quality.main(
                [
                    "--out",
                    str(out / corpus),
                    "--corpus",
                    corpus,
                    "--methods",
                    "auto_soup",
                    "--seeds",
                    *seeds,
                    "--budget",
                    str(args.budget),
                    *args.extra,
                ]
            )
    table = pool(out, args.corpora)
    table["settings"] = {**vars(args), "wall_s": time.perf_counter() - started}
    (out / "trust.json").write_text(json.dumps(table, indent=2))
    text = markdown(table, args.corpora)
    (out / "trust.md").write_text(text)
    print(text, flush=True)
    return table


if __name__ == "__main__":
    main()
