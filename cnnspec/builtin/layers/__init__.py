"""Built-in layer types: the torch.nn classes the spec language knows.

Registered through :func:`cnnspec.hookspec.cnnspec_layers` like any plugin's.
The submodules are imported only when the hook is called.
"""

from __future__ import annotations

from cnnspec.hookspec import hookimpl

__all__ = ["cnnspec_layers"]

@hookimpl
def cnnspec_layers():
    from cnnspec.builtin.layers import activation, basic, conv, norm, pool

    return [*conv.LAYERS, *pool.LAYERS, *norm.LAYERS, *basic.LAYERS, *activation.LAYERS]
