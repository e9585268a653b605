"""A minimal trainer with the engine's callback contract, for testing callbacks in isolation.

The loop dispatches events in the engine's documented order and trains for
real (SGD on a tiny synthetic task), so metrics, weights and randomness are
those of an actual run; callback tests do not depend on the engine's code.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnspec.build import build_from_trace
from cnnspec.shapes.walker import infer_shapes
from cnnspec.spec import load_spec

__all__ = ["BARS_SPEC", "FakeData", "FakeTrainer", "bars_data", "fit", "make_trainer"]

#: 1x12x12 images; the class is which third of the image holds a bright vertical bar
BARS_SPEC = """
name: bars
input: [1, 12, 12]
model:
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - relu
  - maxpool2d: {kernel_size: 2}
  - conv2d: {out_channels: 6, kernel_size: 3, padding: 1}
  - relu: {inplace: true}
  - dropout: {p: 0.2}
  - flatten
  - linear: {out_features: 3}
train: {epochs: 3, optimizer: {sgd: {lr: 0.1, momentum: 0.9}}}
"""


class FakeData:
    """In-memory splits with the DataBundle methods callbacks use."""

    def __init__(self, splits: dict[str, tuple[torch.Tensor, torch.Tensor]], classes: Sequence[str],
                 batch_size: int = 16) -> None:
        self.splits = splits
        self.classes = list(classes)
        self.num_classes = len(classes)
        self.sample_shape = tuple(next(iter(splits.values()))[0].shape[1:])
        self.batch_size = batch_size

    def has(self, split: str) -> bool:
        return split in self.splits

    def loader(self, split: str, *, epoch: int = 0,
               start_batch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.splits[split]
        order = torch.randperm(len(y)) if split == "train" else torch.arange(len(y))  # draws from the global RNG
        for b in range(start_batch, -(-len(y) // self.batch_size)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield x[idx], y[idx]

    def sample_batch(self, split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.splits[split]
        idx = torch.randperm(len(y))[:n]  # random on purpose: callbacks must not shift training's randomness
        return x[idx], y[idx]


def bars_data(sizes: tuple[int, int, int] = (96, 24, 24), seed: int = 7) -> FakeData:
    g = torch.Generator().manual_seed(seed)
    splits = {}
    for name, n in zip(("train", "val", "test"), sizes):
        if not n:
            continue
        y = torch.arange(n) % 3
        x = 0.1 * torch.randn(n, 1, 12, 12, generator=g)
        for i, k in enumerate(y.tolist()):
            col = 4 * k + int(torch.randint(0, 3, (1,), generator=g))
            x[i, 0, 2:10, col] += 1.0
        splits[name] = (x, y)
    return FakeData(splits, ["left", "middle", "right"])


class FakeTrainer:
    """The attributes of :class:`cnnspec.engine.Trainer` that callbacks rely on."""

    def __init__(self, spec: Any, data: FakeData, run_dir: Path, callbacks: Sequence[Any] = ()) -> None:
        torch.manual_seed(0)
        self.spec = spec
        self.trace = infer_shapes(spec)
        self.model = build_from_trace(self.trace)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        self.scheduler = None
        self.device = torch.device("cpu")
        self.data = data
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.callbacks = list(callbacks)
        self.epoch = 0
        self.global_step = 0
        self.history: list[dict[str, Any]] = []
        self.is_main_process = True
        self.should_stop = False
        self.step_losses: dict[int, float] = {}


def make_trainer(tmp_path: Path, callbacks: Sequence[Any] = (), spec_text: str = BARS_SPEC,
                 data: FakeData | None = None) -> FakeTrainer:
    return FakeTrainer(load_spec(spec_text), data or bars_data(), tmp_path / "run", callbacks)


def _evaluate(trainer: FakeTrainer, split: str) -> dict[str, Any]:
    model, loss_fn = trainer.model, nn.CrossEntropyLoss(reduction="sum")
    n = trainer.data.num_classes
    confusion = torch.zeros(n, n, dtype=torch.long)
    total, loss = 0, 0.0
    model.eval()
    with torch.no_grad():
        for x, y in trainer.data.loader(split):
            out = model(x)
            loss += float(loss_fn(out, y))
            total += len(y)
            confusion += torch.bincount(y * n + out.argmax(1), minlength=n * n).view(n, n)
    model.train()
    return {f"{split}_loss": loss / total, f"{split}_acc": float(confusion.trace()) / total,
            f"{split}_confusion": confusion.tolist()}


def fit(trainer: FakeTrainer, epochs: int = 3) -> dict[str, Any]:
    """Train like the engine does, dispatching every event in its order."""

    def emit(event: str, *args: Any) -> None:
        for cb in trainer.callbacks:
            getattr(cb, event)(trainer, *args)

    loss_fn = nn.CrossEntropyLoss()
    try:
        emit("setup")
        emit("on_fit_start")
        for epoch in range(epochs):
            trainer.epoch = epoch
            emit("on_epoch_start", epoch)
            trainer.model.train()
            seen, correct, loss_sum = 0, 0, 0.0
            for batch, (x, y) in enumerate(trainer.data.loader("train", epoch=epoch)):
                trainer.optimizer.zero_grad()
                out = trainer.model(x)
                loss = loss_fn(out, y)
                loss.backward()
                trainer.optimizer.step()
                trainer.global_step += 1
                value = loss.item()
                trainer.step_losses[trainer.global_step] = value
                seen += len(y)
                correct += int((out.argmax(1) == y).sum())
                loss_sum += value * len(y)
                emit("on_train_batch_end", batch, value, x, y, out)
            metrics: dict[str, Any] = {"epoch": epoch + 1, "step": trainer.global_step,
                                       "train_loss": loss_sum / seen, "train_acc": correct / seen}
            if trainer.data.has("val"):
                val = _evaluate(trainer, "val")
                del val["val_confusion"]
                emit("on_validation_end", epoch, val)
                metrics.update(val)
            metrics["lr"] = trainer.optimizer.param_groups[0]["lr"]
            trainer.history.append(metrics)
            emit("on_epoch_end", epoch, metrics)
            if trainer.should_stop:
                break
        trainer.epoch = len(trainer.history)
        final = dict(trainer.history[-1])
        if trainer.data.has("test"):
            test = _evaluate(trainer, "test")
            emit("on_test_end", test)
            final.update(test)
        emit("on_fit_end", final)
        return final
    finally:
        emit("teardown")
