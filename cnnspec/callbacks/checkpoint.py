"""The ``checkpoint`` callback: ``last`` every epoch, ``best`` by a metric, keep-last-k.

Files go to ``RUN_DIR/checkpoints/`` through :mod:`cnnspec.checkpoint`
(atomic, hashed in ``manifest.json``): ``epoch0003.pt`` after the third
epoch, ``epoch0004-step00000250.pt`` for a state saved inside the fourth
(``every_n_steps``, or a stop requested by a signal), and ``last.pt`` /
``best.pt`` as hard links to the newest and the best one.

Why the epoch-end save waits for the next event: callbacks after this one in
the list (early stopping...) update their state in the same ``on_epoch_end``
dispatch, and a checkpoint taken before they did would resume differently.
So the state is saved when the next epoch starts, or when training ends or is
interrupted — the same state, with every callback's epoch-end work in it.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from cnnspec.callbacks.base import Callback, TrainerView
from cnnspec.component import SpecModel

__all__ = ["STANDARD_METRICS", "CheckpointCallback", "CheckpointParams", "available_metrics", "check_monitor",
           "default_mode", "default_monitor", "improved", "restore_best"]

#: metrics the engine computes every epoch; ``val_*`` only with a validation split
STANDARD_METRICS = ("train_loss", "train_acc", "lr")
VAL_METRICS = ("val_loss", "val_acc")


class CheckpointParams(SpecModel):
    """Arguments of ``checkpoint`` in ``callbacks:``."""

    monitor: str | None = Field(default=None, description="metric for best.pt; default val_loss with a "
                                                          "validation split, else train_loss")
    mode: Literal["min", "max"] | None = Field(default=None, description="min or max is better; default max "
                                                                        "for accuracies, min otherwise")
    keep_last: int = Field(default=2, ge=1, description="how many recent checkpoints to keep (best.pt aside)")
    every_n_steps: int | None = Field(default=None, ge=1, description="also save inside epochs, every N "
                                                                      "optimizer steps")
    save_best: bool = Field(default=True, description="keep best.pt by the monitored metric")
    restore_best: bool = Field(default=True, description="with a validation split, test the best weights "
                                                         "(best.pt), not the last epoch's")


# -- monitored metrics (shared with early stopping) ---------------------------------------


def default_monitor(has_val: bool) -> str:
    return "val_loss" if has_val else "train_loss"


def default_mode(monitor: str) -> str:
    return "max" if "acc" in monitor else "min"


def improved(value: float | None, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """``value`` beats ``best`` by more than ``min_delta`` (NaN never does)."""
    if value is None or not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def available_metrics(trainer: TrainerView) -> list[str]:
    """Metric names that will be in every epoch's metrics for this run."""
    data = getattr(trainer, "data", None)
    has_val = bool(data is not None and data.has("val"))
    names = [*STANDARD_METRICS, *(VAL_METRICS if has_val else ())]
    for cb in getattr(trainer, "callbacks", ()):
        names.extend(m for m in getattr(cb, "provides_metrics", ()) if m not in names)
    return names


def _spec_path(trainer: TrainerView, callback: Callback, names: tuple[str, ...]) -> tuple[str | int, ...]:
    """Where ``callback`` is written in the spec's ``callbacks:`` list: the n-th entry
    named ``names`` for the n-th callback of its type (``monitor`` if written there)."""
    from cnnspec.component import split_ref

    same = [cb for cb in trainer.callbacks if type(cb) is type(callback)]
    n = next((i for i, cb in enumerate(same) if cb is callback), -1)
    entries = []
    for i, ref in enumerate(trainer.spec.config.callbacks):
        try:
            name, args = split_ref(ref)
        except (ValueError, AttributeError):
            continue
        if name.rpartition(":")[2].lower() in names:
            entries.append(("callbacks", i, name, "monitor") if "monitor" in args else ("callbacks", i))
    return entries[n] if 0 <= n < len(entries) else ("callbacks",)


def check_monitor(trainer: TrainerView, callback: Callback, monitor: str, names: tuple[str, ...]) -> None:
    """A located :class:`~cnnspec.exceptions.SpecError` if no metric is called ``monitor``."""
    from cnnspec.names import suggest

    available = available_metrics(trainer)
    if monitor in available:
        return
    close = suggest(monitor, available)
    message = f"{names[0]}: no metric '{monitor}' is computed in this run"
    if close:
        message += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    if monitor in VAL_METRICS:
        hint = "val_* metrics need a validation split: set data.val_split (e.g. 0.1) or data.val_indices"
    else:
        hint = "metrics available: " + ", ".join(available)
    raise trainer.spec.document.error(message, _spec_path(trainer, callback, names), hint=hint)


# -- the callback ---------------------------------------------------------------------


class CheckpointCallback(Callback):
    """Resumable checkpoints of the whole training state; see the module docstring."""

    def __init__(self, monitor: str | None = None, mode: str | None = None, keep_last: int = 2,
                 every_n_steps: int | None = None, save_best: bool = True, restore_best: bool = True) -> None:
        self._given_monitor = monitor
        self.monitor = monitor
        self.mode = mode
        self.keep_last = int(keep_last)
        self.every_n_steps = every_n_steps
        self.save_best = save_best
        self.restore_best = restore_best
        self.best_value: float | None = None
        self.directory: Path | None = None
        self.last_saved: Path | None = None
        self._pending: dict[str, Any] | None = None  # an epoch end not yet saved

    @property
    def state_key(self) -> str:
        return "checkpoint" if self._given_monitor is None else f"checkpoint:{self._given_monitor}"

    def state_dict(self) -> dict[str, Any]:
        return {"best_value": self.best_value, "monitor": self.monitor, "mode": self.mode}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_value = state.get("best_value")

    # -- events ----------------------------------------------------------------------
    def setup(self, trainer: TrainerView) -> None:
        from cnnspec.checkpoint import clean_temp_files, repair_aliases

        self.monitor = self.monitor or default_monitor(trainer.data.has("val"))
        self.mode = self.mode or default_mode(self.monitor)
        check_monitor(trainer, self, self.monitor, ("checkpoint",))
        first = next(cb for cb in trainer.callbacks if isinstance(cb, CheckpointCallback))
        if first is not self:
            raise trainer.spec.document.error(
                "checkpoint: a run has one checkpoint callback (they would share last.pt and best.pt)",
                _spec_path(trainer, self, ("checkpoint",))[:2],
                hint="keep one; watch a second metric with earlystopping, or read the others from metrics.jsonl")
        self.directory = Path(trainer.run_dir) / "checkpoints"
        if trainer.is_main_process and self.directory.is_dir():
            clean_temp_files(self.directory)  # left by a run that was killed mid-save
            repair_aliases(self.directory)  # a kill between the manifest and the alias links

    def on_epoch_start(self, trainer: TrainerView, epoch: int) -> None:
        self._flush(trainer)

    def on_train_batch_end(self, trainer: TrainerView, batch: int, loss: float, inputs: Any, targets: Any,
                           outputs: Any) -> None:
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            self._save(trainer, "step")

    def on_epoch_end(self, trainer: TrainerView, epoch: int, metrics: dict[str, float]) -> None:
        value = metrics.get(self.monitor) if self.monitor else None
        better = self.save_best and improved(value, self.best_value, self.mode or "min")
        if better:
            self.best_value = float(value)  # type: ignore[arg-type]
        self._pending = {"metrics": dict(metrics), "best": better}

    def on_train_end(self, trainer: TrainerView) -> None:
        """Save the last epoch, then put the best weights in the model for the test pass."""
        self._flush(trainer)
        trainer.test_weights = {"weights": "last", "epoch": int(trainer.epoch)}  # type: ignore[attr-defined]
        if self.restore_best and self.save_best and trainer.data.has("val") and self.directory is not None:
            restore_best(trainer, self.directory)

    def on_fit_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        self._flush(trainer)

    def on_interrupt(self, trainer: TrainerView, reason: str) -> None:
        if getattr(trainer, "status", None) == "diverged":
            # the last good checkpoint stays the newest; nothing new is worth writing
            self._pending = None
            return
        if self._pending is not None:
            self._flush(trainer)  # the state is still the epoch-end one
        else:
            self._save(trainer, "interrupt")

    # -- saving ----------------------------------------------------------------------
    def _flush(self, trainer: TrainerView) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            self._save(trainer, "epoch", metrics=pending["metrics"], best=pending["best"])

    def _save(self, trainer: TrainerView, reason: str, *, metrics: dict[str, Any] | None = None,
              best: bool = False) -> None:
        from cnnspec.checkpoint import NonFiniteStateError, save_checkpoint

        if not trainer.is_main_process or self.directory is None:
            return
        state = trainer.state_dict()
        epoch, batch = int(state.get("epoch", trainer.epoch)), int(state.get("batch", 0))
        step = int(state.get("global_step", trainer.global_step))
        # batch 0: between epochs, ``epoch`` of them done; otherwise inside epoch ``epoch + 1``
        name = f"epoch{epoch:04d}.pt" if batch == 0 else f"epoch{epoch + 1:04d}-step{step:08d}.pt"
        if metrics is None and trainer.history:
            metrics = trainer.history[-1]
        meta = {"epoch": epoch, "batch": batch, "step": step, "reason": reason, "metrics": metrics or {},
                "monitor": self.monitor, "mode": self.mode,
                # class names let explain/evaluate label outputs without loading the dataset
                "classes": [str(c) for c in getattr(trainer.data, "classes", None) or []]}
        try:
            save_checkpoint(self.directory, name, state, meta=meta, spec=trainer.spec,
                            aliases=["last", "best"] if best else ["last"])
        except NonFiniteStateError as exc:
            warnings.warn(f"checkpoint: {exc}", RuntimeWarning, stacklevel=2)
            return
        self.last_saved = self.directory / name
        self._prune()

    def _prune(self) -> None:
        from cnnspec.checkpoint import read_manifest, remove_checkpoints

        assert self.directory is not None
        manifest = read_manifest(self.directory)
        if manifest is None:
            return
        protected = set(manifest["aliases"].values())
        entries = sorted(manifest["checkpoints"], key=lambda e: e.get("seq", 0), reverse=True)
        last = manifest["aliases"].get("last")
        rolling = [e["file"] for e in entries if e["file"] not in protected or e["file"] == last]
        remove_checkpoints(self.directory, rolling[self.keep_last:])


def restore_best(trainer: TrainerView, directory: Path) -> None:
    """Load ``best.pt``'s model weights into ``trainer.model`` (every process) and record which they were."""
    from cnnspec.checkpoint import CheckpointError, load_checkpoint, read_manifest

    dist = getattr(trainer, "dist", None)
    if dist is not None and dist.enabled:
        dist.barrier()  # the main process wrote the files
    manifest = read_manifest(directory)
    if manifest is None or "best" not in manifest["aliases"]:
        return
    name = manifest["aliases"]["best"]
    entry = next((e for e in manifest["checkpoints"] if e["file"] == name), {})
    metrics = entry.get("metrics") or {}
    monitor = entry.get("monitor")
    used = {"weights": "best", "file": name, "epoch": entry.get("epoch"),
            **({monitor: metrics.get(monitor)} if monitor else {})}
    if name != manifest["aliases"].get("last"):
        try:
            checkpoint = load_checkpoint(directory / name, entry=entry)
            trainer.model.load_state_dict(checkpoint["model"])
        except (CheckpointError, KeyError, RuntimeError) as exc:
            warnings.warn(f"checkpoint: could not restore the best weights ({exc}); testing the last ones",
                          RuntimeWarning, stacklevel=2)
            return
    trainer.test_weights = used  # type: ignore[attr-defined]
