"""What a dataset plugin returns, and how it says that data is missing.

A dataset factory is called as ``factory(root, download, **args)`` (``root``
a :class:`pathlib.Path`, ``download`` a bool, ``args`` the spec's dataset
arguments) and returns :class:`DatasetSplits`. Each split is any map-style
dataset yielding ``(image, target)`` pairs — a PIL image, an ``HWC`` numpy
array or a ``CHW`` tensor, and an int — so torchvision datasets work as
they are. A split that already holds its samples as one tensor should be an
:class:`ArrayDataset`: it takes the in-memory fast path with no per-item work.

Nothing here imports torch at module level: plugin modules import this
module while they register, which ``cnnspec validate`` does without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import DatasetError, DatasetNotFound

if TYPE_CHECKING:
    import torch

__all__ = ["ArrayDataset", "DatasetError", "DatasetNotFound", "DatasetSplits"]




class ArrayDataset:
    """Samples held as one tensor: ``images`` ``[N, C, H, W]`` and ``targets`` ``[N]``.

    ``images`` is uint8 (0..255, scaled to [0, 1] on the way out, like
    ``ToTensor``) or float (already in [0, 1]). Indexing returns one
    ``(CHW tensor, int)`` pair so the dataset also works with a plain
    DataLoader; cnnspec itself gathers whole batches from the tensors.
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, classes: Sequence[str] | None = None) -> None:
        import torch

        if images.dim() != 4:
            raise ValueError(f"ArrayDataset images must be [N, C, H, W], got shape {list(images.shape)}")
        if images.dtype != torch.uint8 and not images.is_floating_point():
            raise ValueError(f"ArrayDataset images must be uint8 or float, got {images.dtype}")
        targets = torch.as_tensor(targets, dtype=torch.int64)
        if targets.shape != (images.shape[0],):
            raise ValueError(f"ArrayDataset targets must be [{images.shape[0]}], got shape {list(targets.shape)}")
        self.images = images
        self.targets = targets
        self.classes = list(classes) if classes is not None else None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.targets[index])


@dataclass
class DatasetSplits:
    """The splits a dataset provides; ``val`` only when it has its own.

    ``classes`` names the labels in target order; when omitted cnnspec uses
    the train split's ``classes`` attribute, or ``"0".."K-1"``.
    """

    train: Any
    test: Any | None = None
    val: Any | None = None
    classes: Sequence[str] | None = None
