"""Progress reporting: a live bar on a terminal, one plain line per epoch elsewhere.

CI logs and files get no carriage returns or escape codes, only lines that
read well with ``grep``; a terminal gets a bar with the running loss and the
epoch's ETA, redrawn at most every ``refresh`` seconds so drawing never shows
up in the step time. Only the main process (rank 0) prints.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from typing import Any, TextIO

from cnnspec.callbacks.base import Callback, TrainerView

__all__ = ["ProgressCallback", "describe_weights", "format_duration", "format_metrics"]

_ORDER = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")


def format_duration(seconds: float) -> str:
    """``75`` -> ``1:15``, ``3725`` -> ``1:02:05``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return f"{key} -"
    if key.endswith("_acc"):
        return f"{key} {100 * value:.2f}%"
    if key == "lr":
        return f"lr {value:.3g}"
    if isinstance(value, float):
        return f"{key} {value:.4f}"
    return f"{key} {value}"


def format_metrics(metrics: dict[str, Any], keys: tuple[str, ...] = _ORDER) -> str:
    """The metrics that exist among ``keys``, as ``name value`` pairs."""
    return "  ".join(_fmt(k, metrics[k]) for k in keys if k in metrics)


class ProgressCallback(Callback):
    """Prints training progress; see the module docstring.

    ``bar``: ``None`` picks a bar when the stream is a terminal. ``stream``:
    ``"stdout"`` or ``"stderr"`` (``cnnspec train --format json`` uses stderr
    so stdout stays machine-readable).
    """

    def __init__(self, bar: bool | None = None, stream: str = "stdout", refresh: float = 0.2) -> None:
        self.bar = bar
        self.stream_name = stream
        self.refresh = refresh
        self.out: TextIO = sys.stdout
        self.active = True
        self._fit_start = 0.0
        self._epoch_start = 0.0
        self._last_draw = 0.0
        self._loss_sum = 0.0
        self._seen = 0
        self._drawn = False

    # -- helpers ---------------------------------------------------------------
    def _print(self, text: str) -> None:
        if self._drawn:
            self.out.write("\r\033[K")
            self._drawn = False
        self.out.write(text + "\n")
        self.out.flush()

    def _draw(self, trainer: TrainerView, batch: int) -> None:
        total = max(1, int(getattr(trainer, "steps_per_epoch", 0) or 1))
        done = min(batch + 1, total)
        elapsed = time.perf_counter() - self._epoch_start
        eta = elapsed / done * (total - done)
        width = shutil.get_terminal_size((80, 20)).columns
        head = f"epoch {trainer.epoch + 1}/{trainer.max_epochs} "
        loss = self._loss_sum / max(1, self._seen)
        tail = f" {done}/{total} loss {loss:.4f} ETA {format_duration(eta)}"
        room = max(10, min(40, width - len(head) - len(tail) - 3))
        filled = int(room * done / total)
        line = f"{head}|{'#' * filled}{'.' * (room - filled)}|{tail}"
        self.out.write("\r" + line[: width - 1])
        self.out.flush()
        self._drawn = True

    # -- events ----------------------------------------------------------------
    def setup(self, trainer: TrainerView) -> None:
        self.out = sys.stderr if self.stream_name == "stderr" else sys.stdout
        self.active = bool(getattr(trainer, "is_main_process", True))
        if self.bar is None:
            isatty = getattr(self.out, "isatty", None)
            self.bar = bool(isatty and isatty())

    def on_fit_start(self, trainer: TrainerView) -> None:
        self._fit_start = time.perf_counter()
        if not self.active:
            return
        data = trainer.data
        sizes = ", ".join(f"{data.size(s)} {s}" for s in ("train", "val", "test") if data.has(s))
        params = sum(p.numel() for p in trainer.model.parameters())
        self._print(f"training {trainer.spec.name}: {params:,} parameters on {trainer.device}, "
                    f"{sizes} samples, {trainer.max_epochs} epochs"
                    + (f" ({trainer.world_size} processes)" if getattr(trainer, "world_size", 1) > 1 else ""))

    def on_epoch_start(self, trainer: TrainerView, epoch: int) -> None:
        self._epoch_start = self._last_draw = time.perf_counter()
        self._loss_sum, self._seen = 0.0, 0

    def on_train_batch_end(self, trainer: TrainerView, batch: int, loss: float, inputs: Any, targets: Any,
                           outputs: Any) -> None:
        if not (self.active and self.bar):
            return
        if math.isfinite(loss):
            self._loss_sum += loss
            self._seen += 1
        now = time.perf_counter()
        if now - self._last_draw >= self.refresh:
            self._last_draw = now
            self._draw(trainer, batch)

    def on_epoch_end(self, trainer: TrainerView, epoch: int, metrics: dict[str, Any]) -> None:
        if not self.active:
            return
        took = time.perf_counter() - self._epoch_start
        width = len(str(trainer.max_epochs))
        self._print(f"epoch {epoch + 1:>{width}}/{trainer.max_epochs}  {format_metrics(metrics)}  "
                    f"{took:.1f}s")

    def on_test_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        if self.active:
            self._print("test  " + format_metrics(metrics, ("test_loss", "test_acc")) + describe_weights(trainer))

    def on_interrupt(self, trainer: TrainerView, reason: str) -> None:
        if self.active:
            self._print(f"stopped: {reason}")

    def on_fit_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        if self.active:
            took = format_duration(time.perf_counter() - self._fit_start)
            where = f"; results in {trainer.run_dir}" if getattr(trainer, "persist", True) else ""
            self._print(f"done in {took}{where}")

    def teardown(self, trainer: TrainerView) -> None:
        if self._drawn:
            self.out.write("\n")
            self.out.flush()
            self._drawn = False


def describe_weights(trainer: TrainerView) -> str:
    """Which weights the test pass used, as ``  (best.pt: epoch 9, val_loss 0.0123)``."""
    used = getattr(trainer, "test_weights", None) or {}
    if used.get("weights") != "best":
        return "  (last epoch's weights)" if used else ""
    shown = [f"epoch {used.get('epoch')}"] + [_fmt(k, v) for k, v in used.items()
                                              if k not in ("weights", "file", "epoch") and v is not None]
    return f"  (best weights, {used.get('file')}: " + ", ".join(shown) + ")"
