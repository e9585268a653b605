"""A plugin that misbehaves in every way a language server must survive (loaded with ``-p``).

It prints to stdout when imported (the protocol's channel), its ``exploder``
layer's argument validator raises a TypeError (pydantic does not turn that into
a validation error), and its ``crasher`` layer's shape rule divides by zero.
"""

from __future__ import annotations

from pydantic import field_validator

from cnnspec.hookspec import hookimpl
from cnnspec.layer import LayerParams, LayerShape, LayerType, torch_module

print("misbehaving plugin imported; this line must not reach the protocol stream")


class ExploderParams(LayerParams):
    size: int = 1

    @field_validator("size")
    @classmethod
    def _explode(cls, value: int) -> int:
        raise TypeError("the validator itself is broken")


class CrasherParams(LayerParams):
    out_channels: int = 4


def _identity(params, shape, ctx) -> LayerShape:
    return LayerShape(shape=tuple(shape))


def _crash(params, shape, ctx) -> LayerShape:
    return LayerShape(shape=(1 // 0,))


@hookimpl
def cnnspec_layers():
    return [
        LayerType("Exploder", ExploderParams, _identity, torch_module("Identity"), doc="raises in validation"),
        LayerType("Crasher", CrasherParams, _crash, torch_module("Identity"), doc="raises in its shape rule"),
        LayerType("Widget", CrasherParams, _identity, torch_module("Identity"), doc="a well-behaved plugin layer"),
    ]
