"""The ``earlystopping`` callback: stop when a monitored metric stops improving.

After each epoch the monitored value is compared with the best so far; an
improvement by more than ``min_delta`` resets the count, anything else
(including NaN) adds one. After ``patience`` epochs without improvement it
sets ``trainer.should_stop`` with a reason saying what happened; the test
pass still runs. Its count and best value are part of checkpoints, so a
resumed run stops at the same epoch as one that was never interrupted.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from cnnspec.callbacks.base import Callback, TrainerView
from cnnspec.callbacks.checkpoint import check_monitor, default_mode, default_monitor, improved
from cnnspec.component import SpecModel

__all__ = ["EarlyStopping", "EarlyStoppingParams"]


class EarlyStoppingParams(SpecModel):
    """Arguments of ``earlystopping`` in ``callbacks:``."""

    monitor: str | None = Field(default=None, description="metric to watch; default val_loss with a validation "
                                                          "split, else train_loss")
    mode: Literal["min", "max"] | None = Field(default=None, description="min or max is better; default max for "
                                                                        "accuracies, min otherwise")
    patience: int = Field(default=3, ge=1, description="epochs without improvement before stopping")
    min_delta: float = Field(default=0.0, ge=0, description="smallest change that counts as an improvement")


class EarlyStopping(Callback):
    """See the module docstring."""

    def __init__(self, monitor: str | None = None, mode: str | None = None, patience: int = 3,
                 min_delta: float = 0.0) -> None:
        self._given_monitor = monitor
        self.monitor = monitor
        self.mode = mode
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.reason: str | None = None

    @property
    def state_key(self) -> str:
        return "earlystopping" if self._given_monitor is None else f"earlystopping:{self._given_monitor}"

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "reason": self.reason}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
        self.wait = int(state.get("wait", 0))
        self.stopped_epoch = state.get("stopped_epoch")
        self.reason = state.get("reason")

    def setup(self, trainer: TrainerView) -> None:
        self.monitor = self.monitor or default_monitor(trainer.data.has("val"))
        self.mode = self.mode or default_mode(self.monitor)
        check_monitor(trainer, self, self.monitor, ("earlystopping",))

    def on_fit_start(self, trainer: TrainerView) -> None:
        if self.stopped_epoch is not None:  # resumed after the decision to stop: keep it
            trainer.should_stop = True
            trainer.stop_reason = self.reason

    def on_epoch_end(self, trainer: TrainerView, epoch: int, metrics: dict[str, float]) -> None:
        value = metrics.get(self.monitor) if self.monitor else None
        if improved(value, self.best, self.mode or "min", self.min_delta):
            self.best, self.best_epoch, self.wait = float(value), epoch + 1, 0  # type: ignore[arg-type]
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        shown = "NaN" if value is None or not math.isfinite(value) else f"{value:.6g}"
        best = "none yet" if self.best is None else f"{self.best:.6g} at epoch {self.best_epoch}"
        self.stopped_epoch = epoch + 1
        self.reason = (f"early stopping: {self.monitor} did not improve by more than {self.min_delta:g} for "
                       f"{self.wait} epoch{'s' if self.wait != 1 else ''} (now {shown}, best {best})")
        trainer.should_stop = True
        trainer.stop_reason = self.reason
