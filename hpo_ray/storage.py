"""Where an experiment and its model live: a local (or NFS) folder, or an object store.

``run.storage`` and ``run.trained_dir`` take a folder or a URI that pyarrow opens (``s3://``,
``gs://``, ``abfs://``, ``hdfs://``). Ray Tune writes trials to a URI itself; the driver's
own files (the config, the SQLite study mirror, the report, the refit model) are made in a
local *work copy* of the location and uploaded as they change, and the work copy is removed
when the command ends, so the object store is the only lasting home of the results.

S3 credentials and endpoint come from the usual places (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` for an S3-compatible
server such as MinIO), read by pyarrow.

Example::

    with work_copy("s3://bucket/runs/demo") as copy:
        copy.pull()                  # the trials' files (Tune checkpoints stay remote)
        write_report(copy.local)     # local reading and drawing
        copy.push()                  # what changed goes back
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hpo_ray.errors import ConfigError
from hpo_ray.layout import TUNE_CHECKPOINT_GLOB

WORK_ROOT_ENV = "HPO_RAY_WORK_DIR"
"""Where work copies are made (default: the system's temporary folder)."""


def is_uri(location: str | Path) -> bool:
    """Whether ``location`` names an object store (``scheme://...``) rather than a folder."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def join(location: str | Path, *names: str) -> str:
    """``location`` with ``names`` appended (``/`` for URIs, the OS's rule for folders)."""
    if is_uri(location):
        return posixpath.join(str(location).rstrip("/"), *names)
    return str(Path(location, *names))


def filesystem(location: str | Path, key: str = "") -> tuple[Any, str]:
    """pyarrow's filesystem for ``location`` and the path on it; a URI pyarrow cannot open is
    refused in one line (naming the config ``key`` it came from, if given)."""
    from pyarrow import fs

    text = str(location)
    if not is_uri(text):
        return fs.LocalFileSystem(), os.path.abspath(text)
    try:
        return fs.FileSystem.from_uri(text)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError or its own errors
        named = f"{key}={text!r}" if key else repr(text)
        raise ConfigError(
            f"{named}: pyarrow cannot open this location ({one_line(exc)}); use a folder or "
            "a URI such as s3://bucket/prefix"
        ) from None


def one_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def unreachable(named: str, exc: BaseException) -> ConfigError:
    """The one-line refusal of a store that did not answer."""
    return ConfigError(
        f"{named}: the store does not answer ({one_line(exc)}); check the endpoint "
        "(AWS_ENDPOINT_URL) and credentials"
    )


def location_of(experiment: str | Path) -> str:
    """A folder or URI the user named, as a location: a URI unchanged, a folder absolute."""
    text = str(experiment)
    return text.rstrip("/") if is_uri(text) else str(Path(text).resolve())


def check_location(key: str, location: str) -> None:
    """Refuse an object-store location that cannot be reached or whose bucket is missing,
    before any work starts."""
    fs, path = filesystem(location, key)
    bucket = path.split("/", 1)[0]
    try:
        info = fs.get_file_info(bucket)
    except Exception as exc:
        raise unreachable(f"{key}={location!r}", exc) from None
    from pyarrow import fs as pafs

    if info.type == pafs.FileType.NotFound:
        raise ConfigError(f"{key}={location!r}: bucket {bucket!r} does not exist; create it first")


def holds_files(location: str | Path) -> bool:
    """Whether ``location`` (folder or URI) exists and is not empty."""
    if not is_uri(location):
        folder = Path(location)
        return folder.is_dir() and any(folder.iterdir())
    fs, path = filesystem(location)
    from pyarrow import fs as pafs

    try:
        found = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False))
    except Exception as exc:
        raise ConfigError(f"{location!r}: cannot list it ({one_line(exc)})") from None
    return bool(found)


def delete(location: str | Path) -> None:
    """Remove the folder ``location`` (folder or URI) and all it holds; nothing if absent."""
    if not is_uri(location):
        shutil.rmtree(location, ignore_errors=True)
        return
    fs, path = filesystem(location)
    try:
        fs.delete_dir(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if "not found" not in str(exc).lower() and "does not exist" not in str(exc).lower():
            raise


def subfolders(location: str | Path, pattern: str) -> list[str]:
    """The folders directly inside ``location`` whose names match ``pattern``, as locations."""
    if not is_uri(location):
        return [str(p) for p in Path(location).glob(pattern) if p.is_dir()]
    from pyarrow import fs as pafs

    fs, path = filesystem(location)
    found = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return [
        join(location, info.base_name)
        for info in found
        if info.type == pafs.FileType.Directory and fnmatch.fnmatch(info.base_name, pattern)
    ]


def work_folder(location: str | Path) -> Path:
    """The local folder that stands for ``location`` while a command runs: the folder itself,
    or, for a URI, a work copy under the temporary folder (``HPO_RAY_WORK_DIR``)."""
    if not is_uri(location):
        return Path(location)
    root = Path(os.environ.get(WORK_ROOT_ENV) or tempfile.gettempdir()) / "hpo_ray-work"
    digest = hashlib.sha1(str(location).rstrip("/").encode()).hexdigest()[:16]
    return root / digest


Stamp = tuple[int, int]
"""A local file's size and modification time (what ``push`` compares)."""


class WorkCopy:
    """A local copy of an object-store folder for one command (for a local folder: the folder
    itself, and ``pull``/``push`` do nothing).

    ``pull`` downloads what the folder holds but Tune's checkpoints (a resume reads those
    from the store itself); ``push`` uploads the files that are new or changed since the last
    pull or push. Picklable: a Tune callback carries one to push while trials run."""

    def __init__(self, location: str | Path, local: Path | None = None) -> None:
        self.location = str(location)
        self.remote = is_uri(location)
        self.local = work_folder(location) if local is None else local
        """The local copy (default ``work_folder(location)``)."""
        self.stamps: dict[str, Stamp] = {}
        """Local files as last pulled or pushed (a changed one is pushed)."""
        self.seen: dict[str, Stamp] = {}
        """Store files (size, modification time) as last pulled (a changed one is pulled)."""

    def pull(self, skip: tuple[str, ...] = (TUNE_CHECKPOINT_GLOB,)) -> None:
        """Download the folder's files, leaving out folders whose names match ``skip``."""
        if not self.remote:
            return
        from pyarrow import fs as pafs

        fs, base = filesystem(self.location)
        try:
            infos = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True, recursive=True))
        except OSError as exc:
            raise unreachable(self.location, exc) from None
        local_fs = pafs.LocalFileSystem()
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            rel = posixpath.relpath(info.path, base)
            if any(fnmatch.fnmatch(part, pattern) for part in rel.split("/") for pattern in skip):
                continue
            target = self.local / rel
            seen = (info.size or 0, info.mtime_ns or 0)
            if self.seen.get(rel) == seen and self._stamp(target) == self.stamps.get(rel):
                continue  # pulled before, and changed neither there nor here
            target.parent.mkdir(parents=True, exist_ok=True)
            pafs.copy_files(
                info.path,
                str(target),
                source_filesystem=fs,
                destination_filesystem=local_fs,
            )
            self.seen[rel] = seen
            self.stamps[rel] = self._stamp(target) or (0, 0)

    def push(self, top_only: bool = False) -> list[str]:
        """Upload the local files that are new or changed (``top_only``: those directly in the
        folder, not in its subfolders); returns their relative paths."""
        if not self.remote or not self.local.is_dir():
            return []
        from pyarrow import fs as pafs

        fs, base = filesystem(self.location)
        local_fs = pafs.LocalFileSystem()
        sent = []
        files = self.local.glob("*") if top_only else self.local.rglob("*")
        for path in sorted(p for p in files if p.is_file()):
            rel = path.relative_to(self.local).as_posix()
            stamp = self._stamp(path)
            if stamp is None or self.stamps.get(rel) == stamp:
                continue
            fs.create_dir(posixpath.dirname(posixpath.join(base, rel)), recursive=True)
            pafs.copy_files(
                str(path),
                posixpath.join(base, rel),
                source_filesystem=local_fs,
                destination_filesystem=fs,
            )
            self.stamps[rel] = stamp
            sent.append(rel)
        return sent

    def discard(self) -> None:
        """Remove the local copy (a URI's only; a local folder is the results themselves)."""
        if self.remote:
            shutil.rmtree(self.local, ignore_errors=True)
            self.stamps.clear()
            self.seen.clear()

    @staticmethod
    def _stamp(path: Path) -> Stamp | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns


@contextmanager
def work_copy(location: str | Path) -> Iterator[WorkCopy]:
    """A ``WorkCopy`` of ``location`` for the ``with`` block: a leftover local copy is removed
    first, and on the way out (also after an error) what changed is pushed and the local copy
    removed."""
    copy = WorkCopy(location)
    copy.discard()
    try:
        yield copy
    finally:
        try:
            copy.push()
        finally:
            copy.discard()
