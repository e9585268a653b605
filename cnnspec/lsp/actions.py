"""Fix-its as text edits: each verified fix (:mod:`cnnspec.analysis.fixits`) written into the file.

A fix sets or removes one value of the *resolved* spec; here it becomes an
edit of the text that produced that value, wherever it was written: the
token itself (in this file or in a base spec), the ``${vars.x}`` reference
that produced it (replaced by the value at that one place, since the variable
may be used elsewhere), or — for an argument left at its default — a new
``key: value`` in the layer's mapping, flow or block style. Formatting and
comments around the edit are kept. Applying every edit of a fix gives a spec
that validates (tested by loading the edited text again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cnnspec.analysis.edits import REMOVE, Fix
from cnnspec.exceptions import Location
from cnnspec.load.document import Document, PathKey
from cnnspec.lsp.analysis import Analysis, same_file
from cnnspec.lsp.text import Span, is_flow_at, token_end, value_text

__all__ = ["TextEdit", "apply_edits", "fix_edits"]

#: file name -> its lines (the open document's text, or the file on disk)
LinesOf = Callable[[str], Sequence[str] | None]


@dataclass(frozen=True)
class TextEdit:
    file: str
    span: Span
    new_text: str


def _remove_span(lines: Sequence[str], key: Location, value_end: tuple[int, int], flow: bool) -> Span:
    """The text of ``key: value`` and one separator next to it, so the mapping stays well-formed.

    In a block mapping the entry's whole lines go; in a flow mapping (and
    JSON) the comma after it, or else the one before it, goes with it, over
    line breaks too.
    """
    line, col = key.line - 1, key.column - 1
    end_line, end_col = value_end
    if not flow:
        return Span(line, 0, end_line + 1, 0)
    ln, c = end_line, end_col  # the next character after the value
    while ln < len(lines):
        rest = lines[ln][c:].rstrip("\r")
        stripped = rest.lstrip(" \t")
        if stripped:
            if stripped.startswith(","):
                at = c + len(rest) - len(stripped) + 1
                after = lines[ln][at:]
                at += len(after) - len(after.lstrip(" \t"))
                return Span(line, col, ln, at)
            break
        ln, c = ln + 1, 0
    ln, c = line, col  # else the comma before the key
    while ln >= 0:
        before = lines[ln][:c].rstrip(" \t\r")
        if before:
            if before.endswith(","):
                return Span(ln, len(before) - 1, end_line, end_col)
            break
        ln -= 1
        c = len(lines[ln]) if ln >= 0 else 0
    return Span(line, col, end_line, end_col)


def _edit_value(doc: Document, lines_of: LinesOf, path: PathKey, new: object, json_files: bool,
                interpolations: dict) -> list[TextEdit]:
    loc = doc.positions.get(path)
    via = interpolations.get(path)
    if via is not None and via.whole and via.site is not None:
        loc = via.site  # the ${vars.x} written here: replace this use, not the variable
    if loc is None:
        return _insert(doc, lines_of, path, new, json_files)
    lines = lines_of(loc.file)
    if lines is None:
        return []
    json_file = loc.file.lower().endswith(".json")
    line, col = loc.line - 1, loc.column - 1
    end = token_end(lines, line, col)
    if new is REMOVE:
        key = doc.key_positions.get(path)
        if key is None or not same_file(key.file, loc.file):
            return []
        parent = doc.positions.get(path[:-1])
        flow = parent is None or is_flow_at(lines, parent.line - 1, parent.column - 1)
        if not flow and sum(1 for p in doc.key_positions if p[:-1] == path[:-1]) == 1:
            # its mapping's only key: the mapping stays, empty (a block mapping cannot be)
            return [TextEdit(loc.file, Span(key.line - 1, key.column - 1, *end), "{}")]
        return [TextEdit(loc.file, _remove_span(lines, key, end, flow), "")]
    if isinstance(new, list) and via is None and not is_flow_at(lines, line, col):
        # a block sequence: edit item by item
        out: list[TextEdit] = []
        for i, item in enumerate(new):
            out += _edit_value(doc, lines_of, (*path, i), item, json_files, interpolations)
        return out
    return [TextEdit(loc.file, Span(line, col, *end), value_text(new, json_file=json_file))]


def _insert(doc: Document, lines_of: LinesOf, path: PathKey, new: object, json_files: bool) -> list[TextEdit]:
    """``key: value`` added to the mapping at ``path[:-1]`` (an argument left at its default)."""
    if new is REMOVE or not path or not isinstance(path[-1], str):
        return []
    parent = doc.positions.get(path[:-1])
    if parent is None:
        return []
    lines = lines_of(parent.file)
    if lines is None:
        return []
    json_file = parent.file.lower().endswith(".json")
    key = path[-1]
    line, col = parent.line - 1, parent.column - 1
    item = f'"{key}": {value_text(new, json_file=True)}' if json_file else f"{key}: {value_text(new, json_file=False)}"
    if is_flow_at(lines, line, col):
        end_line, end_col = token_end(lines, line, col)
        inside = lines[line][col + 1:end_col - 1].strip() if end_line == line else "x"
        return [TextEdit(parent.file, Span(line, col + 1, line, col + 1), item + (", " if inside else ""))]
    siblings = sorted((loc for p, loc in doc.key_positions.items()
                       if p[:-1] == path[:-1] and same_file(loc.file, parent.file)),
                      key=lambda loc: (loc.line, loc.column))
    if not siblings:
        return []
    first = siblings[0]
    indent = " " * (first.column - 1)
    return [TextEdit(parent.file, Span(first.line - 1, first.column - 1, first.line - 1, first.column - 1),
                     f"{item}\n{indent}")]


def fix_edits(analysis: Analysis, fix: Fix, lines_of: LinesOf) -> list[TextEdit]:
    """The edits that apply ``fix`` (empty when it cannot be written into the files)."""
    composed = analysis.composed
    if composed is None:
        return []
    doc = composed.document
    edits: list[TextEdit] = []
    for part in (fix, *fix.also):
        found = _edit_value(doc, lines_of, part.path, part.new, analysis.json_file, composed.interpolations)
        if not found:
            return []
        edits += found
    return edits


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """``text`` with ``edits`` applied (all in one file, non-overlapping), last first."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def offset(line: int, col: int) -> int:
        return offsets[min(line, len(lines))] + col if line < len(lines) else len(text)

    for edit in sorted(edits, key=lambda e: (e.span.line, e.span.col), reverse=True):
        start, end = offset(edit.span.line, edit.span.col), offset(edit.span.end_line, edit.span.end_col)
        text = text[:start] + edit.new_text + text[end:]
    return text
