"""Normalisation: BatchNorm1d/2d/3d, GroupNorm, LayerNorm."""

from __future__ import annotations

from pydantic import Field

from cnnspec.layer import LayerParams, LayerShape, LayerType, ShapeContext, fmt_shape, torch_module
from cnnspec.symbolic import product

__all__ = ["LAYERS"]


class BatchNormParams(LayerParams):
    inferred = ("num_features",)

    num_features: int | None = Field(default=None, ge=1)
    eps: float = Field(default=1e-5, gt=0)
    momentum: float | None = 0.1
    affine: bool = True
    track_running_stats: bool = True


def _channels(p, ctx: ShapeContext, field: str, shape) -> int:
    c = ctx.concrete(shape[0], "the channel count")
    given = getattr(p, field)
    if given is not None and given != c:
        ctx.fail(
            f"{field} is {given} but the input has {c} channels, {ctx.input_text()}",
            hint=f"drop {field} to infer it, or set {field}: {c}", arg=field,
        )
    return c


def make_bn_infer(n: int):
    ranks = [1, 2] if n == 1 else [n + 1]

    def infer(p, shape, ctx: ShapeContext) -> LayerShape:
        meaning = "features, or channels and length" if n == 1 else f"channels and {n} spatial"
        ctx.require_rank(ranks, meaning)
        c = _channels(p, ctx, "num_features", shape)
        params = 2 * c if p.affine else 0
        return LayerShape(shape=tuple(shape), params=params, macs=params, kwargs=p.kwargs(num_features=c))

    return infer


class GroupNormParams(LayerParams):
    inferred = ("num_channels",)

    num_groups: int = Field(ge=1)
    num_channels: int | None = Field(default=None, ge=1)
    eps: float = Field(default=1e-5, gt=0)
    affine: bool = True


def infer_group_norm(p, shape, ctx: ShapeContext) -> LayerShape:
    ctx.require_rank(range(1, 9), "channels first")
    c = _channels(p, ctx, "num_channels", shape)
    if c % p.num_groups:
        ctx.fail(f"{c} channels cannot be split into {p.num_groups} groups",
                 hint="num_groups must divide the channel count " + str(c), arg="num_groups")
    params = 2 * c if p.affine else 0
    return LayerShape(shape=tuple(shape), params=params, macs=params, kwargs=p.kwargs(num_channels=c))


class LayerNormParams(LayerParams):
    normalized_shape: int | list[int]
    eps: float = Field(default=1e-5, gt=0)
    elementwise_affine: bool = True
    bias: bool = True


def infer_layer_norm(p, shape, ctx: ShapeContext) -> LayerShape:
    norm = [p.normalized_shape] if isinstance(p.normalized_shape, int) else list(p.normalized_shape)
    if not norm or any(isinstance(x, bool) or x < 1 for x in norm):
        ctx.fail(f"normalized_shape must be positive integers, got {norm}", arg="normalized_shape")
    tail = list(shape[len(shape) - len(norm):]) if len(norm) <= len(shape) else None
    if tail != norm:
        ctx.fail(
            f"normalized_shape {fmt_shape(norm)} does not match the trailing dims of the input, {ctx.input_text()}",
            hint=f"normalized_shape: {fmt_shape(shape[-len(norm):]) if len(norm) <= len(shape) else fmt_shape(shape)}",
            arg="normalized_shape",
        )
    count = product(norm)
    params = 0
    if p.elementwise_affine:
        params = count * (2 if p.bias else 1)
    return LayerShape(shape=tuple(shape), params=params, macs=params, kwargs=p.kwargs())


LAYERS = [
    *(
        LayerType(f"BatchNorm{n}d", BatchNormParams, make_bn_infer(n), torch_module(f"BatchNorm{n}d"),
                  prefix="bn", doc="Batch normalisation; num_features is inferred.")
        for n in (1, 2, 3)
    ),
    LayerType("GroupNorm", GroupNormParams, infer_group_norm, torch_module("GroupNorm"), prefix="gn",
              doc="Group normalisation; num_channels is inferred."),
    LayerType("LayerNorm", LayerNormParams, infer_layer_norm, torch_module("LayerNorm"), prefix="ln",
              doc="Layer normalisation over the trailing normalized_shape dims."),
]
