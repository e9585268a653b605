"""Built-in optimizers and learning-rate schedulers: torch's own classes by name.

Registered as ``"torch.optim:SGD"`` strings so that listing or validating
names never imports torch; the engine builds them and checks the spec's
arguments against the real signatures (a typo such as ``weight_decy`` is a
located spec error with a suggestion, before the first batch).

Schedulers are stepped once per epoch, except ``OneCycleLR`` and
``CyclicLR``, whose schedules are defined in batches and are stepped after
every optimizer step (``meta["interval"] == "step"``). ``ReduceLROnPlateau``
is fed ``val_loss`` (``train_loss`` when there is no validation split).
``SequentialLR`` and ``ChainedScheduler`` take their ``schedulers`` as a list
of scheduler references in the spec. ``LambdaLR`` and ``MultiplicativeLR``
need Python functions, which a spec cannot hold, so they are not offered.
"""

from __future__ import annotations

from typing import Any

from cnnspec.component import Component
from cnnspec.hookspec import hookimpl

__all__ = ["OPTIMIZERS", "SCHEDULERS", "chained_scheduler", "cnnspec_optimizers", "cnnspec_schedulers"]

#: every ``torch.optim.Optimizer`` subclass of the supported torch versions
#: (the test suite compares this list with the installed torch)
OPTIMIZERS: tuple[str, ...] = (
    "ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "Muon", "NAdam",
    "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam",
)

_OPTIMIZER_NOTES: dict[str, dict[str, Any]] = {
    "LBFGS": {"closure": True},
    "SparseAdam": {"unsupported": "SparseAdam needs sparse gradients (nn.Embedding(sparse=True)); "
                                  "convolutional and linear layers produce dense ones"},
}

#: scheduler class -> meta; "interval" says when the engine steps it
SCHEDULERS: dict[str, dict[str, Any]] = {
    "StepLR": {"interval": "epoch"},
    "MultiStepLR": {"interval": "epoch"},
    "ConstantLR": {"interval": "epoch"},
    "LinearLR": {"interval": "epoch"},
    "ExponentialLR": {"interval": "epoch"},
    "PolynomialLR": {"interval": "epoch"},
    "CosineAnnealingLR": {"interval": "epoch", "fill_epochs": "T_max"},
    "CosineAnnealingWarmRestarts": {"interval": "epoch"},
    "ReduceLROnPlateau": {"interval": "epoch", "monitor": "val_loss"},
    "CyclicLR": {"interval": "step"},
    "OneCycleLR": {"interval": "step", "fill_total_steps": True},
    "SequentialLR": {"interval": "epoch", "nested": "schedulers"},
    "ChainedScheduler": {"interval": "epoch", "nested": "schedulers"},
}

_SCHEDULER_FACTORY = {"ChainedScheduler": "cnnspec.builtin.optim:chained_scheduler"}


def chained_scheduler(optimizer: Any, schedulers: list[Any]) -> Any:
    """``ChainedScheduler`` with the optimizer first, like every other scheduler."""
    from torch.optim.lr_scheduler import ChainedScheduler

    return ChainedScheduler(schedulers, optimizer=optimizer)


@hookimpl
def cnnspec_optimizers() -> list[Component]:
    return [
        Component(name, f"torch.optim:{name}", doc=f"torch.optim.{name}(params, **args)",
                  meta=_OPTIMIZER_NOTES.get(name, {}))
        for name in OPTIMIZERS
    ]


@hookimpl
def cnnspec_schedulers() -> list[Component]:
    return [
        Component(name, _SCHEDULER_FACTORY.get(name, f"torch.optim.lr_scheduler:{name}"),
                  doc=f"torch.optim.lr_scheduler.{name}(optimizer, **args), stepped per "
                      f"{'batch' if meta['interval'] == 'step' else 'epoch'}",
                  meta=meta)
        for name, meta in SCHEDULERS.items()
    ]
