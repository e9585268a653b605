"""Positions in spec text: where a token ends, what lies under the cursor, how to write a value.

The readers record where each value and key *starts* (``file:line:col``,
1-based, in characters); an editor wants ranges. A token's end is found by
reading the text from its start: a quoted string to its closing quote, a flow
collection to its closing bracket, a plain scalar to the first character that
ends one. Everything here is in 0-based lines and character columns; the
server converts columns to the client's units (UTF-16 by default).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnnspec.load.blame import scalar

__all__ = ["Span", "is_flow_at", "key_at", "token_end", "token_span", "value_text", "word_at"]

_CLOSE = {"[": "]", "{": "}"}
#: the longest token followed when looking for its end (a flow mapping over many lines)
_MAX_SCAN = 20_000


@dataclass(frozen=True, order=True)
class Span:
    """A range of text: ``(line, col)`` to ``(end_line, end_col)``, end exclusive, 0-based."""

    line: int
    col: int
    end_line: int
    end_col: int

    def contains(self, line: int, col: int) -> bool:
        return (self.line, self.col) <= (line, col) <= (self.end_line, self.end_col)


def _in_flow(line_text: str, col: int) -> bool:
    """Whether ``col`` sits inside a ``[...]``/``{...}`` opened earlier on the line (quotes skipped)."""
    depth, quote, escaped = 0, "", False
    for ch in line_text[:col]:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(0, depth - 1)
    return depth > 0


def _flow_document(lines: Sequence[str]) -> bool:
    """A document that is one flow collection (every JSON spec): a comma ends a scalar on any line."""
    for text in lines[:200]:
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            return stripped[0] in "[{"
    return False


def token_end(lines: Sequence[str], line: int, col: int) -> tuple[int, int]:
    """Where the token starting at ``(line, col)`` ends (exclusive)."""
    if line >= len(lines):
        return line, col
    text = lines[line].rstrip("\r\n")
    if col >= len(text):
        return line, len(text)
    ch = text[col]
    if ch in "\"'":
        return _quoted_end(lines, line, col, ch)
    if ch in _CLOSE:
        return _bracket_end(lines, line, col)
    if ch == "-" and text[col + 1:col + 2] in (" ", ""):  # a block sequence item: its first line
        return line, len(text.rstrip())
    flow = _in_flow(text, col) or _flow_document(lines)
    end = col
    while end < len(text):
        c = text[end]
        if c == "#" and end > 0 and text[end - 1] in " \t":
            break
        if c == ":" and text[end + 1:end + 2] in (" ", "\t", ""):
            break
        if flow and c in ",]}":
            break
        end += 1
    while end > col and text[end - 1] in " \t":
        end -= 1
    return line, max(end, col + 1)


def _quoted_end(lines: Sequence[str], line: int, col: int, quote: str) -> tuple[int, int]:
    i, ln, scanned = col + 1, line, 0
    while ln < len(lines) and scanned < _MAX_SCAN:
        text = lines[ln].rstrip("\r\n")
        while i < len(text):
            c = text[i]
            if quote == '"' and c == "\\":
                i += 2
                continue
            if c == quote:
                if quote == "'" and text[i + 1:i + 2] == "'":
                    i += 2
                    continue
                return ln, i + 1
            i += 1
        scanned += len(text) + 1
        ln, i = ln + 1, 0
    return line, len(lines[line].rstrip("\r\n"))


def _bracket_end(lines: Sequence[str], line: int, col: int) -> tuple[int, int]:
    depth, quote, ln, i, scanned = 0, "", line, col, 0
    while ln < len(lines) and scanned < _MAX_SCAN:
        text = lines[ln].rstrip("\r\n")
        while i < len(text):
            c = text[i]
            if quote:
                if c == "\\" and quote == '"':
                    i += 1
                elif c == quote:
                    quote = ""
            elif c in "\"'":
                quote = c
            elif c == "#" and (i == 0 or text[i - 1] in " \t"):
                break
            elif c in "[{":
                depth += 1
            elif c in "]}":
                depth -= 1
                if depth == 0:
                    return ln, i + 1
            i += 1
        scanned += len(text) + 1
        ln, i = ln + 1, 0
    return line, len(lines[line].rstrip("\r\n"))


def token_span(lines: Sequence[str], line: int, col: int) -> Span:
    end_line, end_col = token_end(lines, line, col)
    return Span(line, col, end_line, end_col)


def is_flow_at(lines: Sequence[str], line: int, col: int) -> bool:
    """Whether the value at ``(line, col)`` is a flow collection (``[...]`` / ``{...}``)."""
    return line < len(lines) and lines[line][col:col + 1] in ("[", "{")


def key_at(lines: Sequence[str], line: int, col: int) -> str | None:
    """The mapping key written at ``(line, col)`` (``kernel_size`` in ``kernel_size: 3``), if one is."""
    if line >= len(lines):
        return None
    _, end = token_end(lines, line, col)
    text = lines[line]
    if text[end:end + 1] == ":":
        return text[col:end].strip("\"'")
    return None


def word_at(text: str, col: int) -> tuple[int, int]:
    """The identifier-like word around ``col`` (letters, digits, ``_``, ``.``, ``:``), as ``(start, end)``."""
    start = col
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_.:"):
        start -= 1
    end = col
    while end < len(text) and (text[end].isalnum() or text[end] in "_"):
        end += 1
    return start, end


def value_text(value: Any, *, json_file: bool) -> str:
    """``value`` written as it would be in the file: JSON, or YAML that cnnspec reads back unchanged."""
    if json_file:
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v, json_file=False) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {value_text(v, json_file=False)}" for k, v in value.items()) + "}"
    return scalar(value)
