"""A tiny spec on the bundled digits data, and tools to stop a run at a chosen step."""

from __future__ import annotations

from typing import Any

import torch

from cnnspec.callbacks.base import Callback

#: small but with every source of state a resume must restore: dropout (torch RNG),
#: SGD momentum (optimizer state), a step-per-epoch scheduler, a validation split
#: (epoch-end metrics), early stopping and the checkpoint callback's own state
SPEC = """
name: tiny-digits
input: [1, 8, 8]
seed: 7
model:
  - conv2d: {out_channels: 6, kernel_size: 3, padding: 1}
  - relu
  - dropout: {p: 0.3}
  - maxpool2d: {kernel_size: 2}
  - flatten
  - linear: {out_features: 10}
data: {dataset: digits, batch_size: 128, val_split: 0.2}
train:
  epochs: 3
  optimizer: {sgd: {lr: 0.1, momentum: 0.9}}
  scheduler: {multisteplr: {milestones: [2], gamma: 0.3}}
  progress: false
callbacks:
  - checkpoint: {every_n_steps: 4, keep_last: 2}
  - earlystopping: {patience: 5}
"""


class StopAt(Callback):
    """Ask the trainer to stop (as a signal handler would) once ``global_step`` reaches ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: Any, batch: int, loss: float, inputs: Any, targets: Any,
                           outputs: Any) -> None:
        if trainer.global_step == self.step:
            trainer.request_stop("test stop")


def weights(model_or_state: Any) -> dict[str, torch.Tensor]:
    state = model_or_state.state_dict() if hasattr(model_or_state, "state_dict") else model_or_state
    return {k: v.detach().clone() for k, v in state.items()}


def _bytes(t: torch.Tensor) -> torch.Tensor:
    return t.detach().reshape(-1).contiguous().view(torch.uint8)


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Bit for bit: same keys, dtypes, shapes and bytes (NaN-safe, unlike ==)."""
    return list(a) == list(b) and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(_bytes(a[k]), _bytes(b[k])) for k in a)


def comparable(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Epoch metrics without wall-clock fields."""
    return [{k: v for k, v in m.items() if k != "time"} for m in history]
