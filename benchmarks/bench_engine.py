#!/usr/bin/env python3
"""Per-epoch time of cnnspec's training engine vs a hand-written loop.

Baseline (measured in the same run, on the same model, data and batch size):
the loop the tutorials write by hand (seed 001's ``train``): for each batch
``model(x)``, ``loss_fn``, ``backward``, ``optimizer.step()``,
``zero_grad()``, then ``loss.item() * y.size(0)`` and the correct count moved
to the CPU; a validation pass under ``no_grad`` with the same sums.

cnnspec: :class:`cnnspec.engine.Trainer` with its default callbacks
(progress, printing to a discarded stream), run directory files and metrics.
Both sides get the same initial weights, read the same batches from the same
in-memory data object, and run the same number of epochs; they alternate
(engine, hand, engine, hand...) so changes in machine load hit both alike.
The ratio of median epoch times is reported (target <= 1.05x).

Two workloads: seed 001's MNIST CNN on 28x28 inputs (compute-bound) and the
digits main job's CNN on 8x8 inputs (overhead-bound: the engine's per-step
cost is most visible there). With ``--write`` the results replace the
"## Training loop" section of docs/performance.md.

    .venv/bin/python benchmarks/bench_engine.py --epochs 5 --write
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnnspec.callbacks import Callback  # noqa: E402
from cnnspec.engine import Trainer  # noqa: E402
from cnnspec.spec import load_spec  # noqa: E402

WORKLOADS = {
    "seed001-mnist-cnn": {"spec": "specs/seed001_mnist_cnn.yaml", "shape": (1, 28, 28), "train": 2048, "val": 512},
    "digits-cnn": {"spec": "specs/digits.yaml", "shape": (1, 8, 8), "train": 1437, "val": 360},
}
BATCH = 64


class Batches:
    """In-memory data with the DataBundle protocol; the order depends only on the epoch."""

    def __init__(self, shape: tuple[int, ...], sizes: dict[str, int], batch_size: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.splits = {name: (torch.randn(n, *shape, generator=g), torch.randint(0, 10, (n,), generator=g))
                       for name, n in sizes.items()}
        self.batch_size = batch_size
        self.classes = [str(i) for i in range(10)]
        self.num_classes = 10
        self.sample_shape = shape

    def has(self, split: str) -> bool:
        return split in self.splits

    def size(self, split: str) -> int:
        return len(self.splits[split][1])

    def num_batches(self, split: str) -> int:
        return -(-self.size(split) // self.batch_size)

    def loader(self, split: str, *, epoch: int = 0, start_batch: int = 0) -> Any:
        x, y = self.splits[split]
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(epoch)) if split == "train" \
            else torch.arange(len(y))
        for b in range(start_batch, self.num_batches(split)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield x[idx], y[idx]

    def sample_batch(self, split: str, n: int) -> Any:
        x, y = self.splits[split]
        return x[:n], y[:n]


def hand_written_epoch(model: Any, optimizer: Any, loss_fn: Any, data: Batches, epoch: int) -> float:
    """Seed 001's loop, one epoch of training and validation; returns seconds."""
    start = time.perf_counter()
    model.train()
    loss_sum, correct = 0.0, 0.0
    for x_batch, y_batch in data.loader("train", epoch=epoch):
        pred = model(x_batch)
        loss = loss_fn(pred, y_batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss_sum += loss.item() * y_batch.size(0)
        is_correct = (torch.argmax(pred, dim=1) == y_batch).float()
        correct += is_correct.sum().cpu()
    model.eval()
    val_loss, val_correct = 0.0, 0.0
    with torch.no_grad():
        for x_batch, y_batch in data.loader("val", epoch=epoch):
            pred = model(x_batch)
            loss = loss_fn(pred, y_batch)
            val_loss += loss.item() * y_batch.size(0)
            val_correct += (torch.argmax(pred, dim=1) == y_batch).float().sum().cpu()
    return time.perf_counter() - start


def _spec(name: str, epochs: int) -> Any:
    """The workload's model with the benchmark's recipe (no dataset, no extra callbacks)."""
    import yaml

    doc = yaml.safe_load((ROOT / WORKLOADS[name]["spec"]).read_text())
    doc.pop("data", None)
    doc["callbacks"] = []
    doc["train"] = {"epochs": epochs, "optimizer": {"adam": {"lr": 0.001}}, "loss": "crossentropyloss"}
    return load_spec(doc)


class EpochClock(Callback):
    """Wall time from one epoch start to the next (the last one ends at on_fit_end), so the
    engine's epoch includes everything it does between epochs: metrics, files, callbacks."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        self.marks.append(time.perf_counter())

    def on_fit_end(self, trainer: Any, metrics: Any) -> None:
        self.marks.append(time.perf_counter())

    def durations(self) -> list[float]:
        return [b - a for a, b in zip(self.marks, self.marks[1:])]


def run_engine(name: str, data: Batches, epochs: int, tmp: Path, n: int) -> list[float]:
    spec = _spec(name, epochs)
    clock = EpochClock()
    trainer = Trainer(spec, run_dir=tmp / f"{name}-{n}", data=data, device="cpu", progress={"bar": False},
                      extra_callbacks=[clock])
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.fit()
    return clock.durations()


def run_hand(name: str, data: Batches, epochs: int) -> list[float]:
    from cnnspec.build import build_model
    from cnnspec.engine.rng import seed_everything

    spec = _spec(name, epochs)
    seed_everything(spec.config.seed)
    model = build_model(spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = torch.nn.CrossEntropyLoss()
    return [hand_written_epoch(model, optimizer, loss_fn, data, e) for e in range(epochs)]


def measure(name: str, epochs: int, repeats: int) -> dict[str, Any]:
    w = WORKLOADS[name]
    data = Batches(w["shape"], {"train": w["train"], "val": w["val"]}, BATCH)
    engine: list[float] = []
    hand: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        run_engine(name, data, 1, Path(tmp), -1)  # warm-up: first-call costs (dynamo import, allocator)
        run_hand(name, data, 1)
        for n in range(repeats):
            engine += run_engine(name, data, epochs, Path(tmp), n)[1:]  # epoch 1 of each run warms caches
            hand += run_hand(name, data, epochs)[1:]
    e, h = statistics.median(engine), statistics.median(hand)
    return {"workload": name, "engine_s": e, "hand_s": h, "ratio": e / h, "epochs": len(engine),
            "steps": data.num_batches("train")}


def report(results: list[dict[str, Any]], threads: int, epochs: int, repeats: int, load: float) -> str:
    lines = [
        "## Training loop",
        "",
        "`benchmarks/bench_engine.py`: median epoch time (train + validation) of cnnspec's `Trainer` against",
        "the hand-written loop of seed 001 (`loss.item()` and the correct count read every batch), same model,",
        "same initial weights, same in-memory batches (batch size 64), Adam, alternating runs in one process.",
        f"Measured on {platform.machine()}, {os.cpu_count()} CPUs (load average {load:.1f} when the run started),",
        f"{threads} torch thread(s), torch {torch.__version__}; {repeats} alternating runs of {epochs} epochs",
        "per side, the first epoch of each run not timed.",
        "",
        "| workload | steps/epoch | hand-written loop | cnnspec engine | ratio (target <= 1.05x) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['workload']} | {r['steps']} | {r['hand_s'] * 1000:.0f} ms | {r['engine_s'] * 1000:.0f} ms "
                     f"| {r['ratio']:.3f}x |")
    lines += [
        "",
        "Reading: both sides spend their time in the same kernels (convolution, pooling, backward; their",
        "profiles agree). The engine's own per-step bookkeeping (metric sums kept as device tensors instead",
        "of `loss.item()` plus a `.cpu()` count, events dispatched only to callbacks that override them, a",
        "progress bar redrawn at most every 0.2 s) costs tens of microseconds, visible at most on the",
        "overhead-bound digits model whose steps take about 10 ms. Run-to-run noise on a shared machine is",
        "of the same order (a few percent when it is quiet, up to 20% under heavy load, in either",
        "direction), which is why both sides alternate within one run and only the ratio is compared.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str, path: Path = ROOT / "docs" / "performance.md") -> None:
    """Replace this benchmark's section of the performance page, leaving the rest alone."""
    current = path.read_text() if path.exists() else "# Performance\n\n"
    heading = "## Training loop"
    if heading in current:
        start = current.index(heading)
        nxt = current.find("\n## ", start + len(heading))
        current = current[:start] + text + (current[nxt + 1:] if nxt != -1 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run (the first of each run is not timed)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each side")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for both sides")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), action="append")
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    results = []
    for name in args.workload or list(WORKLOADS):
        r = measure(name, args.epochs, args.repeats)
        results.append(r)
        print(f"{name}: hand-written {r['hand_s'] * 1000:.1f} ms/epoch, engine {r['engine_s'] * 1000:.1f} ms/epoch, "
              f"ratio {r['ratio']:.3f}x over {r['epochs']} epochs each", flush=True)
    text = report(results, args.threads, args.epochs, args.repeats, load)
    if args.write:
        write_section(text)
        print("updated docs/performance.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
