"""Built-in transforms: torchvision.transforms.v2 classes by name.

Registered through :func:`cnnspec.hookspec.cnnspec_transforms` without
importing torch: each entry names its torchvision class as a string and
carries a params model generated from a static copy of the class's argument
names, so ``cnnspec validate`` catches ``normalize: {mena: ...}`` with "did
you mean" in milliseconds. A test pins that copy to the real signatures.

``meta`` says how the data pipeline may run a transform (see
:mod:`cnnspec.data.pipeline`):

* ``random`` — it draws random numbers, so it is applied per sample from a
  seeded generator (or by a batched equivalent, where one exists);
* ``batched`` — deterministic and per-sample independent, so one call on a
  whole ``[B, C, H, W]`` batch equals calling it on every sample;
* ``shape`` — a pure rule ``(C, H, W), args -> (C, H, W)`` (``None`` when
  the output size is not fixed), used to check ``input:`` statically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cnnspec.hookspec import hookimpl

__all__ = ["TRANSFORMS", "TransformDef", "cnnspec_transforms", "params_model"]

Shape = tuple[int, ...]
ShapeRule = Callable[[Shape, Mapping[str, Any]], "Shape | None"]


def _size_pair(size: Any) -> tuple[int, int] | None:
    if isinstance(size, int) and not isinstance(size, bool):
        return size, size
    if isinstance(size, (list, tuple)) and len(size) in (1, 2) and all(isinstance(s, int) for s in size):
        return (size[0], size[0]) if len(size) == 1 else (size[0], size[1])
    return None


def _keep(shape: Shape, args: Mapping[str, Any]) -> Shape | None:
    return shape


def _crop(shape: Shape, args: Mapping[str, Any]) -> Shape | None:
    pair = _size_pair(args.get("size"))
    return None if pair is None else (*shape[:-2], *pair)


def _resize(shape: Shape, args: Mapping[str, Any]) -> Shape | None:
    """torchvision's rule: an int sets the shorter side and keeps the aspect ratio."""
    size, max_size = args.get("size"), args.get("max_size")
    h, w = shape[-2:]
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return (*shape[:-2], int(size[0]), int(size[1]))
    if isinstance(size, (list, tuple)) and len(size) == 1:
        size = size[0]
    if size is None and isinstance(max_size, int):
        scale = max_size / max(h, w)
        return (*shape[:-2], int(h * scale), int(w * scale))
    if not isinstance(size, int) or isinstance(size, bool):
        return None
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    if isinstance(max_size, int) and new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return (*shape[:-2], new_h, new_w)


def _pad(shape: Shape, args: Mapping[str, Any]) -> Shape | None:
    p = args.get("padding")
    if isinstance(p, int) and not isinstance(p, bool):
        left = top = right = bottom = p
    elif isinstance(p, (list, tuple)) and len(p) == 1:
        left = top = right = bottom = p[0]
    elif isinstance(p, (list, tuple)) and len(p) == 2:
        left = right = p[0]
        top = bottom = p[1]
    elif isinstance(p, (list, tuple)) and len(p) == 4:
        left, top, right, bottom = p
    else:
        return None
    h, w = shape[-2:]
    return (*shape[:-2], h + top + bottom, w + left + right)


def _grayscale(shape: Shape, args: Mapping[str, Any]) -> Shape | None:
    return (args.get("num_output_channels", 1), *shape[1:])


def _rgb(shape: Shape, args: Mapping[str, Any]) -> Shape | None:
    return (max(3, shape[0]), *shape[1:])


def _rotation(shape: Shape, args: Mapping[str, Any]) -> Shape | None:
    return None if args.get("expand") else shape


class TransformDef:
    """One row of the table: the v2 class, its arguments, how it may run."""

    def __init__(self, name: str, required: Sequence[str] = (), optional: Sequence[str] = (), *,
                 random: bool, shape: ShapeRule = _keep, target: str | None = None, doc: str = "") -> None:
        self.name = name
        self.required = tuple(required)
        self.optional = tuple(optional)
        self.random = random
        self.shape = shape
        self.target = target or name
        self.doc = doc or f"torchvision.transforms.v2.{self.target}"


_INTERP_FILL = ("interpolation", "fill")

#: the built-in transforms; argument names are torchvision's, in its order
TRANSFORMS: tuple[TransformDef, ...] = (
    # deterministic: one call on the whole batch
    TransformDef("Normalize", ("mean", "std"), ("inplace",), random=False),
    TransformDef("Resize", ("size",), ("interpolation", "max_size", "antialias"), random=False, shape=_resize),
    TransformDef("CenterCrop", ("size",), random=False, shape=_crop),
    TransformDef("Pad", ("padding",), ("fill", "padding_mode"), random=False, shape=_pad),
    TransformDef("Grayscale", (), ("num_output_channels",), random=False, shape=_grayscale),
    TransformDef("RGB", random=False, shape=_rgb),
    TransformDef("Identity", random=False),
    TransformDef("ToTensor", random=False, target="Identity",
                 doc="accepted so torchvision pipelines read the same: samples are already float tensors in [0, 1]"),
    # random: per sample, from the batch's seeded generator
    TransformDef("RandomHorizontalFlip", (), ("p",), random=True),
    TransformDef("RandomVerticalFlip", (), ("p",), random=True),
    TransformDef("RandomCrop", ("size",), ("padding", "pad_if_needed", "fill", "padding_mode"), random=True,
                 shape=_crop),
    TransformDef("RandomResizedCrop", ("size",), ("scale", "ratio", "interpolation", "antialias"), random=True,
                 shape=_crop),
    TransformDef("RandomRotation", ("degrees",), ("interpolation", "expand", "center", "fill"), random=True,
                 shape=_rotation),
    TransformDef("RandomAffine", ("degrees",), ("translate", "scale", "shear", *_INTERP_FILL, "center"),
                 random=True),
    TransformDef("RandomPerspective", (), ("distortion_scale", "p", *_INTERP_FILL), random=True),
    TransformDef("ElasticTransform", (), ("alpha", "sigma", *_INTERP_FILL), random=True),
    TransformDef("ColorJitter", (), ("brightness", "contrast", "saturation", "hue"), random=True),
    TransformDef("RandomPhotometricDistort", (), ("brightness", "contrast", "saturation", "hue", "p"), random=True),
    TransformDef("RandomGrayscale", (), ("p",), random=True),
    TransformDef("RandomInvert", (), ("p",), random=True),
    TransformDef("RandomPosterize", ("bits",), ("p",), random=True),
    TransformDef("RandomSolarize", ("threshold",), ("p",), random=True),
    TransformDef("RandomAdjustSharpness", ("sharpness_factor",), ("p",), random=True),
    TransformDef("RandomAutocontrast", (), ("p",), random=True),
    TransformDef("RandomEqualize", (), ("p",), random=True),
    TransformDef("RandomChannelPermutation", random=True),
    TransformDef("RandomErasing", (), ("p", "scale", "ratio", "value", "inplace"), random=True),
    TransformDef("GaussianBlur", ("kernel_size",), ("sigma",), random=True),
    TransformDef("GaussianNoise", (), ("mean", "sigma", "clip"), random=True),
    TransformDef("AutoAugment", (), ("policy", *_INTERP_FILL), random=True),
    TransformDef("RandAugment", (), ("num_ops", "magnitude", "num_magnitude_bins", *_INTERP_FILL), random=True),
    TransformDef("TrivialAugmentWide", (), ("num_magnitude_bins", *_INTERP_FILL), random=True),
    TransformDef("AugMix", (), ("severity", "mixture_width", "chain_depth", "alpha", "all_ops", *_INTERP_FILL),
                 random=True),
)


def params_model(name: str, required: Sequence[str], optional: Sequence[str]) -> type[Any]:
    """A closed pydantic model of a transform's spec arguments (values unchecked).

    Only names are checked statically; values are checked by torchvision
    itself when the pipeline is built, and its message is located then.
    """
    from pydantic import ConfigDict, create_model

    fields: dict[str, Any] = {arg: (Any, ...) for arg in required}
    fields.update({arg: (Any, None) for arg in optional})
    # built on first use: registering 33 models eagerly would cost a quarter second on every validate
    config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    return create_model(f"{name}Args", __config__=config, **fields)


@hookimpl
def cnnspec_transforms():
    from cnnspec.component import Component

    return [
        Component(
            d.name,
            f"torchvision.transforms.v2:{d.target}",
            params=params_model(d.name, d.required, d.optional),
            doc=d.doc,
            meta={"random": d.random, "batched": not d.random, "shape": d.shape, "torchvision": d.target},
        )
        for d in TRANSFORMS
    ]
