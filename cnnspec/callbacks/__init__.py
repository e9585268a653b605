"""Callbacks: objects the engine notifies of training events.

This package holds the base class; each built-in callback lives in its own
module and is registered through :func:`cnnspec.hookspec.cnnspec_callbacks`
like any plugin's.
"""

from cnnspec.callbacks.base import Callback, TrainerView

__all__ = ["Callback", "TrainerView"]
