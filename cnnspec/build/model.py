"""ShapeTrace → ``torch.nn.Sequential`` with the spec's names as module names.

The builder trusts inference: every constructor argument (``in_channels``
and friends included) was computed and checked statically, so building is a
walk that calls each layer type's ``build`` with its ``kwargs``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from cnnspec.shapes.walker import LayerInfo, ShapeTrace, infer_shapes
from cnnspec.spec import Spec

__all__ = ["build_from_trace", "build_model"]


def _build(info: LayerInfo) -> Any:
    from torch import nn

    from cnnspec.build.modules import Concat, Residual

    if info.kind == "layer":
        assert info.layer_type is not None
        return info.layer_type.build(info.kwargs)
    if info.kind == "residual":
        body = _build(info.children[0])
        shortcut = _build(info.children[1]) if len(info.children) > 1 else None
        return Residual(body, shortcut)
    if info.kind == "concat":
        return Concat({c.name: _build(c) for c in info.children}, dim=info.extra["dim"])
    return nn.Sequential(OrderedDict((c.name, _build(c)) for c in info.children))


def build_from_trace(trace: ShapeTrace) -> Any:
    """The ``nn.Sequential`` for an inferred trace."""
    from torch import nn

    return nn.Sequential(OrderedDict((info.name, _build(info)) for info in trace.layers))


def build_model(spec: Spec) -> Any:
    """Build the spec's model; raises ``ShapeError`` first if shapes do not fit."""
    return build_from_trace(infer_shapes(spec))
