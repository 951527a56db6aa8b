"""Ctrl-C during a search: Tune stops the trials and saves its state, and hpo_ray knows it.

Example::

    with stoppable() as stop:
        tuner.fit()
    if stop.requested:
        ...  # no reseed, no refit: say how to resume, exit 130
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)


class StopRequest:
    """Whether the user pressed Ctrl-C while ``stoppable`` held (``requested``)."""

    requested = False


_ACTIVE: list[StopRequest] = []


def stop_requested() -> bool:
    """Whether Ctrl-C stopped the ``Tuner.fit()`` running in this process (Tune callbacks
    ask: a stopped trial is not finished, its checkpoints stay for the resume)."""
    return any(r.requested for r in _ACTIVE)


@contextlib.contextmanager
def stoppable() -> Iterator[StopRequest]:
    """Ctrl-C for a ``Tuner.fit()`` inside the block: the first one asks Tune to stop the
    trials and save its state (through Tune's own SIGUSR1 stop) and is remembered in the
    yielded ``StopRequest``, so the caller stops too instead of going on as if the search had
    ended; a second one raises ``KeyboardInterrupt`` at once. Off the main thread, or where
    there is no SIGUSR1, Ctrl-C keeps Tune's own handling."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGUSR1"):
        yield request
        return

    def on_sigint(signum: int, frame: Any) -> None:
        if request.requested:
            raise KeyboardInterrupt
        request.requested = True
        log.warning("Ctrl-C: stopping the trials and saving the search (Ctrl-C again: quit now)")
        os.kill(os.getpid(), signal.SIGUSR1)

    before = signal.signal(signal.SIGINT, on_sigint)
    _ACTIVE.append(request)
    env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"  # Tune's own would end fit() unnoticed
    try:
        yield request
    finally:
        _ACTIVE.remove(request)
        signal.signal(signal.SIGINT, before)
        if env is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = env
