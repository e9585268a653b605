"""The ``backbone`` layer type: its arguments and its static shape rule.

The rule runs cnnspec's own inference over the architecture's description
(:mod:`cnnspec.builtin.backbones.catalog`), so shapes, parameters and MACs
are exact for any input size and symbolic dims work as for any layer: a size
condition inside the backbone (VGG needs H >= 32) becomes a constraint of the
outer spec, and a concrete input that is too small fails with the inner
layer's arithmetic and the backbone's minimum size.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, WithJsonSchema

from cnnspec.builtin.backbones.catalog import ARCHITECTURES, layers_for
from cnnspec.exceptions import SpecError
from cnnspec.layer import LayerParams, LayerShape, LayerType, ShapeContext, fmt_shape
from cnnspec.names import suggest

__all__ = ["BACKBONE", "BackboneParams", "build_backbone", "infer_backbone", "min_size"]


def _known_model(name: str) -> str:
    if name not in ARCHITECTURES:
        close = suggest(name, list(ARCHITECTURES))
        if close:
            raise ValueError(f"unknown torchvision model '{name}'; did you mean " +
                             " or ".join(f"'{c}'" for c in close) + "?")
        raise ValueError(f"unknown torchvision model '{name}' (known: {', '.join(ARCHITECTURES)})")
    return name


ModelName = Annotated[str, AfterValidator(_known_model), WithJsonSchema({"enum": list(ARCHITECTURES)})]


class BackboneParams(LayerParams):
    """Arguments of ``backbone``; the names follow torchvision where it has one."""

    model: ModelName = Field(description="torchvision constructor name, e.g. resnet18")
    weights: str | None = Field(
        default=None,
        description="a local file holding the model's state_dict (torch.save of model.state_dict()); "
        "null for random initialisation. Never downloaded.",
    )
    freeze: bool = Field(default=False, description="set requires_grad=False on every backbone parameter")
    output: Literal["features", "pooled", "logits"] = Field(
        default="pooled",
        description="features: the last feature map [C, h, w]; pooled: globally pooled and flattened [C]; "
        "logits: the model's own classifier [num_classes]",
    )
    num_classes: int | None = Field(default=None, ge=1, description="classifier size with output: logits "
                                                                      "(default 1000)")


@lru_cache(maxsize=64)
def _inner_spec(model: str, output: str, num_classes: int, plugins: Any) -> Any:
    from cnnspec.spec import load_spec

    document = {"name": model, "input": [3, "H", "W"], "model": layers_for(model, output, num_classes)}
    return load_spec(document, plugins=plugins)


@lru_cache(maxsize=64)
def min_size(model: str, plugins: Any) -> int:
    """The smallest H (= W) the trunk accepts, solved symbolically."""
    from cnnspec.shapes.walker import infer_shapes

    trace = infer_shapes(_inner_spec(model, "features", 1000, plugins))
    return max(trace.min_size.values(), default=1)


def infer_backbone(p: BackboneParams, shape: Any, ctx: ShapeContext) -> LayerShape:
    from cnnspec.exceptions import ShapeError
    from cnnspec.plugins.manager import get_plugins
    from cnnspec.shapes.walker import infer_shapes

    ctx.require_rank([3], "channels and 2 spatial, an image")
    channels = ctx.concrete(shape[0], "the input channel count")
    if channels != 3:
        ctx.fail(f"torchvision's {p.model} takes 3 input channels, the input has {channels}, {ctx.input_text()}",
                 hint="for greyscale data, repeat the channel (a transform) or put "
                      "conv2d: {out_channels: 3, kernel_size: 1} before the backbone")
    if p.num_classes is not None and p.output != "logits":
        ctx.fail(f"num_classes only applies with output: logits (output is {p.output})",
                 hint="drop num_classes and put a linear layer after the backbone, or set output: logits")
    num_classes = p.num_classes or 1000
    plugins = get_plugins()
    try:
        inner = _inner_spec(p.model, p.output, num_classes, plugins)
    except SpecError as exc:
        ctx.fail(f"the description of {p.model} does not load: {exc.message}",
                 hint="backbones are described with the built-in layers; keep the 'layers' plugin enabled")
    size_hint = f"{p.model} needs H and W of at least {min_size(p.model, plugins)}"
    try:
        trace = infer_shapes(inner, input_shape=tuple(shape))
    except ShapeError as exc:
        # inner errors are labelled with paths into the generated description, which the user never
        # wrote: the layer's type and name say enough
        at = f"{exc.subject}: {exc.detail}" if exc.subject else exc.message
        ctx.fail(f"{p.model} cannot take {fmt_shape(shape)}: at {at}", hint=size_hint)
    for c in trace.constraints:
        what = f"{c.what} at {c.subject or c.label} inside {p.model}"
        if c.op == ">=":
            value = c.lhs if c.rhs == 1 else c.lhs - c.rhs + 1
            ctx.require_positive(value, what=what, arithmetic=f"{c.lhs} >= {c.rhs}", hint=size_hint)
        else:
            ctx.require_equal(c.lhs, c.rhs, what=what, hint=size_hint)
    if p.output == "features":
        last = trace.layers[-1].rf
        stride = ARCHITECTURES[p.model].stride
        rf: Any = "global" if last == "global" else tuple((r, stride) for r in last)
    else:
        rf = "global"
    return LayerShape(shape=tuple(trace.output_shape), params=trace.params, macs=trace.macs,
                      trainable=0 if p.freeze else None,
                      kwargs=p.kwargs(num_classes=num_classes), rf=rf)


def build_backbone(kwargs: Any) -> Any:
    """Import torch only when a model is built."""
    from cnnspec.builtin.backbones.torch_build import build_backbone as build

    return build(kwargs)


BACKBONE = LayerType(
    name="Backbone",
    params=BackboneParams,
    infer=infer_backbone,
    build=build_backbone,
    prefix="backbone",
    doc="A torchvision classification model (resnet18, vgg16_bn, mobilenet_v2, ...) as one layer, for "
        "transfer learning: weights from a local file or random, optionally frozen, cut after its feature "
        "map, its pooling, or its classifier.",
    tags=frozenset({"backbone"}),
)
