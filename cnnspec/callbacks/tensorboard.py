"""TensorBoard logging: scalars, hparams, the model graph, sample inputs, histograms, pictures.

What goes where (``tensorboard --logdir runs/``). Every event is logged at
the global step (optimizer steps done), so per-step and per-epoch curves
share one x axis and a resumed run can purge what it will redo:

* ``step/train_loss``, ``step/lr`` every ``log_every_n_steps`` optimizer
  steps;
* ``epoch/<metric>`` for every number in the epoch's metrics
  (``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr``,
  ``time`` and whatever other callbacks add) at the step the epoch ended,
  and ``epoch`` itself (counted from 1) to map steps to epochs;
  ``epoch/test_loss``, ``epoch/test_acc`` after the test pass;
* the HPARAMS tab: the spec's recipe (dataset, batch size, optimizer and its
  arguments, loss, scheduler, epochs, seed, parameter count) with the final
  metrics as ``hparam/<metric>``;
* GRAPHS: the model traced on one sample (skipped with a warning if tracing
  fails: not every model is traceable, and the graph is a convenience);
* IMAGES: ``inputs`` (a grid of training samples with the normalisation
  undone), ``architecture`` (the network drawn by :mod:`cnnspec.draw`) and
  the PNG pictures of the ``plots`` and ``gradcam`` callbacks;
* HISTOGRAMS (``histograms: true``): ``weights/<param>`` and
  ``gradients/<param>`` per epoch.

Logging must never cost a run: any failure warns once, training goes on,
and logging resumes at the next epoch if the problem goes away
(:mod:`cnnspec.callbacks.tensorboard_writer`). After a resume from step S,
events after S are purged (``purge_step``), so curves do not double back
over the steps that are run again. The graph and the ``inputs`` image are
drawn by :mod:`cnnspec.callbacks.tensorboard_pictures` without changing
the training; the HPARAMS summaries by
:mod:`cnnspec.callbacks.tensorboard_hparams`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.callbacks.base import Callback, TrainerView
from cnnspec.callbacks.tensorboard_hparams import spec_hparams, write_hparams
from cnnspec.callbacks.tensorboard_pictures import add_architecture, add_graph, add_inputs, sample_inputs
from cnnspec.callbacks.tensorboard_writer import GuardedWriter

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

__all__ = ["TensorBoardCallback", "find_tensorboard", "spec_hparams"]

_NOT_LOGGED = frozenset({"epoch", "step"})


class TensorBoardCallback(Callback):
    """Writes TensorBoard event files into ``run_dir/tensorboard`` (or ``log_dir``).

    Arguments are those of ``tensorboard`` in a spec's ``callbacks:``.
    """

    def __init__(self, log_every_n_steps: int = 50, histograms: bool = False, graph: bool = True,
                 images: int = 16, log_dir: str | None = None, flush_secs: float = 30.0) -> None:
        self.log_every_n_steps = log_every_n_steps
        self.histograms = histograms
        self.graph = graph
        self.images = images
        self.log_dir_arg = log_dir
        self.flush_secs = flush_secs
        self.log: GuardedWriter | None = None  # on the main process, from on_fit_start
        self._test_metrics: dict[str, Any] = {}

    @property
    def active(self) -> bool:
        """Whether events are being written right now."""
        return self.log is not None and self.log.active

    @property
    def failed(self) -> bool:
        """Whether writing has failed at least once (a warning said so)."""
        return self.log is not None and self.log.failed

    @property
    def log_dir(self) -> Path | None:
        return self.log.log_dir if self.log is not None else None

    # -- what other callbacks use --------------------------------------------
    def log_image(self, tag: str, image: np.ndarray, step: int) -> bool:
        """Log an ``H x W x 3`` uint8 picture; False when TensorBoard is not writing."""
        return self.log is not None and self.log.write("add_image", tag, image, step, dataformats="HWC")

    def log_figure(self, tag: str, fig: Figure, step: int) -> bool:
        """Log a matplotlib figure as rendered by :func:`cnnspec.explain.pictures.render`."""
        if not self.active:
            return False
        from cnnspec.explain import pictures as viz

        return self.log_image(tag, viz.render(fig), step)

    # -- events ---------------------------------------------------------------
    def on_fit_start(self, trainer: TrainerView) -> None:
        if not getattr(trainer, "is_main_process", True):
            return
        step = int(getattr(trainer, "global_step", 0) or 0)
        log = self.log = GuardedWriter(Path(trainer.run_dir) / (self.log_dir_arg or "tensorboard"),
                                       flush_secs=self.flush_secs, purge_step=step + 1 if step > 0 else None)
        log.quiet_threads()
        log.open()
        if not log.active:
            return
        batch = sample_inputs(trainer, self.images)
        if self.graph and step == 0:
            add_graph(log, trainer, batch)
        if self.images and batch is not None and step == 0:
            add_inputs(log, batch, getattr(trainer.data, "unnormalize", None), self.images)
        if step == 0:
            add_architecture(log, trainer)

    def on_train_batch_end(self, trainer: TrainerView, batch: int, loss: float, inputs: Any, targets: Any,
                           outputs: Any) -> None:
        log = self.log
        if log is None or not log.active:
            return
        step = int(trainer.global_step)
        if step % self.log_every_n_steps:
            return
        value = float(loss)
        if math.isfinite(value):
            log.write("add_scalar", "step/train_loss", value, step)
        lr = _current_lr(trainer)
        if lr is not None:
            log.write("add_scalar", "step/lr", lr, step)

    def on_epoch_end(self, trainer: TrainerView, epoch: int, metrics: dict[str, Any]) -> None:
        log = self.log
        if log is None:
            return
        log.check_dir()
        if not log.active:
            return
        step = int(trainer.global_step)
        log.write("add_scalar", "epoch", epoch + 1, step)
        _scalars(log, "epoch", metrics, step)
        if self.histograms:
            for name, param in trainer.model.named_parameters():
                values = param.detach().float().cpu()
                if not log.write("add_histogram", f"weights/{name}", values, step):
                    return
                if param.grad is not None:
                    log.write("add_histogram", f"gradients/{name}", param.grad.detach().float().cpu(), step)
        log.write("flush")

    def on_test_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        self._test_metrics = {k: v for k, v in metrics.items() if _is_number(v)}
        if self.log is None or not self.log.active:
            return
        _scalars(self.log, "epoch", self._test_metrics, int(trainer.global_step))

    def on_fit_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        log = self.log
        if log is None or not log.active:
            return
        final: dict[str, float] = {}
        if trainer.history:
            final.update({k: float(v) for k, v in trainer.history[-1].items()
                          if k not in _NOT_LOGGED and k != "lr" and _is_number(v)})
        final.update({k: float(v) for k, v in {**self._test_metrics, **metrics}.items()
                      if k not in _NOT_LOGGED and k != "lr" and _is_number(v)})
        final = {k: v for k, v in final.items() if math.isfinite(v)}
        try:
            write_hparams(log, spec_hparams(trainer), final, int(trainer.global_step))
        except Exception as exc:
            log.fail("writing hparams", exc)
        log.write("flush")

    def on_interrupt(self, trainer: TrainerView, reason: str) -> None:
        if self.log is not None:
            self.log.write("flush")

    def on_exception(self, trainer: TrainerView, exc: BaseException) -> None:
        self.on_interrupt(trainer, str(exc))

    def teardown(self, trainer: TrainerView) -> None:
        if self.log is not None:
            self.log.close()


def _scalars(log: GuardedWriter, prefix: str, metrics: dict[str, Any], step: int) -> None:
    for key, value in metrics.items():
        if key in _NOT_LOGGED or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):
            continue
        if not log.write("add_scalar", f"{prefix}/{key}", float(value), step):
            return


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _current_lr(trainer: TrainerView) -> float | None:
    optimizer = getattr(trainer, "optimizer", None)
    try:
        return float(optimizer.param_groups[0]["lr"])  # type: ignore[union-attr]
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None


def find_tensorboard(trainer: TrainerView) -> TensorBoardCallback | None:
    """The run's active TensorBoard callback, if the spec lists one and it is writing.

    Lets the picture callbacks add their PNGs to TensorBoard without the
    engine knowing about either.
    """
    for callback in getattr(trainer, "callbacks", ()) or ():
        if isinstance(callback, TensorBoardCallback) and callback.active:
            return callback
    return None
