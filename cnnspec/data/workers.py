"""Iterate a multi-process DataLoader so that a dead worker is named, once.

When a worker process dies (the out-of-memory killer, a SIGKILL), torch
reports it in one of two ways, depending on the moment: its SIGCHLD handler
raises ``RuntimeError: DataLoader worker (pid N) is killed by signal`` in
whatever code runs just then, or -- when the worker dies while handing a
batch's shared memory to the parent -- the parent reads a reset connection
(``ConnectionResetError``/``EOFError``) first, and the SIGCHLD handler fires
later, in the middle of whatever reports the first error. :func:`iterate`
turns the second case into the first (a :class:`WorkerDied`, a
``RuntimeError`` with torch's wording) and shuts the workers down before the
error leaves, so that no late SIGCHLD interrupts the report.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable, Iterator
from multiprocessing import active_children
from multiprocessing.connection import wait
from typing import Any, TypeVar

__all__ = ["WorkerDied", "iterate"]

T = TypeVar("T")

#: how long a worker whose connection broke may take to finish dying (the kernel closes its
#: sockets before the process becomes waitable)
DEATH_GRACE_S = 2.0


class WorkerDied(RuntimeError):
    """A DataLoader worker died while the parent read from it (torch's own message format)."""


def iterate(loader: Iterable[T]) -> Iterator[T]:
    """Yield from ``loader``; a worker death surfaces as ``RuntimeError('DataLoader worker (pid ...)')``."""
    before = {p.pid for p in active_children()}
    iterator = iter(loader)
    workers = [p for p in active_children() if p.pid not in before]
    try:
        yield from iterator
    except BaseException as exc:
        try:
            if isinstance(exc, (ConnectionError, EOFError)) and workers:
                dead = _dead(workers)
                if dead is not None:
                    raise WorkerDied(f"DataLoader worker (pid {dead[0]}) {dead[1]}") from exc
        finally:
            _shut_down(iterator)
        raise


def _dead(workers: list[Any]) -> tuple[int, str] | None:
    """The first worker that has exited, with how; ``None`` if all still run after the grace period.

    A worker's sentinel becomes ready when the kernel closes its files, a moment before the process can be
    waited for: the exit status is polled for a little longer, and a closed sentinel alone is proof enough.
    """
    deadline = time.monotonic() + DEATH_GRACE_S
    ready = wait([w.sentinel for w in workers], timeout=DEATH_GRACE_S)
    for worker in workers:
        if worker.sentinel not in ready:
            continue
        code = worker.exitcode
        while code is None and time.monotonic() < deadline:
            time.sleep(0.01)
            code = worker.exitcode
        if code is not None and code < 0:
            return worker.pid, f"is killed by signal: {signal.strsignal(-code)}"
        return worker.pid, f"exited unexpectedly with exit code {code}" if code else "exited unexpectedly"
    return None


def _shut_down(iterator: Iterator[Any]) -> None:
    """Stop the workers and unregister them from torch's SIGCHLD check now, not when the traceback that
    still holds ``iterator`` is collected. torch's iterator has no public close, only this method."""
    shut_down = getattr(iterator, "_shutdown_workers", None)
    if shut_down is not None:
        shut_down()
