"""Datasets, splits, transforms and batches for training and evaluation.

The engine calls :func:`build_data` once per process and iterates
:meth:`DataBundle.loader`. Dataset plugins return :class:`DatasetSplits`
(see :mod:`cnnspec.data.protocol`).

Importing this package does not import torch: plugin modules import the
protocol types while registering, which ``cnnspec validate`` does without
torch. The torch-side names are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnspec.data.protocol import ArrayDataset, DatasetError, DatasetNotFound, DatasetSplits

if TYPE_CHECKING:
    from cnnspec.data.bundle import DataBundle
    from cnnspec.spec import Spec

__all__ = [
    "ArrayDataset",
    "DataBundle",
    "DatasetError",
    "DatasetNotFound",
    "DatasetSplits",
    "build_data",
]


def build_data(spec: Spec, *, rank: int = 0, world_size: int = 1) -> DataBundle:
    """The spec's ``data:`` section as batches, checked before any training.

    Loads the dataset (a located SpecError says how to get missing files),
    builds the transforms, splits train/val(/test), and checks that the
    samples after the transforms have the spec's ``input:`` shape. With
    ``world_size > 1`` every split is sharded for ``rank``.
    """
    from cnnspec.data.build import build_data as _build

    return _build(spec, rank=rank, world_size=world_size)


def __getattr__(name: str) -> Any:
    if name == "DataBundle":
        from cnnspec.data.bundle import DataBundle

        return DataBundle
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
