"""The transform pipeline of one split: built from the spec, run per batch.

Every transform is the real torchvision (or plugin) object. How it runs
depends on what it is (see the built-in transforms ``meta``):

* deterministic and batch-safe (``normalize``, ``resize``...): one call on
  the whole ``[B, C, H, W]`` batch;
* random with a batched equivalent (flips, crops, rotation, affine, colour
  jitter, random grayscale; :mod:`cnnspec.data.batched`): per-sample random
  parameters drawn from the batch's generator, applied in one go;
* anything else: called on each sample, with torch's global RNG seeded from
  the batch's generator inside ``fork_rng`` (the training RNG is untouched).

The batch's generator is seeded by ``(seed, split, epoch, batch, rank)``, so
augmentation is reproducible and a resumed run gets the same batches.

Per-item sources (image files of different sizes) are run one sample at a
time only until their shapes agree, then stacked and run as a batch: a
dataset read per item and the same dataset held in memory go through the
same batch code and give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from cnnspec.exceptions import PipelineShapeError
from cnnspec.load.reader import PathKey

__all__ = ["Pipeline", "PipelineShapeError", "Step"]



@dataclass
class Step:
    """One transform of a pipeline and the way it runs."""

    name: str
    path: PathKey
    fn: Callable[[torch.Tensor], torch.Tensor]
    batched: bool = False
    batch_impl: Callable[[Any, torch.Tensor, torch.Generator], torch.Tensor | None] | None = None
    #: the registry's static rule ``(shape, args) -> shape`` and the spec arguments, to check real shapes
    shape_rule: Callable[[tuple[int, ...], Any], tuple[int, ...] | None] | None = None
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def random(self) -> bool:
        return not self.batched

    def on_batch(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if self.batched:
            return self.fn(x)
        if self.batch_impl is not None:
            out = self.batch_impl(self.fn, x, g)
            if out is not None:
                return out
        return _stack(self.on_samples(list(x.unbind(0)), g))

    def on_samples(self, items: list[torch.Tensor], g: torch.Generator) -> list[torch.Tensor]:
        if self.batched:
            return [self.fn(x) for x in items]
        seed = int(torch.randint(0, 2**62, (), generator=g))
        with torch.random.fork_rng(devices=[]):
            # the CPU generator only: torch.manual_seed would also reseed (and disturb) CUDA's
            torch.default_generator.manual_seed(seed)
            return [self.fn(x) for x in items]


@dataclass
class Pipeline:
    """The steps of one split, in order (``train_transforms``/``eval_transforms``, then ``transforms``)."""

    steps: list[Step] = field(default_factory=list)

    @property
    def random(self) -> bool:
        return any(s.random for s in self.steps)

    def run_batch(self, x: torch.Tensor, g: torch.Generator, start: int = 0) -> torch.Tensor:
        """Transform a float batch ``[B, C, H, W]`` (owned by the caller; may be changed in place)."""
        for step in self.steps[start:]:
            x = step.on_batch(x, g)
        return x

    def run_items(self, items: list[torch.Tensor], g: torch.Generator) -> torch.Tensor:
        """Transform float samples that may differ in size; stack as soon as they agree."""
        i = 0
        while not _uniform(items):
            if i == len(self.steps):
                raise PipelineShapeError([tuple(x.shape) for x in items])
            items = self.steps[i].on_samples(items, g)
            i += 1
        return self.run_batch(torch.stack(items), g, start=i)

    def trace(self, x: torch.Tensor, g: torch.Generator) -> list[tuple[Step, torch.Tensor]]:
        """Each step's output on a batch, for locating the step that fails or changes the shape."""
        out = []
        for step in self.steps:
            x = step.on_batch(x, g)
            out.append((step, x))
        return out


def _uniform(items: list[torch.Tensor]) -> bool:
    first = items[0].shape
    return all(x.shape == first for x in items[1:])


def _stack(items: list[torch.Tensor]) -> torch.Tensor:
    if not _uniform(items):
        raise PipelineShapeError([tuple(x.shape) for x in items])
    return torch.stack(items)
