"""The training loop: fit, validate every epoch, test at the end, tell callbacks.

The engine owns the loop and nothing else: logging, checkpoints, early
stopping and pictures are callbacks. It is written to cost no more than the
tutorials' hand-written loop: metric sums stay on the device, the only
per-step synchronisation is reading the loss (which the finiteness check
needs anyway), and per-batch events go only to callbacks that override them.

The trainer's other jobs live beside it: :mod:`cnnspec.engine.setup` builds
the run, :mod:`cnnspec.engine.events` tells the callbacks,
:mod:`cnnspec.engine.state` holds the resume state, and
:class:`~cnnspec.engine.distributed.DistContext` makes every process decide
alike.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnspec.draw import write_run_picture
from cnnspec.engine.device import configure_kernels
from cnnspec.engine.distributed import DistContext
from cnnspec.engine.errors import CallbackError, DataWorkerError, worker_death
from cnnspec.engine.evaluation import evaluate_model
from cnnspec.engine.metrics import ClassificationMeter
from cnnspec.engine.rng import set_rng_state
from cnnspec.engine.rundir import environment
from cnnspec.engine.setup import set_up
from cnnspec.engine.state import STATE_FORMAT, restore_training_state, training_state
from cnnspec.engine.step import StopTraining, closure_step, optimizer_step

__all__ = ["STATE_FORMAT", "CallbackError", "DataWorkerError", "Trainer"]


class Trainer:
    """One training run of a spec: model, optimizer, data, callbacks and the loop.

    What callbacks may rely on (``spec``, ``model``, ``data``, ``run_dir``,
    ``epoch``, ``global_step``, ``history``, ``should_stop``...) is
    :class:`cnnspec.callbacks.TrainerView`, the type of every hook's
    ``trainer`` argument; this class satisfies it. The parts are built by
    :func:`cnnspec.engine.setup.set_up`.

    Events go to callbacks exactly in this order: ``setup``, ``on_fit_start``,
    then per epoch ``on_epoch_start``, ``on_train_batch_end`` after every
    optimizer step, ``on_validation_end`` (with a validation split),
    ``on_epoch_end``; then ``on_train_end`` (the last epoch is done; the
    checkpoint callback restores the best weights here), ``on_test_end``
    (with a test split), ``on_fit_end``.
    A stop requested by a signal or a non-finite loss calls ``on_interrupt``
    instead of the rest (no test pass); an exception calls ``on_exception``.
    ``teardown`` is always last. An exception escaping a callback stops
    training and is re-raised as :class:`CallbackError` naming it, except a
    :class:`~cnnspec.exceptions.SpecError` (a located spec mistake found by
    the callback), which passes unchanged (:mod:`cnnspec.engine.events`).

    :meth:`state_dict` holds everything needed to continue bit-identically on
    CPU (:mod:`cnnspec.engine.state`); :meth:`load_state_dict` before
    :meth:`fit` resumes mid-epoch at the stored batch position.
    """

    def __init__(self, spec: Any, *, run_dir: str | Path, data: Any = None, device: Any = None,
                 callbacks: list[Any] | None = None, extra_callbacks: Sequence[Any] = (),
                 dist: DistContext | None = None, epochs: int | None = None, limit_batches: int | None = None,
                 persist: bool = True, progress: dict[str, Any] | None = None,
                 argv: list[str] | None = None) -> None:
        # spec, dist, rank, world_size, is_main_process, device, trace, model, optimizer, precision, grad_clip,
        # channels_last, callbacks, data, num_classes, loss_fn, steps_per_epoch, scheduler(_info), ddp_model, rundir
        set_up(self, spec, run_dir=run_dir, data=data, device=device, callbacks=callbacks,
               extra_callbacks=extra_callbacks, dist=dist, epochs=epochs, limit_batches=limit_batches,
               persist=persist, progress=progress, argv=argv)
        # the loop's own state
        self.epoch = 0
        self.global_step = 0
        self.history: list[dict[str, Any]] = []
        self.should_stop = False
        self.stop_reason: str | None = None
        self.status = "created"
        self.final_metrics: dict[str, Any] = {}
        self._position = (0, 0)  # next (epoch, train batch) to run
        self._train_meter = ClassificationMeter(self.num_classes, self.device)
        self._stop_requested: str | None = None
        self._restored_rng: dict[str, Any] | None = None
        self._resumed = False
        self.replanned = False  # a resume re-planned the learning-rate schedule (cnnspec.engine.replan)
        self.time_before = 0.0  # training time of the sessions before a resume
        self._started: float | None = None
        self.test_weights: dict[str, Any] = {"weights": "last"}  # the test pass's weights (restore_best)

    # -- control ---------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        """Stop after the current step: callbacks get ``on_interrupt(reason)``
        (a checkpoint callback saves a resumable state there), then the loop
        ends without a test pass. Safe to call from a signal handler."""
        self._stop_requested = reason

    @property
    def position(self) -> tuple[int, int]:
        """The next ``(epoch, train batch)`` the loop will run."""
        return self._position

    # -- the loop --------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train, validate every epoch, test once; returns the final metrics."""
        started = self._started = time.perf_counter()
        with configure_kernels(self.device, deterministic=self.deterministic) as self.kernels:
            return self._fit(started)

    def elapsed(self) -> float:
        """Training time so far, in seconds, summed over the sessions of a resumed run."""
        now = time.perf_counter() - self._started if self._started is not None else 0.0
        return self.time_before + now

    def _fit(self, started: float) -> dict[str, Any]:
        try:
            self._write_start_files()
            self._events.dispatch(self, "setup")
            self._events.dispatch(self, "on_fit_start")
            if self._restored_rng is not None:  # callbacks must not shift a resumed run's randomness
                set_rng_state(self._restored_rng)
            try:
                self.epoch = self._position[0]
                # should_stop is checked before each epoch too: a callback restored from a checkpoint taken
                # after its decision to stop sets it in on_fit_start, and a resumed run then trains no further
                while self.epoch < self.max_epochs and not self.should_stop:
                    self._run_epoch()
                if self.should_stop and self.epoch < self.max_epochs:
                    self.status = "stopped"
                    self.stop_reason = self.stop_reason or f"stopped by a callback after epoch {self.epoch}"
                else:
                    self.status = "completed"
                self._events.dispatch(self, "on_train_end")
                test = self.test() if self.data.has("test") else {}
            except StopTraining as stop:
                self.status, self.stop_reason = stop.status, stop.reason
                self._events.dispatch(self, "on_interrupt", stop.reason)
                self.final_metrics = self._final({}, time.perf_counter() - started)
                self._write_final()
                return self.final_metrics
            self.final_metrics = self._final(test, time.perf_counter() - started)
            self._events.dispatch(self, "on_fit_end", self.final_metrics)
            self._write_final()
            return self.final_metrics
        except BaseException as exc:
            self.status = "failed"
            self._events.dispatch_quietly(self, "on_exception", exc)
            died = worker_death(exc)
            if died is not None:
                raise DataWorkerError(
                    f"a DataLoader worker died: {died}; this is often the out-of-memory killer — lower "
                    "data.num_workers or data.batch_size, then continue with "
                    f"`cnnspec train --resume {self.run_dir}`") from None
            raise
        finally:
            self._events.dispatch_quietly(self, "teardown")

    def _run_epoch(self) -> None:
        epoch = self.epoch
        start = self._position[1] if self._position[0] == epoch else 0
        if start == 0:
            self._train_meter.reset()
        self._events.dispatch(self, "on_epoch_start", epoch)
        began = time.perf_counter()
        self._train_epoch(epoch, start)
        self._check_stop()
        val = self.evaluate_split("val") if self.data.has("val") else {}
        self._check_stop()
        if val:
            self._events.dispatch(self, "on_validation_end", epoch, val)
        self._train_meter.all_reduce(self.dist)
        metrics: dict[str, Any] = {"epoch": epoch + 1, "step": self.global_step,
                                   **self._train_meter.compute("train"), **val,
                                   "lr": float(self.optimizer.param_groups[0]["lr"])}
        self._step_scheduler_epoch(metrics)
        metrics["time"] = time.perf_counter() - began
        self.history.append(metrics)
        self._position = (epoch + 1, 0)
        self._events.dispatch(self, "on_epoch_end", epoch, metrics)
        if self.rundir is not None:
            self.rundir.append_metrics(metrics)
        if self.dist.enabled:
            self.should_stop = self.dist.any_rank(self.should_stop, device=self.device)
        self.epoch = epoch + 1

    def _train_epoch(self, epoch: int, start: int) -> None:
        model, meter = self.ddp_model, self._train_meter
        step_scheduler = self.scheduler if self.scheduler_info and self.scheduler_info.interval == "step" else None
        dispatch = self._events.dispatch
        limit = self.steps_per_epoch
        model.train()
        if start >= limit:
            return
        for batch, (inputs, targets) in enumerate(self.data.loader("train", epoch=epoch, start_batch=start),
                                                  start=start):
            if batch >= limit:
                break
            inputs, targets = self._to_device(inputs, targets)
            step = closure_step if self._closure else optimizer_step
            outputs, loss, value, stop_all = step(self, inputs, targets, epoch, batch)
            self.global_step += 1
            meter.update(loss, outputs, targets)
            if step_scheduler is not None:
                step_scheduler.step()
            self._position = (epoch, batch + 1)
            dispatch(self, "on_train_batch_end", batch, value, inputs, targets, outputs)
            if stop_all or (self._stop_requested is not None and not self.dist.enabled):
                raise StopTraining("interrupted", self._stop_requested or "stop requested on another process")

    def _to_device(self, inputs: Any, targets: Any) -> tuple[Any, Any]:
        if self.device.type != "cpu":
            inputs = inputs.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
        if self.channels_last and inputs.dim() == 4:
            import torch

            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return inputs, targets

    def _check_stop(self) -> None:
        requested = self._stop_requested
        if self.dist.enabled:
            reason = requested or "stop requested on another process"
            if self.dist.any_rank(requested is not None, device=self.device):
                raise StopTraining("interrupted", reason)
        elif requested is not None:
            raise StopTraining("interrupted", requested)

    def _step_scheduler_epoch(self, metrics: dict[str, Any]) -> None:
        info = self.scheduler_info
        if info is None or info.interval != "epoch":
            return
        if info.monitor:
            value = metrics.get(info.monitor)
            if value is None:
                value = metrics.get("train_loss")
            if value is not None:
                info.scheduler.step(value)
        else:
            info.scheduler.step()

    # -- evaluation ------------------------------------------------------------
    def evaluate_split(self, split: str, *, confusion: bool = False) -> dict[str, Any]:
        """Loss and accuracy (plus per-class accuracy and confusion) on ``split``."""
        return evaluate_model(self.model, self.data, split, self.loss_fn, self.device, self.num_classes,
                              precision=self.precision, channels_last=self.channels_last, dist=self.dist,
                              epoch=self.epoch, limit_batches=self.limit_batches, confusion=confusion,
                              should_stop=lambda: self._stop_requested is not None and not self.dist.enabled)

    def test(self) -> dict[str, Any]:
        """The final pass over the test split (``test_*`` metrics)."""
        metrics = self.evaluate_split("test", confusion=True)
        self._check_stop()
        self._events.dispatch(self, "on_test_end", metrics)
        return metrics

    # -- files -----------------------------------------------------------------
    def _write_start_files(self) -> None:
        if self.rundir is None:
            return
        self.rundir.clean_temp_files()  # a run killed mid-write (final.json, a picture) leaves a temp file
        self.rundir.write_spec(self.spec, keep_header=self._resumed)
        write_run_picture(self.trace, self.rundir.path)  # architecture.svg; a failure only warns
        env = environment(self.spec, device=self.device, world_size=self.world_size, seed=self.seed,
                          argv=self._argv)
        env["precision"] = self.precision.describe()
        env["channels_last"] = self.channels_last
        env["compile"] = self.compiled
        env["kernels"] = self.kernels
        env["data_on_device"] = list(self.data_on_device)
        if self._resumed:
            env["resumed_at"] = {"epoch": self._position[0], "batch": self._position[1]}
            previous = self.rundir.read_env()
            if previous:  # the first session's record stays; each resume adds to it
                env = {**previous, "resumes": [*previous.get("resumes", []), env]}
        self.rundir.rewrite_metrics(self.history)  # a new run starts empty; a resumed one at its checkpoint
        self.rundir.write_json("env.json", env)

    def _final(self, test: dict[str, Any], seconds: float) -> dict[str, Any]:
        final: dict[str, Any] = {"status": self.status, "stop_reason": self.stop_reason,
                                 "epochs": len(self.history), "global_step": self.global_step}
        if self.history:
            last = dict(self.history[-1])
            last.pop("epoch", None)
            last.pop("step", None)
            last.pop("time", None)
            final.update(last)
        final.update(test)
        final["classes"] = [str(c) for c in self.data.classes]
        final["test_weights"] = self.test_weights
        final["train_time_s"] = self.time_before + seconds
        return final

    def _write_final(self) -> None:
        if self.rundir is not None:
            self.rundir.write_json("final.json", self.final_metrics)

    # -- resume ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a bit-identical resume needs (layout: :func:`cnnspec.engine.state.training_state`)."""
        return training_state(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output; :meth:`fit` then continues from it."""
        restore_training_state(self, state)
