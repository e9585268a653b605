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
  undone) and the PNG pictures of the ``plots`` and ``gradcam`` callbacks;
* HISTOGRAMS (``histograms: true``): ``weights/<param>`` and
  ``gradients/<param>`` per epoch.

Logging must never cost a run: any failure (disk full, the directory removed
under a running job) warns once, and training goes on. The writer is
reopened at the next epoch boundary, so logging resumes when the problem
goes away. TensorBoard's writer fails in a background thread; that thread's
traceback is kept off the console (the one warning says it all). After a
resume from step S, events after S are purged (``purge_step``), so curves
do not double back over the steps that are run again.

Nothing here changes the training: the graph trace and the sample draw run
in eval mode with the random streams preserved.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.callbacks.base import Callback, TrainerView

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure
    from torch.utils.tensorboard import SummaryWriter

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
        self.log_dir: Path | None = None
        self.writer: SummaryWriter | None = None
        self.failed = False
        self._warned = False
        self._purge_step: int | None = None
        self._test_metrics: dict[str, Any] = {}
        self._hooks: tuple[Any, Any] | None = None

    # -- the writer and its failures -------------------------------------------
    @property
    def active(self) -> bool:
        """Whether events are being written right now."""
        return self.writer is not None

    def _open(self) -> None:
        from torch.utils.tensorboard import SummaryWriter

        assert self.log_dir is not None
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=self._purge_step,
                                        flush_secs=self.flush_secs)
        except Exception as exc:
            self._fail("cannot open the log directory", exc)
            return
        self._purge_step = None

    def _fail(self, what: str, exc: BaseException) -> None:
        """Warn (the first time only), drop the writer, and let training continue."""
        self.failed = True
        writer, self.writer = self.writer, None
        if writer is not None:
            try:
                writer.close()
            except Exception:
                pass
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"TensorBoard logging to {self.log_dir} failed ({what}: {type(exc).__name__}: {exc}); "
                "training continues, and logging resumes at the next epoch if the problem goes away",
                RuntimeWarning, stacklevel=3)

    def _write(self, method: str, *args: Any, **kwargs: Any) -> bool:
        """``self.writer.<method>(*args)``, turning any failure into :meth:`_fail`."""
        if self.writer is None:
            return False
        try:
            getattr(self.writer, method)(*args, **kwargs)
        except Exception as exc:
            tag = args[0] if args and isinstance(args[0], str) else ""
            self._fail(f"{method}({tag})" if tag else method, exc)
            return False
        return True

    def _check_dir(self) -> None:
        """A removed directory leaves the open file writable but unlinked: detect it, reopen."""
        if self.log_dir is None:
            return
        if self.writer is not None and not self.log_dir.is_dir():
            self._fail("the log directory was removed", FileNotFoundError(str(self.log_dir)))
        if self.writer is None:
            self._open()

    # -- what other callbacks use --------------------------------------------
    def log_image(self, tag: str, image: np.ndarray, step: int) -> bool:
        """Log an ``H x W x 3`` uint8 picture; False when TensorBoard is not writing."""
        return self._write("add_image", tag, image, step, dataformats="HWC")

    def log_figure(self, tag: str, fig: Figure, step: int) -> bool:
        """Log a matplotlib figure as rendered by :func:`cnnspec.explain.pictures.render`."""
        if self.writer is None:
            return False
        from cnnspec.explain import pictures as viz

        return self.log_image(tag, viz.render(fig), step)

    # -- events ---------------------------------------------------------------
    def on_fit_start(self, trainer: TrainerView) -> None:
        if not getattr(trainer, "is_main_process", True):
            return
        run_dir = Path(trainer.run_dir)
        self.log_dir = run_dir / (self.log_dir_arg or "tensorboard")
        step = int(getattr(trainer, "global_step", 0) or 0)
        self._purge_step = step + 1 if step > 0 else None
        self._quiet_writer_threads()
        self._open()
        if self.writer is None:
            return
        batch = self._samples(trainer)
        if self.graph and step == 0:
            self._add_graph(trainer, batch)
        if self.images and batch is not None and step == 0:
            self._add_inputs(batch, getattr(trainer.data, "unnormalize", None))

    def _samples(self, trainer: TrainerView) -> Any:
        from cnnspec.explain import preserve_rng

        data = getattr(trainer, "data", None)
        count = max(self.images, 1)
        for split in ("train", "val", "test"):
            if data is not None and data.has(split):
                try:
                    with preserve_rng(getattr(trainer, "device", None)):
                        inputs, _ = data.sample_batch(split, count)
                    return inputs
                except Exception as exc:
                    warnings.warn(f"TensorBoard: could not draw sample inputs ({type(exc).__name__}: {exc})",
                                  RuntimeWarning, stacklevel=2)
                    return None
        return None

    def _add_graph(self, trainer: TrainerView, batch: Any) -> None:
        import torch

        from cnnspec.explain import preserve_rng

        model = trainer.model
        device = getattr(trainer, "device", None)
        if batch is not None:
            example = batch[:1].to(device)
        elif all(isinstance(d, int) for d in trainer.trace.input_shape):
            example = torch.zeros(1, *trainer.trace.input_shape, device=device)
        else:
            return
        modes = [(m, m.training) for m in model.modules()]
        try:
            model.eval()
            with warnings.catch_warnings(), preserve_rng(device), torch.no_grad():
                warnings.simplefilter("ignore")
                self.writer.add_graph(model, example)  # type: ignore[union-attr]
        except Exception as exc:
            if self._writer_broken():
                self._fail("writing the model graph", exc)
            else:
                warnings.warn(f"TensorBoard: skipping the model graph, tracing failed ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''})", RuntimeWarning, stacklevel=2)
        finally:
            for m, mode in modes:
                m.training = mode

    def _writer_broken(self) -> bool:
        try:
            self.writer.flush()  # type: ignore[union-attr]
        except Exception:
            return True
        return False

    def _add_inputs(self, batch: Any, unnormalize: Any) -> None:
        """A grid of inputs as images: normalisation undone when the data can, else each one stretched."""
        import torch
        from torchvision.utils import make_grid

        images = batch[: self.images].detach().float().cpu()
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            return
        if unnormalize is not None:
            shown = unnormalize(images.clone())
        else:
            flat = images.flatten(1)
            lo = flat.amin(dim=1)[:, None, None, None]
            hi = flat.amax(dim=1)[:, None, None, None]
            shown = (images - lo) / torch.where(hi > lo, hi - lo, torch.ones_like(hi))
        grid = make_grid(shown, nrow=min(8, len(shown)), padding=2, pad_value=1.0)
        self._write("add_image", "inputs", grid, 0)

    def on_train_batch_end(self, trainer: TrainerView, batch: int, loss: float, inputs: Any, targets: Any,
                           outputs: Any) -> None:
        if self.writer is None:
            return
        step = int(trainer.global_step)
        if step % self.log_every_n_steps:
            return
        value = float(loss)
        if math.isfinite(value):
            self._write("add_scalar", "step/train_loss", value, step)
        lr = _current_lr(trainer)
        if lr is not None:
            self._write("add_scalar", "step/lr", lr, step)

    def on_epoch_end(self, trainer: TrainerView, epoch: int, metrics: dict[str, Any]) -> None:
        if self.log_dir is None:
            return
        self._check_dir()
        if self.writer is None:
            return
        step = int(trainer.global_step)
        self._write("add_scalar", "epoch", epoch + 1, step)
        self._scalars("epoch", metrics, step)
        if self.histograms:
            for name, param in trainer.model.named_parameters():
                values = param.detach().float().cpu()
                if not self._write("add_histogram", f"weights/{name}", values, step):
                    return
                if param.grad is not None:
                    self._write("add_histogram", f"gradients/{name}", param.grad.detach().float().cpu(), step)
        self._write("flush")

    def _scalars(self, prefix: str, metrics: dict[str, Any], step: int) -> None:
        for key, value in metrics.items():
            if key in _NOT_LOGGED or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if not math.isfinite(value):
                continue
            if not self._write("add_scalar", f"{prefix}/{key}", float(value), step):
                return

    def on_test_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        self._test_metrics = {k: v for k, v in metrics.items() if _is_number(v)}
        if self.writer is None:
            return
        self._scalars("epoch", self._test_metrics, int(trainer.global_step))

    def on_fit_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        if self.writer is None:
            return
        final: dict[str, float] = {}
        if trainer.history:
            final.update({k: float(v) for k, v in trainer.history[-1].items()
                          if k not in _NOT_LOGGED and k != "lr" and _is_number(v)})
        final.update({k: float(v) for k, v in {**self._test_metrics, **metrics}.items()
                      if k not in _NOT_LOGGED and k != "lr" and _is_number(v)})
        final = {k: v for k, v in final.items() if math.isfinite(v)}
        try:
            self._write_hparams(spec_hparams(trainer), final, int(trainer.global_step))
        except Exception as exc:
            self._fail("writing hparams", exc)
        self._write("flush")

    def _write_hparams(self, hparams: dict[str, Any], final: dict[str, float], step: int) -> None:
        """The hparams plugin's three summaries, in this run (``add_hparams`` would start another)."""
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        metric_tags = {f"hparam/{k}": v for k, v in final.items()}
        experiment, start, end = hparams_summary(hparams, metric_tags)
        writer = self.writer.file_writer  # type: ignore[union-attr]
        for summary in (experiment, start, end):
            writer.add_summary(summary)
        for tag, value in metric_tags.items():
            self.writer.add_scalar(tag, value, step)  # type: ignore[union-attr]

    def on_interrupt(self, trainer: TrainerView, reason: str) -> None:
        self._write("flush")

    def on_exception(self, trainer: TrainerView, exc: BaseException) -> None:
        self.on_interrupt(trainer, str(exc))

    def _quiet_writer_threads(self) -> None:
        """Keep the event writer thread's traceback off stderr; its error reaches us on the next write."""
        import threading

        previous = threading.excepthook

        def hook(args: Any) -> None:
            if type(args.thread).__module__.startswith("tensorboard.summary.writer"):
                return
            previous(args)

        threading.excepthook = hook
        self._hooks = (hook, previous)

    def teardown(self, trainer: TrainerView) -> None:
        if self._hooks is not None:
            import threading

            hook, previous = self._hooks
            if threading.excepthook is hook:
                threading.excepthook = previous
            self._hooks = None
        writer, self.writer = self.writer, None
        if writer is not None:
            try:
                writer.close()
            except Exception as exc:
                if not self._warned:
                    self._warned = True
                    warnings.warn(f"TensorBoard logging to {self.log_dir} failed when closing "
                                  f"({type(exc).__name__}: {exc})", RuntimeWarning, stacklevel=2)


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


def spec_hparams(trainer: TrainerView) -> dict[str, Any]:
    """The recipe of a run as flat hparams (str, int, float or bool values).

    Component arguments are flattened under their name (``optimizer.lr``), so
    runs that differ in any of them can be compared in the HPARAMS table.
    """
    from cnnspec.component import split_ref

    spec = trainer.spec
    out: dict[str, Any] = {"spec": spec.name, "fingerprint": spec.fingerprint()[:12]}
    trace = getattr(trainer, "trace", None)
    if trace is not None:
        out["params"] = int(trace.params)
    if spec.data is not None:
        name, args = split_ref(spec.data.dataset)
        out["dataset"] = name
        out.update({f"dataset.{k}": _hparam_value(v) for k, v in sorted(args.items())})
        out["batch_size"] = spec.data.batch_size
        if spec.data.val_split is not None:
            out["val_split"] = spec.data.val_split
    if spec.train is not None:
        out["epochs"] = spec.train.epochs
        for key in ("optimizer", "loss", "scheduler"):
            ref = getattr(spec.train, key, None)
            if ref is None:
                continue
            name, args = split_ref(ref)
            out[key] = name
            out.update({f"{key}.{k}": _hparam_value(v) for k, v in sorted(args.items())})
        seed = getattr(spec.train, "seed", None)
        out["seed"] = seed if seed is not None else spec.config.seed
    return out


def _hparam_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
