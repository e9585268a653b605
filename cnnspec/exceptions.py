"""The exception hierarchy: one type a user mistake can surface as.

A user mistake always leaves cnnspec as a :class:`SpecError` (or a subclass),
carrying where it happened (``file``, ``line``, ``column``), the dotted spec
``path`` (``model[3].conv2d.kernel_size``), and optionally a ``hint``. The CLI
prints :meth:`SpecError.format` and exits 2; it never shows a traceback for one.

Several independent mistakes found in one pass (pydantic reports all fields at
once) travel together: the first is the error itself and the rest are in
``others``, so callers that only want one still get the most relevant one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CnnspecError",
    "Location",
    "PluginError",
    "ShapeError",
    "SpecError",
]


@dataclass(frozen=True)
class Location:
    """A position in a source file; line and column are 1-based."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class CnnspecError(Exception):
    """Base of every error cnnspec raises on purpose."""


class SpecError(CnnspecError):
    """A mistake in a spec, located in its source.

    ``message`` says what is wrong (and, for shapes, the arithmetic); ``hint``
    says how to fix it. ``location`` may be ``None`` for specs built from a
    Python dict, in which case ``path`` alone locates the problem.
    """

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        path: str = "",
        hint: str | None = None,
        others: Iterable[SpecError] = (),
    ) -> None:
        self.message = message
        self.location = location
        self.path = path
        self.hint = hint
        self.others: list[SpecError] = list(others)
        super().__init__(self.format())

    @property
    def file(self) -> str | None:
        return self.location.file if self.location else None

    @property
    def line(self) -> int | None:
        return self.location.line if self.location else None

    @property
    def column(self) -> int | None:
        return self.location.column if self.location else None

    def all_errors(self) -> list[SpecError]:
        """This error followed by the others found in the same pass."""
        out = [self]
        for other in self.others:
            out.extend(other.all_errors())
        return out

    def format_one(self) -> str:
        """``file:line:col: path: message`` plus an indented hint line."""
        head = f"{self.location}: " if self.location else ""
        # messages that name their subject ("model[3] conv2d 'c': ...") need no path prefix
        top = self.path.split(".")[0].split("[")[0]
        where = f"{self.path}: " if self.path and not self.message.startswith(top) else ""
        text = f"{head}{where}{self.message}"
        if self.hint:
            text += f"\n  Hint: {self.hint}"
        return text

    def format(self) -> str:
        return "\n".join(err.format_one() for err in self.all_errors())

    def to_dict(self) -> dict[str, object]:
        """The JSON form used by ``cnnspec validate --format json``."""
        return {
            "message": self.message,
            "hint": self.hint,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
        }

    #: most problems reported at once; a spec with thousands of mistakes gets a count
    MAX_REPORTED: int = 20

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
            others=[*first.others, *errors[1:]],
        )


class ShapeError(SpecError):
    """A spec that is well-formed but whose tensor shapes do not fit together."""


class PluginError(CnnspecError):
    """A plugin that cannot be loaded or that breaks the hook contract.

    Raised when the plugin set itself is unusable (a misspelled hook, a hook
    with an unknown argument, two providers for one name being used). It names
    the plugin and its distribution so the user knows whom to blame.
    """
