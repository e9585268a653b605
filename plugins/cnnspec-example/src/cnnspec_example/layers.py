"""Layer types: params models, pure-Python shape rules, lazy builders.

No torch here: ``cnnspec validate`` runs these rules without it. The rules
reuse cnnspec's own shape helpers (:mod:`cnnspec.shapes.arithmetic`), which work on ints
and on symbolic dims (``input: [3, H, W]``) alike.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cnnspec.argtypes import Size
from cnnspec.layer import LayerParams, LayerShape, LayerType, ShapeContext
from cnnspec.shapes.arithmetic import conv_arithmetic, conv_fit_hint, conv_size, dim_names, ntuple
from cnnspec.symbolic import product

__all__ = ["CONV_BN_RELU", "SQUEEZE_EXCITE", "ConvBNReLUParams", "SqueezeExciteParams"]


# -- ConvBNReLU ------------------------------------------------------------------------------
class ConvBNReLUParams(LayerParams):
    """Conv2d without bias (BatchNorm makes it redundant), BatchNorm2d, ReLU."""

    inferred = ("in_channels",)

    in_channels: int | None = Field(default=None, ge=1, description="inferred from the input")
    out_channels: int = Field(ge=1)
    kernel_size: Size(2)  # type: ignore[valid-type]
    stride: Size(2) = 1  # type: ignore[valid-type]
    padding: Size(2, minimum=0, allow_none=False) | None = Field(  # type: ignore[valid-type]
        default=None, description="default: kernel_size // 2 (keeps the size for odd kernels at stride 1)")
    groups: int = Field(default=1, ge=1)


def infer_conv_bn_relu(p: ConvBNReLUParams, shape: tuple[Any, ...], ctx: ShapeContext) -> LayerShape:
    ctx.require_rank([3], "channels, height, width")
    c_in = ctx.concrete(shape[0], "the input channel count")
    if p.in_channels is not None and p.in_channels != c_in:
        ctx.fail(f"in_channels is {p.in_channels} but the input has {c_in} channels, {ctx.input_text()}",
                 hint=f"drop in_channels to infer it, or set in_channels: {c_in}")
    for what, count in (("in_channels", c_in), ("out_channels", p.out_channels)):
        if count % p.groups:
            ctx.fail(f"{what} {count} is not divisible by groups {p.groups}",
                     hint=f"groups must divide both {c_in} and {p.out_channels}")
    k, s = ntuple(p.kernel_size, 2), ntuple(p.stride, 2)
    pad = tuple(ki // 2 for ki in k) if p.padding is None else ntuple(p.padding, 2)
    out = []
    for size, ki, si, pi, dim in zip(shape[1:], k, s, pad, dim_names(2)):
        o = conv_size(size, ki, si, pi, 1)
        ctx.require_positive(o, what=f"output {dim}", arithmetic=conv_arithmetic(size, ki, si, pi, 1),
                             hint=conv_fit_hint(size, ki, pi, 1, "conv") if isinstance(size, int) else None)
        out.append(o)
    weights = p.out_channels * (c_in // p.groups) * k[0] * k[1]
    return LayerShape(
        shape=(p.out_channels, *out),
        params=weights + 2 * p.out_channels,  # conv weight + BatchNorm weight and bias
        macs=product([weights, *out]) + 2 * p.out_channels,
        kwargs={"in_channels": c_in, "out_channels": p.out_channels, "kernel_size": k, "stride": s,
                "padding": pad, "groups": p.groups},
        rf=tuple(zip(k, s)),
    )


def build_conv_bn_relu(kwargs: Any) -> Any:
    from cnnspec_example.modules import ConvBNReLU

    return ConvBNReLU(**kwargs)


CONV_BN_RELU = LayerType(
    name="ConvBNReLU",
    params=ConvBNReLUParams,
    infer=infer_conv_bn_relu,
    build=build_conv_bn_relu,
    prefix="cbr",
    doc="Conv2d (no bias) + BatchNorm2d + ReLU; in_channels is inferred, padding defaults to kernel_size // 2.",
    tags=frozenset({"conv"}),
)


# -- SqueezeExcite ---------------------------------------------------------------------------
class SqueezeExciteParams(LayerParams):
    """Channel attention: global average pool, bottleneck MLP, gate, rescale."""

    reduction: int = Field(default=4, ge=1, description="bottleneck width = max(1, channels // reduction)")
    gate: Literal["sigmoid", "hardsigmoid"] = "sigmoid"


def infer_squeeze_excite(p: SqueezeExciteParams, shape: tuple[Any, ...], ctx: ShapeContext) -> LayerShape:
    ctx.require_rank(range(2, 9), "channels first, then at least one spatial dim")
    channels = ctx.concrete(shape[0], "the input channel count")
    hidden = max(1, channels // p.reduction)
    params = 2 * channels * hidden + hidden + channels  # two Linear layers with bias
    return LayerShape(
        shape=tuple(shape),
        params=params,
        macs=2 * channels * hidden + product(shape),
        kwargs={"channels": channels, "hidden": hidden, "gate": p.gate},
        rf="global",  # every output is rescaled by a function of the whole input
    )


def build_squeeze_excite(kwargs: Any) -> Any:
    from cnnspec_example.modules import SqueezeExcite

    return SqueezeExcite(**kwargs)


SQUEEZE_EXCITE = LayerType(
    name="SqueezeExcite",
    params=SqueezeExciteParams,
    infer=infer_squeeze_excite,
    build=build_squeeze_excite,
    prefix="se",
    doc="Squeeze-and-Excitation channel attention; the shape is unchanged.",
)
