"""Tables -> labels -> splits (given, or seeded and stratified) -> tokenized once, cached on
disk by content.

Runs in the driver only. Trials receive the tokenized splits through Ray's object store, so
tokenization costs the same whatever the number of trials.

Example::

    data = prepare_data(cfg.data, tokenizer)
    len(data.train), data.label_names  # (8000, ['negative', 'positive'])
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hpo_ray.config.schema import HUB_PREFIX, SPLITS, DataConfig
from hpo_ray.data.folds import fold_indices
from hpo_ray.data.sources import ROW, WHOLE, read_tables, read_texts, reads_lean, sources
from hpo_ray.errors import ConfigError

log = logging.getLogger(__name__)

TOKENIZE_BATCH = 4096
"""Texts tokenized per call (no padding: the result is the same as one call)."""


@dataclass
class LabelledData:
    texts: list[str]
    labels: np.ndarray
    label_names: list[str]
    dropped: dict[str, int] = field(default_factory=dict)
    pairs: list[str] | None = None
    """The second text of each row (``data.text_pair_column``), or None."""
    origin: np.ndarray | None = None
    """With split tables: each row's given split (``SPLITS``), else None."""
    rows: np.ndarray | None = None
    """Read lean (``sources.lean``): each row's position in the file, its texts not read yet."""

    def select(self, idx: np.ndarray) -> LabelledData:
        return LabelledData(
            [self.texts[i] for i in idx],
            self.labels[idx],
            self.label_names,
            self.dropped,
            None if self.pairs is None else [self.pairs[i] for i in idx],
            None if self.origin is None else self.origin[idx],
            None if self.rows is None else self.rows[idx],
        )


@dataclass
class PreparedData:
    """Tokenized splits (``datasets.Dataset`` with a ``labels`` column) and label names."""

    train: Any
    validation: Any
    test: Any | None
    label_names: list[str]
    fingerprint: str
    """Content hash of the tokenized corpus: the trainable caches the fetched data under it."""
    from_cache: bool
    folds: list[tuple[list[int], list[int]]] = field(default_factory=list)
    """With ``data.folds``: (train, validation) positions within ``train``, per fold."""
    seed: int = 42
    """``data.seed``: splits, folds and ``train_fraction`` subsets all follow it."""


def read_labelled(cfg: DataConfig) -> LabelledData:
    """Read the table(s), clean them and derive integer labels by the configured rule."""
    import pandas as pd

    lean = reads_lean(cfg)
    tables = read_tables(cfg, lean=lean)
    located = sources(cfg)
    keyed = {"text_column": cfg.text_column, "label_column": cfg.label_column}
    if cfg.text_pair_column:
        keyed["text_pair_column"] = cfg.text_pair_column
    for split, table in tables.items():
        where = located.get(split, located.get(WHOLE, ""))  # a DatasetDict's splits: one place
        name = where if where.startswith(HUB_PREFIX) else Path(where).name
        for key, column in keyed.items():
            if column not in table.columns:
                raise ConfigError(
                    f"data.{key}: column {column!r} not in {name} (columns: "
                    f"{', '.join(map(str, table.columns))}); set data.{key}"
                )
    columns = list(keyed.values()) + ([ROW] if lean else [])
    frame = pd.concat(
        [t[columns].assign(_origin=split) for split, t in tables.items()], ignore_index=True
    )
    path = ", ".join(located.values())

    dropped: dict[str, int] = {}
    text_columns = [c for k, c in keyed.items() if k != "label_column"]
    bad_text = pd.Series(False, index=frame.index)
    for column in text_columns:
        texts = frame[column]
        bad_text |= texts.isna() | texts.astype(str).str.strip().eq("")
    if bad_text.any():
        dropped["empty or missing text"] = int(bad_text.sum())
    raw_labels = frame[cfg.label_column]
    bad_label = raw_labels.isna() & ~bad_text
    if bad_label.any():
        dropped["missing label"] = int(bad_label.sum())
    keep = ~(bad_text | raw_labels.isna())
    frame = frame.loc[keep]
    if frame.empty:
        raise ConfigError(f"data: no usable rows in {path} (dropped: {dropped})")

    if cfg.label_rule == "threshold":
        values = pd.to_numeric(frame[cfg.label_column], errors="coerce")
        unparsed = values.isna()
        if unparsed.any():
            examples = frame.loc[unparsed, cfg.label_column].astype(str).head(3).tolist()
            raise ConfigError(
                f"data.label_column={cfg.label_column!r}: {int(unparsed.sum())} values are not "
                f"numbers (e.g. {examples}); fix the file or use data.label_rule=categorical"
            )
        labels: np.ndarray = (values.to_numpy(dtype=float) > cfg.threshold).astype(np.int64)
        names = list(cfg.label_names or ["negative", "positive"])
    else:
        as_text = frame[cfg.label_column].astype(str).str.strip()
        names = sorted(as_text.unique().tolist())
        labels = as_text.map({n: i for i, n in enumerate(names)}).to_numpy(dtype=np.int64)

    present = np.bincount(labels, minlength=len(names))
    if (present > 0).sum() < 2:
        rule = f"threshold {cfg.threshold}" if cfg.label_rule == "threshold" else "categorical rule"
        raise ConfigError(
            f"data: every row gets the same class under the {rule}; a classifier "
            "needs at least two classes (check data.threshold / data.label_column)"
        )
    for reason, count in dropped.items():
        log.warning("dropped %d rows of %s: %s", count, path, reason)
    origin = frame["_origin"].to_numpy()
    out = LabelledData(
        frame[cfg.text_column].astype(str).tolist(),
        labels,
        names,
        dropped,
        frame[cfg.text_pair_column].astype(str).tolist() if cfg.text_pair_column else None,
        None if WHOLE in tables else origin,
        frame[ROW].to_numpy() if lean else None,
    )
    if cfg.max_rows is not None and cfg.max_rows < len(out.texts):
        out = out.select(_subsample(out, cfg.max_rows, cfg.seed))
    if out.rows is not None:  # the texts of the rows kept, read now
        kept_texts, kept_pairs = read_texts(cfg, out.rows)
        out = dataclasses.replace(out, texts=kept_texts, pairs=kept_pairs, rows=None)
    return out


def _subsample(data: LabelledData, n: int, seed: int) -> np.ndarray:
    """A stratified subsample of ``n`` rows; with split tables, each table in proportion."""
    if data.origin is None:
        return _stratified_subset(data.labels, n, seed)
    picked = []
    for split in SPLITS:
        rows = np.flatnonzero(data.origin == split)
        if len(rows) == 0:
            continue
        share = max(len(set(data.labels[rows].tolist())), round(n * len(rows) / len(data.labels)))
        if share >= len(rows):
            picked.append(rows)
        else:
            picked.append(rows[_stratified_subset(data.labels[rows], share, seed)])
    return np.sort(np.concatenate(picked))


def _stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    subset, _ = train_test_split(idx, train_size=n, stratify=labels, random_state=seed)
    return np.sort(subset)


def train_subset(dataset: Any, fraction: float, seed: int) -> Any:
    """A stratified share of a tokenized split (``labels`` column), the same for every trial.

    Shares are nested: each class's rows are shuffled once with ``seed`` and the first
    ``fraction`` of them taken, so the 25% subset lies inside the 50% one.
    """
    if fraction >= 1.0:
        return dataset
    labels = np.asarray(dataset["labels"])
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        keep += rows[: max(1, round(fraction * len(rows)))].tolist()
    return dataset.select(sorted(keep), keep_in_memory=True)


def split_indices(
    labels: np.ndarray,
    cfg: DataConfig,
    origin: np.ndarray | None = None,
    names: list[str] | None = None,
) -> dict[str, np.ndarray]:
    """Train / validation (/ test) row indices: the given split tables as they are, and what is
    not given split from the train rows (seeded, stratified). Given tables are refused where
    validation holds one class, or a class is missing from train (``names``: the classes'
    names, for the message)."""
    from sklearn.model_selection import train_test_split

    given = {} if origin is None else {s: np.flatnonzero(origin == s) for s in SPLITS}
    given = {s: rows for s, rows in given.items() if len(rows)}
    check_given_classes(labels, given, names)
    idx = given.get("train", np.arange(len(labels)))
    wants_test = cfg.test_size > 0 and "test" not in given
    wants_validation = "validation" not in given
    counts = np.bincount(labels[idx])
    smallest = int(counts[counts > 0].min())
    parts = 1 + int(wants_test) + int(wants_validation)
    if smallest < parts:
        raise ConfigError(
            f"data: the smallest class has {smallest} rows; stratified splitting "
            f"into {parts} parts needs at least {parts} rows per class"
        )
    out: dict[str, np.ndarray] = {s: rows for s, rows in given.items() if s != "train"}
    try:
        if wants_test:
            idx, out["test"] = train_test_split(
                idx, test_size=cfg.test_size, stratify=labels[idx], random_state=cfg.seed
            )
        if wants_validation:
            rel_val = cfg.validation_size / (1.0 - (cfg.test_size if wants_test else 0.0))
            idx, out["validation"] = train_test_split(
                idx, test_size=rel_val, stratify=labels[idx], random_state=cfg.seed
            )
        out["train"] = idx
    except ValueError as exc:
        raise ConfigError(
            f"data: cannot split {len(idx)} rows with validation_size="
            f"{cfg.validation_size}, test_size={cfg.test_size} ({exc})"
        ) from None
    return {k: np.sort(v) for k, v in out.items()}


def check_given_classes(
    labels: np.ndarray, given: dict[str, np.ndarray], names: list[str] | None
) -> None:
    """Refuse given split tables no model can be scored on fairly: a validation table with one
    class (the search would rank on it), or a validation or test class the train table lacks
    (the model could never predict it)."""
    if not given:
        return
    named = names or [str(i) for i in range(int(labels.max()) + 1)]
    train = set(labels[given["train"]].tolist()) if "train" in given else None
    for split in ("validation", "test"):
        if split not in given:
            continue
        present = set(labels[given[split]].tolist())
        if split == "validation" and len(present) < 2:
            (only,) = present
            raise ConfigError(
                f"data.validation_path: every row of the validation table has class "
                f"{named[only]!r}; the search would rank trials on one class. Give a "
                "validation table with every class, or drop data.validation_path to split one"
            )
        unseen = sorted(present - train) if train is not None else []
        if unseen:
            raise ConfigError(
                f"data.{split}_path: class {named[unseen[0]]!r} is in the {split} table but not "
                "in the train table, so no model can learn it; add its rows to the train "
                "table or remove them"
            )


def overlaps(data: LabelledData, splits: dict[str, np.ndarray]) -> dict[str, int]:
    """Rows of a later split whose text (and pair) is also in an earlier one: leakage, such
    as a test sentence the model also trained on. Keys read ``"test in train"``."""
    keys = data.texts
    if data.pairs is not None:
        keys = [f"{a}\0{b}" for a, b in zip(data.texts, data.pairs, strict=True)]
    order = [s for s in SPLITS if s in splits]
    found: dict[str, int] = {}
    for i, early in enumerate(order):
        seen = {keys[j] for j in splits[early]}
        for late in order[i + 1 :]:
            count = sum(keys[j] in seen for j in splits[late])
            if count:
                found[f"{late} in {early}"] = int(count)
    return found


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Identifies a tokenizer by its content (vocabulary, normalizer, special tokens)."""
    h = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # Calling the tokenizer switches truncation/padding on in its state: not content.
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        h.update(json.dumps(state, sort_keys=True).encode())
    else:
        h.update(repr(sorted(tokenizer.get_vocab().items())).encode())
    h.update(repr(tokenizer.all_special_tokens).encode())
    return h.hexdigest()


def tokenize_cached(
    texts: list[str],
    tokenizer: Any,
    max_length: int,
    cache_dir: str,
    pairs: list[str] | None = None,
) -> tuple[Any, str, bool]:
    """Tokenize ``texts`` (with ``pairs`` as second texts; the longer one truncated first to
    ``max_length`` together), reusing an on-disk cache by content.

    Returns the ``datasets.Dataset``, its content key, and whether it came from the cache.
    """
    import datasets

    datasets.disable_progress_bars()  # type: ignore[attr-defined]
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode())
        h.update(b"\0")
    if pairs is not None:
        h.update(b"pairs\0")
        for t in pairs:
            h.update(t.encode())
            h.update(b"\0")
    h.update(tokenizer_fingerprint(tokenizer).encode())
    h.update(f"max_length={max_length}".encode())
    key = h.hexdigest()[:24]
    target = Path(cache_dir) / f"tokens-{key}"
    if (target / "dataset_info.json").is_file():
        ds = datasets.load_from_disk(  # type: ignore[attr-defined]
            str(target), keep_in_memory=True
        )
        log.info("tokenized data from cache %s", target)
        return ds, key, True

    columns: dict[str, list[Any]] = {}
    for start in range(0, len(texts), TOKENIZE_BATCH):  # the tokenizer's buffers stay small
        stop = start + TOKENIZE_BATCH
        enc = tokenizer(
            texts[start:stop],
            None if pairs is None else pairs[start:stop],
            truncation="longest_first",
            max_length=max_length,
        )
        for k in enc:
            columns.setdefault(k, []).extend(enc[k])
    ds = datasets.Dataset.from_dict(columns)  # type: ignore[attr-defined]
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_dir))
    try:
        ds.save_to_disk(str(tmp))
        if target.exists():  # another process finished first: keep its copy
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return ds, key, False


@dataclass
class SplitData:
    """The labelled corpus with its seeded splits and folds: what every encoder shares."""

    labelled: LabelledData
    splits: dict[str, np.ndarray]
    folds: list[tuple[list[int], list[int]]]
    seed: int
    overlaps: dict[str, int] = field(default_factory=dict)
    """Leakage: rows of a split whose text is also in an earlier split (``overlaps``)."""

    def describe(self) -> dict[str, Any]:
        """Sizes, classes, where the splits came from and their overlaps (``data_splits.json``)."""
        given = [] if self.labelled.origin is None else sorted(set(self.labelled.origin))
        return {
            "sizes": {k: int(len(self.splits[k])) for k in SPLITS if k in self.splits},
            "classes": self.labelled.label_names,
            "given_splits": [s for s in SPLITS if s in given],
            "pairs": self.labelled.pairs is not None,
            "overlaps": self.overlaps,
            "dropped": self.labelled.dropped,
        }


def split_data(cfg: DataConfig) -> SplitData:
    """Read, label and split the CSV once; tokenizing it per encoder is `tokenize_splits`."""
    labelled = read_labelled(cfg)
    splits = split_indices(labelled.labels, cfg, labelled.origin, labelled.label_names)
    shared = overlaps(labelled, splits)
    for where, count in shared.items():
        log.warning("data: %d rows of %s (same text): leakage", count, where)
    folds = []
    if cfg.folds:
        try:
            folds = fold_indices(labelled.labels[splits["train"]], cfg.folds, cfg.seed)
        except ValueError as exc:
            raise ConfigError(
                f"data.folds={cfg.folds}: cannot split the train split ({exc})"
            ) from None
    return SplitData(labelled, splits, folds, cfg.seed, shared)


def tokenize_splits(split: SplitData, cfg: DataConfig, tokenizer: Any) -> PreparedData:
    """The splits tokenized by ``tokenizer`` (once per tokenizer, cached by content)."""
    labelled, splits = split.labelled, split.splits
    tokens, key, hit = tokenize_cached(
        labelled.texts, tokenizer, cfg.max_length, cfg.cache_dir, labelled.pairs
    )
    parts = {}
    for name, idx in splits.items():
        part = tokens.select(idx.tolist(), keep_in_memory=True)
        parts[name] = part.add_column("labels", labelled.labels[idx].tolist())
    h = hashlib.sha256(key.encode())
    h.update(labelled.labels.tobytes())
    for name in sorted(splits):
        h.update(name.encode() + splits[name].tobytes())
    if split.folds:
        h.update(repr(split.folds).encode())
    sizes = ", ".join(f"{k} {len(v)}" for k, v in parts.items())
    log.info("data: %d rows, classes %s; %s", len(labelled.texts), labelled.label_names, sizes)
    return PreparedData(
        parts["train"],
        parts["validation"],
        parts.get("test"),
        labelled.label_names,
        h.hexdigest()[:24],
        hit,
        split.folds,
        split.seed,
    )


def prepare_data(cfg: DataConfig, tokenizer: Any) -> PreparedData:
    """Everything the trials need from the CSV, tokenized once."""
    return tokenize_splits(split_data(cfg), cfg, tokenizer)
