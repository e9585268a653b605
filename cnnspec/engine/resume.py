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
           "finished_result", "format_changes", "latest_run", "resume", "resume_hint", "spec_changes"]

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
    epochs: tuple[int, int] = (0, 0)  # train.epochs of the checkpoint's spec, and of the one to continue with
    final: dict[str, Any] | None = None  # final.json when the run ended at this checkpoint and needs nothing more

    @property
    def state(self) -> dict[str, Any]:
        """The trainer state to pass to ``train(..., resume_state=)``."""
        from cnnspec.checkpoint import trainer_state

        return trainer_state(self.checkpoint)

    @property
    def finished(self) -> bool:
        """The run already ended at this checkpoint and the spec asks for no more epochs."""
        return self.final is not None

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
        if self.final is not None:
            return (f"{self.run_dir} is finished ({self.final.get('status')}, {self.final.get('epochs')} of "
                    f"{self.epochs[1]} epochs); nothing to do, nothing changed — extend it with "
                    f"`cnnspec train --resume {self.run_dir} --epochs N`")
        where = f"after epoch {epoch}" if not batch else f"in epoch {int(epoch) + 1}, after batch {batch}"
        extended = f", to {self.epochs[1]} epochs instead of {self.epochs[0]}" if self.epochs[0] != self.epochs[1] \
            else ""
        return f"resuming {self.run_dir} from {self.path.name} ({where}, step {step}{extended})"


def find_resume_point(run_dir: str | Path, *, spec: Any = None, overrides: Sequence[str] = (), force: bool = False,
                      on_skip: Callable[[Path, str], None] | None = None) -> ResumePoint:
    """Load the newest valid checkpoint of ``run_dir`` and settle the spec to continue with.

    ``spec`` is a :class:`~cnnspec.spec.Spec`, a path or text; ``None`` means
    the checkpoint's own spec. A different ``train.epochs`` is not a change
    but an extension (:mod:`cnnspec.engine.replan`). Raises
    :class:`~cnnspec.exceptions.NothingToResumeError` when there is no usable
    checkpoint, :class:`SpecError` when the spec changed (unless ``force``) or
    the model no longer fits the saved weights. Temporary files a killed run
    left behind are removed and stale ``last``/``best`` links repaired first,
    whatever the outcome.
    """
    from cnnspec.checkpoint import checkpoint_dir, latest_valid
    from cnnspec.engine.rundir import RunDir
    from cnnspec.exceptions import NothingToResumeError

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise NothingToResumeError(f"--resume {run_dir}: no such run directory", hint=_START_HINT)
    RunDir(run_dir).clean_temp_files()
    if checkpoint_dir(run_dir).is_dir():
        from cnnspec.checkpoint import clean_temp_files, repair_aliases

        clean_temp_files(checkpoint_dir(run_dir))
        repair_aliases(checkpoint_dir(run_dir))  # a kill between the manifest and the alias links
    skipped: list[tuple[Path, str]] = []

    def skip(path: Path, reason: str) -> None:
        skipped.append((path, reason))
        if on_skip is not None:
            on_skip(path, reason)

    found = latest_valid(run_dir, on_skip=skip)
    if found is None:
        detail = "".join(f"\n  {p.name}: {r}" for p, r in skipped)
        raise NothingToResumeError(f"--resume {run_dir}: no valid checkpoint to resume from{detail}",
                                   hint=_START_HINT)
    path, checkpoint = found
    saved = checkpoint.get("spec")
    if not isinstance(saved, dict):
        raise CnnspecError(f"{path}: the checkpoint holds no spec, so it cannot be resumed (use it as weights)")
    new = _settle_spec(saved, spec, overrides, run_dir)
    changes = [c for c in spec_changes(saved, new.to_dict()) if c.path != ("train", "epochs")]
    if changes and not force:
        raise SpecError(
            f"cannot resume {run_dir}: the spec differs from the one {path.name} was trained with "
            f"({len(changes)} change{'s' if len(changes) != 1 else ''}, old → new):\n"
            f"{format_changes(changes, new.document)}",
            hint="resume with the original spec (or none: the checkpoint holds it), train anew without "
                 "--resume, or pass --force to continue with the new spec (a new train.epochs or --epochs "
                 "needs no --force)",
        )
    if changes:
        check_weights_fit(new, checkpoint.get("model"), path)
    epochs = (_epochs(saved), int(new.train.epochs) if new.train else 10)
    done = _epochs_done(checkpoint)
    if epochs[1] < done:
        raise CnnspecError(f"--resume {run_dir}: the run has trained {done} epochs already; "
                           f"{epochs[1]} epochs cannot continue it",
                           hint=f"give at least --epochs {done} (more extends the run)")
    if epochs[1] != epochs[0]:
        from cnnspec.engine.replan import check_extension

        check_extension(new, epochs[0], epochs[1], run_dir=run_dir)
    final = _finished(run_dir, checkpoint, epochs, done)
    return ResumePoint(run_dir, path, checkpoint, new, skipped, changes, epochs, final)


_START_HINT = ("nothing to resume yet: `cnnspec train SPEC --resume DIR` (or `--resume auto --run-dir DIR`) "
               "starts the run in DIR when there is nothing to resume, and continues it otherwise")


def _settle_spec(saved: dict[str, Any], spec: Any, overrides: Sequence[str], run_dir: Path) -> Any:
    """The spec to continue with: ``spec`` (or the checkpoint's, read from the run's own ``spec.yaml``
    when that still holds it, so that errors point at a file) with ``overrides`` applied."""
    from cnnspec.spec import Spec, load_spec

    if spec is None:
        written = run_dir / "spec.yaml"
        try:
            if written.is_file() and load_spec(written).to_dict() == saved:
                return load_spec(written, overrides=overrides)
        except CnnspecError:
            pass
        return load_spec(saved, overrides=overrides)
    if isinstance(spec, Spec):
        return load_spec(spec.document.data, overrides=overrides) if overrides else spec
    return load_spec(spec, overrides=overrides)


def _epochs(spec_dict: Mapping[str, Any]) -> int:
    train = spec_dict.get("train")
    value = train.get("epochs", 10) if isinstance(train, Mapping) else 10
    return int(value) if isinstance(value, int) else 10


def _epochs_done(checkpoint: Mapping[str, Any]) -> int:
    """Whole epochs trained at the checkpoint (a mid-epoch one counts the epochs before it)."""
    return int(checkpoint.get("epoch", (checkpoint.get("meta") or {}).get("epoch", 0)) or 0)


def _finished(run_dir: Path, checkpoint: Mapping[str, Any], epochs: tuple[int, int],
              done: int) -> dict[str, Any] | None:
    """``final.json`` when the run ended at this very checkpoint and asks for no more epochs."""
    try:
        final = json.loads((run_dir / "final.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(final, dict) or final.get("global_step") != checkpoint.get("global_step"):
        return None
    if final.get("status") == "completed" and epochs[1] <= done:
        return final
    if final.get("status") == "stopped" and epochs[1] == epochs[0]:
        return final
    return None


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
    """Continue ``run_dir`` from its newest valid checkpoint; returns :func:`cnnspec.engine.train`'s result.

    A finished run (:attr:`ResumePoint.finished`) is not touched: the result is read from its files.
    """
    from cnnspec.engine import train

    point = find_resume_point(run_dir, spec=spec, overrides=overrides, force=force, on_skip=on_skip)
    if point.finished:
        return finished_result(point)
    point.set_aside_damaged()
    return train(point.spec, run_dir=point.run_dir, resume_state=point.state, **train_options)


def finished_result(point: ResumePoint) -> Any:
    """The :class:`~cnnspec.engine.api.TrainResult` of a finished run, from its files."""
    from cnnspec.engine.api import TrainResult
    from cnnspec.engine.rundir import RunDir

    final = dict(point.final or {})
    return TrainResult(point.run_dir, final, RunDir(point.run_dir).read_metrics(), str(final.get("status")),
                       final.get("stop_reason"))


def cli_train_arguments(args: Any, *, stream: Any = None) -> dict[str, Any]:
    """``cnnspec train`` options as :func:`cnnspec.engine.train` arguments, ``--resume`` settled.

    Without ``--resume`` this passes SPEC, ``--set``, ``--epochs``,
    ``--run-dir`` and ``--force`` through. With it, the run's newest valid
    checkpoint is found (skipped files are reported on ``stream``),
    ``--epochs`` extends the run, and it continues in its directory. With a
    SPEC, ``--resume DIR`` (or ``--resume auto`` with ``--run-dir DIR``, or
    alone: the spec's newest run) is requeue-safe: where there
    is nothing to resume yet, the run starts there. A finished run comes back
    as ``{"finished": ResumePoint}``.
    """
    import os
    import sys

    from cnnspec.exceptions import NothingToResumeError

    stream = stream or sys.stderr
    resume_dir = getattr(args, "resume", None)
    force = getattr(args, "force", False)
    plain = {"spec": args.file, "overrides": list(args.overrides), "epochs": args.epochs, "run_dir": args.run_dir,
             "force": force}
    if resume_dir is None:
        if args.file is None:
            raise CnnspecError("train: give a SPEC to train, or --resume RUN_DIR to continue a run")
        return plain
    if getattr(args, "dry_run", False):
        raise CnnspecError("train: --resume continues in RUN_DIR itself and cannot be combined with --dry-run")
    main = int(os.environ.get("RANK", "0")) == 0  # under torchrun every process resumes; one reports
    resume_dir = _requeue_dir(args, resume_dir)
    if resume_dir is None:  # --resume auto, no run of this spec yet
        main and print("nothing to resume: starting a new run", file=stream, flush=True)
        return {**plain, "force": False}
    overrides = [*args.overrides, *([f"train.epochs={int(args.epochs)}"] if args.epochs is not None else [])]
    try:
        point = find_resume_point(resume_dir, spec=args.file, overrides=overrides, force=force,
                                  on_skip=lambda p, r: main and print(f"warning: skipping {p.name}: {r}",
                                                                      file=stream))
    except NothingToResumeError:
        if args.file is None:
            raise
        main and print(f"nothing to resume in {resume_dir} yet: starting the run there", file=stream, flush=True)
        return {**plain, "run_dir": resume_dir, "force": True}
    if point.finished:
        return {"finished": point}
    if main:
        if point.changes:
            print(f"warning: continuing with a changed spec (--force):\n{format_changes(point.changes)}", file=stream)
        for path in point.set_aside_damaged():
            print(f"warning: kept the damaged file as {path.name}", file=stream)
        print(point.describe(), file=stream, flush=True)
    return {"spec": point.spec, "overrides": [], "epochs": None, "run_dir": point.run_dir,
            "resume_state": point.state}


def _requeue_dir(args: Any, resume_dir: str) -> Path | None:
    """The directory ``--resume`` names: itself, ``--run-dir`` for ``auto``, or the spec's newest run
    under ``--runs-root`` (``None``: there is none yet)."""
    run_dir = getattr(args, "run_dir", None)
    if resume_dir != "auto":
        if run_dir is not None and Path(run_dir).resolve() != Path(resume_dir).resolve():
            raise CnnspecError(f"train: --resume {resume_dir} continues in that directory; --run-dir {run_dir} "
                               "names another one", hint="give one directory, or --resume auto --run-dir DIR")
        return Path(resume_dir)
    if run_dir is not None:
        return Path(run_dir)
    if args.file is None:
        raise CnnspecError("train: --resume auto needs the SPEC (or --run-dir DIR) to know which run to continue")
    from cnnspec.spec import load_spec

    spec = load_spec(args.file, overrides=list(args.overrides))
    return latest_run(Path(getattr(args, "runs_root", "runs")) / spec.name)


def latest_run(parent: Path) -> Path | None:
    """The newest run directory under ``parent`` (timestamped names sort by time), finished or not."""
    if not parent.is_dir():
        return None
    marks = ("spec.yaml", "checkpoints", "metrics.jsonl", "final.json")
    runs = [p for p in parent.iterdir() if p.is_dir() and any((p / m).exists() for m in marks)]
    return max(runs, key=lambda p: p.name) if runs else None


def resume_hint(run_dir: Any) -> str:
    """What to type to continue an interrupted run (empty if it has no checkpoint)."""
    from cnnspec.checkpoint import checkpoint_dir, read_manifest

    if run_dir is None or read_manifest(checkpoint_dir(run_dir)) is None:
        return ""
    return f"resume with: cnnspec train --resume {run_dir}"
