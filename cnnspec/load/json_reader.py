"""Strict JSON → :class:`~cnnspec.load.document.Document`, with positions.

The standard library's parser keeps no positions, so this small
recursive-descent reader does, reusing ``json.decoder.scanstring`` for
strings. Duplicate keys, ``NaN``, trailing commas and over-long integers are
errors; the same depth and size limits as YAML apply.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import re
from typing import Any

from cnnspec.exceptions import Location, SpecError
from cnnspec.load.document import MAX_DEPTH, MAX_INT_DIGITS, MAX_NODES, Document, PathKey, format_path

__all__ = ["parse_json"]

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_WS = re.compile(r"[ \t\n\r]*")


class _JsonParser:
    """A strict JSON reader that records the position of each value and key."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.positions: dict[PathKey, Location] = {}
        self.key_positions: dict[PathKey, Location] = {}
        self.count = 0

    def loc(self, index: int) -> Location:
        line = bisect.bisect_right(self.line_starts, index) - 1
        return Location(self.file, line + 1, index - self.line_starts[line] + 1)

    def fail(self, message: str, index: int, path: PathKey = ()) -> SpecError:
        return SpecError(message, location=self.loc(index), path=format_path(path))

    def skip(self, i: int) -> int:
        return _WS.match(self.text, i).end()  # type: ignore[union-attr]

    def parse(self) -> Document:
        i = self.skip(0)
        if i == len(self.text):
            raise self.fail("JSON syntax error: the document is empty", i)
        value, i = self.value(i, ())
        i = self.skip(i)
        if i != len(self.text):
            raise self.fail("JSON syntax error: extra data after the document", i)
        return Document(value, self.file, self.positions, self.key_positions)

    def value(self, i: int, path: PathKey) -> tuple[Any, int]:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(f"the document has more than {MAX_NODES} values", i, path)
        if len(path) > MAX_DEPTH:
            raise self.fail(f"values are nested deeper than {MAX_DEPTH} levels", i, path)
        self.positions[path] = self.loc(i)
        text = self.text
        ch = text[i : i + 1]
        if ch == "{":
            return self.obj(i, path)
        if ch == "[":
            return self.array(i, path)
        if ch == '"':
            return self.string(i)
        for word, val in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, i):
                return val, i + len(word)
        m = _NUMBER.match(text, i)
        if m and m.end() > i:
            token = m.group()
            if m.group(1) or m.group(2):
                return float(token), m.end()
            if len(token.lstrip("-")) > MAX_INT_DIGITS:
                raise self.fail(
                    f"an integer with {len(token.lstrip('-'))} digits is too long (at most {MAX_INT_DIGITS})",
                    i, path,
                )
            return int(token), m.end()
        what = repr(ch) if ch else "end of file"
        raise self.fail(f"JSON syntax error: unexpected {what}", i, path)

    def string(self, i: int) -> tuple[str, int]:
        try:
            return json.decoder.scanstring(self.text, i + 1, True)
        except json.JSONDecodeError as exc:
            raise self.fail(f"JSON syntax error: {exc.msg}", exc.pos) from None

    def obj(self, i: int, path: PathKey) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        i = self.skip(i + 1)
        if self.text[i : i + 1] == "}":
            return out, i + 1
        while True:
            if self.text[i : i + 1] != '"':
                raise self.fail("JSON syntax error: expected a quoted key", i, path)
            key_at = i
            key, i = self.string(i)
            if key in out:
                first = self.key_positions[(*path, key)]
                raise SpecError(
                    f"duplicate key '{key}' (first defined at line {first.line}, column {first.column})",
                    location=self.loc(key_at), path=format_path((*path, key)),
                    hint="a key may appear once per object; remove or rename one of them",
                )
            self.key_positions[(*path, key)] = self.loc(key_at)
            i = self.skip(i)
            if self.text[i : i + 1] != ":":
                raise self.fail("JSON syntax error: expected ':' after the key", i, path)
            out[key], i = self.value(self.skip(i + 1), (*path, key))
            i = self.skip(i)
            ch = self.text[i : i + 1]
            if ch == "}":
                return out, i + 1
            if ch != ",":
                raise self.fail("JSON syntax error: expected ',' or '}'", i, path)
            i = self.skip(i + 1)

    def array(self, i: int, path: PathKey) -> tuple[list[Any], int]:
        out: list[Any] = []
        i = self.skip(i + 1)
        if self.text[i : i + 1] == "]":
            return out, i + 1
        while True:
            item, i = self.value(i, (*path, len(out)))
            out.append(item)
            i = self.skip(i)
            ch = self.text[i : i + 1]
            if ch == "]":
                return out, i + 1
            if ch != ",":
                raise self.fail("JSON syntax error: expected ',' or ']'", i, path)
            i = self.skip(i + 1)


def parse_json(text: str, file: str) -> Document:
    try:
        return _JsonParser(text, file).parse()
    except RecursionError:
        raise SpecError(
            f"values are nested deeper than {MAX_DEPTH} levels", location=Location(file, 1, 1)
        ) from None
