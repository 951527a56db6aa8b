"""Peak memory of a process tree, for the benchmark scripts (the driver, Ray's raylet, GCS and
workers all count)."""

from __future__ import annotations

import contextlib
import threading


class TreeRss:
    """Samples the summed RSS of a process and all its descendants; keeps the peak (MB).

    Use as a context manager around the child's lifetime: ``with TreeRss(proc.pid) as tree``.
    """

    def __init__(self, pid: int, every_s: float = 0.5) -> None:
        self.pid, self.every_s, self.peak_mb = pid, every_s, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak_mb = max(self.peak_mb, total / 1e6)
            self._stop.wait(self.every_s)
