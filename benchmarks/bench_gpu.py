#!/usr/bin/env python3
"""cnnspec's engine on a GPU against three hand-written baselines, measured in one run.

Four ways to train the same model from the same initial weights on the same
CIFAR-shaped images (written to disk in CIFAR-10's own format, so every side
reads real files; 45,000 training images per epoch by default):

* **cnnspec** — ``cnnspec.train`` on a spec with the ``cifar10`` dataset:
  its data goes to the GPU once as uint8 and every batch is gathered,
  converted and normalised there;
* **hand loop** — the tutorials' loop over a normalised float tensor in host
  memory, each batch copied to the GPU, ``loss.item()`` every step;
* **hand loop, resident** — the same loop with the tensor already on the GPU;
* **per-item DataLoader** — the seeds' pipeline: ``torchvision.datasets.CIFAR10``
  with ``ToTensor()`` + ``Normalize()`` per image and a ``DataLoader`` with 2
  workers (CIFAR10CNN only).

Workloads: seed 003's CIFAR10CNN at batch 128 and ResNet-18 with a CIFAR
stem at batch 512, each in fp32 and in bf16 autocast + channels_last; SGD.
For every side it reports the time to the first finished step (from the
start: data, model, the first step's kernel selection), the steady epoch
time (median of the epochs after the first) and images per second, then the
ratios. ``--write`` replaces the "## GPU" section of docs/performance.md.
It needs only torch, torchvision and the project; nothing is downloaded.

    python benchmarks/bench_gpu.py --write              # about 3 minutes on one H200
    python benchmarks/bench_gpu.py --device cpu --train 512 --epochs 2 --workload cifar10cnn   # a smoke test
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnnspec.build import build_model  # noqa: E402
from cnnspec.callbacks import Callback  # noqa: E402
from cnnspec.engine import train  # noqa: E402
from cnnspec.load import load_document  # noqa: E402
from cnnspec.spec import load_spec  # noqa: E402

MEAN, STD = [0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]
SEED = 0


# -- data --------------------------------------------------------------------------------


def write_cifar(root: Path, n_train: int, n_test: int) -> None:
    """Random images in CIFAR-10's on-disk format (five pickled batches, a test batch, the meta file)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    from torchvision import datasets

    train_list = []
    for i, part in enumerate(np.array_split(np.arange(n_train), 5), start=1):
        name = f"data_batch_{i}"
        data = rng.integers(0, 256, (len(part), 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, len(part))]
        with open(folder / name, "wb") as fh:
            pickle.dump({"batch_label": name, "labels": labels, "data": data}, fh)
        train_list.append([name, _md5(folder / name)])
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({"batch_label": "test", "labels": [int(v) for v in rng.integers(0, 10, n_test)],
                     "data": rng.integers(0, 256, (n_test, 3072), dtype=np.uint8)}, fh)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}, fh)
    # torchvision checks the files against md5 sums of the official archive: point them at these files
    datasets.CIFAR10.train_list = train_list
    datasets.CIFAR10.test_list = [["test_batch", _md5(folder / "test_batch")]]
    datasets.CIFAR10.meta = {"filename": "batches.meta", "key": "label_names", "md5": _md5(folder / "batches.meta")}


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


# -- models --------------------------------------------------------------------------------


def cifar10cnn() -> dict[str, Any]:
    model = load_document(str(ROOT / "specs" / "seed003_cifar10cnn.yaml")).data["model"]
    classifier = model[1]["sequential"]["layers"]
    model[1]["sequential"]["layers"] = [layer for layer in classifier if layer != {"logsoftmax": {"dim": 1}}]
    return {"name": "cifar10cnn", "input": [3, 32, 32], "model": model}


def resnet18_cifar() -> dict[str, Any]:
    """torchvision's ResNet-18 with the CIFAR stem: a 3x3 stride-1 first conv and no max pool."""
    model = load_document(str(ROOT / "specs" / "resnet18.yaml")).data["model"]
    model[0] = {"conv2d": {"name": "conv1", "out_channels": 64, "kernel_size": 3, "padding": 1, "bias": False}}
    model[3] = "identity"
    model[-1] = {"linear": {"name": "fc", "out_features": 10}}
    return {"name": "resnet18-cifar", "input": [3, 32, 32], "model": model}


WORKLOADS: dict[str, tuple[Callable[[], dict[str, Any]], int]] = {
    "cifar10cnn": (cifar10cnn, 128),
    "resnet18": (resnet18_cifar, 512),
}
PRECISIONS = {"fp32": {"amp": False, "channels_last": False}, "bf16+cl": {"amp": "bf16", "channels_last": True}}


def full_spec(base: dict[str, Any], root: Path, batch: int, epochs: int, device: str, precision: dict[str, Any],
              compile_: bool) -> dict[str, Any]:
    return {**base, "seed": SEED,
            "data": {"dataset": "cifar10", "root": str(root), "batch_size": batch,
                     "transforms": [{"normalize": {"mean": MEAN, "std": STD}}]},
            "train": {"epochs": epochs, "optimizer": {"sgd": {"lr": 0.01, "momentum": 0.9}},
                      "loss": "crossentropyloss", "device": device, "progress": False, "compile": compile_,
                      **precision},
            "callbacks": []}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- the contenders ------------------------------------------------------------------------


class _Clock(Callback):
    """The first finished step and each epoch's training time, with the GPU's work included."""

    def __init__(self, start: float, device: torch.device) -> None:
        self.start, self.device = start, device
        self.first_step: float | None = None
        self.epochs: list[float] = []
        self._t0 = 0.0

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        _sync(self.device)
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer: Any, batch: int, loss: float, inputs: Any, targets: Any,
                           outputs: Any) -> None:
        if self.first_step is None:
            _sync(self.device)
            self.first_step = time.perf_counter() - self.start

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        _sync(self.device)
        self.epochs.append(time.perf_counter() - self._t0)


def run_cnnspec(spec: dict[str, Any], device: torch.device, runs: Path) -> dict[str, Any]:
    start = time.perf_counter()
    clock = _Clock(start, device)
    train(spec, callbacks=[clock], runs_root=runs, handle_signals=False)
    return {"first_step": clock.first_step, "epochs": clock.epochs}


def _hand_loop(spec: dict[str, Any], device: torch.device, epochs: int, batches: Callable[[int], Any],
               start: float) -> dict[str, Any]:
    """The tutorials' loop: forward, loss, backward, step, ``loss.item()`` every batch."""
    train_cfg = spec["train"]
    torch.manual_seed(SEED)
    model = build_model(load_spec(spec)).to(device)
    channels_last = train_cfg["channels_last"]
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    amp = train_cfg["amp"] == "bf16"
    first_step, times = None, []
    for epoch in range(epochs):
        _sync(device)
        t0 = time.perf_counter()
        running = 0.0
        for x, y in batches(epoch):
            x, y = x.to(device), y.to(device)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item()
            if first_step is None:
                first_step = time.perf_counter() - start
        _sync(device)
        times.append(time.perf_counter() - t0)
    return {"first_step": first_step, "epochs": times}


def _cifar_tensor(root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision import datasets

    ds = datasets.CIFAR10(str(root), train=True)
    x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).float().div_(255)
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    return x, torch.tensor(ds.targets)


def run_hand(spec: dict[str, Any], device: torch.device, epochs: int, root: Path, resident: bool) -> dict[str, Any]:
    start = time.perf_counter()
    x, y = _cifar_tensor(root)
    if resident:
        x, y = x.to(device), y.to(device)
    batch = spec["data"]["batch_size"]

    def batches(epoch: int) -> Any:
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(epoch)).to(x.device)
        for i in range(0, len(y), batch):
            index = order[i:i + batch]
            yield x[index], y[index]

    return _hand_loop(spec, device, epochs, batches, start)


def run_per_item(spec: dict[str, Any], device: torch.device, epochs: int, root: Path) -> dict[str, Any]:
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    start = time.perf_counter()
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    ds = datasets.CIFAR10(str(root), train=True, transform=pipeline)
    loader = DataLoader(ds, batch_size=spec["data"]["batch_size"], shuffle=True, num_workers=2,
                        generator=torch.Generator().manual_seed(SEED))
    return _hand_loop(spec, device, epochs, lambda epoch: loader, start)


# -- the report ------------------------------------------------------------------------------


def summarise(result: dict[str, Any], images: int) -> dict[str, Any]:
    steady = result["epochs"][1:] or result["epochs"]
    epoch = statistics.median(steady)
    return {"first_step_s": result["first_step"], "epoch_s": epoch, "images_per_s": images / epoch,
            "epochs_s": result["epochs"]}


def measure(args: argparse.Namespace, root: Path, runs: Path) -> list[dict[str, Any]]:
    device = torch.device(args.device)
    rows = []
    for workload in args.workload:
        make, batch = WORKLOADS[workload]
        for label, precision in PRECISIONS.items():
            spec = full_spec(make(), root, batch, args.epochs, args.device, precision, False)
            sides = {"cnnspec": run_cnnspec(spec, device, runs),
                     "hand loop": run_hand(spec, device, args.epochs, root, resident=False),
                     "hand loop, resident": run_hand(spec, device, args.epochs, root, resident=True)}
            if args.compile and precision["amp"]:  # compiling costs a minute per model: the fast setting only
                compiled = full_spec(make(), root, batch, args.epochs, args.device, precision, True)
                sides["cnnspec, compile"] = run_cnnspec(compiled, device, runs)
            if workload == "cifar10cnn":
                sides["per-item DataLoader"] = run_per_item(spec, device, args.epochs, root)
            row = {"workload": workload, "precision": label, "batch": batch,
                   "sides": {name: summarise(r, args.train) for name, r in sides.items()}}
            rows.append(row)
            print(_row_text(row), flush=True)
    return rows


def _row_text(row: dict[str, Any]) -> str:
    parts = [f"{name}: first step {s['first_step_s']:.2f} s, epoch {s['epoch_s']:.3f} s"
             for name, s in row["sides"].items()]
    return f"{row['workload']} {row['precision']} (batch {row['batch']}): " + "; ".join(parts)


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
    lines = [
        "## GPU",
        "",
        "`benchmarks/bench_gpu.py`: the same model from the same initial weights, trained by cnnspec and by three",
        "hand-written baselines in one run (see the script's docstring for each). Steady epoch time is the median",
        f"of epochs 2..{args.epochs} over {args.train:,} CIFAR-shaped images read from files in CIFAR-10's format;",
        "the time to the first step counts everything from the start (data, model, the first kernels).",
        f"Measured on {name}, torch {torch.__version__}, Python {platform.python_version()}.",
        "",
        "| workload | precision | side | first step | steady epoch | images/s |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        for side, s in row["sides"].items():
            lines.append(f"| {row['workload']} (batch {row['batch']}) | {row['precision']} | {side} | "
                         f"{s['first_step_s']:.2f} s | {s['epoch_s']:.3f} s | {s['images_per_s']:,.0f} |")
    lines += ["", "Ratios of steady epoch times (cnnspec over the baseline; targets: <= 1.00x the hand loop,",
              "<= 1.05x the resident hand loop; the per-item pipeline over cnnspec, target >= 3x), and of the",
              "time to the first step (target <= 1.5x the hand loop's):", "",
              "| workload | precision | vs hand loop | vs resident | per-item / cnnspec | first step vs hand |",
              "|---|---|---|---|---|---|"]
    for row in rows:
        s = row["sides"]
        ours = s["cnnspec"]
        per_item = f"{s['per-item DataLoader']['epoch_s'] / ours['epoch_s']:.2f}x" if "per-item DataLoader" in s \
            else "-"
        lines.append(f"| {row['workload']} | {row['precision']} | {ours['epoch_s'] / s['hand loop']['epoch_s']:.2f}x | "
                     f"{ours['epoch_s'] / s['hand loop, resident']['epoch_s']:.2f}x | {per_item} | "
                     f"{ours['first_step_s'] / s['hand loop']['first_step_s']:.2f}x |")
    if any("cnnspec, compile" in row["sides"] for row in rows):
        lines += ["", "`train.compile: true` (torch.compile; its first step includes the compilation):", "",
                  "| workload | precision | compiled epoch | eager epoch | speed-up | first step |",
                  "|---|---|---|---|---|---|"]
        for row in rows:
            s = row["sides"]
            if "cnnspec, compile" in s:
                c, e = s["cnnspec, compile"], s["cnnspec"]
                lines.append(f"| {row['workload']} | {row['precision']} | {c['epoch_s']:.3f} s | "
                             f"{e['epoch_s']:.3f} s | {e['epoch_s'] / c['epoch_s']:.2f}x | {c['first_step_s']:.1f} s |")
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = ROOT / "docs" / "performance.md") -> None:
    """Replace the GPU section of the performance page, leaving the rest alone."""
    current = path.read_text() if path.exists() else "# Performance\n\n"
    heading = "## GPU"
    if heading in current:
        start = current.index(heading)
        nxt = current.find("\n## ", start + len(heading))
        current = current[:start] + text + (current[nxt:] if nxt != -1 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--train", type=int, default=45_000, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per side (the first is not steady)")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), action="append")
    parser.add_argument("--compile", action="store_true",
                        help="also time cnnspec with train.compile: true (bf16 + channels_last only)")
    parser.add_argument("--write", action="store_true", help="update the GPU section of docs/performance.md")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    args.workload = args.workload or list(WORKLOADS)
    with tempfile.TemporaryDirectory(prefix="cnnspec-bench-gpu-") as tmp:
        root, runs = Path(tmp) / "data", Path(tmp) / "runs"
        write_cifar(root, args.train, 1000)
        rows = measure(args, root, runs)
    text = report(rows, args)
    print()
    print(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
