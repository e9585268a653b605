#!/usr/bin/env python3
"""Per-epoch data time: the seeds' per-item DataLoader vs cnnspec's in-memory path.

Baseline (measured in the same run, on the same files): seed 000's pipeline,
``torchvision.datasets.CIFAR10`` with ``Compose([ToTensor(), Normalize(0.5s)])``
read by ``DataLoader(batch_size=64, shuffle=True, num_workers=0)`` — a PIL
image per item, converted and normalised one at a time, then collated.

cnnspec: the same files through ``build_data`` (resident uint8 tensor,
gathered by index and normalised per batch). A second pair compares seed
004's augmentation (RandomCrop, RandomHorizontalFlip, RandomRotation,
ColorJitter) per item through PIL against cnnspec's batched augmentation.

The CIFAR files are generated in the real format (pickled batches, md5s
registered with torchvision's class), so both sides read exactly the same
bytes through torchvision. Results are ratios; with ``--write`` they replace
the "## Data loading" section of docs/performance.md.

    .venv/bin/python benchmarks/bench_data.py --images 10000 --epochs 3 --write
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision import transforms as T

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnnspec.data import build_data  # noqa: E402
from cnnspec.spec import load_spec  # noqa: E402

MEAN_STD = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def write_cifar(root: Path, images: int, seed: int = 0) -> None:
    """CIFAR-10's on-disk format, with ``images`` training images over five batches; md5s registered."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    per = images // 5
    train = []
    for i in range(1, 6):
        name = f"data_batch_{i}"
        with open(folder / name, "wb") as f:
            pickle.dump({"data": rng.integers(0, 256, (per, 3072), dtype=np.uint8),
                         "labels": rng.integers(0, 10, per).tolist()}, f)
        train.append([name, hashlib.md5((folder / name).read_bytes()).hexdigest()])
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": rng.integers(0, 256, (1000, 3072), dtype=np.uint8),
                     "labels": rng.integers(0, 10, 1000).tolist()}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    md5 = {n: hashlib.md5((folder / n).read_bytes()).hexdigest() for n in ("test_batch", "batches.meta")}
    cls = torchvision.datasets.CIFAR10
    cls.train_list = train
    cls.test_list = [["test_batch", md5["test_batch"]]]
    cls.meta = {"filename": "batches.meta", "key": "label_names", "md5": md5["batches.meta"]}


def _epoch(make_epoch: Callable[[int], Iterable[tuple[torch.Tensor, torch.Tensor]]], epoch: int) -> float:
    start = time.perf_counter()
    for _ in make_epoch(epoch):
        pass
    return time.perf_counter() - start


def paired_seconds(baseline_epoch: Callable[[int], Iterable], cnnspec_epoch: Callable[[int], Iterable],
                   epochs: int) -> tuple[float, float]:
    """Median seconds per epoch of each side, epochs alternating so both see the same machine load.

    One warm-up epoch each is not counted.
    """
    times: tuple[list[float], list[float]] = ([], [])
    for epoch in range(epochs + 1):
        for side, make in enumerate((baseline_epoch, cnnspec_epoch)):
            seconds = _epoch(make, epoch)
            if epoch:
                times[side].append(seconds)
    return statistics.median(times[0]), statistics.median(times[1])


def baseline(root: Path, batch_size: int, transform: Callable) -> Callable[[int], Iterable]:
    dataset = torchvision.datasets.CIFAR10(str(root), train=True, transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0)
    return lambda epoch: loader


def cnnspec_epochs(root: Path, batch_size: int, extra: str) -> Callable[[int], Iterable]:
    spec = load_spec({
        "input": [3, 32, 32], "model": ["flatten", {"linear": {"out_features": 10}}],
        "data": {"dataset": "cifar10", "root": str(root), "batch_size": batch_size,
                 "transforms": [{"normalize": {"mean": list(MEAN_STD[0]), "std": list(MEAN_STD[1])}}],
                 **({"train_transforms": [{"randomcrop": {"size": 32, "padding": 4}}, "randomhorizontalflip",
                                          {"randomrotation": {"degrees": 15}},
                                          {"colorjitter": {"brightness": 0.2, "contrast": 0.2}}]}
                    if extra == "augment" else {})},
    })
    bundle = build_data(spec)
    return lambda epoch: bundle.loader("train", epoch=epoch)


def run(images: int, epochs: int, batch_size: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_cifar(root, images)
        plain = T.Compose([T.ToTensor(), T.Normalize(*MEAN_STD)])
        augment = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.RandomRotation(15),
                             T.ColorJitter(brightness=0.2, contrast=0.2), T.ToTensor(), T.Normalize(*MEAN_STD)])
        n = (images // 5) * 5
        load = os.getloadavg()[0]
        plain_times = paired_seconds(baseline(root, batch_size, plain), cnnspec_epochs(root, batch_size, ""), epochs)
        aug_times = paired_seconds(baseline(root, batch_size, augment), cnnspec_epochs(root, batch_size, "augment"),
                                   epochs)
        return {"n": n, "load": load, "baseline": plain_times[0] / n, "cnnspec": plain_times[1] / n,
                "baseline_aug": aug_times[0] / n, "cnnspec_aug": aug_times[1] / n}


def report(r: dict[str, float], batch_size: int, epochs: int) -> str:
    us = {k: v * 1e6 for k, v in r.items() if k not in ("n", "load")}
    plain, aug = r["baseline"] / r["cnnspec"], r["baseline_aug"] / r["cnnspec_aug"]
    return f"""## Data loading

`benchmarks/bench_data.py`: one training epoch of CIFAR-10-format data
({r["n"]:,} images, generated in the real pickled-batch format and read
through `torchvision.datasets.CIFAR10` by both sides), batch size
{batch_size}, median of {epochs} epochs after a warm-up (the two sides alternate
epoch by epoch), data only (no model).
Baseline: the seeds' per-item `DataLoader` (PIL image → `ToTensor` →
`Normalize`, `num_workers=0`), measured in the same run.

| pipeline | baseline µs/image | cnnspec µs/image | speed-up |
|---|---:|---:|---:|
| normalize (seed 000) | {us["baseline"]:.1f} | {us["cnnspec"]:.1f} | **{plain:.1f}x** |
| crop, flip, rotation, color jitter, normalize (seed 004) | {us["baseline_aug"]:.1f} \
| {us["cnnspec_aug"]:.1f} | **{aug:.1f}x** |

cnnspec keeps the dataset as one resident uint8 tensor, gathers each batch
by index and applies the transforms to the whole batch (random ones with
per-sample parameters). Target: >= 5x on the first row.

Machine: {platform.machine()}, {os.cpu_count()} CPUs (load average {r["load"]:.1f} when the run
started), {torch.get_num_threads()} torch thread(s) for both sides, Python {platform.python_version()},
torch {torch.__version__}, torchvision {torchvision.__version__}. On a shared machine the
absolute times vary with the load; the ratio, measured in one run, is the number to compare.
With more intra-op threads than free cores, batched tensor ops mostly wait for each
other, which is why the benchmark pins one thread by default (`--threads`).
"""


def write_section(path: Path, section: str) -> None:
    """Replace (or append) the ``## Data loading`` section, keeping the others."""
    header = "# Performance\n\nRatios against baselines measured in the same run.\n"
    text = path.read_text() if path.exists() else header
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == "## Data loading"), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        text = "".join(lines[:start]) + section + ("\n" + "".join(lines[end:]) if end < len(lines) else "")
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads for both sides (default 1: on a shared machine extra threads "
                             "mostly wait for each other)")
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = run(args.images, args.epochs, args.batch_size)
    section = report(result, args.batch_size, args.epochs)
    print(section)
    if args.write:
        write_section(ROOT / "docs" / "performance.md", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
