"""``cnnspec train --resume RUN_DIR``: continue a run from its newest valid checkpoint.

The resumed run writes into the same run directory and, on CPU, ends with
weights bit-identical to a run that was never interrupted: the checkpoint
holds the model, optimizer, scheduler and every RNG state, the epoch, step
and batch position, and each callback's state; the data order is a pure
function of (seed, epoch).

A resume continues *the same experiment*: the spec is the one stored in the
checkpoint (``--set`` may override it), or the SPEC given on the command
line, which must resolve to the same document. Any difference is refused
with the list of what changed unless ``force`` is set; even then a model
whose parameter shapes changed is refused, since its weights cannot load.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnspec.exceptions import CnnspecError, SpecError
from cnnspec.load.reader import PathKey, format_path

__all__ = ["ResumePoint", "SpecChange", "check_weights_fit", "cli_train_arguments", "find_resume_point",
           "format_changes", "resume", "resume_hint", "spec_changes"]

_ABSENT = object()


@dataclass(frozen=True)
class SpecChange:
    """One difference between the checkpoint's spec and the new one."""

    path: PathKey
    old: Any
    new: Any

    def describe(self, where: str = "") -> str:
        loc = f" ({where})" if where else ""
        return f"{format_path(self.path) or '(top level)'}{loc}: {_show(self.old)} → {_show(self.new)}"


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(value, separators=(", ", ": "), default=str)
    return text if len(text) <= 70 else text[:67] + "..."


def spec_changes(old: Any, new: Any, path: PathKey = ()) -> list[SpecChange]:
    """Every leaf-level difference between two resolved specs, in document order."""
    return list(_walk(old, new, path))


def _walk(old: Any, new: Any, path: PathKey) -> Iterator[SpecChange]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in [*old, *(k for k in new if k not in old)]:
            yield from _walk(old.get(key, _ABSENT), new.get(key, _ABSENT), (*path, key))
    elif isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            yield from _walk(old[i] if i < len(old) else _ABSENT, new[i] if i < len(new) else _ABSENT, (*path, i))
    elif old != new or type(old) is not type(new):
        yield SpecChange(path, old, new)


def format_changes(changes: Sequence[SpecChange], document: Any = None) -> str:
    """One indented line per change, with the new spec's ``file:line:col`` where known."""
    lines = []
    for change in changes:
        where = ""
        if document is not None and change.new is not _ABSENT:
            location = document.locate(change.path)
            where = str(location) if location is not None else ""
        lines.append("  " + change.describe(where))
    return "\n".join(lines)


@dataclass
class ResumePoint:
    """Where a run continues from, and with which spec."""

    run_dir: Path
    path: Path  # the checkpoint file used
    checkpoint: dict[str, Any]
    spec: Any
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    changes: list[SpecChange] = field(default_factory=list)

    @property
    def state(self) -> dict[str, Any]:
        """The trainer state to pass to ``train(..., resume_state=)``."""
        from cnnspec.checkpoint import trainer_state

        return trainer_state(self.checkpoint)

    def set_aside_damaged(self) -> list[Path]:
        """Unlist the damaged checkpoints passed over and rename them ``*.damaged``, so
        rotation does not delete good checkpoints in their favour. Called when the run
        really continues."""
        from cnnspec.checkpoint import quarantine

        by_dir: dict[Path, list[str]] = {}
        for path, _ in self.skipped:
            if path.suffix == ".pt":
                by_dir.setdefault(path.parent, []).append(path.name)
        return [p for directory, names in by_dir.items() for p in quarantine(directory, names)]

    def describe(self) -> str:
        meta = self.checkpoint.get("meta") or {}
        epoch, batch, step = meta.get("epoch"), meta.get("batch"), meta.get("step")
        where = f"after epoch {epoch}" if not batch else f"in epoch {int(epoch) + 1}, after batch {batch}"
        return f"resuming {self.run_dir} from {self.path.name} ({where}, step {step})"


def find_resume_point(run_dir: str | Path, *, spec: Any = None, overrides: Sequence[str] = (), force: bool = False,
                      on_skip: Callable[[Path, str], None] | None = None) -> ResumePoint:
    """Load the newest valid checkpoint of ``run_dir`` and settle the spec to continue with.

    ``spec`` is a :class:`~cnnspec.spec.Spec`, a path or text; ``None`` means
    the checkpoint's own spec. Raises :class:`CnnspecError` when there is no
    usable checkpoint, :class:`SpecError` when the spec changed (unless
    ``force``) or the model no longer fits the saved weights.
    """
    from cnnspec.checkpoint import latest_valid
    from cnnspec.spec import Spec, load_spec

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CnnspecError(f"--resume {run_dir}: no such run directory")
    skipped: list[tuple[Path, str]] = []

    def skip(path: Path, reason: str) -> None:
        skipped.append((path, reason))
        if on_skip is not None:
            on_skip(path, reason)

    found = latest_valid(run_dir, on_skip=skip)
    if found is None:
        detail = "".join(f"\n  {p.name}: {r}" for p, r in skipped)
        raise CnnspecError(f"--resume {run_dir}: no valid checkpoint to resume from{detail}",
                           hint="list 'checkpoint' in the spec's callbacks: to have checkpoints written")
    path, checkpoint = found
    saved = checkpoint.get("spec")
    if not isinstance(saved, dict):
        raise CnnspecError(f"{path}: the checkpoint holds no spec, so it cannot be resumed (use it as weights)")
    if spec is None:
        new = load_spec(saved, overrides=overrides)
    elif isinstance(spec, Spec):
        new = load_spec(spec.document.data, overrides=overrides) if overrides else spec
    else:
        new = load_spec(spec, overrides=overrides)
    changes = spec_changes(saved, new.to_dict())
    if changes and not force:
        raise SpecError(
            f"cannot resume {run_dir}: the spec differs from the one {path.name} was trained with "
            f"({len(changes)} change{'s' if len(changes) != 1 else ''}, old → new):\n"
            f"{format_changes(changes, new.document)}",
            hint="resume with the original spec (or none: the checkpoint holds it), train anew without "
                 "--resume, or pass --force to continue with the new spec",
        )
    if changes:
        check_weights_fit(new, checkpoint.get("model"), path)
    return ResumePoint(run_dir, path, checkpoint, new, skipped, changes)


def check_weights_fit(spec: Any, weights: Any, path: Path) -> None:
    """A :class:`~cnnspec.build.weights.WeightsMismatchError` when the new spec's model does not fit the weights."""
    import torch

    from cnnspec.build import build_model
    from cnnspec.build.weights import check_fit

    if not isinstance(weights, Mapping):
        raise CnnspecError(f"{path}: the checkpoint holds no model weights")
    with torch.device("meta"):
        expected = build_model(spec).state_dict()
    check_fit(expected, weights, source=path, subject="the changed spec's model",
              hint="--force keeps the weights, so the layers' shapes must stay as they were; or train anew")


def resume(run_dir: str | Path, *, spec: Any = None, overrides: Sequence[str] = (), force: bool = False,
           on_skip: Callable[[Path, str], None] | None = None, **train_options: Any) -> Any:
    """Continue ``run_dir`` from its newest valid checkpoint; returns :func:`cnnspec.engine.train`'s result."""
    from cnnspec.engine import train

    point = find_resume_point(run_dir, spec=spec, overrides=overrides, force=force, on_skip=on_skip)
    point.set_aside_damaged()
    return train(point.spec, run_dir=point.run_dir, resume_state=point.state, **train_options)


def cli_train_arguments(args: Any, *, stream: Any = None) -> dict[str, Any]:
    """``cnnspec train`` options as :func:`cnnspec.engine.train` arguments, ``--resume`` settled.

    Without ``--resume`` this passes SPEC, ``--set``, ``--epochs`` and
    ``--run-dir`` through. With it, the run's newest valid checkpoint is
    found (skipped files are reported on ``stream``), ``--epochs`` becomes an
    override checked like any other change, and the run continues in RUN_DIR.
    """
    import os
    import sys

    stream = stream or sys.stderr
    resume_dir = getattr(args, "resume", None)
    plain = {"spec": args.file, "overrides": list(args.overrides), "epochs": args.epochs, "run_dir": args.run_dir}
    if resume_dir is None:
        if args.file is None:
            raise CnnspecError("train: give a SPEC to train, or --resume RUN_DIR to continue a run")
        return plain
    for flag, value in (("--run-dir", args.run_dir), ("--dry-run", getattr(args, "dry_run", False))):
        if value:
            raise CnnspecError(f"train: --resume continues in RUN_DIR itself and cannot be combined with {flag}")
    overrides = [*args.overrides, *([f"train.epochs={int(args.epochs)}"] if args.epochs is not None else [])]
    main = int(os.environ.get("RANK", "0")) == 0  # under torchrun every process resumes; one reports
    point = find_resume_point(resume_dir, spec=args.file, overrides=overrides, force=getattr(args, "force", False),
                              on_skip=lambda p, r: main and print(f"warning: skipping {p.name}: {r}", file=stream))
    if main:
        if point.changes:
            print(f"warning: continuing with a changed spec (--force):\n{format_changes(point.changes)}", file=stream)
        for path in point.set_aside_damaged():
            print(f"warning: kept the damaged file as {path.name}", file=stream)
        print(point.describe(), file=stream, flush=True)
    return {"spec": point.spec, "overrides": [], "epochs": None, "run_dir": point.run_dir,
            "resume_state": point.state}


def resume_hint(run_dir: Any) -> str:
    """What to type to continue an interrupted run (empty if it has no checkpoint)."""
    from cnnspec.checkpoint import checkpoint_dir, read_manifest

    if run_dir is None or read_manifest(checkpoint_dir(run_dir)) is None:
        return ""
    return f"resume with: cnnspec train --resume {run_dir}"
