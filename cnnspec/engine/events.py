"""Telling callbacks about training events: the one dispatcher.

The events are the hooks of :class:`cnnspec.callbacks.Callback`: every
public method of the base except its resume-state pair (``state_dict``,
``load_state_dict``), in the order the base defines them. Adding an event is
one no-op method on the base and one :meth:`Dispatcher.dispatch` call in
the loop.

Each event goes only to the callbacks that override it, so an event nobody
listens to (``on_train_batch_end`` for most runs) costs an empty loop.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from cnnspec.callbacks.base import Callback
from cnnspec.engine.errors import CallbackError
from cnnspec.exceptions import SpecError

__all__ = ["EVENTS", "Dispatcher"]

_NOT_EVENTS = frozenset({"state_dict", "load_state_dict"})

#: the events, in the order :class:`~cnnspec.callbacks.Callback` defines them
EVENTS: tuple[str, ...] = tuple(
    name for name, value in vars(Callback).items()
    if inspect.isfunction(value) and not name.startswith("_") and name not in _NOT_EVENTS)


class Dispatcher:
    """Calls ``callback.<event>(trainer, *args)`` on the callbacks that override ``event``.

    ``callbacks`` are ``(label, callback)`` pairs in dispatch order; the label
    names a failing callback. Objects that do not subclass
    :class:`~cnnspec.callbacks.Callback` take part with the events they define.
    """

    def __init__(self, callbacks: Sequence[tuple[str, Any]]) -> None:
        self._listeners = {event: _listeners(callbacks, event) for event in EVENTS}

    def listeners(self, event: str) -> list[tuple[str, Callable[..., Any]]]:
        """``(label, bound method)`` of the callbacks that override ``event``."""
        return self._listeners[event]

    def dispatch(self, trainer: Any, event: str, *args: Any) -> None:
        """Deliver ``event``; a callback that raises stops training as :class:`CallbackError`,
        except a :class:`~cnnspec.exceptions.SpecError` (a located spec mistake), which passes unchanged."""
        for label, method in self._listeners[event]:
            try:
                method(trainer, *args)
            except SpecError:  # a located mistake in the spec (a monitor no metric provides): exit 2
                raise
            except Exception as exc:
                raise CallbackError(label, event, exc) from exc

    def dispatch_quietly(self, trainer: Any, event: str, *args: Any) -> None:
        """For ``on_exception``/``teardown``: every callback gets the event whatever the others do."""
        for label, method in self._listeners[event]:
            try:
                method(trainer, *args)
            except Exception as exc:  # already failing: report, keep cleaning up
                warnings.warn(f"callback '{label}' failed in {event}: {type(exc).__name__}: {exc}", stacklevel=2)


def _listeners(callbacks: Sequence[tuple[str, Any]], event: str) -> list[tuple[str, Callable[..., Any]]]:
    base = getattr(Callback, event)
    out = []
    for label, callback in callbacks:
        impl = getattr(type(callback), event, None)
        if impl is None or impl is base:
            continue
        out.append((label, getattr(callback, event)))
    return out
