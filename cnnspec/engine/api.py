"""``train()`` and ``evaluate()``: a whole run, as the CLI and the Python API use it.

``train`` resolves the device and the run directory, joins a torchrun process
group when there is one, installs SIGINT/SIGTERM handlers
(:func:`cnnspec.engine.signals.stop_on_signals`: finish the current step, let
callbacks save a resumable state, stop), builds the
:class:`~cnnspec.engine.trainer.Trainer` and fits it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnspec.engine.device import Precision, select_device
from cnnspec.engine.distributed import DistContext, env_world_size, init_distributed, shutdown_distributed
from cnnspec.engine.evaluation import check_data_fits, evaluate_model
from cnnspec.engine.rundir import RUNS_ROOT, resolve_run_dir
from cnnspec.engine.trainer import Trainer
from cnnspec.exceptions import CnnspecError

__all__ = ["DRY_RUN_BATCHES", "TrainResult", "evaluate", "load_weights", "train"]

#: batches per split that ``--dry-run`` runs
DRY_RUN_BATCHES = 2


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    run_dir: Path | None  # None for a dry run (its directory is deleted)
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    status: str = "completed"
    stop_reason: str | None = None
    trainer: Trainer | None = None

    @property
    def model(self) -> Any:
        return self.trainer.model if self.trainer is not None else None


def _as_spec(spec: Any, overrides: Sequence[str]) -> Any:
    from cnnspec.spec import Spec, load_spec

    if isinstance(spec, Spec) and not overrides:
        return spec
    if isinstance(spec, Spec):
        return load_spec(spec.document.data, overrides=overrides)
    return load_spec(spec, overrides=overrides)


def train(spec: Any, *, overrides: Sequence[str] = (), device: str | None = None,
          run_dir: str | Path | None = None, runs_root: str | Path = RUNS_ROOT, epochs: int | None = None,
          dry_run: bool = False, data: Any = None, callbacks: Sequence[Any] = (),
          progress: dict[str, Any] | None = None, resume_state: dict[str, Any] | None = None,
          handle_signals: bool = True, argv: list[str] | None = None, force: bool = False) -> TrainResult:
    """Train a spec (a :class:`~cnnspec.spec.Spec`, a path, YAML text or a dict).

    ``device`` overrides ``train.device``; ``epochs`` overrides
    ``train.epochs``. ``run_dir`` is used as given; otherwise a new
    ``runs_root/<name>/<timestamp>`` is created. ``dry_run`` runs
    :data:`DRY_RUN_BATCHES` batches of each split for one epoch in a temporary
    directory that is deleted afterwards. ``data`` replaces the spec's
    dataset (a ``DataBundle``); ``callbacks`` are added after the spec's.
    ``progress`` holds arguments for the default progress callback.
    ``resume_state`` is a :meth:`Trainer.state_dict` to continue from (the
    checkpoint's run directory is then passed as ``run_dir``). ``force``
    lets a new run replace the one ``run_dir`` holds. A spec with
    ``train: {checkpoint: false}`` is told on stderr that no weights will be kept.
    """
    if epochs is not None:
        overrides = [*overrides, f"train.epochs={int(epochs)}"]
    spec = _as_spec(spec, overrides)
    requested = device or (spec.train.device if spec.train else "auto")
    wanted_type = select_device(requested).type if env_world_size() > 1 else None
    dist = init_distributed(wanted_type) if wanted_type else DistContext()
    temp_dir: str | None = None
    threads = _set_threads(spec.train.threads if spec.train else None)
    try:
        if dry_run:
            temp_dir = tempfile.mkdtemp(prefix="cnnspec-dry-run-") if dist.is_main else None
            path = Path(str(dist.broadcast_object(temp_dir)))
        elif dist.is_main:
            path = resolve_run_dir(spec, run_dir, runs_root, resuming=resume_state is not None, force=force)
            _warn_if_nothing_kept(spec)
        else:
            path = None  # type: ignore[assignment]
        if not dry_run:
            path = Path(str(dist.broadcast_object(str(path) if path is not None else None)))
        trainer = Trainer(spec, run_dir=path, data=data, device=requested, extra_callbacks=list(callbacks),
                          dist=dist, limit_batches=DRY_RUN_BATCHES if dry_run else None,
                          epochs=1 if dry_run else None, progress=progress, argv=argv)
        if resume_state is not None:
            trainer.load_state_dict(resume_state)
        if handle_signals:
            from cnnspec.engine.signals import stop_on_signals

            with stop_on_signals(trainer):
                metrics = trainer.fit()
        else:
            metrics = trainer.fit()
        return TrainResult(None if dry_run else path, metrics, trainer.history, trainer.status,
                           trainer.stop_reason, trainer)
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
        _set_threads(threads)
        shutdown_distributed(dist)


def _warn_if_nothing_kept(spec: Any) -> None:
    import sys

    from cnnspec.engine.components import lists_checkpoint
    from cnnspec.render import render_warning

    if spec.train is not None and not spec.train.checkpoint and not lists_checkpoint(spec):
        print(render_warning("train.checkpoint is false: this run keeps no weights (nothing to resume, "
                             "evaluate, predict or export)",
                             hint="remove train.checkpoint: false to keep checkpoints/last.pt and best.pt"),
              file=sys.stderr, flush=True)


def _set_threads(n: int | None) -> int | None:
    """Set torch's CPU thread count; returns the previous one (``None``: unchanged)."""
    if n is None:
        return None
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    return previous


def load_weights(path: str | Path) -> dict[str, Any]:
    """A model state dict from a checkpoint file, a run directory (its newest
    valid checkpoint) or a plain ``torch.save``'d state dict.

    Always through :func:`cnnspec.checkpoint.open_checkpoint` (see
    :func:`cnnspec.build.weights.read_weights`): hash, container and pickle
    checks, then ``weights_only=True`` — a file that would run code when
    unpickled is refused, whatever ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` says.
    """
    from cnnspec.build.weights import read_weights

    return read_weights(path).state


def evaluate(spec: Any, checkpoint: str | Path, *, overrides: Sequence[str] = (), device: str | None = None,
             split: str = "test", data: Any = None, which: str = "best") -> dict[str, Any]:
    """Metrics of the spec's model with the checkpoint's weights on ``split``.

    A run directory as ``checkpoint`` means its best checkpoint (``which="last"``:
    its newest); ``metrics["weights"]`` says which file and epoch were used.
    """
    from cnnspec.build import build_from_trace
    from cnnspec.build.weights import fit_state, read_weights
    from cnnspec.engine.components import build_loss
    from cnnspec.shapes.walker import infer_shapes

    spec = _as_spec(spec, overrides)
    dev = select_device(device or (spec.train.device if spec.train else "auto"))
    trace = infer_shapes(spec)
    model = build_from_trace(trace)
    weights = read_weights(checkpoint, which=which)
    fit_state(model, weights.state, source=weights.path)
    model.to(dev)
    if data is None:
        from cnnspec.data import build_data

        data = build_data(spec)
    check_data_fits(spec, trace, data)
    if hasattr(data, "place"):
        data.place(dev)
    if not data.has(split):
        raise CnnspecError(f"the dataset has no {split} split")
    loss_fn = build_loss(spec, int(data.num_classes)).to(dev)
    precision = Precision.create(spec.train.amp if spec.train else False, dev)
    metrics = evaluate_model(model, data, split, loss_fn, dev, int(data.num_classes), precision=precision)
    metrics["classes"] = [str(c) for c in data.classes]
    metrics["weights"] = weights.describe()
    metrics[f"{split}_samples"] = int(data.size(split))
    return metrics
