"""The callback that reports a trial's objective after every epoch and stops a poor one.

Optuna's pruners decide from *intermediate values*: the objective metric at
each step, compared with other trials at the same step. The engine already
computes the validation metrics every epoch; this callback hands the
objective's value to the trial (step = the epoch, counted from 1) and, when
the study's pruner says so, ends training after that epoch the documented way
(``trainer.should_stop``), so the run directory is an ordinary finished run
whose ``stop_reason`` says it was pruned.

It also checks, before the first batch, that the run will report the
objective at all (a ``val_loss`` objective needs a validation split): a
mistake every trial would repeat fails the first trial in its setup.
"""

from __future__ import annotations

import math
from typing import Any

from cnnspec.callbacks.base import Callback, TrainerView
from cnnspec.callbacks.checkpoint import available_metrics
from cnnspec.exceptions import Location, SpecError

__all__ = ["PRUNED_PREFIX", "PruningCallback"]

#: how a pruned run's ``stop_reason`` starts
PRUNED_PREFIX = "pruned by the sweep"


class PruningCallback(Callback):
    """Reports ``metric`` to ``trial`` after each epoch; stops the run when the trial should be pruned.

    ``trial`` is an Optuna trial (``report``, ``should_prune``), or ``None``
    for a run that only checks its objective. ``where`` locates the objective
    for the error when the run cannot report it.
    """

    def __init__(self, trial: Any, metric: str, *, where: Location | None = None, report: bool = True) -> None:
        self.trial = trial
        self.metric = metric
        self.where = where
        self.report = report
        self.pruned_at: int | None = None

    @property
    def state_key(self) -> str:
        return "cnnspec.sweep.pruning"

    def setup(self, trainer: TrainerView) -> None:
        names = available_metrics(trainer)
        if trainer.data.has("test"):
            names += ["test_loss", "test_acc"]
        if self.metric in names:
            return
        missing = "the runs have no validation split" if self.metric.startswith("val_") else \
            "the runs have no test split" if self.metric.startswith("test_") else "no run reports it"
        hint = ("add a validation split (data: {val_split: 0.2}) or choose another --objective"
                if self.metric.startswith("val_") else "choose another --objective")
        raise SpecError(f"objective {self.metric}: {missing}; the runs report: {', '.join(names)}",
                        location=self.where, hint=hint)

    def on_epoch_end(self, trainer: TrainerView, epoch: int, metrics: dict[str, float]) -> None:
        value = metrics.get(self.metric)
        if self.trial is None or not self.report or not trainer.is_main_process:
            return
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        self.trial.report(float(value), epoch + 1)
        if self.trial.should_prune():
            self.pruned_at = epoch + 1
            trainer.should_stop = True
            trainer.stop_reason = f"{PRUNED_PREFIX} after epoch {epoch + 1} ({self.metric} {value:.4g})"
