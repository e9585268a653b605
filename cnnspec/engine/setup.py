"""Putting a run together: everything :class:`~cnnspec.engine.trainer.Trainer` builds before it trains.

The order is part of reproducibility: static checks first (they cost
nothing and need no data), then the seed, the model on its device, the
optimizer, the callbacks, the data, the loss and the scheduler, and last
the DistributedDataParallel wrapper. Every mistake found here is reported
before anything is trained or written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnspec.engine.components import build_callbacks, build_loss, build_optimizer, build_scheduler
from cnnspec.engine.device import Precision, select_device
from cnnspec.engine.distributed import DistContext
from cnnspec.engine.evaluation import check_data_fits
from cnnspec.engine.events import Dispatcher
from cnnspec.engine.rng import seed_everything
from cnnspec.engine.rundir import RunDir
from cnnspec.engine.step import LossReader
from cnnspec.exceptions import CnnspecError
from cnnspec.load.reader import format_path

__all__ = ["check_state_keys", "set_up"]


def set_up(trainer: Any, spec: Any, *, run_dir: str | Path, data: Any, device: Any, callbacks: list[Any] | None,
           extra_callbacks: Sequence[Any], dist: DistContext | None, epochs: int | None, limit_batches: int | None,
           persist: bool, progress: dict[str, Any] | None, argv: list[str] | None) -> None:
    """Give ``trainer`` its spec, placement, model, optimizer, callbacks, data, loss and scheduler.

    The arguments are :class:`~cnnspec.engine.trainer.Trainer`'s.
    """
    train = spec.train
    trainer.spec = spec
    trainer.run_dir = Path(run_dir)
    trainer.persist = persist
    trainer._argv = argv
    trainer.max_epochs = int(epochs if epochs is not None else (train.epochs if train else 10))
    trainer.limit_batches = limit_batches
    trainer.seed = train.seed if train and train.seed is not None else spec.config.seed
    _place(trainer, dist or DistContext(), device)
    _model(trainer, spec)
    _callbacks(trainer, spec, callbacks, extra_callbacks, progress)
    _data(trainer, spec, data)
    _wrap(trainer)
    trainer.rundir = RunDir(trainer.run_dir) if persist and trainer.is_main_process else None
    if trainer.rundir is not None:
        trainer.run_dir.mkdir(parents=True, exist_ok=True)


def _place(trainer: Any, dist: DistContext, device: Any) -> None:
    """The process group and this process's device (its own GPU under torchrun)."""
    trainer.dist = dist
    trainer.rank = dist.rank
    trainer.world_size = dist.world_size
    trainer.is_main_process = dist.is_main
    train = trainer.spec.train
    if isinstance(device, str) or device is None:
        device = select_device(device or (train.device if train else "auto"))
    if device.type == "cuda" and dist.enabled:
        import torch

        device = torch.device("cuda", dist.local_rank)
    trainer.device = device


def _model(trainer: Any, spec: Any) -> None:
    """The static checks, then the seeded model on its device, the optimizer and the precision."""
    import torch

    from cnnspec.analysis.consistency import check_spec_loss
    from cnnspec.build import build_from_trace
    from cnnspec.shapes.walker import infer_shapes

    train = spec.train
    # static checks first: they cost nothing and need no data
    trainer.trace = infer_shapes(spec)
    check_spec_loss(spec, trainer.trace)

    seed_everything(trainer.seed)
    trainer.model = build_from_trace(trainer.trace)
    trainer.channels_last = bool(train and train.channels_last)
    trainer.model.to(trainer.device)
    if trainer.channels_last:
        trainer.model.to(memory_format=torch.channels_last)
    trainer.optimizer, opt_entry = build_optimizer(spec, trainer.model)
    trainer._closure = bool(opt_entry.obj.meta.get("closure"))
    trainer.precision = Precision.create(train.amp if train else False, trainer.device)
    trainer.grad_clip = train.grad_clip if train else None
    trainer.deterministic = bool(train and train.deterministic)
    trainer.kernels = "default"
    trainer.loss_reader = LossReader(trainer.device)


def _callbacks(trainer: Any, spec: Any, callbacks: list[Any] | None, extra: Sequence[Any],
               progress: dict[str, Any] | None) -> None:
    """The spec's callbacks (or ``callbacks``), then ``extra``, and the dispatcher that tells them events."""
    labelled = build_callbacks(spec, default_progress=progress) if callbacks is None \
        else [(type(c).__name__, c) for c in callbacks]
    labelled += [(type(c).__name__, c) for c in extra]
    check_state_keys(spec, labelled, from_spec=len(spec.config.callbacks) if callbacks is None else 0)
    trainer.callbacks = [c for _, c in labelled]
    trainer._events = Dispatcher(labelled)


def check_state_keys(spec: Any, labelled: Sequence[tuple[str, Any]], *, from_spec: int) -> None:
    """Refuse two callbacks with one ``state_key``: a checkpoint holds one state per key.

    The first ``from_spec`` of ``labelled`` are the spec's ``callbacks:``
    entries, in order; two of those sharing a key are a located
    :class:`~cnnspec.exceptions.SpecError`, any other pair a
    :class:`~cnnspec.exceptions.CnnspecError` naming both.
    """
    def where(n: int) -> str:
        label = labelled[n][0]
        return f"{format_path(('callbacks', n))} ({label})" if n < from_spec else f"'{label}'"

    owner: dict[str, int] = {}
    for i, (_, callback) in enumerate(labelled):
        key = getattr(callback, "state_key", None)
        if key is None:
            continue
        first = owner.setdefault(key, i)
        if first == i:
            continue
        problem = (f"two callbacks keep their resumable state under one state_key, {key!r}: {where(first)} and "
                   f"{where(i)}; a checkpoint holds one state per key, so a resume would restore both from one")
        if i < from_spec:
            raise spec.document.error(f"{format_path(('callbacks', i))}: {problem}", ("callbacks", i),
                                      hint="list each callback once, with all its arguments in one entry")
        raise CnnspecError(problem + " (give one of them its own state_key, or pass it once)")


def _data(trainer: Any, spec: Any, data: Any) -> None:
    """The data (built from the spec unless given), then what depends on it: the loss, the scheduler."""
    if data is None:
        from cnnspec.data import build_data

        data = build_data(spec, rank=trainer.rank, world_size=trainer.world_size)
    trainer.data = data
    check_data_fits(spec, trainer.trace, data)
    trainer.data_on_device = data.place(trainer.device) if hasattr(data, "place") else []
    trainer.num_classes = int(data.num_classes)
    trainer.loss_fn = build_loss(spec, trainer.num_classes).to(trainer.device)
    batches = int(data.num_batches("train"))
    limit = trainer.limit_batches
    trainer.steps_per_epoch = min(batches, limit) if limit else batches
    trainer.scheduler_info = build_scheduler(spec, trainer.optimizer, epochs=trainer.max_epochs,
                                             steps_per_epoch=trainer.steps_per_epoch)
    trainer.scheduler = trainer.scheduler_info.scheduler if trainer.scheduler_info else None


def _wrap(trainer: Any) -> None:
    """``ddp_model``: the model the loop calls (DistributedDataParallel around it under torchrun)."""
    trainer.ddp_model = trainer.model
    if trainer.dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        ids = [trainer.device.index] if trainer.device.type == "cuda" else None
        trainer.ddp_model = DistributedDataParallel(trainer.model, device_ids=ids)
    train = trainer.spec.train
    trainer.compiled = bool(train and train.compile)
    if trainer.compiled:
        trainer.ddp_model = _compiled(trainer.spec, trainer.ddp_model)


def _compiled(spec: Any, model: Any) -> Any:
    """``torch.compile(model)``, or a located error where torch cannot compile at all.

    Compilation itself happens at the first step; a model it cannot handle
    fails there with the same advice (:mod:`cnnspec.engine.step`).
    """
    import torch

    try:
        import torch._dynamo

        supported = torch._dynamo.is_dynamo_supported()
        problem = None
    except Exception as exc:  # the check itself raises where dynamo cannot run (an unsupported Python)
        supported, problem = False, str(exc)
    if not supported:
        raise spec.document.error(
            f"train.compile: torch.compile is not supported here (torch {torch.__version__}"
            + (f": {problem}" if problem else "") + ")", ("train", "compile"),
            hint="set train.compile: false")
    return torch.compile(model)
