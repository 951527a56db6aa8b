"""A big CSV cut to data.max_rows is read lean (two passes of chunks, needed columns only)
and gives exactly what the whole read gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpo_ray.config.schema import DataConfig
from hpo_ray.data import sources
from hpo_ray.data.dataset import read_labelled, split_data
from hpo_ray.errors import ConfigError


def table(n: int = 230) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    texts = [f"review number {i} {'good' if i % 3 else 'bad'}" for i in range(n)]
    texts[5], texts[17] = "", "   "  # dropped: empty text
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "text": texts,
            "other": ["x" * 50] * n,  # a column the run does not need
            "premise": [f"premise {i}" for i in range(n)],
            "topic": rng.choice(["a", "b", "c"], size=n),
            "sent": rng.normal(size=n).round(3),
        }
    )
    frame.loc[9, "sent"] = np.nan  # dropped: missing label
    return frame


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"label_column": "topic", "label_rule": "categorical"},
        {"text_pair_column": "premise"},
    ],
)
def test_a_lean_read_is_the_whole_read(tmp_path, monkeypatch, extra):
    path = tmp_path / "big.csv"
    table().to_csv(path, index=False)
    cfg = DataConfig(path=str(path), max_rows=60, **extra)
    assert not sources.reads_lean(cfg)  # a small file: read whole
    whole, whole_split = read_labelled(cfg), split_data(cfg)
    monkeypatch.setattr(sources, "LEAN_BYTES", 0)
    monkeypatch.setattr(sources, "CHUNK_ROWS", 7)  # many chunks
    assert sources.reads_lean(cfg)
    lean = read_labelled(cfg)
    assert lean.texts == whole.texts and len(lean.texts) == 60
    assert lean.pairs == whole.pairs
    assert lean.label_names == whole.label_names and lean.dropped == whole.dropped
    np.testing.assert_array_equal(lean.labels, whole.labels)
    assert lean.rows is None
    # The splits (and the leakage count) downstream are the same too.
    lean_split = split_data(cfg)
    assert lean_split.splits.keys() == whole_split.splits.keys()
    assert all(
        np.array_equal(lean_split.splits[k], whole_split.splits[k]) for k in lean_split.splits
    )
    assert lean_split.overlaps == whole_split.overlaps


def test_a_lean_read_names_a_missing_column(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    table().to_csv(path, index=False)
    monkeypatch.setattr(sources, "LEAN_BYTES", 0)
    with pytest.raises(ConfigError, match="data.text_column: column 'body' not in big.csv"):
        read_labelled(DataConfig(path=str(path), max_rows=60, text_column="body"))
