"""Convolutions: Conv1d, Conv2d, Conv3d — one rule for N spatial dims."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnnspec.argtypes import Padding, Size
from cnnspec.layer import LayerParams, LayerShape, LayerType, ShapeContext, torch_module
from cnnspec.shapes.arithmetic import conv_arithmetic, conv_fit_hint, conv_size, dim_names, ntuple, same_padding
from cnnspec.symbolic import product

__all__ = ["LAYERS"]


def _params_model(n: int) -> type[LayerParams]:
    class ConvParams(LayerParams):
        inferred = ("in_channels",)

        in_channels: int | None = Field(default=None, ge=1)
        out_channels: int = Field(ge=1)
        kernel_size: Size(n)  # type: ignore[valid-type]
        stride: Size(n) = 1  # type: ignore[valid-type]
        padding: Padding(n) = 0  # type: ignore[valid-type]
        dilation: Size(n) = 1  # type: ignore[valid-type]
        groups: int = Field(default=1, ge=1)
        bias: bool = True
        padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"

    ConvParams.__name__ = ConvParams.__qualname__ = f"Conv{n}dParams"
    return ConvParams


def _check_padding_mode(p, ctx: ShapeContext, sizes, pads, names) -> None:
    """reflect needs pad < size; circular needs pad <= size (torch's F.pad rules)."""
    if p.padding_mode not in ("reflect", "circular"):
        return
    for size, (left, right), dim in zip(sizes, pads, names):
        worst = max(left, right)
        if p.padding_mode == "reflect":
            margin, rule = size - worst, f"{dim} {size} - padding {worst}"
            hint = f"reflect padding must be smaller than the {dim}; use padding <= {size} - 1"
        else:
            margin, rule = size - worst + 1, f"{dim} {size} - padding {worst} + 1"
            hint = f"circular padding cannot wrap more than once; use padding <= {size}"
        ctx.require_positive(
            margin, what=f"the {p.padding_mode} padding margin of the {dim}", arithmetic=f"{rule} = {margin}",
            hint=hint, arg=("padding", "padding_mode"),
        )


def make_infer(n: int):
    def infer(p, shape, ctx: ShapeContext) -> LayerShape:
        ctx.require_rank([n + 1], f"channels and {n} spatial")
        c_in = ctx.concrete(shape[0], "the input channel count")
        if p.in_channels is not None and p.in_channels != c_in:
            ctx.fail(
                f"in_channels is {p.in_channels} but the input has {c_in} channels, {ctx.input_text()}",
                hint=f"drop in_channels to infer it, or set in_channels: {c_in}", arg="in_channels",
            )
        for what, count in (("in_channels", c_in), ("out_channels", p.out_channels)):
            if count % p.groups:
                ctx.fail(
                    f"{what} {count} is not divisible by groups {p.groups}",
                    hint=f"groups must divide both {c_in} input and {p.out_channels} output channels",
                    arg="groups",
                )
        k, s, d = ntuple(p.kernel_size, n), ntuple(p.stride, n), ntuple(p.dilation, n)
        names = dim_names(n)
        sizes = shape[1:]
        if p.padding == "same":
            if any(x != 1 for x in s):
                ctx.fail("padding='same' is not supported for strided convolutions (torch refuses it)",
                         hint="use stride 1, or an explicit padding such as padding: " + str(k[0] // 2),
                         arg=("padding", "stride"))
            pads = [same_padding(ki, di) for ki, di in zip(k, d)]
            _check_padding_mode(p, ctx, sizes, pads, names)
            out = tuple(sizes)
        else:
            pad = (0,) * n if p.padding == "valid" else ntuple(p.padding, n)
            _check_padding_mode(p, ctx, sizes, [(x, x) for x in pad], names)
            out = []
            for size, ki, si, pi, di, dim in zip(sizes, k, s, pad, d, names):
                o = conv_size(size, ki, si, pi, di)
                hint = conv_fit_hint(size, ki, pi, di, "conv") if isinstance(size, int) else None
                arithmetic = conv_arithmetic(size, ki, si, pi, di)
                ctx.require_positive(o, what=f"output {dim}", arithmetic=arithmetic, hint=hint,
                                     arg=("dilation", "kernel_size") if di > 1 else "kernel_size")
                out.append(o)
            out = tuple(out)
        weights = p.out_channels * (c_in // p.groups) * product(k)
        params = weights + (p.out_channels if p.bias else 0)
        return LayerShape(
            shape=(p.out_channels, *out),
            params=params,
            macs=product([params, *out]),
            kwargs=p.kwargs(in_channels=c_in),
            rf=tuple((di * (ki - 1) + 1, si) for ki, si, di in zip(k, s, d)),
        )

    return infer


LAYERS = [
    LayerType(
        name=f"Conv{n}d",
        params=_params_model(n),
        infer=make_infer(n),
        build=torch_module(f"Conv{n}d"),
        prefix="conv",
        doc=f"{n}-D convolution; in_channels is inferred from the input.",
        tags=frozenset({"conv"}),
    )
    for n in (1, 2, 3)
]
