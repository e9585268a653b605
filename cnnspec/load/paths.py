"""Key paths and positions: what every composition step shares.

A key path (``("model", 2, "conv2d", "stride")``, written ``model[2].conv2d.stride``
on the command line) names a value in a document; composition copies, moves
and drops the recorded positions of whole subtrees as values are merged,
overridden or interpolated, so each value stays located where it was written.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cnnspec.exceptions import Location, SpecError
from cnnspec.load.document import Document, PathKey

__all__ = ["Positions", "drop_subtree", "parse_key_path", "what_is_there"]

_PART = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")
_KEY_HINT = "write keys as a.b.c and list items as a[0]"


def parse_key_path(text: str, what: str = "--set") -> PathKey:
    """``model[2].conv2d.stride`` → ``("model", 2, "conv2d", "stride")``."""
    parts: list[str | int] = []
    pos = 0
    for m in _PART.finditer(text):
        gap = text[pos:m.start()]
        if gap not in ("", ".") or (gap == "" and parts and m.group(1) is not None):
            raise SpecError(f"{what} {text}: cannot read the key path at {text[pos:]!r}", hint=_KEY_HINT)
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not parts or pos != len(text) or not isinstance(parts[0], str):
        raise SpecError(f"{what} {text}: cannot read the key path", hint=_KEY_HINT)
    return tuple(parts)


class Positions:
    """Positions being assembled for a new document, copied subtree by subtree."""

    def __init__(self) -> None:
        self.values: dict[PathKey, Location] = {}
        self.keys: dict[PathKey, Location] = {}

    def take(self, doc: Document, value: Any, path: PathKey, src: PathKey | None = None) -> Any:
        """Record the positions of ``value`` (at ``src`` in ``doc``) under ``path``."""
        src = path if src is None else src
        loc = doc.positions.get(src)
        if loc is not None:
            self.values[path] = loc
        if isinstance(value, dict):
            for key, sub in value.items():
                kloc = doc.key_positions.get((*src, key))
                if kloc is not None:
                    self.keys[(*path, key)] = kloc
                self.take(doc, sub, (*path, key), (*src, key))
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                self.take(doc, sub, (*path, i), (*src, i))
        return value


def _drop_subtree(doc: Document, path: PathKey) -> None:
    n = len(path)
    for table in (doc.positions, doc.key_positions):
        for p in [p for p in table if p[:n] == path]:
            del table[p]


def drop_subtree(doc: Document, path: PathKey) -> None:
    """Forget the positions of ``path`` and everything below it."""
    n = len(path)
    for table in (doc.positions, doc.key_positions):
        for p in [p for p in table if p[:n] == path]:
            del table[p]


def what_is_there(target: Any) -> str:
    """What a key path can continue with at ``target``, for hints."""
    if isinstance(target, dict):
        return "keys there: " + (", ".join(map(str, target)) or "none")
    if isinstance(target, list):
        return f"a list of {len(target)} items there (indices 0..{len(target) - 1})"
    return f"the value there is {json.dumps(target)}, not a mapping or list"
