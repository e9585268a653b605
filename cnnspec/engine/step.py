"""One optimizer step of the training loop, and reading its loss without stalling a GPU.

The loss of every step is read on the host: a non-finite loss must stop the
run before its step is applied, and every process must decide alike. On the
CPU that read is free. On a GPU a plain ``loss.item()`` after ``backward()``
waits for the whole backward pass, leaving the GPU idle while the host
queues the optimizer step and the next forward. Here the loss is copied to
pinned host memory right after the forward pass, with an event recorded
behind it; the host waits for that event only, while the backward pass it
has already queued keeps the GPU busy.
"""

from __future__ import annotations

import math
from typing import Any

from cnnspec.exceptions import CnnspecError

__all__ = ["LossReader", "StopTraining", "closure_step", "optimizer_step"]


class StopTraining(Exception):
    """Leave the loop now (a non-finite loss, a requested stop); ``status`` says how the run ended."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class LossReader:
    """The host's view of each step's loss: ``start`` after the forward, ``value`` when needed."""

    def __init__(self, device: Any) -> None:
        self.async_copy = device.type == "cuda"
        if self.async_copy:
            import torch

            self._host = torch.empty((), dtype=torch.float32, pin_memory=True)
            self._ready = torch.cuda.Event()

    def start(self, loss: Any) -> None:
        """Queue the copy of ``loss`` to the host behind the forward pass (a no-op off the GPU)."""
        if self.async_copy:
            self._host.copy_(loss.detach(), non_blocking=True)
            self._ready.record()

    def value(self, loss: Any) -> float:
        """The loss as a Python float: waits for the forward pass only, not for what was queued after it."""
        if self.async_copy:
            self._ready.synchronize()
            return float(self._host)
        return loss.item()


def optimizer_step(trainer: Any, inputs: Any, targets: Any, epoch: int, batch: int) -> tuple[Any, Any, float, bool]:
    """Forward, backward, the finiteness check and the update; ``(outputs, loss, value, stop_everywhere)``.

    A non-finite loss raises :class:`StopTraining` with the gradients cleared
    and the parameters untouched. Under torchrun one all-reduce carries both
    the non-finite flag and a stop asked for on any process.
    """
    import torch

    optimizer, precision, scaler = trainer.optimizer, trainer.precision, trainer.precision.scaler
    optimizer.zero_grad(set_to_none=True)
    with precision.context():
        outputs = _forward(trainer, inputs)
        loss = trainer.loss_fn(outputs, targets)
    trainer.loss_reader.start(loss)
    if scaler is not None:
        scaler.scale(loss).backward()
    else:
        loss.backward()
    value = trainer.loss_reader.value(loss)
    bad = not math.isfinite(value)
    stop_all = False
    if trainer.dist.enabled:  # one all-reduce carries both flags, so every rank decides alike
        bad, stop_all = trainer.dist.sync_flags(bad, trainer._stop_requested is not None, device=trainer.device)
    if bad:
        optimizer.zero_grad(set_to_none=True)
        raise StopTraining("diverged", f"non-finite loss ({value}) at epoch {epoch + 1}, batch {batch + 1}; "
                                       "that step was not applied (try a lower learning rate or grad_clip)")
    if trainer.grad_clip is not None:
        if scaler is not None:
            scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), trainer.grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return outputs, loss, value, stop_all


def closure_step(trainer: Any, inputs: Any, targets: Any, epoch: int, batch: int) -> tuple[Any, Any, float, bool]:
    """One step of an optimizer that re-evaluates the loss (LBFGS); same answer as :func:`optimizer_step`.

    The first evaluation happens before any parameter changes, so a
    non-finite loss there leaves the model untouched.
    """
    first: list[tuple[Any, Any]] = []

    def closure() -> Any:
        trainer.optimizer.zero_grad(set_to_none=True)
        with trainer.precision.context():
            outputs = _forward(trainer, inputs)
            loss = trainer.loss_fn(outputs, targets)
        if not first:
            first.append((outputs, loss))
            value = loss.item()
            if not math.isfinite(value):
                raise StopTraining("diverged", f"non-finite loss ({value}) at epoch {epoch + 1}, batch {batch + 1}; "
                                               "that step was not applied")
        loss.backward()
        return loss

    trainer.optimizer.step(closure)
    outputs, loss = first[0]
    stop_all = False
    if trainer.dist.enabled:
        stop_all = trainer.dist.sync_flags(False, trainer._stop_requested is not None, device=trainer.device)[1]
    return outputs, loss, loss.item(), stop_all


def _forward(trainer: Any, inputs: Any) -> Any:
    """The model's forward; a compiled model's calls are where torch.compile can fail."""
    if not trainer.compiled:
        return trainer.ddp_model(inputs)
    try:
        return trainer.ddp_model(inputs)
    except Exception as exc:
        if type(exc).__module__.startswith(("torch._dynamo", "torch._inductor")):
            raise CnnspecError(
                f"train.compile: torch.compile could not compile this model on {trainer.device}: "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                hint="set train.compile: false (the model trains the same, without compilation)") from None
        raise
