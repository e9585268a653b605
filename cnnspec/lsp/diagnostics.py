"""The problems of an analysis as an editor shows them: the same words as ``validate``, exact ranges.

Messages are drawn by :mod:`cnnspec.render` exactly as ``cnnspec validate``
prints them, less the ``file:line:col:`` an editor shows by itself. The
range is the token that caused the problem — for an argument, its key through
its value (``kernel_size: 7``), since shape errors point at the argument's own
token. A problem found in a base spec (``extends:``) is shown on the
``extends`` entry that brings it in, with the base's own place as a related
location and the message as ``validate`` prints it, location included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from cnnspec.exceptions import Location, ShapeError, SpecError
from cnnspec.lsp.analysis import Analysis, same_file
from cnnspec.lsp.text import Span, key_at, token_end, token_span
from cnnspec.render import escape, render_located, render_message

__all__ = ["Problem", "Related", "error_span", "problems"]

ERROR, WARNING = 1, 2


@dataclass(frozen=True)
class Related:
    """A place in another file that explains a problem (a base spec's line)."""

    file: str
    line: int
    col: int
    message: str


@dataclass
class Problem:
    span: Span
    message: str
    code: str
    severity: int = ERROR
    related: list[Related] = field(default_factory=list)
    #: index of the error in the analysis (the first one of a shape error has fix-its)
    index: int = 0
    fixable: bool = False


def _message_here(error: SpecError) -> str:
    """``validate``'s words without the location prefix (the editor shows the place)."""
    bare = SimpleNamespace(location=None, path=error.path, message=error.message, hint=error.hint)
    return escape(render_located(bare))


def error_span(analysis: Analysis, error: SpecError) -> Span:
    """The range of ``error`` in this document: its token, an argument's key through its value."""
    loc = error.location
    if loc is None or not analysis.here(loc):
        return Span(0, 0, 0, 0)
    lines = analysis.lines
    line, col = loc.line - 1, loc.column - 1
    span = token_span(lines, line, col)
    if error.key and key_at(lines, line, col) is not None:
        value = _value_location(analysis, tuple(error.key))
        if value is not None and analysis.here(value) and value.line - 1 == line and value.column - 1 > col:
            end_line, end_col = token_end(lines, value.line - 1, value.column - 1)
            span = Span(line, col, end_line, end_col)
    return span


def _value_location(analysis: Analysis, key: tuple) -> Location | None:
    for doc in (analysis.composed.document if analysis.composed else None, analysis.document):
        if doc is not None and key in doc.positions:
            return doc.positions[key]
    return None


def _extends_span(analysis: Analysis, file: str) -> Span:
    """The ``extends`` entry through which ``file`` comes in (the first one when it is deeper)."""
    doc = analysis.document
    if doc is None or not isinstance(doc.data, dict) or "extends" not in doc.data:
        return Span(0, 0, 0, 0)
    raw = doc.data["extends"]
    entries = [(("extends", i), name) for i, name in enumerate(raw)] if isinstance(raw, list) else [(("extends",), raw)]
    folder = Path(analysis.file).parent
    chosen = entries[0][0] if entries else ("extends",)
    for path, name in entries:
        if isinstance(name, str) and same_file(str(folder / name), file):
            chosen = path
            break
    loc = doc.positions.get(chosen) or doc.key_positions.get(("extends",))
    if loc is None:
        return Span(0, 0, 0, 0)
    return token_span(analysis.lines, loc.line - 1, loc.column - 1)


def problems(analysis: Analysis) -> list[Problem]:
    """Every problem of the analysis, in the order ``validate`` reports them."""
    out: list[Problem] = []
    for i, error in enumerate(analysis.errors):
        code = type(error).__name__
        fixable = i == 0 and isinstance(error, ShapeError) and error.spec is not None
        loc = error.location
        if loc is None or analysis.here(loc):
            out.append(Problem(error_span(analysis, error), _message_here(error), code, index=i, fixable=fixable))
            continue
        text = escape(render_located(error))
        related = [Related(loc.file, loc.line - 1, loc.column - 1, _message_here(error))]
        out.append(Problem(_extends_span(analysis, loc.file), text, code, related=related, index=i,
                           fixable=fixable))
    if analysis.internal:
        out.append(Problem(Span(0, 0, 0, 0), escape(render_message(
            f"internal error while checking this spec (a bug, not a mistake in the spec): {analysis.internal}",
            "a plugin's shape rule or validator may have crashed; `cnnspec validate` on the file shows the trace")),
            "InternalError", severity=WARNING))
    return out
