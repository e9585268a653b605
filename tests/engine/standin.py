"""A small in-memory DataBundle with the data layer's protocol, for engine tests.

The engine is tested against this stand-in so its tests do not depend on any
dataset's files; the real data layer is exercised by the end-to-end tests.
Train order is a pure function of (seed, epoch); with several processes each
rank takes its slice of every global batch, so the processes together see
exactly the single-process batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["TensorBundle", "digits_bundle", "random_bundle"]


class TensorBundle:
    def __init__(self, splits: dict[str, tuple[torch.Tensor, torch.Tensor]], classes: list[str], *,
                 batch_size: int = 32, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.splits = splits
        self.classes = classes
        self.num_classes = len(classes)
        self.sample_shape = tuple(next(iter(splits.values()))[0].shape[1:])
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size

    def has(self, split: str) -> bool:
        return split in self.splits

    def size(self, split: str) -> int:
        return int(self.splits[split][0].shape[0])

    def num_batches(self, split: str) -> int:
        return -(-self.size(split) // self.batch_size)

    def loader(self, split: str, *, epoch: int = 0, start_batch: int = 0) -> Iterator[tuple[Any, Any]]:
        x, y = self.splits[split]
        n = x.shape[0]
        if split == "train":
            g = torch.Generator().manual_seed(self.seed * 1000 + epoch)
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        for b in range(start_batch, self.num_batches(split)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            if self.world_size > 1:
                idx = idx.tensor_split(self.world_size)[self.rank]
            yield x[idx], y[idx]

    def sample_batch(self, split: str, n: int) -> tuple[Any, Any]:
        x, y = self.splits[split]
        return x[:n], y[:n]


def digits_bundle(*, batch_size: int = 32, seed: int = 0, rank: int = 0, world_size: int = 1,
                  test: bool = True) -> TensorBundle:
    """scikit-learn's 8x8 digits: 1797 images, 60/20/20 split, scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target, dtype=torch.int64)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(1234))
    x, y = x[perm], y[perm]
    a, b = 1078, 1437
    splits = {"train": (x[:a], y[:a]), "val": (x[a:b], y[a:b])}
    if test:
        splits["test"] = (x[b:], y[b:])
    return TensorBundle(splits, [str(i) for i in range(10)], batch_size=batch_size, seed=seed, rank=rank,
                        world_size=world_size)


def random_bundle(shape: tuple[int, ...] = (1, 8, 8), classes: int = 3, sizes: tuple[int, int, int] = (40, 20, 20),
                  *, batch_size: int = 8, seed: int = 0) -> TensorBundle:
    g = torch.Generator().manual_seed(99)
    splits = {}
    for name, n in zip(("train", "val", "test"), sizes):
        if n:
            splits[name] = (torch.randn(n, *shape, generator=g), torch.randint(0, classes, (n,), generator=g))
    return TensorBundle(splits, [f"c{i}" for i in range(classes)], batch_size=batch_size, seed=seed)
