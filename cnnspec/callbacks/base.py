"""The callback base: no-op event hooks and resumable state (Lightning's model).

The engine owns the loop and no feature logic; everything else (logging,
checkpoints, early stopping, pictures, Grad-CAM) is a callback. A callback
overrides the events it needs. ``state_dict``/``load_state_dict`` make it
survive a resume: the checkpoint stores each callback's state under its
``state_key``.

The ``trainer`` argument of every hook is the running
:class:`cnnspec.engine.Trainer`, typed as :class:`TrainerView`: the
attributes a callback may rely on (``spec``, ``trace``, ``model``,
``optimizer``, ``scheduler``, ``device``, ``run_dir``, ``epoch``,
``global_step``, ``history``, ``data``, ``should_stop``...), kept stable.

Metric names are flat strings: ``train_loss``, ``train_acc``, ``val_loss``,
``val_acc``, ``test_loss``, ``test_acc``, ``lr``, plus whatever callbacks add.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

    from cnnspec.data import DataBundle
    from cnnspec.shapes.walker import ShapeTrace
    from cnnspec.spec import Spec

__all__ = ["Callback", "TrainerView"]


class TrainerView(Protocol):
    """What a callback may read from the trainer, and the few things it may set.

    :class:`cnnspec.engine.Trainer` satisfies it (a test checks every member);
    these are the attributes kept stable for callbacks, built-in or not.
    """

    spec: Spec
    """The loaded spec."""
    trace: ShapeTrace
    """The spec's static shape trace."""
    model: torch.nn.Module
    """The plain ``nn.Sequential`` (never the DistributedDataParallel wrapper);
    module names equal the trace's qualnames."""
    optimizer: torch.optim.Optimizer
    scheduler: Any
    """The torch learning-rate scheduler, or ``None``."""
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    """``loss_fn(outputs, class_indices)``: adapts the targets to the loss (one-hot for BCE/MSE)."""
    device: torch.device
    precision: Any
    """The engine's :class:`~cnnspec.engine.device.Precision` (autocast dtype, gradient scaler)."""
    data: DataBundle
    """``classes``, ``num_classes``, ``has(split)``, ``loader(split, epoch=, start_batch=)``,
    ``sample_batch(split, n)``."""
    callbacks: list[Callback]
    """The callback objects, in dispatch order (the spec's order, then ``progress``)."""
    run_dir: Path
    """Exists before ``setup``; every artifact goes there. Only the main process writes."""
    epoch: int
    """The current epoch, 0-based; after the loop, the number of epochs run."""
    global_step: int
    """Optimizer steps done; ``on_train_batch_end`` sees it already counted."""
    max_epochs: int
    """The loop's bound on epochs (``--dry-run`` limits it)."""
    steps_per_epoch: int
    """Optimizer steps per epoch (``--dry-run`` limits it)."""
    history: list[dict[str, Any]]
    """One metrics dict per finished epoch: ``epoch`` (1-based count), ``step``,
    ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` (only with a
    validation split), ``lr`` (the learning rate used during the epoch) and
    ``time`` (seconds), plus what callbacks add in ``on_epoch_end``."""
    should_stop: bool
    """A callback sets it in ``on_epoch_end`` to end training after the epoch
    (optionally with ``stop_reason``), or in ``on_fit_start`` to train no
    further (a resumed run that had already decided to stop); the test pass
    still runs."""
    stop_reason: str | None
    """Why the run ended early, or ``None``."""
    status: str
    """How the run ended: ``completed``, ``stopped`` (a callback),
    ``interrupted`` (:meth:`request_stop`) or ``diverged`` (non-finite loss)."""
    is_main_process: bool
    """Rank 0 of the process group: the only process that writes or prints."""
    rank: int
    world_size: int

    def request_stop(self, reason: str) -> None:
        """Stop after the current step: callbacks get ``on_interrupt(reason)``, no test pass runs."""

    def state_dict(self) -> dict[str, Any]:
        """The whole resumable training state (what a checkpoint stores)."""


class Callback:
    """Base class: every hook does nothing; override what you need.

    Hooks must not raise for recoverable problems (a full disk for a logger):
    warn and carry on. An exception that escapes a hook stops training
    cleanly, naming the callback.
    """

    #: metrics this callback adds to the epoch metrics (for ``monitor:`` checks)
    provides_metrics: tuple[str, ...] = ()

    @property
    def state_key(self) -> str:
        """Key of this callback's state in a checkpoint; two callbacks of one run must not share it."""
        return type(self).__qualname__

    # -- lifecycle -------------------------------------------------------------
    def setup(self, trainer: TrainerView) -> None:
        """Model, optimizer and data exist; nothing has run yet."""

    def on_fit_start(self, trainer: TrainerView) -> None:
        """Before the first epoch (also after a resume, with restored state)."""

    def on_epoch_start(self, trainer: TrainerView, epoch: int) -> None:
        """Before each training epoch; ``epoch`` counts from 0."""

    def on_train_batch_end(self, trainer: TrainerView, batch: int, loss: float, inputs: Any, targets: Any,
                           outputs: Any) -> None:
        """After each optimizer step; ``trainer.global_step`` already counts it."""

    def on_validation_end(self, trainer: TrainerView, epoch: int, metrics: dict[str, float]) -> None:
        """After the validation pass of an epoch, with the ``val_*`` metrics."""

    def on_epoch_end(self, trainer: TrainerView, epoch: int, metrics: dict[str, float]) -> None:
        """After each epoch with all of its metrics (train, val, lr, ...).

        Set ``trainer.should_stop = True`` to end training after this epoch.
        """

    def on_train_end(self, trainer: TrainerView) -> None:
        """The last epoch is done (or a callback stopped training), before the test pass."""

    def on_test_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        """After the final test pass (``test_*`` metrics, confusion matrix)."""

    def on_fit_end(self, trainer: TrainerView, metrics: dict[str, Any]) -> None:
        """Training finished normally (or stopped early), after testing."""

    def on_interrupt(self, trainer: TrainerView, reason: str) -> None:
        """Training is stopping early because of ``reason`` (a signal, a non-finite loss)."""

    def on_exception(self, trainer: TrainerView, exc: BaseException) -> None:
        """Training failed with ``exc``; release resources, do not raise."""

    def teardown(self, trainer: TrainerView) -> None:
        """Always called last, whatever happened."""

    # -- resume ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """State to store in checkpoints: tensors and plain Python values only."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
