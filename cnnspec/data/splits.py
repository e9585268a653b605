"""Which samples each split, epoch and rank sees: pure functions of seeds.

* the validation split is ``torch.utils.data.random_split`` with a seeded
  generator (``val_split``) or a fixed index range (``val_indices``);
* the training order of an epoch is ``DistributedSampler``'s: a
  ``randperm`` seeded with ``seed + epoch``, padded to a multiple of the
  world size and dealt out ``rank::world_size`` (so every rank runs the same
  number of batches, as DDP requires);
* validation and test keep their order and are dealt out without padding,
  so the shards are disjoint and together complete (metrics are summed
  across ranks, never averaged per rank).

A resumed run recomputes the same order from ``(seed, epoch)`` and skips
``start_batch`` batches: it sees exactly what the uninterrupted run saw.
"""

from __future__ import annotations

import hashlib
import struct

import torch

__all__ = ["batch_seed", "eval_shard", "fraction_split", "range_split", "train_order"]


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


def train_order(n: int, *, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """This rank's positions for one training epoch (DistributedSampler semantics)."""
    g = torch.Generator().manual_seed(seed + epoch)
    order = torch.randperm(n, generator=g)
    if world_size > 1:
        total = -(-n // world_size) * world_size
        if total > n:
            repeats = -(-(total - n) // n)
            order = torch.cat([order, order.repeat(repeats)[: total - n]])
        order = order[rank:total:world_size]
    return order


def eval_shard(n: int, *, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """This rank's positions for validation/test: in order, disjoint, no padding."""
    return torch.arange(rank, n, world_size, dtype=torch.int64)


def batch_seed(*parts: int) -> int:
    """A 63-bit seed from integers (seed, split, epoch, batch, rank): stable across runs and platforms."""
    packed = struct.pack(f"<{len(parts)}Q", *(p & 0xFFFF_FFFF_FFFF_FFFF for p in parts))
    digest = hashlib.blake2b(packed, digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
