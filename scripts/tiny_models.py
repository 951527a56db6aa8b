"""Small random-init encoders that need no download, for benchmarks and tests.

A WordPiece vocabulary is trained on the given texts with the ``tokenizers`` library and
saved with a random-init BERT or DistilBERT, like any pretrained folder, so ``model.name`` can
point at it.

Example::

    save_tiny_model(Path("/tmp/tiny"), texts, vocab_size=200)  # then model.name: /tmp/tiny
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def train_wordpiece(texts: list[str], vocab_size: int, kind: str = "bert") -> Any:
    """A fast BERT-style tokenizer ([CLS] text [SEP], lowercased) trained on ``texts``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

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
    inputs = ["input_ids", "attention_mask"]  # DistilBERT takes no token_type_ids
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        **({"model_input_names": inputs} if kind == "distilbert" else {}),
    )


def save_tiny_model(
    folder: Path, texts: list[str], vocab_size: int, kind: str = "bert", layers: int = 2
) -> Path:
    """A ``layers``-layer random-init ``kind`` (bert or distilbert) classifier, hidden size 32,
    with its tokenizer, saved in ``folder``."""
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
    )

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_wordpiece(texts, vocab_size, kind)
    tokenizer.save_pretrained(folder)
    vocab = len(tokenizer)
    if kind == "distilbert":
        config = DistilBertConfig(
            vocab_size=vocab,
            dim=32,
            n_layers=layers,
            n_heads=2,
            hidden_dim=64,
            max_position_embeddings=64,
        )
        DistilBertForSequenceClassification(config).save_pretrained(folder)
    else:
        bert = BertConfig(
            vocab_size=vocab,
            hidden_size=32,
            num_hidden_layers=layers,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
        )
        BertForSequenceClassification(bert).save_pretrained(folder)
    return folder
