"""Factories of the built-in datasets (see :mod:`cnnspec.builtin.datasets`).

Each returns :class:`~cnnspec.data.protocol.DatasetSplits` of the real
torchvision dataset objects (or of :class:`ArrayDataset` for digits), so the
per-item path reads exactly what torchvision reads. Missing or damaged files
become :class:`DatasetNotFound` with the precise fix: the ``--set`` to
download, or which files to put in which folder. A torchvision download
that finds a matching archive already in place extracts it without the
network, which the hints point out.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import Any

from cnnspec.data.protocol import ArrayDataset, DatasetError, DatasetNotFound, DatasetSplits

__all__ = [
    "DIGITS_TEST_SIZE",
    "cifar10",
    "cifar100",
    "digits",
    "fakedata",
    "fashionmnist",
    "imagefolder",
    "mnist",
]

#: digits has no published split: a fixed permutation (RandomState(0)) puts
#: the last 360 of its 1797 images in the test split
DIGITS_TEST_SIZE = 360

_DOWNLOAD_HINT = "add --set data.download=true (or download: true under data:) to fetch it"


def digits(root: Path, download: bool) -> DatasetSplits:
    """scikit-learn's 8x8 digits: bundled with the package, so always offline."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # pixel values are integers 0..16; /16 maps them exactly into [0, 1]
    images = torch.from_numpy((bunch.images / 16.0).astype(np.float32)).unsqueeze(1)
    targets = torch.from_numpy(bunch.target.astype(np.int64))
    order = torch.from_numpy(np.random.RandomState(0).permutation(len(targets)))
    train, test = order[:-DIGITS_TEST_SIZE], order[-DIGITS_TEST_SIZE:]
    classes = [str(d) for d in range(10)]
    return DatasetSplits(
        train=ArrayDataset(images[train], targets[train], classes),
        test=ArrayDataset(images[test], targets[test], classes),
        classes=classes,
    )


# -- MNIST family ----------------------------------------------------------------------


def mnist(root: Path, download: bool) -> DatasetSplits:
    return _mnist_family("MNIST", root, download)


def fashionmnist(root: Path, download: bool) -> DatasetSplits:
    return _mnist_family("FashionMNIST", root, download)


def _gunzip_missing(raw: Path, names: list[str]) -> None:
    """``X.gz`` → ``X`` where only the archive is there (torchvision reads ``X``).

    People often fetch the four ``.gz`` files by hand; torchvision would
    only extract them on ``download=True`` and after an md5 check.
    """
    for name in names:
        target, archive = raw / name, raw / f"{name}.gz"
        if target.is_file() or not archive.is_file():
            continue
        tmp = target.with_name(target.name + ".part")
        try:
            with gzip.open(archive, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
        except (OSError, EOFError) as exc:
            tmp.unlink(missing_ok=True)
            raise DatasetNotFound(f"{archive} cannot be decompressed: {exc}",
                                  hint=f"replace it with a good copy, or delete it and {_DOWNLOAD_HINT}") from None
        os.replace(tmp, target)


def _mnist_family(name: str, root: Path, download: bool) -> DatasetSplits:
    from urllib.error import URLError

    from torchvision import datasets

    cls = getattr(datasets, name)
    raw = root / name / "raw"
    names = [os.path.splitext(f)[0] for f, _ in cls.resources]
    _gunzip_missing(raw, names)
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=False)
    except (RuntimeError, URLError, OSError) as exc:
        missing = [n for n in names if not (raw / n).is_file()]
        if download and missing:
            raise DatasetNotFound(f"downloading {name} into {raw} failed: {_first_line(exc)}",
                                  hint=f"check the network, or put {', '.join(f + '.gz' for f in missing)} "
                                       f"(or the extracted files) in {raw}/") from None
        if missing:
            raise DatasetNotFound(
                f"{name} is not in {raw}/: {', '.join(missing)} missing",
                hint=f"{_DOWNLOAD_HINT}, or put the IDX files {', '.join(names)} "
                     f"(or their .gz archives) in {raw}/") from None
        raise DatasetNotFound(f"{name} files in {raw}/ cannot be read: {_first_line(exc)}",
                              hint=f"delete {raw}/ and {_DOWNLOAD_HINT}") from None
    except (AssertionError, ValueError) as exc:  # read_sn3_pascalvincent_tensor's checks
        raise DatasetNotFound(f"{name} files in {raw}/ are not valid IDX files: {_first_line(exc)}",
                              hint=f"delete {raw}/ and {_DOWNLOAD_HINT}") from None
    return DatasetSplits(train=train, test=test, classes=list(train.classes))


# -- CIFAR -----------------------------------------------------------------------------


def cifar10(root: Path, download: bool) -> DatasetSplits:
    return _cifar("CIFAR10", root, download)


def cifar100(root: Path, download: bool) -> DatasetSplits:
    return _cifar("CIFAR100", root, download)


def _cifar(name: str, root: Path, download: bool) -> DatasetSplits:
    import pickle
    from urllib.error import URLError

    from torchvision import datasets

    cls = getattr(datasets, name)
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=False)
    except (RuntimeError, URLError, OSError, pickle.UnpicklingError, EOFError, KeyError, ValueError) as exc:
        raise _cifar_problem(cls, name, root, download, exc) from None
    return DatasetSplits(train=train, test=test, classes=list(train.classes))


def _cifar_problem(cls: Any, name: str, root: Path, download: bool, exc: BaseException) -> DatasetNotFound:
    """Which file is missing or has the wrong md5 (torchvision only says "not found or corrupted")."""
    from torchvision.datasets.utils import calculate_md5

    folder = root / cls.base_folder
    expected = [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]
    missing = [f for f, _ in expected if not (folder / f).is_file()]
    damaged = [f"{f} (md5 {calculate_md5(folder / f)}, expected {md5})" for f, md5 in expected
               if (folder / f).is_file() and calculate_md5(folder / f) != md5]
    archive = root / cls.filename
    offline = (f"or put {cls.filename} in {root}/ and set data.download=true: an archive with the right md5 "
               "is extracted without the network")
    if download and (missing or damaged):
        return DatasetNotFound(f"downloading {name} into {root}/ failed: {_first_line(exc)}",
                               hint=f"check the network, {offline}")
    if missing:
        where = f"{archive} is there but not extracted; " if archive.is_file() else ""
        return DatasetNotFound(f"{name} is not in {folder}/: {where}{', '.join(missing)} missing",
                               hint=f"{_DOWNLOAD_HINT}, {offline}")
    if damaged:
        return DatasetNotFound(f"{name} files in {folder}/ are damaged: {'; '.join(damaged)}",
                               hint=f"delete {folder}/ and {_DOWNLOAD_HINT}")
    return DatasetNotFound(f"{name} in {folder}/ cannot be read: {_first_line(exc)}",
                           hint=f"delete {folder}/ and {_DOWNLOAD_HINT}")


# -- ImageFolder, FakeData -------------------------------------------------------------


def imagefolder(root: Path, download: bool, train: str, val: str | None = None,
                test: str | None = None) -> DatasetSplits:
    """One folder per class; ``val``/``test`` must have the same class folders."""
    from torchvision.datasets import ImageFolder

    def load(folder: str, which: str) -> Any:
        path = Path(folder) if Path(folder).is_absolute() else root / folder
        layout = f"{path}/<class>/<image>.png, one sub-folder per class (cat/, dog/, ...)"
        if not path.is_dir():
            relative = "" if Path(folder).is_absolute() else f" (data.root {str(root)!r} + {folder!r})"
            raise DatasetNotFound(f"the imagefolder {which} folder {path}{relative} does not exist",
                                  hint=f"put the images in {layout}")
        try:
            return ImageFolder(str(path))
        except FileNotFoundError as exc:
            raise DatasetNotFound(f"the imagefolder {which} folder {path}: {_first_line(exc)}",
                                  hint=f"put the images in {layout}") from None

    splits = {"train": load(train, "train")}
    for which, folder in (("val", val), ("test", test)):
        if folder is not None:
            splits[which] = load(folder, which)
            if splits[which].classes != splits["train"].classes:
                raise DatasetError(
                    f"the imagefolder {which} folder has classes {splits[which].classes} "
                    f"but the train folder has {splits['train'].classes}",
                    hint="every split needs the same class sub-folders (targets are their sorted order)")
    return DatasetSplits(train=splits["train"], val=splits.get("val"), test=splits.get("test"),
                         classes=list(splits["train"].classes))


def fakedata(root: Path, download: bool, size: int = 1000, test_size: int = 200,
             image_size: tuple[int, ...] | list[int] = (3, 32, 32), num_classes: int = 10) -> DatasetSplits:
    """Random images, reproducible per index; the test split continues the index range."""
    from torchvision.datasets import FakeData

    shape = tuple(image_size)
    train = FakeData(size=size, image_size=shape, num_classes=num_classes)
    test = FakeData(size=test_size, image_size=shape, num_classes=num_classes, random_offset=size) \
        if test_size else None
    return DatasetSplits(train=train, test=test, classes=[str(i) for i in range(num_classes)])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
