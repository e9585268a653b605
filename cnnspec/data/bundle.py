"""The engine's view of the data: splits, sizes and batch iterators.

A :class:`DataBundle` is built once per process by
:func:`cnnspec.data.build_data`. Each split is a *source* (a dataset, held
as a resident tensor when it can be) plus the positions of its samples in
that source plus its transform pipeline. Batches are float32
``[B, *sample_shape]`` inputs and int64 targets.

On a GPU (:meth:`DataBundle.place`) a resident source that fits moves to the
device once, as it is stored (uint8 stays uint8, a quarter of float32): each
batch is then gathered, converted, augmented and normalised there, with no
copy from the host. Sources read per item are loaded into pinned memory and
the next batch's copy to the device is queued while the current one trains.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from cnnspec.data.arrays import as_arrays, item_to_tensor, to_float
from cnnspec.data.pipeline import Pipeline
from cnnspec.data.splits import batch_seed, shard_batches, train_order
from cnnspec.data.workers import iterate

__all__ = ["RESIDENT_FRACTION", "SPLITS", "Batch", "DataBundle", "Source", "SplitData"]

#: resident data moves to a GPU when it takes at most this share of the GPU's free memory
RESIDENT_FRACTION = 0.4

#: ``(inputs [B, *sample_shape] float32, targets [B] int64)``
Batch = tuple[torch.Tensor, torch.Tensor]

SPLITS = ("train", "val", "test")
_CODES = {"train": 1, "val": 2, "test": 3}


class Source:
    """One dataset object, with its resident ``(images, targets)`` when it has them."""

    def __init__(self, dataset: Any, arrays: tuple[torch.Tensor, torch.Tensor] | None) -> None:
        self.dataset = dataset
        self.arrays = arrays

    @classmethod
    def of(cls, dataset: Any, *, in_memory: bool | None) -> Source:
        arrays = None if in_memory is False else as_arrays(dataset, force=in_memory is True)
        return cls(dataset, arrays)

    @property
    def in_memory(self) -> bool:
        return self.arrays is not None

    def __len__(self) -> int:
        return int(self.arrays[1].shape[0]) if self.arrays is not None else len(self.dataset)

    @property
    def nbytes(self) -> int:
        """Bytes of the resident tensors (0 when read per item)."""
        if self.arrays is None:
            return 0
        return sum(t.numel() * t.element_size() for t in self.arrays)

    def to(self, device: Any) -> None:
        """Keep the resident tensors on ``device`` (once; later batches are gathered there)."""
        if self.arrays is not None:
            self.arrays = (self.arrays[0].to(device), self.arrays[1].to(device))

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        """A float batch from the resident tensor (a new tensor, where the tensor lives)."""
        assert self.arrays is not None
        return to_float(self.arrays[0].index_select(0, index.to(self.arrays[0].device, non_blocking=True)))

    def targets(self, index: torch.Tensor) -> torch.Tensor:
        if self.arrays is not None:
            return self.arrays[1].index_select(0, index.to(self.arrays[1].device, non_blocking=True))
        return torch.tensor([int(self.dataset[int(i)][1]) for i in index], dtype=torch.int64)

    def items(self, index: Sequence[int]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Float samples (possibly of different sizes) and their targets, read one by one."""
        if self.arrays is not None:
            idx = torch.as_tensor(list(index), dtype=torch.int64)
            return list(self.gather(idx).cpu().unbind(0)), self.targets(idx).cpu()
        images, targets = [], []
        for i in index:
            image, target = self.dataset[int(i)]
            images.append(to_float(item_to_tensor(image)))
            targets.append(int(target))
        return images, torch.tensor(targets, dtype=torch.int64)


class _BatchReader:
    """A map-style dataset whose items are whole batches: ``key = (indices, seed)``.

    Handing whole batches to DataLoader workers keeps augmentation seeded per
    batch (the same numbers with 0 or 8 workers) and lets the pipeline run
    batched as soon as the samples agree in shape.
    """

    def __init__(self, source: Source, pipeline: Pipeline) -> None:
        self.source = source
        self.pipeline = pipeline

    def __getitem__(self, key: tuple[list[int], int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, seed = key
        images, targets = self.source.items(index)
        x = self.pipeline.run_items(images, torch.Generator().manual_seed(seed))
        return x, targets


@dataclass
class SplitData:
    """One split: where its samples are, and how they are transformed."""

    name: str
    source: Source
    positions: torch.Tensor
    pipeline: Pipeline
    shuffle: bool

    def __len__(self) -> int:
        return int(self.positions.shape[0])


@dataclass
class DataBundle:
    """Batches for the engine; see :func:`cnnspec.data.build_data`.

    The training order is a pure function of ``(seed, epoch)``, validation
    and test run in a fixed order, and every batch's augmentation is seeded
    by ``(seed, split, epoch, batch, rank)``: a run resumed at
    ``(epoch, start_batch)`` sees exactly the batches an uninterrupted run
    would have seen. With ``world_size > 1`` ``batch_size`` is the global
    batch and each rank gets its slice of every batch (see
    :mod:`cnnspec.data.splits`).
    """

    classes: list[str]
    num_classes: int
    sample_shape: tuple[int, ...]
    batch_size: int
    seed: int
    splits: dict[str, SplitData] = field(repr=False)
    rank: int = 0
    world_size: int = 1
    num_workers: int = 0
    drop_last: bool = False
    dataset_name: str = ""
    normalize: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list, repr=False)
    eval_pipeline: Pipeline = field(default_factory=Pipeline, repr=False)
    #: where batches are delivered (``None``: the host; see :meth:`place`)
    device: Any = None

    def place(self, device: Any, *, fraction: float = RESIDENT_FRACTION) -> list[str]:
        """Deliver batches on ``device``: resident sources that fit move there once.

        Returns the splits now resident on the device. On the CPU nothing moves.
        """
        self.device = device
        if getattr(device, "type", "cpu") != "cuda":
            return []
        sources = {id(d.source): d.source for d in self.splits.values() if d.source.in_memory}
        needed = sum(source.nbytes for source in sources.values())
        free, _ = torch.cuda.mem_get_info(device)
        if needed == 0 or needed > fraction * free:
            return []
        for source in sources.values():
            source.to(device)
        return sorted(name for name, d in self.splits.items() if d.source.in_memory)

    def has(self, split: str) -> bool:
        """Whether the split exists ("train", "val" or "test")."""
        self._check_name(split)
        return split in self.splits

    def size(self, split: str) -> int:
        """Samples of the split this rank sees per epoch."""
        return sum(int(b.shape[0]) for b in self._batches(split, 0))

    def num_batches(self, split: str) -> int:
        """Batches per epoch (the same on every rank)."""
        return len(self._batches(split, 0))

    def in_memory(self, split: str) -> bool:
        """Whether the split takes the resident-tensor path."""
        return self._get(split).source.in_memory

    def loader(self, split: str, *, epoch: int = 0, start_batch: int = 0) -> Iterator[Batch]:
        """``(inputs, targets)`` batches of one epoch, from ``start_batch`` on."""
        data = self._get(split)
        batches = self._batches(split, epoch)
        if not 0 <= start_batch <= len(batches):
            raise ValueError(f"start_batch {start_batch} is outside 0..{len(batches)} for the {split} split")
        seed_epoch = epoch if data.shuffle else 0
        keys = [(data.positions[index], batch_seed(self.seed, _CODES[split], seed_epoch, b, self.rank))
                for b, index in enumerate(batches)][start_batch:]
        if data.source.in_memory:
            batches = self._resident(data, keys)
        else:
            batches = self._per_item(data, [(index.tolist(), seed) for index, seed in keys])
        return _prefetched(batches, self.device) if self._copies(data) else batches

    def sample_batch(self, split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The split's first ``n`` samples with the evaluation transforms (no augmentation), for pictures."""
        data = self._get(split)
        index = data.positions[:n]
        g = torch.Generator().manual_seed(batch_seed(self.seed, 0, 0, 0, 0))
        images, targets = data.source.items(index.tolist())
        return self.eval_pipeline.run_items(images, g).cpu(), targets

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the pipelines' ``normalize`` steps and clamp to [0, 1], to show inputs as images."""
        for mean, std in reversed(self.normalize):
            x = x * std.to(x.device).view(-1, 1, 1) + mean.to(x.device).view(-1, 1, 1)
        return x.clamp(0, 1)

    def summary(self) -> dict[str, Any]:
        """Plain facts for logs and the run directory."""
        return {
            "dataset": self.dataset_name,
            "classes": len(self.classes),
            "sample_shape": list(self.sample_shape),
            "batch_size": self.batch_size,
            "splits": {name: {"samples": len(d), "in_memory": d.source.in_memory}
                       for name, d in self.splits.items()},
            "rank": self.rank,
            "world_size": self.world_size,
        }

    # -- internals ---------------------------------------------------------------------
    def _check_name(self, split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")

    def _get(self, split: str) -> SplitData:
        self._check_name(split)
        if split not in self.splits:
            raise KeyError(f"this dataset has no {split} split (check has({split!r}) first)")
        return self.splits[split]

    def _batches(self, split: str, epoch: int) -> list[torch.Tensor]:
        """This rank's positions (into the split) for each batch of an epoch."""
        data = self._get(split)
        order = train_order(len(data), seed=self.seed, epoch=epoch) if data.shuffle else torch.arange(len(data))
        return shard_batches(order, self.batch_size, rank=self.rank, world_size=self.world_size,
                             drop_last=self.drop_last and split == "train")

    def _copies(self, data: SplitData) -> bool:
        """Whether this split's batches are made on the host and must be copied to a GPU."""
        device = self.device
        if getattr(device, "type", "cpu") != "cuda":
            return False
        return not (data.source.in_memory and data.source.arrays[0].device.type == "cuda")

    def _resident(self, data: SplitData, keys: list[tuple[torch.Tensor, int]]) -> Iterator[Batch]:
        for index, seed in keys:
            x = data.pipeline.run_batch(data.source.gather(index), torch.Generator().manual_seed(seed))
            yield x, data.source.targets(index)

    def _per_item(self, data: SplitData, keys: list[tuple[list[int], int]]) -> Iterator[Batch]:
        import torch
        from torch.utils.data import DataLoader

        # batches are seeded per batch already; an own generator keeps the DataLoader from
        # drawing its base seed from the global RNG, which would shift dropout after a resume
        loader = DataLoader(_BatchReader(data.source, data.pipeline), batch_size=None, sampler=keys,
                            num_workers=self.num_workers, persistent_workers=False,
                            generator=torch.Generator(), pin_memory=self._copies(data))
        yield from iterate(loader)


def _prefetched(batches: Iterator[Batch], device: Any) -> Iterator[Batch]:
    """``batches`` delivered on ``device``, the next one's copy queued before the current one is used.

    Pinned host memory makes the copies asynchronous: the GPU trains on batch
    ``i`` while batch ``i + 1`` crosses the bus.
    """
    ahead: Batch | None = None
    for inputs, targets in batches:
        moved = (inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True))
        if ahead is not None:
            yield ahead
        ahead = moved
    if ahead is not None:
        yield ahead
