"""Samples as tensors: the resident form of a dataset, and one item's form.

Why a resident tensor: the classic per-item pipeline (PIL image →
``ToTensor`` → ``Normalize``, collated by a DataLoader) spends ~80-100 µs
per image on Python and PIL; gathering a batch by index from one uint8
tensor and converting it in one call costs a few µs per image. torchvision
already holds MNIST and CIFAR in memory (``.data``); this module exposes
those arrays without copying them through PIL.

Both paths share :func:`to_float`, so they produce the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from cnnspec.data.protocol import ArrayDataset

__all__ = ["IN_MEMORY_LIMIT_BYTES", "as_arrays", "item_to_tensor", "to_float"]

#: datasets that must be materialised (FakeData) are kept resident below this size
IN_MEMORY_LIMIT_BYTES = 2 * 1024**3


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 → float32 0..1 (exactly ``ToTensor``'s ``x.float().div(255)``); floats copied.

    Always a new tensor: transforms may work in place, and must never touch
    the resident data.
    """
    if images.dtype == torch.uint8:
        return images.to(torch.float32).div_(255)
    if images.is_floating_point():
        return images.to(torch.float32, copy=True)
    from torchvision.transforms.v2 import functional as F

    return F.to_dtype(images, torch.float32, scale=True)


def item_to_tensor(image: Any) -> torch.Tensor:
    """One dataset item's image as a ``CHW`` tensor (uint8 or float), no scaling yet."""
    if isinstance(image, torch.Tensor):
        return image.unsqueeze(0) if image.dim() == 2 else image
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy ships with torch
        np = None  # type: ignore[assignment]
    if np is not None and isinstance(image, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(image))
        return tensor.unsqueeze(0) if tensor.dim() == 2 else tensor.permute(2, 0, 1)
    from PIL import Image

    if isinstance(image, Image.Image):
        from torchvision.transforms.v2 import functional as F

        return F.pil_to_tensor(image)
    raise TypeError(f"a dataset item's image must be a PIL image, numpy array or tensor, got {type(image).__name__}")


def _plain(dataset: Any) -> bool:
    """No transform of the dataset's own, which the resident form would skip."""
    return getattr(dataset, "transform", None) is None and getattr(dataset, "target_transform", None) is None


def as_arrays(dataset: Any, *, limit_bytes: int = IN_MEMORY_LIMIT_BYTES,
              force: bool = False) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(images [N, C, H, W], targets [N] int64)`` without per-item work, or ``None``.

    Known in-memory datasets are viewed directly; FakeData is materialised
    once when it fits ``limit_bytes`` (or when ``force``); anything else
    (ImageFolder, plugin datasets) stays on the per-item path.
    """
    if isinstance(dataset, ArrayDataset):
        return dataset.images, dataset.targets
    from torch.utils.data import TensorDataset
    from torchvision import datasets

    if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        images, targets = dataset.tensors
        if images.dim() == 4 and targets.dim() == 1 and (images.dtype == torch.uint8 or images.is_floating_point()):
            return images, targets.long()
        return None
    if not _plain(dataset):
        return None
    if type(dataset) in (datasets.MNIST, datasets.FashionMNIST, datasets.KMNIST):
        return dataset.data.unsqueeze(1), dataset.targets.long()
    if type(dataset) in (datasets.CIFAR10, datasets.CIFAR100):
        images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
        return images, torch.tensor(dataset.targets, dtype=torch.int64)
    if type(dataset) is datasets.FakeData:
        nbytes = len(dataset) * math.prod(dataset.image_size)
        if nbytes > limit_bytes and not force:
            return None
        items = [dataset[i] for i in range(len(dataset))]
        images = torch.stack([item_to_tensor(img) for img, _ in items]) if items else \
            torch.empty((0, *dataset.image_size), dtype=torch.uint8)
        return images, torch.tensor([t for _, t in items], dtype=torch.int64)
    return None
