"""Where the labelled rows come from: files in five formats, or splits given by the user.

``data.path`` names one table that hpo_ray splits itself; ``data.train_path`` (with
``validation_path`` and ``test_path``, each optional) names tables already split, used as
given. A table is a CSV, TSV, parquet or JSON Lines file (by extension, or ``data.format``),
a folder written by ``datasets``' ``save_to_disk``, or ``hub:NAME[:CONFIG]`` for
``datasets.load_dataset`` (the hub, or a local folder of data files). A ``datasets`` table
with splits (a ``DatasetDict``) gives its ``train`` / ``validation`` / ``test`` splits as
given ones, unless ``data.split`` picks one of them as the single table.

Example::

    tables = read_tables(cfg.data)   # {"all": frame} or {"train": ..., "validation": ...}
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo_ray.config.schema import HUB_PREFIX, SPLITS, DataConfig
from hpo_ray.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".json": "jsonl",
}
WHOLE = "all"
"""The key of the one table hpo_ray splits itself."""


def sources(cfg: DataConfig) -> dict[str, str]:
    """Each configured table by the split it is (``all`` for ``data.path``), with its key."""
    given = {s: getattr(cfg, f"{s}_path") for s in SPLITS if getattr(cfg, f"{s}_path")}
    return given if given else {WHOLE: cfg.path}


def source_key(split: str) -> str:
    return "data.path" if split == WHOLE else f"data.{split}_path"


def table_format(location: str, fmt: str) -> str:
    """The format of ``location``: ``data.format`` unless ``auto``, else by its form."""
    if location.startswith(HUB_PREFIX):
        return "hub"
    if fmt != "auto":
        return fmt
    if Path(location).is_dir():
        return "datasets"
    return EXTENSIONS.get(Path(location).suffix.lower(), "csv")


def check_sources(cfg: DataConfig) -> None:
    """Each local table is there, in a form hpo_ray reads (no data read yet)."""
    for split, location in sources(cfg).items():
        key = source_key(split)
        fmt = table_format(location, cfg.format)
        if fmt == "hub":
            continue  # found (or not) by datasets when it loads
        path = Path(location)
        if fmt == "datasets":
            if not path.is_dir():
                raise ConfigError(
                    f"{key}: {location!r} is not a folder; data.format=datasets reads a folder "
                    "written by save_to_disk"
                )
            continue
        if not path.is_file():
            hint = " (the demo corpus is made by `hpo-ray prepare-data`)" if split == WHOLE else ""
            raise ConfigError(
                f"{key}: file {location!r} not found; point {key} at a CSV, TSV, parquet or "
                f"JSON Lines file, or a datasets folder{hint}"
            )


LEAN_BYTES = 64 * 2**20
"""One CSV or TSV this big or bigger, with ``data.max_rows`` set, is read lean."""
CHUNK_ROWS = 50_000
"""Rows per chunk of a lean read."""
KEPT = "x"
"""What stands for a text that is there (not empty) in a lean read's first pass."""
ROW = "_row"
"""A lean read's column: the row's position in the file."""


def reads_lean(cfg: DataConfig) -> bool:
    """Whether the data is one big CSV or TSV cut to ``data.max_rows``: then it is read in
    two passes of chunks, with the needed columns only. The first takes the labels and
    whether each text is there; the second, after the subsample is drawn, only the texts of
    the rows kept. Peak memory follows ``max_rows``, not the file's size."""
    located = sources(cfg)
    if cfg.max_rows is None or list(located) != [WHOLE]:
        return False
    path = Path(located[WHOLE])
    fmt = table_format(str(path), cfg.format)
    return fmt in ("csv", "tsv") and path.is_file() and path.stat().st_size >= LEAN_BYTES


def text_columns(cfg: DataConfig) -> list[str]:
    return [cfg.text_column] + ([cfg.text_pair_column] if cfg.text_pair_column else [])


def csv_chunks(cfg: DataConfig, columns: list[str]) -> Iterator[pd.DataFrame]:
    """``data.path`` (a CSV or TSV) in chunks of ``columns``, the texts read as text."""
    import pandas as pd

    fmt = table_format(cfg.path, cfg.format)
    texts = {c: str for c in text_columns(cfg)}
    if cfg.label_rule == "categorical":
        texts[cfg.label_column] = str  # every chunk alike (no int in one, float in another)
    with readable(Path(cfg.path), fmt, "data.path"):
        yield from pd.read_csv(
            cfg.path,
            sep=csv_sep(fmt),
            usecols=lambda c: c in columns,
            dtype=texts,
            chunksize=CHUNK_ROWS,
        )


def read_lean(cfg: DataConfig) -> pd.DataFrame:
    """The first pass of a lean read: the labels, each text as ``KEPT`` where it is there
    (else as it was: empty or missing), and each row's position (``ROW``)."""
    import pandas as pd

    needed = [cfg.label_column, *text_columns(cfg)]
    fmt = table_format(cfg.path, cfg.format)
    with readable(Path(cfg.path), fmt, "data.path"):
        header = pd.read_csv(cfg.path, sep=csv_sep(fmt), nrows=0).columns
    keys = {cfg.text_column: "text_column", cfg.label_column: "label_column"}
    if cfg.text_pair_column:
        keys[cfg.text_pair_column] = "text_pair_column"
    for column in needed:
        if column not in header:
            raise ConfigError(
                f"data.{keys[column]}: column {column!r} not in {Path(cfg.path).name}; set "
                f"data.{keys[column]}"
            )
    parts, start = [], 0
    for chunk in csv_chunks(cfg, needed):
        for column in text_columns(cfg):
            if column in chunk:
                there = chunk[column].notna() & chunk[column].str.strip().ne("")
                chunk[column] = chunk[column].where(~there, KEPT)
        chunk[ROW] = np.arange(start, start + len(chunk))
        start += len(chunk)
        parts.append(chunk)
    if not parts:
        raise ConfigError(f"data.path: {cfg.path} has a header but no rows")
    return pd.concat(parts, ignore_index=True)


def read_texts(cfg: DataConfig, rows: np.ndarray) -> tuple[list[str], list[str] | None]:
    """The second pass of a lean read: the texts (and pairs) of ``rows``, in their order."""
    wanted = np.asarray(rows)
    found: dict[int, tuple[str, str]] = {}
    start = 0
    pair = cfg.text_pair_column
    for chunk in csv_chunks(cfg, text_columns(cfg)):
        here = wanted[(wanted >= start) & (wanted < start + len(chunk))]
        picked = chunk.iloc[here - start]
        seconds = picked[pair].astype(str) if pair else [""] * len(picked)
        for row, text, second in zip(
            here.tolist(), picked[cfg.text_column].astype(str), seconds, strict=True
        ):
            found[row] = (text, second)
        start += len(chunk)
    texts = [found[r][0] for r in wanted.tolist()]
    return texts, ([found[r][1] for r in wanted.tolist()] if pair else None)


def read_tables(cfg: DataConfig, *, lean: bool = False) -> dict[str, pd.DataFrame]:
    """The configured tables as frames, by split (``all`` for one table to be split);
    ``lean``: ``data.path``'s first pass of a lean read (``reads_lean``)."""
    check_sources(cfg)
    if lean:
        return {WHOLE: read_lean(cfg)}
    out: dict[str, pd.DataFrame] = {}
    for split, location in sources(cfg).items():
        key = source_key(split)
        fmt = table_format(location, cfg.format)
        if fmt in ("datasets", "hub"):
            frames = read_datasets(location, fmt, cfg.split, key)
            if split != WHOLE and WHOLE not in frames:
                raise ConfigError(
                    f"{key}: {location} holds splits {', '.join(frames)}; name the one to use "
                    "with data.split, or give it as data.path"
                )
            for name, frame in frames.items():
                out[split if name == WHOLE else name] = frame
        else:
            out[split] = read_file(Path(location), fmt, key)
    if WHOLE in out and len(out) > 1:
        raise ConfigError(
            "data: give either one table (data.path) or split tables (data.train_path ...), "
            "not both"
        )
    if len(out) > 1 and "train" not in out:
        raise ConfigError(
            f"data: split tables {sorted(out)} have no train split; set data.train_path"
        )
    return out


def csv_sep(fmt: str) -> str:
    return "\t" if fmt == "tsv" else ","


@contextmanager
def readable(path: Path, fmt: str, key: str) -> Iterator[None]:
    """Reading ``path`` (``key`` names it): pandas' read errors become one line."""
    import pandas as pd

    try:
        yield
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{key}: {path} is empty; it needs a header and rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{key}: {path} is not a readable {fmt} file ({first}); fix it or set data.format"
        ) from None


def read_file(path: Path, fmt: str, key: str) -> pd.DataFrame:
    import pandas as pd

    with readable(path, fmt, key):
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        elif fmt == "jsonl":
            frame = pd.read_json(path, lines=True)
        else:
            frame = pd.read_csv(path, sep=csv_sep(fmt))
    if frame.empty:
        raise ConfigError(f"{key}: {path} has a header but no rows")
    return frame


def read_datasets(location: str, fmt: str, split: str | None, key: str) -> dict[str, Any]:
    """A ``datasets`` folder or hub dataset as frames: one (``all``), or one per split."""
    import datasets

    datasets.disable_progress_bars()  # type: ignore[attr-defined]
    try:
        if fmt == "hub":
            name, _, config = location[len(HUB_PREFIX) :].partition(":")
            loaded = datasets.load_dataset(name, config or None)  # type: ignore[attr-defined]
        else:
            loaded = datasets.load_from_disk(location)  # type: ignore[attr-defined]
    except (FileNotFoundError, ValueError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{key}: cannot load {location!r} with datasets ({first})") from None
    if not isinstance(loaded, datasets.DatasetDict):  # type: ignore[attr-defined]
        if split:
            raise ConfigError(
                f"data.split={split!r}: {location} holds one table, not splits; remove data.split"
            )
        return {WHOLE: loaded.to_pandas()}
    if split:
        if split not in loaded:
            raise ConfigError(
                f"data.split={split!r} is not a split of {location} (splits: "
                f"{', '.join(loaded)}); pick one"
            )
        return {WHOLE: loaded[split].to_pandas()}
    named = {s: loaded[s].to_pandas() for s in SPLITS if s in loaded}
    if list(named) == ["train"]:
        return {WHOLE: named["train"]}  # a train split alone: one table, split by hpo_ray
    if "train" not in named:
        raise ConfigError(
            f"{key}: {location} has splits {', '.join(loaded)} but no train split; name the "
            "one to use with data.split"
        )
    return named
