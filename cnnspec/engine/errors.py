"""How a run fails when the culprit is not the spec: a callback, a DataLoader worker."""

from __future__ import annotations

import traceback

from cnnspec.exceptions import CnnspecError

__all__ = ["CallbackError", "DataWorkerError", "worker_death"]


class CallbackError(CnnspecError):
    """A callback raised: training stopped cleanly, and this names the culprit."""

    def __init__(self, label: str, event: str, exc: BaseException) -> None:
        self.label = label
        self.event = event
        self.original = exc
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
        super().__init__(f"callback '{label}' failed in {event}: {type(exc).__name__}: {exc}{where}")


class DataWorkerError(CnnspecError):
    """A DataLoader worker process died (often killed by the OOM killer).

    torch reports it from its SIGCHLD handler as a RuntimeError in whatever code
    runs at that moment (a callback, the loop), or as a broken pipe; this names
    the real culprit once.
    """


def worker_death(exc: BaseException) -> BaseException | None:
    """The DataLoader-worker failure behind ``exc``, if that is what it is."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, RuntimeError) and "DataLoader worker" in str(exc):
            return exc
        exc = getattr(exc, "original", None) or exc.__cause__ or exc.__context__
        seen += 1
    return None
