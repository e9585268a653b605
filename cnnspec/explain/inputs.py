"""The images to explain: image files or a split of the spec's dataset, as the model sees them.

Both come with a ``display`` version for drawing under the heat maps: the
same pixels with the spec's ``normalize`` undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import CnnspecError
from cnnspec.layer import fmt_shape

if TYPE_CHECKING:
    import torch

    from cnnspec.spec import Spec

__all__ = ["dataset_samples", "eval_pipeline", "image_mode", "load_image", "load_images", "prepare_images",
           "prepare_tensors"]


def eval_pipeline(spec: Spec) -> Any:
    """The spec's evaluation transforms (``eval_transforms`` then ``transforms``), without the dataset."""
    from cnnspec.data.build import build_steps
    from cnnspec.data.pipeline import Pipeline

    data = spec.data
    if data is None:
        return Pipeline([])
    doc, plugins = spec.document, spec.plugins
    return Pipeline(build_steps(list(data.eval_transforms), "eval_transforms", doc, plugins)
                    + build_steps(list(data.transforms), "transforms", doc, plugins))


def image_mode(input_shape: Sequence[Any]) -> str:
    """The PIL mode image files are read in for a spec input: ``L``, ``RGB`` or ``RGBA``."""
    if len(input_shape) != 3 or not all(isinstance(d, int) for d in input_shape):
        raise CnnspecError(f"image files need a fixed [C, H, W] spec input, this spec's is {fmt_shape(input_shape)}")
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(input_shape[0])
    if mode is None:
        raise CnnspecError(f"the spec's input has {input_shape[0]} channels; image files give 1, 3 or 4")
    return mode


def load_image(file: str | Path, mode: str) -> torch.Tensor:
    """One image file as a float ``[C, H, W]`` tensor in [0, 1] at its own size (like ``ToTensor``).

    The one place cnnspec decodes an image file (``explain --images``,
    ``predict``): any format and mode PIL reads is converted to ``mode``.
    Raises :class:`~cnnspec.exceptions.CnnspecError` naming the file.
    """
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as img:
            array = np.asarray(img.convert(mode), dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise CnnspecError(f"{file}: cannot read it as an image ({exc})") from None
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def load_images(files: Sequence[str | Path], input_shape: Sequence[Any]) -> list[torch.Tensor]:
    """Image files as float ``[C, H, W]`` tensors in [0, 1] at their own size (like ``ToTensor``).

    One input channel reads the files as greyscale, three as RGB, four as RGBA.
    """
    mode = image_mode(input_shape)
    return [load_image(file, mode) for file in files]


def prepare_images(spec: Spec, files: Sequence[str | Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, display)`` for image files: what the model sees, and the picture to draw under the CAM.

    See :func:`prepare_tensors`; ``display`` is ``inputs`` with the transforms'
    ``normalize`` undone, so it lines up with the heat map pixel for pixel.
    """
    pipeline = eval_pipeline(spec)
    inputs = prepare_tensors(spec, load_images(files, tuple(spec.input)), pipeline)
    return inputs, _unnormalize(inputs, pipeline)


def prepare_tensors(spec: Spec, images: Sequence[torch.Tensor], pipeline: Any = None) -> torch.Tensor:
    """Decoded images (:func:`load_image`) as one batch the model takes.

    The spec's evaluation transforms run on the images as they are (a resize
    or crop among them decides the size); when the result is not the spec's
    input size, the images are first resized to it (bilinear, antialiased).
    """
    import torch
    import torch.nn.functional as F

    shape = tuple(spec.input)
    pipeline = pipeline if pipeline is not None else eval_pipeline(spec)
    g = torch.Generator().manual_seed(0)
    try:
        inputs = pipeline.run_items([i.clone() for i in images], g)
    except Exception:  # sizes differ and no transform makes them agree: resize below
        inputs = None
    if inputs is None or tuple(inputs.shape[1:]) != shape:
        resized = torch.stack([F.interpolate(i[None], size=shape[1:], mode="bilinear", align_corners=False,
                                             antialias=True)[0].clamp(0, 1) for i in images])
        inputs = pipeline.run_batch(resized, g)
        if tuple(inputs.shape[1:]) != shape:
            raise CnnspecError(f"the spec's transforms turn the images into {list(inputs.shape[1:])}, but the "
                               f"model takes {list(shape)}")
    return inputs


def _unnormalize(x: torch.Tensor, pipeline: Any) -> torch.Tensor:
    import torch
    from torchvision.transforms import v2

    x = x.clone()
    for step in reversed(pipeline.steps):
        if type(step.fn) is v2.Normalize:
            mean = torch.tensor(step.fn.mean, dtype=x.dtype).view(-1, 1, 1)
            std = torch.tensor(step.fn.std, dtype=x.dtype).view(-1, 1, 1)
            x = x * std + mean
    return x.clamp(0, 1)


def dataset_samples(spec: Spec, count: int, split: str | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, list[int], list[str], str]:
    """``(inputs, display, labels, classes, split)``: the first ``count`` images of a split of the spec's data.

    The test split by default, else validation, else train; the same images
    as the ``gradcam`` callback would take, with evaluation transforms only.
    """
    from cnnspec.data import build_data

    bundle = build_data(spec)
    order = (split,) if split else ("test", "val", "train")
    chosen = next((s for s in order if bundle.has(s)), None)
    if chosen is None:
        raise CnnspecError(f"the dataset has no {split} split")
    inputs, targets = bundle.sample_batch(chosen, count)
    return inputs, bundle.unnormalize(inputs.clone()), [int(t) for t in targets], list(bundle.classes), chosen
