"""Linear, Flatten, Identity, Unflatten and the dropout family."""

from __future__ import annotations

from pydantic import Field

from cnnspec.layer import LayerParams, LayerShape, LayerType, ShapeContext, fmt_shape, torch_module
from cnnspec.symbolic import Expr, free_symbols, product

__all__ = ["LAYERS"]


class LinearParams(LayerParams):
    inferred = ("in_features",)

    in_features: int | None = Field(default=None, ge=1)
    out_features: int = Field(ge=1)
    bias: bool = True


def infer_linear(p, shape, ctx: ShapeContext) -> LayerShape:
    ctx.require_rank(range(1, 9), "features last")
    last = shape[-1]
    if isinstance(last, Expr):
        syms = ", ".join(sorted(free_symbols(last)))
        ctx.fail(
            f"in_features would depend on the input size: {last} (free: {syms})",
            hint=f"fix {syms} in `input:`, or pool to a fixed size before flatten "
            "(e.g. adaptiveavgpool2d: {output_size: 1})",
        )
    if p.in_features is not None and p.in_features != last:
        ctx.fail(
            f"in_features is {p.in_features} but the input has {last} features, {ctx.input_text()}",
            hint=f"drop in_features to infer it, or set in_features: {last}", arg="in_features",
        )
    params = last * p.out_features + (p.out_features if p.bias else 0)
    return LayerShape(
        shape=(*shape[:-1], p.out_features), params=params, macs=params,
        kwargs=p.kwargs(in_features=last), rf="global",
    )


class FlattenParams(LayerParams):
    start_dim: int = 1
    end_dim: int = -1


def infer_flatten(p, shape, ctx: ShapeContext) -> LayerShape:
    rank = len(shape) + 1  # torch's dims count the batch
    dims = []
    for what, d in (("start_dim", p.start_dim), ("end_dim", p.end_dim)):
        if not -rank <= d < rank:
            ctx.fail(f"{what} {d} is out of range for the batched input of {rank} dims, {ctx.input_text()}",
                     hint=f"{what} between {-rank} and {rank - 1}", arg=what)
        dims.append(d + rank if d < 0 else d)
    start, end = dims
    if start > end:
        ctx.fail(f"start_dim {p.start_dim} comes after end_dim {p.end_dim} for {rank} batched dims",
                 hint="start_dim: 1, end_dim: -1 flattens everything but the batch", arg=("start_dim", "end_dim"))
    if start == 0:
        ctx.fail("flattening the batch dim (start_dim 0) mixes samples together",
                 hint="start_dim: 1 keeps the batch separate", arg="start_dim")
    batched = [None, *shape]
    out = [*batched[1:start], product(batched[start : end + 1]), *batched[end + 1 :]]
    return LayerShape(shape=tuple(out), kwargs=p.kwargs())


class UnflattenParams(LayerParams):
    dim: int
    unflattened_size: list[int]


def infer_unflatten(p, shape, ctx: ShapeContext) -> LayerShape:
    rank = len(shape) + 1
    if not -rank <= p.dim < rank or (p.dim % rank) == 0:
        ctx.fail(f"dim {p.dim} must name a per-sample dim (1..{rank - 1}), {ctx.input_text()}", arg="dim")
    d = p.dim % rank
    size = ctx.concrete(shape[d - 1], f"the size of dim {p.dim}")
    sizes = list(p.unflattened_size)
    if sizes.count(-1) > 1 or any(s < -1 or s == 0 for s in sizes):
        ctx.fail(f"unflattened_size {sizes} must be positive sizes with at most one -1", arg="unflattened_size")
    known = 1
    for s in sizes:
        known *= s if s != -1 else 1
    if -1 in sizes:
        if size % known:
            ctx.fail(f"cannot unflatten {size} into {sizes}: {size} is not divisible by {known}",
                     arg="unflattened_size")
        sizes[sizes.index(-1)] = size // known
    elif known != size:
        ctx.fail(f"unflattened_size {fmt_shape(sizes)} has {known} elements, but dim {p.dim} has {size}",
                 hint=f"the sizes must multiply to {size}", arg="unflattened_size")
    out = [*shape[: d - 1], *sizes, *shape[d:]]
    return LayerShape(shape=tuple(out), kwargs=p.kwargs())


class IdentityParams(LayerParams):
    pass


def infer_identity(p, shape, ctx: ShapeContext) -> LayerShape:
    return LayerShape(shape=tuple(shape), kwargs={})


class DropoutParams(LayerParams):
    p: float = Field(default=0.5, ge=0, le=1)
    inplace: bool = False


class AlphaDropoutParams(LayerParams):
    p: float = Field(default=0.5, ge=0, le=1)
    inplace: bool = False


# per-sample ranks each dropout accepts (torch's own checks, batch excluded)
_DROPOUT_RANKS = {
    "Dropout": range(0, 9),
    "Dropout1d": (1, 2),
    "Dropout2d": range(1, 9),
    "Dropout3d": range(0, 9),
    "AlphaDropout": range(0, 9),
}


def make_dropout_infer(name: str):
    def infer(p, shape, ctx: ShapeContext) -> LayerShape:
        ctx.require_rank(_DROPOUT_RANKS[name], "see torch's " + name)
        return LayerShape(shape=tuple(shape), kwargs=p.kwargs())

    return infer


LAYERS = [
    LayerType("Linear", LinearParams, infer_linear, torch_module("Linear"), prefix="fc",
              doc="Fully connected layer on the last dim; in_features is inferred."),
    LayerType("Flatten", FlattenParams, infer_flatten, torch_module("Flatten"),
              doc="Flatten dims start_dim..end_dim (batched indices, default 1..-1)."),
    LayerType("Unflatten", UnflattenParams, infer_unflatten, torch_module("Unflatten"),
              doc="Split one dim into several."),
    LayerType("Identity", IdentityParams, infer_identity, torch_module("Identity"),
              doc="Passes its input through."),
    *(
        LayerType(name, AlphaDropoutParams if name == "AlphaDropout" else DropoutParams,
                  make_dropout_infer(name), torch_module(name), prefix="dropout",
                  doc=f"{name} with probability p; the shape is unchanged.",
                  tags=frozenset({"inplace"}))
        for name in _DROPOUT_RANKS
    ),
]
