"""Writers of small datasets in their real on-disk formats.

The files are what torchvision reads: MNIST's IDX files (raw and .gz) under
``<root>/<Name>/raw``, CIFAR's pickled batches and meta files, and an image
folder of PNGs. CIFAR's loader checks every file's md5 against constants of
the class; the ``cifar_files`` fixture sets those constants to the md5s of
the files it wrote (``monkeypatch``), so the real integrity check runs.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

__all__ = ["make_cifar", "make_image_folder", "make_mnist", "tar_cifar", "trust_cifar", "write_idx"]



def write_idx(path: Path, array: np.ndarray, *, gz: bool = False) -> Path:
    """An IDX file: magic (0, 0, type 0x08 = ubyte, ndim), big-endian dims, then the bytes."""
    assert array.dtype == np.uint8
    payload = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)
    return path


def make_mnist(root: Path, name: str = "MNIST", *, n_train: int = 60, n_test: int = 20, gz: bool = False,
               seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }
    raw = root / name / "raw"
    write_idx(raw / "train-images-idx3-ubyte", arrays["train_images"], gz=gz)
    write_idx(raw / "train-labels-idx1-ubyte", arrays["train_labels"], gz=gz)
    write_idx(raw / "t10k-images-idx3-ubyte", arrays["test_images"], gz=gz)
    write_idx(raw / "t10k-labels-idx1-ubyte", arrays["test_labels"], gz=gz)
    return arrays


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def make_cifar(root: Path, kind: str = "cifar10", *, per_batch: int = 10, n_test: int = 20,
               seed: int = 0) -> dict[str, Any]:
    """CIFAR-10's five data_batch_N + test_batch + batches.meta, or CIFAR-100's train/test/meta."""
    rng = np.random.default_rng(seed)
    ten = kind == "cifar10"
    folder = root / ("cifar-10-batches-py" if ten else "cifar-100-python")
    folder.mkdir(parents=True, exist_ok=True)
    classes = 10 if ten else 100
    label_key = "labels" if ten else "fine_labels"
    names = [f"data_batch_{i}" for i in range(1, 6)] if ten else ["train"]
    count = per_batch if ten else per_batch * 5
    images, labels = [], []
    for name in names:
        data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        target = [int(t) for t in rng.integers(0, classes, count)]
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, label_key: target, "data": data,
                         "filenames": [f"{i}.png" for i in range(count)]}, f)
        images.append(data)
        labels.extend(target)
    test = rng.integers(0, 256, (n_test, 3072), dtype=np.uint8)
    test_labels = [int(t) for t in rng.integers(0, classes, n_test)]
    test_name = "test_batch" if ten else "test"
    with open(folder / test_name, "wb") as f:
        pickle.dump({"batch_label": "testing", label_key: test_labels, "data": test}, f)
    meta_name = "batches.meta" if ten else "meta"
    class_names = [f"class{i}" for i in range(classes)]
    with open(folder / meta_name, "wb") as f:
        key = "label_names" if ten else "fine_label_names"
        pickle.dump({key: class_names, "num_vis": 3072}, f)
    return {
        "folder": folder,
        "train_files": [[n, _md5(folder / n)] for n in names],
        "test_files": [[test_name, _md5(folder / test_name)]],
        "meta": {"filename": meta_name, "key": "label_names" if ten else "fine_label_names",
                 "md5": _md5(folder / meta_name)},
        "train_images": np.concatenate(images).reshape(-1, 3, 32, 32),
        "train_labels": np.array(labels),
        "test_images": test.reshape(-1, 3, 32, 32),
        "test_labels": np.array(test_labels),
        "classes": class_names,
    }


def trust_cifar(monkeypatch: pytest.MonkeyPatch, cls: type, files: dict[str, Any]) -> None:
    """Point the class's md5 constants at the files written (the integrity check itself still runs)."""
    monkeypatch.setattr(cls, "train_list", files["train_files"])
    monkeypatch.setattr(cls, "test_list", files["test_files"])
    monkeypatch.setattr(cls, "meta", files["meta"])


def tar_cifar(root: Path, files: dict[str, Any], filename: str) -> Path:
    """The download archive torchvision expects (the batches folder inside a .tar.gz)."""
    archive = root / filename
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(files["folder"], arcname=files["folder"].name)
    return archive


def make_image_folder(folder: Path, classes: dict[str, int], *, size: tuple[int, int] = (12, 10),
                      mode: str = "RGB", seed: int = 0, sizes: list[tuple[int, int]] | None = None) -> None:
    """``folder/<class>/<i>.png``; ``size`` is (width, height) as PIL has it."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    k = 0
    for name, count in classes.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            w, h = sizes[k % len(sizes)] if sizes else size
            k += 1
            shape = (h, w, 3) if mode == "RGB" else (h, w)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(folder / name / f"{i}.png")
