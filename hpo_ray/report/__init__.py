"""Report: plots, per-trial plots, text summaries and the one report writer (CSVs, PNGs,
summary.txt, the SQLite study)."""
