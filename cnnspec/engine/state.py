"""The trainer's resume state: everything a bit-identical continuation needs.

:func:`training_state` is :meth:`Trainer.state_dict
<cnnspec.engine.trainer.Trainer.state_dict>`, :func:`restore_training_state`
its :meth:`~cnnspec.engine.trainer.Trainer.load_state_dict`. The state is
tensors and plain values only, so ``torch.load(..., weights_only=True)``
reads it back; checkpoints store it under ``trainer``
(:mod:`cnnspec.checkpoint`).
"""

from __future__ import annotations

from typing import Any

from cnnspec.engine.replan import load_scheduler_state
from cnnspec.engine.rng import get_rng_state, set_rng_state
from cnnspec.exceptions import CnnspecError

__all__ = ["STATE_FORMAT", "restore_training_state", "training_state"]

#: version of :func:`training_state`'s layout
STATE_FORMAT = 1


def training_state(trainer: Any) -> dict[str, Any]:
    """Everything a bit-identical resume needs, as tensors and plain values.

    ``model``, ``optimizer``, ``scheduler``, ``scaler`` state dicts;
    ``epoch``/``batch``: the next train batch to run (``batch`` 0 means the
    epoch has not started; ``batch == steps_per_epoch`` means its
    validation is still to do); ``global_step``; ``train_time_s`` (training time so
    far, summed over resumes); ``history``; ``train_meter``
    (the partial sums of an epoch in progress); ``rng`` (torch CPU/CUDA,
    Python, numpy); ``callbacks`` (each callback's state under its
    ``state_key``); ``spec_fingerprint``.
    """
    from cnnspec.engine.rundir import jsonable

    epoch, batch = trainer.position
    return {
        "format": STATE_FORMAT,
        "spec_fingerprint": trainer.spec.fingerprint(),
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
        "scaler": trainer.precision.scaler.state_dict() if trainer.precision.scaler is not None else None,
        "epoch": epoch,
        "batch": batch,
        "global_step": trainer.global_step,
        "train_time_s": trainer.elapsed(),
        "history": jsonable(trainer.history),
        "train_meter": trainer._train_meter.state_dict(),
        "rng": get_rng_state(),
        "callbacks": {cb.state_key: cb.state_dict() for cb in trainer.callbacks if hasattr(cb, "state_key")},
    }


def restore_training_state(trainer: Any, state: dict[str, Any]) -> None:
    """Put :func:`training_state`'s output back; the trainer's ``fit`` then continues from it."""
    if state.get("format") != STATE_FORMAT:
        raise CnnspecError(f"unsupported training state format {state.get('format')!r} "
                           f"(this cnnspec writes {STATE_FORMAT})")
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None and state.get("scheduler") is not None:
        trainer.replanned = load_scheduler_state(trainer.scheduler, state["scheduler"])
    if trainer.precision.scaler is not None and state.get("scaler") is not None:
        trainer.precision.scaler.load_state_dict(state["scaler"])
    trainer._position = (int(state["epoch"]), int(state["batch"]))
    trainer.epoch = trainer._position[0]
    trainer.global_step = int(state["global_step"])
    trainer.time_before = float(state.get("train_time_s") or 0.0)
    trainer.history = [dict(m) for m in state.get("history", [])]
    if state.get("train_meter"):
        trainer._train_meter.load_state_dict(state["train_meter"])
    saved = state.get("callbacks", {})
    for cb in trainer.callbacks:
        key = getattr(cb, "state_key", None)
        if key in saved:
            cb.load_state_dict(saved[key])
    trainer._restored_rng = state["rng"]
    set_rng_state(trainer._restored_rng)
    trainer._resumed = True
