"""The ``stripes`` dataset: striped images whose label is the stripes' orientation.

Generated, not downloaded: every image is a sinusoidal grating at one of four
orientations with a random frequency and phase, plus noise, all drawn from a
seeded generator — the same arguments give the same tensors on any machine,
so it is a dataset for smoke tests, tutorials and CI. Held as one uint8
tensor (:class:`cnnspec.data.protocol.ArrayDataset`), it takes cnnspec's
in-memory fast path.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from cnnspec.component import SpecModel

__all__ = ["STRIPE_CLASSES", "StripesParams", "make_stripes", "stripes", "stripes_sample_shape"]

STRIPE_CLASSES = ("horizontal", "vertical", "diagonal", "antidiagonal")
_ANGLES = (0.0, math.pi / 2, math.pi / 4, 3 * math.pi / 4)


class StripesParams(SpecModel):
    """Arguments of ``data: {dataset: {stripes: {...}}}``."""

    size: int = Field(default=1024, ge=1, description="training images")
    test_size: int = Field(default=256, ge=0, description="test images (0: no test split)")
    image_size: int = Field(default=32, ge=4, description="height and width")
    channels: Literal[1, 3] = 1
    noise: float = Field(default=0.2, ge=0, le=1, description="std of the added Gaussian noise")
    seed: int = Field(default=0, description="the generator's seed; test images use seed + 1")


def stripes_sample_shape(args: dict[str, Any]) -> tuple[int, int, int]:
    """``meta["sample_shape"]``: known from the arguments without generating anything."""
    size = int(args.get("image_size", 32))
    return (int(args.get("channels", 1)), size, size)


def make_stripes(n: int, *, image_size: int, channels: int, noise: float, seed: int) -> tuple[Any, Any]:
    """``n`` images ``[n, C, S, S]`` (uint8) and their labels ``[n]``."""
    import torch

    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, len(STRIPE_CLASSES), (n,), generator=g)
    angles = torch.tensor(_ANGLES)[labels]
    periods = 3 + torch.rand(n, generator=g) * (image_size / 3)  # pixels per stripe pair
    phases = torch.rand(n, generator=g) * 2 * math.pi
    coords = torch.arange(image_size, dtype=torch.float32)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    # distance along the direction perpendicular to the stripes
    along = (x[None] * torch.sin(angles)[:, None, None] + y[None] * torch.cos(angles)[:, None, None])
    wave = torch.sin(2 * math.pi * along / periods[:, None, None] + phases[:, None, None])
    images = 0.5 + 0.5 * wave + noise * torch.randn(n, image_size, image_size, generator=g)
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    return images[:, None].expand(n, channels, image_size, image_size).contiguous(), labels


def stripes(root: Path, download: bool, **args: Any) -> Any:
    """The dataset factory: ``factory(root, download, **args)`` -> ``DatasetSplits``.

    ``root`` and ``download`` are part of the protocol; a generated dataset
    needs neither.
    """
    from cnnspec.data.protocol import ArrayDataset, DatasetSplits

    p = StripesParams.model_validate(args)
    common = {"image_size": p.image_size, "channels": p.channels, "noise": p.noise}
    train = ArrayDataset(*make_stripes(p.size, seed=p.seed, **common), classes=STRIPE_CLASSES)
    test = ArrayDataset(*make_stripes(p.test_size, seed=p.seed + 1, **common), classes=STRIPE_CLASSES) \
        if p.test_size else None
    return DatasetSplits(train=train, test=test, classes=STRIPE_CLASSES)
