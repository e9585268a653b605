"""How a run fails when the culprit is not the spec: a callback, a DataLoader worker."""

from __future__ import annotations

from cnnspec.exceptions import CallbackError, DataWorkerError

__all__ = ["CallbackError", "DataWorkerError", "worker_death"]


def worker_death(exc: BaseException) -> BaseException | None:
    """The DataLoader-worker failure behind ``exc``, if that is what it is."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, RuntimeError) and "DataLoader worker" in str(exc):
            return exc
        exc = getattr(exc, "original", None) or exc.__cause__ or exc.__context__
        seen += 1
    return None
