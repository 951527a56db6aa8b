"""Shared fixtures: a small labelled CSV, a tiny random-init BERT with a WordPiece vocabulary
trained on that text, and one local Ray session for every end-to-end test."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

POS = ["great", "wonderful", "moving", "brilliant", "funny", "sharp", "lovely", "superb"]
NEG = ["dull", "boring", "awful", "clumsy", "tedious", "flat", "weak", "messy"]
FILL = ["the", "film", "story", "cast", "plot", "was", "is", "a", "very", "and", "movie", "quite"]


def make_rows(n: int, seed: int = 0) -> list[tuple[str, float]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        words = rng.sample(FILL, 5) + rng.sample(POS if positive else NEG, 2)
        rng.shuffle(words)
        score = rng.uniform(0.5, 3.0) if positive else -rng.uniform(0.5, 3.0)
        rows.append((" ".join(words), round(score, 3)))
    return rows


def write_csv(path: Path, rows: list[tuple[str, float]]) -> Path:
    import pandas as pd

    pd.DataFrame(rows, columns=["text", "sent"]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def corpus_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "dataset.csv", make_rows(400))


def save_tiny_model(folder: Path, texts: list[str], vocab_size: int, kind: str = "bert") -> Path:
    """A 2-layer random-init ``kind`` (bert or distilbert) classifier saved like any pretrained
    folder, with a WordPiece vocabulary of ``vocab_size`` trained on ``texts``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
        PreTrainedTokenizerFast,
    )

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special)
    )
    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    fast.save_pretrained(folder)
    if kind == "distilbert":
        config = DistilBertConfig(
            vocab_size=tok.get_vocab_size(),
            dim=32,
            n_layers=2,
            n_heads=2,
            hidden_dim=64,
            max_position_embeddings=64,
        )
        DistilBertForSequenceClassification(config).save_pretrained(folder)
    else:
        config = BertConfig(
            vocab_size=tok.get_vocab_size(),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
        )
        BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, corpus_csv: Path) -> Path:
    """A 2-layer random-init BERT saved like any pretrained folder, plus its tokenizer."""
    import pandas as pd

    texts = pd.read_csv(corpus_csv)["text"].tolist()
    return save_tiny_model(tmp_path_factory.mktemp("tiny-bert"), texts, 200)


@pytest.fixture(scope="session")
def tiny_distil(tmp_path_factory: pytest.TempPathFactory, corpus_csv: Path) -> Path:
    """A second encoder: a random-init DistilBERT with another, smaller vocabulary."""
    import pandas as pd

    texts = pd.read_csv(corpus_csv)["text"].tolist()
    return save_tiny_model(tmp_path_factory.mktemp("tiny-distil"), texts, 90, kind="distilbert")


@pytest.fixture(scope="session")
def ray_local(tmp_path_factory: pytest.TempPathFactory):
    """One real local Ray for all end-to-end tests, in its own temp folder."""
    import ray

    temp = Path("/tmp") / f"hpo-ray-test-{os.getpid()}"
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=str(temp),
        log_to_driver=False,
    )
    yield
    ray.shutdown()
