"""SIGINT/SIGTERM during training: stop cleanly once, stop at once the second time.

The first signal asks the trainer to stop (:meth:`Trainer.request_stop`): the
current optimizer step finishes, callbacks get ``on_interrupt`` (the
checkpoint callback writes a resumable state there), no test pass runs, and
the command exits with ``128 + signal number`` (130 for SIGINT, 143 for
SIGTERM), the shell's convention for "ended by that signal", so job
schedulers and scripts see an interrupted run rather than a finished one,
and can requeue it with ``cnnspec train --resume RUN_DIR``.

A second signal while that is happening restores the default action and
re-sends the signal to the process: it dies at once, as an impatient Ctrl-C
expects. Checkpoint files are written atomically, so even that leaves the
previous checkpoint usable.

Handlers can only be installed from the main thread; elsewhere (a notebook
worker thread) this does nothing, and the previous handlers are always
restored on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["HANDLED", "exit_code", "signal_from_reason", "stop_on_signals"]

#: signals that request a clean stop
HANDLED = (signal.SIGINT, signal.SIGTERM)


def _say(stream: TextIO | None, text: str) -> None:
    """Write from a signal handler without the buffered-IO reentrancy trap (os.write)."""
    stream = stream or sys.stderr
    try:
        os.write(stream.fileno(), text.encode())
    except (OSError, ValueError, AttributeError):
        with contextlib.suppress(Exception):
            stream.write(text)


@contextlib.contextmanager
def stop_on_signals(trainer: Any, *, stream: TextIO | None = None) -> Iterator[list[int]]:
    """Install the handlers for the duration of a ``with`` block.

    Yields the list of signal numbers received so far (for the exit code).
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if received:  # the second one: no more waiting
            _say(stream, f"\ncnnspec: {name} again: stopping now\n")
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        received.append(signum)
        trainer.request_stop(f"received {name}")
        key = "Ctrl-C" if signum == signal.SIGINT else name
        _say(stream, f"\ncnnspec: {name} received: finishing the current step and saving a checkpoint "
                     f"(send {key} again to stop at once)\n")

    previous: dict[int, Any] = {}
    try:
        for sig in HANDLED:
            previous[sig] = signal.signal(sig, handler)
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def signal_from_reason(reason: str | None) -> int | None:
    """The signal number in a stop reason such as ``"received SIGTERM"``."""
    for word in (reason or "").replace(",", " ").split():
        if word.startswith("SIG") and hasattr(signal, word) and isinstance(getattr(signal, word), signal.Signals):
            return int(getattr(signal, word))
    return None


def exit_code(stop_reason: str | None, *, default: int = 130) -> int:
    """The exit status of an interrupted run: ``128 + signum`` when a signal
    stopped it (``"received SIGTERM"`` gives 143), else ``default``."""
    signum = signal_from_reason(stop_reason)
    return 128 + signum if signum is not None else default
