"""Extending a run: learning-rate schedules planned from the number of epochs.

``cnnspec train --resume RUN --epochs N`` continues a run for more (or
fewer) epochs than it was planned with. Most schedulers do not care
(``StepLR``, ``ExponentialLR``, ``ReduceLROnPlateau``, ``CyclicLR``...): their
state is restored and they carry on, so an extended run equals one trained
for N epochs from the start. A schedule whose *plan* is a total
(``OneCycleLR``'s ``total_steps``, ``CosineAnnealingLR``'s ``T_max``,
``LinearLR`` / ``ConstantLR`` / ``PolynomialLR``'s ``total_iters``) is handled
in one of two documented ways:

* **re-planned** when cnnspec filled the total in from ``train.epochs``
  (``OneCycleLR`` without ``total_steps``, ``CosineAnnealingLR`` without
  ``T_max``), or when ``--force`` changed it: the scheduler keeps its step
  count and continues on the curve it would have followed had the new total
  been planned from the start (the learning rate moves to that curve's value
  at the current step);
* **refused** when the spec wrote the total equal to the old number of
  epochs: extending would run past the plan's end (a cosine rising again, a
  polynomial stuck at zero). The error points at the value and gives the
  command that re-plans it.
"""

from __future__ import annotations

import warnings
from typing import Any

from cnnspec.component import split_ref

__all__ = ["PLAN_KEYS", "check_extension", "load_scheduler_state"]

#: scheduler (lower-case) -> the state keys that hold its plan
PLAN_KEYS: dict[str, tuple[str, ...]] = {
    "onecyclelr": ("total_steps", "_schedule_phases"),
    "cosineannealinglr": ("T_max",),
    "linearlr": ("total_iters",),
    "constantlr": ("total_iters",),
    "polynomiallr": ("total_iters",),
}
#: scheduler (lower-case) -> the spec argument that ties its plan to train.epochs
_EPOCH_ARGS = {"onecyclelr": "epochs", "cosineannealinglr": "T_max", "linearlr": "total_iters",
               "constantlr": "total_iters", "polynomiallr": "total_iters"}


def load_scheduler_state(scheduler: Any, saved: dict[str, Any]) -> bool:
    """Restore ``saved`` into ``scheduler``, keeping the freshly built scheduler's plan when it differs.

    Returns ``True`` when the plan changed (the run was extended or shortened):
    the learning rates are then set to the new plan's value at the restored step.
    """
    name = type(scheduler).__name__.lower()
    keys = PLAN_KEYS.get(name, ())
    fresh = scheduler.state_dict()
    changed = [k for k in keys if k in saved and k in fresh and saved[k] != fresh[k]]
    if not changed:
        scheduler.load_state_dict(saved)
        return False
    scheduler.load_state_dict({**saved, **{k: fresh[k] for k in keys if k in fresh}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # get_lr outside step() warns; here it is the point
        closed = getattr(scheduler, "_get_closed_form_lr", None)
        lrs = closed() if closed is not None else scheduler.get_lr()
    for group, lr in zip(scheduler.optimizer.param_groups, lrs):
        group["lr"] = lr
    scheduler._last_lr = [group["lr"] for group in scheduler.optimizer.param_groups]
    return True


def check_extension(spec: Any, old_epochs: int, new_epochs: int, *, run_dir: Any) -> None:
    """A located :class:`~cnnspec.exceptions.SpecError` when the spec's scheduler wrote a total equal to the old
    ``train.epochs`` and the run is extended past it."""
    if new_epochs <= old_epochs or spec.train is None or spec.train.scheduler is None:
        return
    name, args = split_ref(spec.train.scheduler)
    key = _EPOCH_ARGS.get(name.rpartition(":")[2].lower())
    if key is None or args.get(key) != old_epochs:
        return
    path = ("train", "scheduler", name, key)
    raise spec.document.error(
        f"train.scheduler {name}: {key}={old_epochs} plans the schedule for the run's {old_epochs} epochs; "
        f"extending to {new_epochs} would run {new_epochs - old_epochs} epoch(s) past its end", path, key=True,
        hint=f"re-plan it for the new total: cnnspec train --resume {run_dir} --epochs {new_epochs} "
             f"--set train.scheduler.{name}.{key}={new_epochs} --force")
