"""The plugin contract: every hook cnnspec calls, with its reference docs.

A plugin is a module (or object) with functions marked ``@cnnspec.hookimpl``
whose names are hook names below. cnnspec finds plugins through the
``cnnspec`` entry-point group, exactly as pytest finds ``pytest11`` plugins,
and its own built-in layers, datasets, optimizers, losses, schedulers,
transforms and callbacks are registered through these same hooks.

Registration hooks take no arguments and return an iterable of definitions;
each result is attributed to the plugin that returned it, so a duplicate name
is reported with both providers and either can be chosen as ``plugin:name``.
Hooks are called with keyword arguments only; a hookimpl may accept fewer
arguments than its spec (later versions may add some), never others.

A misspelled hook name, or an argument the spec does not have, marks the
plugin as broken with a suggestion; other plugins keep working.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from cnnspec.component import Component
    from cnnspec.layer import LayerType

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "cnnspec"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def cnnspec_layers() -> Iterable[LayerType]:
    """Layer types usable in ``model:``.

    Each :class:`cnnspec.layer.LayerType` carries a pydantic params model (the
    spec arguments, torch keyword names), a pure-Python shape rule (called by
    ``cnnspec validate`` without torch), and a builder returning the
    ``torch.nn.Module``. The name is matched case-insensitively in specs.
    """


@hookspec
def cnnspec_datasets() -> Iterable[Component]:
    """Datasets usable as ``data: {dataset: NAME}``.

    The factory is called with the spec's dataset arguments and returns the
    dataset splits; see :mod:`cnnspec.data` for the exact protocol.
    """


@hookspec
def cnnspec_optimizers() -> Iterable[Component]:
    """Optimizers for ``train: {optimizer: {NAME: {args}}}``.

    The factory is called as ``factory(params, **args)`` like a
    ``torch.optim.Optimizer`` class.
    """


@hookspec
def cnnspec_losses() -> Iterable[Component]:
    """Losses for ``train: {loss: NAME}``; the factory returns a callable
    ``loss(output, target) -> Tensor`` (a ``torch.nn`` loss module)."""


@hookspec
def cnnspec_schedulers() -> Iterable[Component]:
    """Learning-rate schedulers for ``train: {scheduler: {NAME: {args}}}``;
    called as ``factory(optimizer, **args)`` like ``torch.optim.lr_scheduler``."""


@hookspec
def cnnspec_transforms() -> Iterable[Component]:
    """Data transforms for ``data: {transforms: [...]}``; the factory
    returns a callable applied to an image tensor (torchvision v2 style)."""


@hookspec
def cnnspec_callbacks() -> Iterable[Component]:
    """Callbacks for ``callbacks: [...]``; the factory returns a
    :class:`cnnspec.callbacks.Callback` built from the spec arguments."""
