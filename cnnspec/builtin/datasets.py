"""Built-in datasets: digits (offline), the torchvision classics, ImageFolder, FakeData.

Registered through :func:`cnnspec.hookspec.cnnspec_datasets` without
importing torch: factories are ``"module:function"`` strings in
:mod:`cnnspec.data.sources`, arguments are pydantic models checked by
``cnnspec validate``, and ``meta`` holds the facts a tool may want without
loading anything:

* ``sample_shape`` — ``(C, H, W)`` of a raw sample (a tuple, or a function
  of the dataset's arguments);
* ``num_classes`` and ``classes`` — the label set (int or function);
* ``sizes`` — samples per split as published;
* ``in_memory`` — the samples are held as one tensor (the fast path).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from cnnspec.component import SpecModel
from cnnspec.hookspec import hookimpl

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR100_CLASSES",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "FakeDataArgs",
    "ImageFolderArgs",
    "NoArgs",
    "cnnspec_datasets",
]

MNIST_CLASSES = ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
                 "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR100_CLASSES = tuple("""
apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can castle
caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin elephant flatfish
forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle
mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine
possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar
sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale
willow_tree wolf woman worm
""".split())


class NoArgs(SpecModel):
    """A dataset whose only settings are ``data.root`` and ``data.download``."""


class FakeDataArgs(SpecModel):
    """torchvision's FakeData: random images, reproducible per index."""

    size: int = Field(default=1000, ge=1, description="training samples")
    test_size: int = Field(default=200, ge=0, description="test samples (0: no test split)")
    image_size: list[int] = Field(default_factory=lambda: [3, 32, 32], description="[C, H, W] of each sample")
    num_classes: int = Field(default=10, ge=1)

    @field_validator("image_size")
    @classmethod
    def _check_image_size(cls, value: list[int]) -> list[int]:
        if len(value) != 3 or any(v < 1 for v in value):
            raise ValueError(f"expected [C, H, W] with every entry >= 1, got {value}")
        if value[0] not in (1, 3):
            raise ValueError(f"FakeData makes 1- or 3-channel images, got {value[0]} channels")
        return value


class ImageFolderArgs(SpecModel):
    """One folder per class (``train/cat/001.png``), as torchvision's ImageFolder reads it."""

    train: str = Field(description="the training folder; relative paths are under data.root")
    val: str | None = Field(default=None, description="a validation folder (instead of val_split)")
    test: str | None = Field(default=None, description="a test folder")


def _fake_shape(args: dict[str, Any]) -> tuple[int, ...]:
    return tuple(args.get("image_size") or (3, 32, 32))


def _fake_classes(args: dict[str, Any]) -> int:
    return int(args.get("num_classes", 10))


@hookimpl
def cnnspec_datasets():
    from cnnspec.component import Component

    src = "cnnspec.data.sources"
    return [
        Component("digits", f"{src}:digits", NoArgs,
                  doc="scikit-learn's bundled 8x8 handwritten digits (offline): 1437 train / 360 test",
                  meta={"sample_shape": (1, 8, 8), "num_classes": 10, "classes": tuple("0123456789"),
                        "sizes": {"train": 1437, "test": 360}, "in_memory": True}),
        Component("MNIST", f"{src}:mnist", NoArgs, doc="torchvision.datasets.MNIST (root/MNIST/raw)",
                  meta={"sample_shape": (1, 28, 28), "num_classes": 10, "classes": MNIST_CLASSES,
                        "sizes": {"train": 60000, "test": 10000}, "in_memory": True}),
        Component("FashionMNIST", f"{src}:fashionmnist", NoArgs,
                  doc="torchvision.datasets.FashionMNIST (root/FashionMNIST/raw)",
                  meta={"sample_shape": (1, 28, 28), "num_classes": 10, "classes": FASHION_MNIST_CLASSES,
                        "sizes": {"train": 60000, "test": 10000}, "in_memory": True}),
        Component("CIFAR10", f"{src}:cifar10", NoArgs, doc="torchvision.datasets.CIFAR10 (root/cifar-10-batches-py)",
                  meta={"sample_shape": (3, 32, 32), "num_classes": 10, "classes": CIFAR10_CLASSES,
                        "sizes": {"train": 50000, "test": 10000}, "in_memory": True}),
        Component("CIFAR100", f"{src}:cifar100", NoArgs, doc="torchvision.datasets.CIFAR100 (root/cifar-100-python)",
                  meta={"sample_shape": (3, 32, 32), "num_classes": 100, "classes": CIFAR100_CLASSES,
                        "sizes": {"train": 50000, "test": 10000}, "in_memory": True}),
        Component("ImageFolder", f"{src}:imagefolder", ImageFolderArgs,
                  doc="torchvision.datasets.ImageFolder: one sub-folder of images per class",
                  meta={"in_memory": False}),
        Component("FakeData", f"{src}:fakedata", FakeDataArgs,
                  doc="torchvision.datasets.FakeData: random images for smoke tests",
                  meta={"sample_shape": _fake_shape, "num_classes": _fake_classes, "in_memory": True}),
    ]
