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

from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def read_tables(cfg: DataConfig) -> dict[str, pd.DataFrame]:
    """The configured tables as frames, by split (``all`` for one table to be split)."""
    check_sources(cfg)
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


def read_file(path: Path, fmt: str, key: str) -> pd.DataFrame:
    import pandas as pd

    try:
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        elif fmt == "jsonl":
            frame = pd.read_json(path, lines=True)
        else:
            frame = pd.read_csv(path, sep="\t" if fmt == "tsv" else ",")
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{key}: {path} is empty; it needs a header and rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{key}: {path} is not a readable {fmt} file ({first}); fix it or set data.format"
        ) from None
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
