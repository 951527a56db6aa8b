"""Smoke test of scripts/bench_lean_read.py on a small file (the lean read forced on)."""

from __future__ import annotations

from benchlib import load_script


def test_lean_read_smoke(tmp_path):
    bench = load_script("bench_lean_read")
    report = bench.bench(0.005, 50, tmp_path, text_chars=40, lean_bytes=1_000_000)
    assert report["file"]["bytes"] > 1_000_000
    assert report["lean"]["lean"] is True and report["whole"]["lean"] is False
    assert report["lean"]["rows_kept"] == report["whole"]["rows_kept"] == 50
    assert report["same_rows"]
    assert report["lean"]["peak_rss_mb"] > 0 and report["whole"]["peak_rss_mb"] > 0
