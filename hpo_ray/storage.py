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
import logging
import os
import posixpath
import secrets
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from hpo_ray.errors import ConfigError
from hpo_ray.layout import (
    CONFIG_FILE,
    EXPERIMENT_STATE_GLOB,
    LOCK_SUFFIX,
    MODEL_LABELS,
    MODEL_METRICS,
    OWNER_MARK,
    TUNE_CHECKPOINT_GLOB,
)

log = logging.getLogger(__name__)

WORK_ROOT_ENV = "HPO_RAY_WORK_DIR"
"""Where work copies are made (default: the system's temporary folder)."""


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A fresh temporary file beside ``path`` for the ``with`` block to write; on success it
    replaces ``path`` in one step (``os.replace``), so a crash or a second Ctrl-C never leaves a
    half-written file, and a symlink at ``path`` is replaced, never written through. The file
    gets the user's normal permissions (umask)."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_file(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (``replacing``)."""
    with replacing(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def normal_permissions(folder: Path) -> None:
    """Give ``folder`` and all it holds the user's normal permissions (made through a private
    temporary folder, it would be readable by its owner only)."""
    mask = current_umask()
    for root, _, files in os.walk(folder):
        os.chmod(root, 0o777 & ~mask)
        for name in files:
            target = os.path.join(root, name)
            if not os.path.islink(target):
                os.chmod(target, 0o666 & ~mask)


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


EXPERIMENT_KIND = "experiment"
MODEL_KIND = "model"
_SIGNS = {
    EXPERIMENT_KIND: (CONFIG_FILE, EXPERIMENT_STATE_GLOB),
    MODEL_KIND: (MODEL_LABELS, MODEL_METRICS),
}
"""What a folder of each kind made before the marker existed holds (every pattern matched)."""


OWNER_LINE = "owner: "
"""The marker's line naming the user who made the folder (``user_id``)."""


def config_folder() -> Path:
    """This user's hpo_ray config folder: ``$XDG_CONFIG_HOME/hpo_ray`` (``~/.config/hpo_ray``)."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "hpo_ray"


def user_id(*, make: bool = True) -> str | None:
    """This user's random hpo_ray id (``user_id`` in ``config_folder()``), which the markers of
    the folders they make carry; made on first use (None when absent and ``make`` is false)."""
    path = config_folder() / "user_id"
    if not path.is_file() and make:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with suppress(FileExistsError), open(path, "x") as f:  # another process may win
            f.write(secrets.token_hex(16) + "\n")
    if not path.is_file():
        return None
    return path.read_text().strip() or None


def mark_owned(folder: Path, kind: str) -> None:
    """Mark ``folder`` as one hpo_ray made for this user (``kind``: experiment or model): only
    a marked folder is ever removed by ``--overwrite``, and only one marked with this user's
    id is resumed without ``--trust-folder``."""
    write_file(
        folder / OWNER_MARK,
        f"{kind} folder made by hpo_ray; --overwrite may remove it\n{OWNER_LINE}{user_id()}\n",
    )


_TRUSTED: set[str] = set()
"""Locations this process was told to trust (``--trust-folder``)."""


def trust(location: str | Path) -> None:
    """Trust the experiment at ``location`` for this process as if this user made it (an
    object store's: its work copy too)."""
    place = location_of(location)
    _TRUSTED.update({place, location_of(work_folder(place))})


def made_elsewhere(location: str | Path) -> bool:
    """Whether the experiment at ``location`` (its local folder or work copy) was made by
    someone else, or by this user on another machine: its marker lacks this user's id and it
    was not trusted (``trust``)."""
    place = location_of(location)
    return place not in _TRUSTED and not made_by_this_user(work_folder(place))


def made_by_this_user(folder: Path) -> bool:
    """Whether ``folder`` (local) holds hpo_ray's marker with this user's id."""
    mark, me = folder / OWNER_MARK, user_id(make=False)
    if me is None or not mark.is_file():
        return False
    lines = mark.read_text(errors="replace").splitlines()
    return f"{OWNER_LINE}{me}" in lines


def top_names(location: str | Path) -> list[str]:
    """The names directly inside ``location`` (folder or URI); empty where it is absent."""
    if not is_uri(location):
        folder = Path(location)
        return [p.name for p in folder.iterdir()] if folder.is_dir() else []
    from pyarrow import fs as pafs

    fs, path = filesystem(location)
    try:
        found = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False))
    except Exception as exc:
        raise ConfigError(f"{location!r}: cannot list it ({one_line(exc)})") from None
    return [info.base_name for info in found]


def owned(location: str | Path, kind: str) -> bool:
    """Whether hpo_ray made the folder ``location``: it holds the marker, or (made before the
    marker) the files every folder of ``kind`` holds."""
    names = top_names(location)
    if OWNER_MARK in names:
        return True
    return all(any(fnmatch.fnmatch(n, pattern) for n in names) for pattern in _SIGNS[kind])


def work_root() -> Path:
    """The folder work copies are made in: private to this user (mode 0700, owned by them, not
    a symlink), under ``HPO_RAY_WORK_DIR`` or the system's temporary folder."""
    base = Path(os.environ.get(WORK_ROOT_ENV) or tempfile.gettempdir())
    root = base / f"hpo_ray-work-{os.getuid()}"
    with suppress(FileExistsError):
        root.mkdir(mode=0o700, parents=True)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ConfigError(
            f"work folder {root} is not a private folder of this user; remove it, or set "
            f"{WORK_ROOT_ENV} to a folder of your own"
        )
    return root


def work_folder(location: str | Path) -> Path:
    """The local folder that stands for ``location`` while a command runs: the folder itself,
    or, for a URI, a work copy under the temporary folder (``HPO_RAY_WORK_DIR``)."""
    if not is_uri(location):
        return Path(location)
    root = work_root()
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
            if rel.startswith("../") or rel == ".." or posixpath.isabs(rel) or "\\" in rel:
                raise ConfigError(
                    f"{self.location}: object key {info.path!r} would land outside the work "
                    "copy; remove that object from the store"
                )
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

    def prune(self) -> list[str]:
        """Delete the store's files this copy does not hold (after ``push``: what an older
        version left), Tune's checkpoints aside; returns their relative paths."""
        if not self.remote:
            return []
        from pyarrow import fs as pafs

        fs, base = filesystem(self.location)
        infos = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True, recursive=True))
        gone = []
        for info in infos:
            rel = posixpath.relpath(info.path, base)
            if info.type == pafs.FileType.File and not (self.local / rel).is_file():
                fs.delete_file(info.path)
                gone.append(rel)
        return gone

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
        except Exception:
            if copy.remote:  # nothing is lost: the local copy stays where it is
                log.error(
                    "could not upload to %s; the local copy is kept in %s", location, copy.local
                )
            raise
        copy.discard()


@contextmanager
def held_lock(location: str | Path, make_parent: bool = False) -> Iterator[Path | None]:
    """Hold the lock of the experiment at ``location`` for the ``with`` block: a file
    ``<location>.hpo_ray.lock`` beside the folder, made by exclusive create and holding this
    process's pid and host. A lock another live process holds is refused in one line; one
    whose process is gone (on this host) is taken over with a warning. An object store's
    experiment has no lock, nor one whose parent folder is not there unless ``make_parent``
    (yields None)."""
    folder = Path(location)
    path = folder.with_name(folder.name + LOCK_SUFFIX)
    made: list[Path] = []  # parents made here: removed again if left empty
    if make_parent and not is_uri(location):
        made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
    if is_uri(location) or not path.parent.is_dir():
        yield None
        return
    host, me = socket.gethostname(), os.getpid()
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _lock_holder(path)
            if holder is None and _age(path) < 10.0:  # being written by who just made it
                holder = (0, "another process")
            if holder is not None and (holder[1] != host or holder[0] == 0 or _alive(holder[0])):
                raise ConfigError(
                    f"{folder} is in use by process {holder[0]} on {holder[1]} (lock {path}); "
                    "wait for it to end or pick another run.name=..."
                ) from None
            log.warning("taking over the lock %s of a process that is gone", path)
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{me} {host}\n")
        break
    else:
        raise ConfigError(f"cannot take the lock {path}; remove it if no hpo-ray command runs")
    try:
        yield path
    finally:
        if _lock_holder(path) == (me, host):
            path.unlink(missing_ok=True)
        for parent in made:  # deepest first: a refused run leaves no empty folders behind
            with suppress(OSError):
                parent.rmdir()


def _lock_holder(path: Path) -> tuple[int, str] | None:
    """The pid and host a lock file names (None where it cannot be read)."""
    try:
        pid, host = path.read_text().split()[:2]
        return int(pid), host
    except (OSError, ValueError):
        return None


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
