"""Tables in five formats, split tables used as given, leakage between splits, sentence pairs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_rows

from hpo_ray.config.schema import DataConfig
from hpo_ray.data.dataset import (
    overlaps,
    prepare_data,
    read_labelled,
    split_data,
    split_indices,
    tokenize_cached,
)
from hpo_ray.data.sources import read_tables
from hpo_ray.errors import ConfigError
from hpo_ray.train.models import load_tokenizer_from_path


def frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    return pd.DataFrame(make_rows(n, seed), columns=["text", "sent"])


def write(table: pd.DataFrame, path: Path, fmt: str) -> str:
    """``table`` written as ``fmt`` at ``path`` (a folder for datasets / hub)."""
    import datasets

    if fmt == "csv":
        table.to_csv(path, index=False)
    elif fmt == "tsv":
        table.to_csv(path, sep="\t", index=False)
    elif fmt == "parquet":
        table.to_parquet(path, index=False)
    elif fmt == "jsonl":
        table.to_json(path, orient="records", lines=True)
    elif fmt == "datasets":
        datasets.Dataset.from_pandas(table, preserve_index=False).save_to_disk(str(path))
    elif fmt == "hub":  # a local folder of data files, loaded by datasets.load_dataset
        path.mkdir()
        table.to_csv(path / "train.csv", index=False)
        return f"hub:{path}"
    return str(path)


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("csv", "d.csv"),
        ("tsv", "d.tsv"),
        ("parquet", "d.parquet"),
        ("jsonl", "d.jsonl"),
        ("datasets", "d_folder"),
        ("hub", "d_hub"),
    ],
)
def test_every_format_reads_the_same_rows(tmp_path, fmt, name):
    table = frame()
    location = write(table, tmp_path / name, fmt)
    out = read_labelled(DataConfig(path=location))
    assert out.texts == table["text"].tolist()
    assert out.labels.tolist() == (table["sent"] > 0).astype(int).tolist()
    assert out.origin is None  # one table: hpo_ray splits it


def test_format_by_name_wins_over_the_extension(tmp_path):
    path = tmp_path / "rows.txt"
    frame().to_csv(path, sep="\t", index=False)
    assert len(read_labelled(DataConfig(path=str(path), format="tsv")).texts) == 40
    with pytest.raises(ConfigError, match="column 'text' not in rows.txt"):
        read_labelled(DataConfig(path=str(path)))  # read as CSV: one tab-joined column


def test_split_tables_are_used_as_given_and_the_rest_is_split_from_train(tmp_path):
    train = write(frame(60, 1), tmp_path / "train.parquet", "parquet")
    test = write(frame(20, 2), tmp_path / "test.jsonl", "jsonl")
    cfg = DataConfig(train_path=train, test_path=test, validation_size=0.25, seed=3)
    split = split_data(cfg)
    origin = split.labelled.origin
    assert origin is not None
    assert set(origin[split.splits["test"]]) == {"test"} and len(split.splits["test"]) == 20
    assert set(origin[split.splits["validation"]]) == {"train"}
    assert len(split.splits["validation"]) == 15 and len(split.splits["train"]) == 45
    again = split_indices(split.labelled.labels, cfg, origin)
    assert all(np.array_equal(again[k], v) for k, v in split.splits.items())
    assert split.describe()["given_splits"] == ["train", "test"]


def test_a_datasets_dict_gives_its_splits_or_the_one_named(tmp_path):
    import datasets

    folder = tmp_path / "dd"
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_pandas(frame(40, 1), preserve_index=False),
            "validation": datasets.Dataset.from_pandas(frame(10, 2), preserve_index=False),
        }
    ).save_to_disk(str(folder))
    tables = read_tables(DataConfig(path=str(folder)))
    assert {k: len(v) for k, v in tables.items()} == {"train": 40, "validation": 10}
    split = split_data(DataConfig(path=str(folder)))
    assert len(split.splits["validation"]) == 10
    only = read_tables(DataConfig(path=str(folder), split="validation"))
    assert list(only) == ["all"] and len(only["all"]) == 10
    with pytest.raises(ConfigError, match="data.split='test' is not a split"):
        read_tables(DataConfig(path=str(folder), split="test"))


def test_rows_shared_between_splits_are_reported(tmp_path, caplog):
    train = frame(40, 1)
    test = pd.concat([frame(10, 2), train.head(3)], ignore_index=True)
    cfg = DataConfig(
        train_path=write(train, tmp_path / "train.csv", "csv"),
        test_path=write(test, tmp_path / "test.csv", "csv"),
    )
    split = split_data(cfg)
    assert split.overlaps.get("test in train", 0) + split.overlaps.get("test in validation", 0) == 3
    assert "leakage" in caplog.text
    assert json.loads(json.dumps(split.describe()))["overlaps"] == split.overlaps
    assert overlaps(split.labelled, {"train": np.array([0, 1])}) == {}


def test_max_rows_subsamples_each_given_table_in_proportion(tmp_path):
    cfg = DataConfig(
        train_path=write(frame(80, 1), tmp_path / "train.csv", "csv"),
        validation_path=write(frame(20, 2), tmp_path / "val.csv", "csv"),
        max_rows=50,
    )
    out = read_labelled(cfg)
    assert out.origin is not None
    assert (out.origin == "train").sum() == 40 and (out.origin == "validation").sum() == 10


def test_pairs_are_tokenized_as_pairs_and_keyed_apart(tmp_path, tiny_model):
    tok = load_tokenizer_from_path(str(tiny_model))
    texts, pairs = ["the film was great"], ["a moving story"]
    single, key_single, _ = tokenize_cached(texts, tok, 32, str(tmp_path / "c"))
    paired, key_pair, _ = tokenize_cached(texts, tok, 32, str(tmp_path / "c"), pairs)
    assert key_single != key_pair
    ids = paired["input_ids"][0]
    assert ids.count(tok.sep_token_id) == 2 and len(ids) > len(single["input_ids"][0])
    short, _, _ = tokenize_cached(["word " * 40], tok, 16, str(tmp_path / "c"), ["the film"])
    kept = tok("the film", add_special_tokens=False)["input_ids"]
    ids = short["input_ids"][0]
    assert len(ids) == 16 and ids[-len(kept) - 1 :] == [*kept, tok.sep_token_id]  # long cut first


def test_pair_column_flows_into_prepared_data(tmp_path, tiny_model):
    table = frame(40)
    table["hypothesis"] = ["a second text " + str(i) for i in range(len(table))]
    cfg = DataConfig(
        path=write(table, tmp_path / "pairs.csv", "csv"),
        text_pair_column="hypothesis",
        cache_dir=str(tmp_path / "cache"),
        max_length=32,
    )
    tok = load_tokenizer_from_path(str(tiny_model))
    data = prepare_data(cfg, tok)
    for ids in data.train["input_ids"][:5]:
        assert ids.count(tok.sep_token_id) == 2


def test_prepare_data_split_writes_three_stratified_parquet_tables(tmp_path, capsys):
    from hpo_ray.cli import main

    csv = tmp_path / "corpus.csv"
    frame(100).to_csv(csv, index=False)  # an existing corpus file is kept: no download
    assert main(["prepare-data", "--out", str(csv), "--split"]) == 0
    folder = tmp_path / "corpus-split"
    parts = {s: pd.read_parquet(folder / f"{s}.parquet") for s in ("train", "validation", "test")}
    assert {s: len(p) for s, p in parts.items()} == {"train": 60, "validation": 20, "test": 20}
    assert all((p["sent"] > 0).mean() == 0.5 for p in parts.values())
    assert sorted(pd.concat(parts.values())["text"]) == sorted(frame(100)["text"])
    assert str(folder / "train.parquet") in capsys.readouterr().out
    split = split_data(
        DataConfig(**{f"{s}_path": str(folder / f"{s}.parquet") for s in parts}, test_size=0)
    )
    assert {k: len(v) for k, v in split.splits.items()} == {
        "validation": 20,
        "test": 20,
        "train": 60,
    }
