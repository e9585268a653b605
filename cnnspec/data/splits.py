"""Which samples each split, epoch, batch and rank sees: pure functions of seeds.

* the validation split is ``torch.utils.data.random_split`` with a seeded
  generator (``val_split``) or a fixed index range (``val_indices``);
* the training order of an epoch is a ``randperm`` seeded with
  ``seed + epoch`` (what ``DistributedSampler`` draws); validation and test
  keep their order;
* with several processes, ``batch_size`` is the global batch: every rank
  takes its contiguous slice of each global batch (``tensor_split``), so the
  ranks together see exactly the single-process batches, disjoint and
  complete, and DDP's gradient average equals the single-process gradient.
  A last global batch smaller than the number of ranks is merged into the
  one before, so no rank ever gets an empty batch.

A resumed run recomputes the same order from ``(seed, epoch)`` and skips
``start_batch`` batches: it sees exactly what the uninterrupted run saw.
"""

from __future__ import annotations

import hashlib
import struct

import torch

__all__ = ["batch_seed", "fraction_split", "range_split", "shard_batches", "train_order"]


def fraction_split(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train, val)`` positions: ``round(fraction * n)`` random samples held out.

    The train part comes first, as in ``random_split(ds, [train, val])``.
    """
    from torch.utils.data import random_split

    n_val = round(fraction * n)
    parts = random_split(range(n), [n - n_val, n_val], generator=torch.Generator().manual_seed(seed))
    return (torch.tensor(parts[0].indices, dtype=torch.int64),
            torch.tensor(parts[1].indices, dtype=torch.int64))


def range_split(n: int, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train, val)`` positions: ``[start, stop)`` for validation, the rest for training."""
    everything = torch.arange(n, dtype=torch.int64)
    return torch.cat([everything[:start], everything[stop:]]), everything[start:stop]


def train_order(n: int, *, seed: int, epoch: int) -> torch.Tensor:
    """The global order of one training epoch."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))


def shard_batches(order: torch.Tensor, batch_size: int, *, rank: int = 0, world_size: int = 1,
                  drop_last: bool = False) -> list[torch.Tensor]:
    """This rank's part of every global batch of ``order``."""
    if drop_last:
        order = order[: (order.shape[0] // batch_size) * batch_size]
    batches = list(order.split(batch_size))
    if world_size == 1:
        return batches
    if len(batches) > 1 and batches[-1].shape[0] < world_size:
        batches[-2:] = [torch.cat(batches[-2:])]
    return [b.tensor_split(world_size)[rank] for b in batches]


def batch_seed(*parts: int) -> int:
    """A 63-bit seed from integers (seed, split, epoch, batch, rank): stable across runs and platforms."""
    packed = struct.pack(f"<{len(parts)}Q", *(p & 0xFFFF_FFFF_FFFF_FFFF for p in parts))
    digest = hashlib.blake2b(packed, digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
