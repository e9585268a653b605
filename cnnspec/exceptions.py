"""Every error cnnspec raises on purpose, in one tree.

::

    CnnspecError                 anything cnnspec refuses; the CLI exits 2, no traceback
    ├── SpecError                a mistake in a spec, located (file:line:col, key path)
    │   ├── ShapeError           well-formed, but the tensor shapes do not fit together
    │   └── WeightsMismatchError weights whose keys or shapes are not the spec's model's
    ├── PluginError              the plugin selection cannot be honoured (-p NAME unknown)
    ├── RegistryError            an unknown or ambiguous component name (located by the spec stage)
    ├── DatasetError             a dataset that cannot be used as the spec asks
    │   └── DatasetNotFound      its files are missing or damaged, or a download failed
    ├── PipelineShapeError       samples of one batch differ in shape after the transforms
    ├── CheckpointError          a checkpoint that cannot be used
    │   ├── CorruptCheckpointError   torn, truncated, bit-flipped, or no checkpoint at all
    │   ├── UnsafeCheckpointError    its pickle names objects a weights file never needs
    │   ├── NonFiniteStateError      a tensor to be saved holds NaN or inf
    │   └── NothingToResumeError     --resume on a run directory with no valid checkpoint (yet)
    ├── ExportError              the model cannot be exported, or the export cannot be checked
    ├── CallbackError            a callback raised; training stopped cleanly (exit 1: a plugin's bug)
    ├── DataWorkerError          a DataLoader worker process died (often the out-of-memory killer)
    └── SweepError               a sweep that cannot run: its storage, a study of another spec, no valid point

    AssertionError               the plugin author kit (cnnspec.testing) fails tests with these
    ├── LayerCheckError          a layer's shape rule and its torch module disagree
    └── ComponentCheckError      some of a plugin's components failed to build or run

Every error carries ``message`` and an optional ``hint``; ``str(error)`` is
what the user would read, drawn by :mod:`cnnspec.render`. A user mistake
always leaves cnnspec as one of these; anything else is a bug (exit 1).

Several independent mistakes found in one pass (pydantic reports all fields
at once) travel together in one :class:`SpecError`: the first is the error
itself and the rest are in ``others``.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cnnspec.render import render_error, render_located, render_message

__all__ = [
    "CallbackError",
    "CheckpointError",
    "CnnspecError",
    "ComponentCheckError",
    "CorruptCheckpointError",
    "DataWorkerError",
    "DatasetError",
    "DatasetNotFound",
    "ExportError",
    "KeyPath",
    "LayerCheckError",
    "Location",
    "NonFiniteStateError",
    "NothingToResumeError",
    "PipelineShapeError",
    "PluginError",
    "RegistryError",
    "ShapeError",
    "SpecError",
    "SweepError",
    "UnsafeCheckpointError",
    "WeightsMismatchError",
    "format_key_path",
]

#: a position in the spec's data: ``("model", 3, "conv2d", "kernel_size")``
KeyPath = tuple[str | int, ...]


def format_key_path(path: Sequence[str | int]) -> str:
    """``("model", 3, "conv2d")`` → ``model[3].conv2d`` (the display form of a key path)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


@dataclass(frozen=True)
class Location:
    """A position in a source file; line and column are 1-based."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class CnnspecError(Exception):
    """Base of every error cnnspec raises on purpose: a message and how to fix it."""

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(render_message(message, hint))


class SpecError(CnnspecError):
    """A mistake in a spec, located in its source.

    ``message`` says what is wrong (and, for shapes, the arithmetic); ``hint``
    how to fix it. ``key`` is the structured position in the spec's data
    (``("model", 3, "conv2d", "kernel_size")``) for tools that edit or look
    things up; ``path`` its display form, which may add a note such as
    ``(repetition 2 of 3)``. ``location`` may be ``None`` for specs built from
    a Python dict, in which case ``path`` alone locates the problem.
    """

    #: most problems reported at once; a spec with thousands of mistakes gets a count
    MAX_REPORTED: int = 20
    #: the loaded spec the error was found in, when there is one (the shape stage sets it:
    #: fix-its are searched from it, whichever command reports the error)
    spec: Any = None

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        path: str = "",
        hint: str | None = None,
        key: KeyPath | None = None,
        others: Iterable[SpecError] = (),
    ) -> None:
        self.location = location
        self.key: KeyPath | None = tuple(key) if key is not None else None
        self.path = path or (format_key_path(self.key) if self.key else "")
        self.others: list[SpecError] = list(others)
        CnnspecError.__init__(self, message, hint=hint)
        self.args = (self.format(),)

    @property
    def file(self) -> str | None:
        return self.location.file if self.location else None

    @property
    def line(self) -> int | None:
        return self.location.line if self.location else None

    @property
    def column(self) -> int | None:
        return self.location.column if self.location else None

    def __str__(self) -> str:
        return self.format()

    def all_errors(self) -> list[SpecError]:
        """This error followed by the others found in the same pass."""
        out = [self]
        for other in self.others:
            out.extend(other.all_errors())
        return out

    def format_one(self) -> str:
        """``file:line:col: path: message`` plus an indented hint line."""
        return render_located(self)

    def format(self) -> str:
        """Every problem of the pass, as the CLI prints them (without fix-its)."""
        return render_error(self)

    def to_dict(self) -> dict[str, object]:
        """The JSON form used by ``cnnspec validate --format json``."""
        return {
            "message": self.message,
            "hint": self.hint,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "key": list(self.key) if self.key is not None else None,
        }

    @classmethod
    def combine(cls, errors: list[SpecError]) -> SpecError:
        """One error standing for several (the first, with the rest as others)."""
        if len(errors) == 1:
            return errors[0]
        if len(errors) > cls.MAX_REPORTED:
            rest = len(errors) - cls.MAX_REPORTED
            errors = [*errors[: cls.MAX_REPORTED],
                      SpecError(f"... and {rest} more problems; fix the ones above and validate again")]
        first = errors[0]
        return type(first)(
            first.message,
            location=first.location,
            path=first.path,
            hint=first.hint,
            key=first.key,
            others=[*first.others, *errors[1:]],
        )


class ShapeError(SpecError):
    """A spec that is well-formed but whose tensor shapes do not fit together.

    Raised by static inference (``cnnspec validate``) before any tensor
    exists; the message shows the arithmetic that failed. ``subject`` (the
    layer: ``conv2d 'conv3'``) and ``detail`` (what is wrong) are the message
    without its path, for tools that report the error under another label.
    """

    subject: str = ""
    detail: str = ""


class PluginError(CnnspecError):
    """The plugin selection cannot be honoured.

    Raised for ``-p NAME`` naming no plugin, and when a plugin breaks the hook
    contract in a way that concerns the whole set. A single broken plugin is
    not an error: it is recorded, named by ``cnnspec plugins``, and only specs
    that need it fail.
    """


class RegistryError(CnnspecError):
    """A name no registry entry answers: unknown (with "did you mean") or ambiguous.

    It has no location of its own; the spec stage turns it into a located
    :class:`SpecError` at the name's token.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)


class DatasetError(CnnspecError):
    """A dataset that cannot be used as the spec asks (inconsistent folders...).

    Raised while the data is built; cnnspec turns it into a located
    :class:`SpecError` pointing at ``data.dataset``, with ``hint`` as its hint.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)


class DatasetNotFound(DatasetError):
    """The dataset's files are missing or damaged, or a download failed.

    ``hint`` says exactly how to get the files (``--set data.download=true``
    or which files to put where).
    """


class PipelineShapeError(CnnspecError):
    """Samples of one batch that do not have one shape after the transforms.

    Raised when a batch is assembled (a dataset of mixed image sizes without a
    resize); ``shapes`` lists the shapes found.
    """

    def __init__(self, shapes: Sequence[tuple[int, ...]]) -> None:
        self.shapes = sorted(set(shapes))
        shown = ", ".join(str(list(s)) for s in self.shapes[:4])
        more = f" and {len(self.shapes) - 4} more" if len(self.shapes) > 4 else ""
        super().__init__(f"samples of different shapes cannot form a batch: {shown}{more}")


class CheckpointError(CnnspecError):
    """A checkpoint that cannot be used (and why); raised when one is opened or saved."""


class CorruptCheckpointError(CheckpointError):
    """Torn, truncated, bit-flipped or not a checkpoint at all: refused before unpickling."""


class UnsafeCheckpointError(CheckpointError):
    """The file's pickle names objects a weights file never needs: refused unread."""


class NonFiniteStateError(CheckpointError):
    """A tensor to be saved holds NaN or inf; saving it would poison every resume."""


class NothingToResumeError(CheckpointError):
    """``--resume`` found no valid checkpoint (a run killed before its first one, or no run at all):
    ``cnnspec train SPEC --resume DIR`` then starts the run there instead."""


class WeightsMismatchError(SpecError):
    """Weights whose keys or shapes are not the model's; nothing was loaded.

    ``missing``: the model's keys the weights lack; ``unexpected``: keys of
    the weights the model does not have; ``shapes``: ``(key, shape in the
    weights, shape in the model)`` for each key both have with different shapes.
    """

    missing: list[str]
    unexpected: list[str]
    shapes: list[tuple[str, list[int], list[int]]]


class ExportError(CnnspecError):
    """The model could not be exported, or the export cannot be checked."""


class CallbackError(CnnspecError):
    """A callback raised: training stopped cleanly, and this names the culprit."""

    def __init__(self, label: str, event: str, exc: BaseException) -> None:
        self.label = label
        self.event = event
        self.original = exc
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
        super().__init__(f"callback '{label}' failed in {event}: {type(exc).__name__}: {exc}{where}")


class DataWorkerError(CnnspecError):
    """A DataLoader worker process died (often killed by the OOM killer).

    torch reports it from its SIGCHLD handler as a RuntimeError in whatever code
    runs at that moment (a callback, the loop), or as a broken pipe; this names
    the real culprit once.
    """


class SweepError(CnnspecError):
    """A sweep that cannot run as asked; nothing was trained because of it.

    Raised before the first trial for a study storage that cannot be opened, a
    study that holds another spec's sweep, or a search space whose every
    sampled point is an invalid spec; and when the first trial of a sweep fails
    with a mistake every trial would repeat (an objective no run reports).
    """


class LayerCheckError(AssertionError):
    """The rule and the module disagree; the message holds a minimal counterexample."""

    def __init__(self, message: str, *, layer: str, arguments: Mapping[str, Any] | None = None,
                 input_shape: tuple[Any, ...] | None = None, kind: str = "") -> None:
        super().__init__(message)
        self.layer = layer
        self.arguments = dict(arguments or {})
        self.input_shape = input_shape
        self.kind = kind


class ComponentCheckError(AssertionError):
    """Some of a plugin's components failed; the message lists each with its error."""
