"""The callback base: no-op event hooks and resumable state (Lightning's model).

The engine owns the loop and no feature logic; everything else (logging,
checkpoints, early stopping, pictures, Grad-CAM) is a callback. A callback
overrides the events it needs. ``state_dict``/``load_state_dict`` make it
survive a resume: the checkpoint stores each callback's state under its
``state_key``.

The ``trainer`` argument is the running :class:`cnnspec.engine.Trainer`; the
attributes callbacks may rely on are listed in its docstring (``spec``,
``trace``, ``model``, ``optimizer``, ``scheduler``, ``device``, ``run_dir``,
``epoch``, ``global_step``, ``history``, ``data``, ``should_stop``...).

Metric names are flat strings: ``train_loss``, ``train_acc``, ``val_loss``,
``val_acc``, ``test_loss``, ``test_acc``, ``lr``, plus whatever callbacks add.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Callback"]


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
        """Key of this callback's state in a checkpoint (unique per instance type)."""
        return type(self).__qualname__

    # -- lifecycle -------------------------------------------------------------
    def setup(self, trainer: Any) -> None:
        """Model, optimizer and data exist; nothing has run yet."""

    def on_fit_start(self, trainer: Any) -> None:
        """Before the first epoch (also after a resume, with restored state)."""

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        """Before each training epoch; ``epoch`` counts from 0."""

    def on_train_batch_end(self, trainer: Any, batch: int, loss: float, inputs: Any, targets: Any,
                           outputs: Any) -> None:
        """After each optimizer step; ``trainer.global_step`` already counts it."""

    def on_validation_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        """After the validation pass of an epoch, with the ``val_*`` metrics."""

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        """After each epoch with all of its metrics (train, val, lr, ...).

        Set ``trainer.should_stop = True`` to end training after this epoch.
        """

    def on_test_end(self, trainer: Any, metrics: dict[str, Any]) -> None:
        """After the final test pass (``test_*`` metrics, confusion matrix)."""

    def on_fit_end(self, trainer: Any, metrics: dict[str, Any]) -> None:
        """Training finished normally (or stopped early), after testing."""

    def on_interrupt(self, trainer: Any, reason: str) -> None:
        """Training is stopping early because of ``reason`` (a signal, a non-finite loss)."""

    def on_exception(self, trainer: Any, exc: BaseException) -> None:
        """Training failed with ``exc``; release resources, do not raise."""

    def teardown(self, trainer: Any) -> None:
        """Always called last, whatever happened."""

    # -- resume ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """State to store in checkpoints: tensors and plain Python values only."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
