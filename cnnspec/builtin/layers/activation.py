"""Element-wise activations (shape-preserving) and (log-)softmax over a dim."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, create_model

from cnnspec.layer import LayerParams, LayerShape, LayerType, ShapeContext, torch_module

__all__ = ["LAYERS"]

# torch class name -> its keyword arguments as (type, default); "inplace" tags
# an activation whose input may be overwritten (Grad-CAM must know).
_ELEMENTWISE: dict[str, dict[str, tuple]] = {
    "ReLU": {"inplace": (bool, False)},
    "ReLU6": {"inplace": (bool, False)},
    "LeakyReLU": {"negative_slope": (float, 0.01), "inplace": (bool, False)},
    "ELU": {"alpha": (float, 1.0), "inplace": (bool, False)},
    "CELU": {"alpha": (float, 1.0), "inplace": (bool, False)},
    "SELU": {"inplace": (bool, False)},
    "GELU": {"approximate": (Literal["none", "tanh"], "none")},
    "SiLU": {"inplace": (bool, False)},
    "Mish": {"inplace": (bool, False)},
    "Hardswish": {"inplace": (bool, False)},
    "Hardsigmoid": {"inplace": (bool, False)},
    "Hardtanh": {"min_val": (float, -1.0), "max_val": (float, 1.0), "inplace": (bool, False)},
    "Sigmoid": {},
    "Tanh": {},
    "Softplus": {"beta": (float, 1.0), "threshold": (float, 20.0)},
    "Softsign": {},
    "Tanhshrink": {},
    "LogSigmoid": {},
}


def infer_elementwise(p, shape, ctx: ShapeContext) -> LayerShape:
    if getattr(p, "min_val", 0) >= getattr(p, "max_val", 1):
        ctx.fail(f"min_val {p.min_val} must be below max_val {p.max_val}", arg=("min_val", "max_val"))
    return LayerShape(shape=tuple(shape), kwargs=p.kwargs())


class PReLUParams(LayerParams):
    num_parameters: int = Field(default=1, ge=1)
    init: float = 0.25


def infer_prelu(p, shape, ctx: ShapeContext) -> LayerShape:
    if p.num_parameters != 1:
        c = ctx.concrete(shape[0], "the channel count")
        if p.num_parameters != c:
            ctx.fail(
                f"num_parameters is {p.num_parameters} but the input has {c} channels, {ctx.input_text()}",
                hint=f"num_parameters: 1 (shared) or {c} (one per channel)", arg="num_parameters",
            )
    return LayerShape(shape=tuple(shape), params=p.num_parameters, macs=p.num_parameters, kwargs=p.kwargs())


class SoftmaxParams(LayerParams):
    dim: int = 1


def infer_softmax(p, shape, ctx: ShapeContext) -> LayerShape:
    rank = len(shape) + 1  # torch sees the batch dim too
    if not -rank <= p.dim < rank:
        ctx.fail(
            f"dim {p.dim} is out of range for the batched input of {rank} dims, {ctx.input_text()}",
            hint=f"dim between {-rank} and {rank - 1}; 1 is the first per-sample dim", arg="dim",
        )
    return LayerShape(shape=tuple(shape), kwargs=p.kwargs())


def _model(cls_name: str, fields: dict[str, tuple]) -> type[LayerParams]:
    return create_model(f"{cls_name}Params", __base__=LayerParams, **fields)  # type: ignore[call-overload]


LAYERS = [
    LayerType(
        name,
        _model(name, fields),
        infer_elementwise,
        torch_module(name),
        doc=f"Element-wise {name}; the shape is unchanged.",
        tags=frozenset({"activation", "inplace"} if "inplace" in fields else {"activation"}),
    )
    for name, fields in _ELEMENTWISE.items()
]
LAYERS += [
    LayerType("PReLU", PReLUParams, infer_prelu, torch_module("PReLU"), prefix="prelu",
              doc="Parametric ReLU: one slope, or one per channel.", tags=frozenset({"activation"})),
    *(
        LayerType(name, SoftmaxParams, infer_softmax, torch_module(name),
                  doc=f"{name} over `dim` (a batched index; default 1, the first per-sample dim).")
        for name in ("Softmax", "LogSoftmax", "Softmin")
    ),
]
