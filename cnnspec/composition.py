"""Composing a spec: ``--set`` overrides applied to the loaded document.

Each override is ``dotted.path=value``; the value is read as YAML (so
``--set train.epochs=3`` is an int and ``--set 'input=[3, H, W]'`` a list).
The overridden value's position becomes ``--set`` so errors in it point at
the command line rather than at the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from cnnspec.exceptions import Location, SpecError
from cnnspec.loading import Document, PathKey, parse_text

__all__ = ["compose", "parse_key_path"]

_PART = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


def parse_key_path(text: str) -> PathKey:
    """``model[2].conv2d.stride`` → ``("model", 2, "conv2d", "stride")``."""
    parts: list[str | int] = []
    pos = 0
    for m in _PART.finditer(text):
        gap = text[pos:m.start()]
        if gap not in ("", "."):
            raise SpecError(f"--set {text}: cannot read the key path at {gap!r}",
                            hint="write keys as a.b.c and list items as a[0]")
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not parts or pos != len(text):
        raise SpecError(f"--set {text}: cannot read the key path", hint="write keys as a.b.c and list items as a[0]")
    return tuple(parts)


def _apply(doc: Document, override: str, index: int) -> None:
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"--set {override!r}: expected KEY=VALUE", hint="e.g. --set train.epochs=3")
    path = parse_key_path(key.strip())
    where = f"--set[{index}]"
    value_doc = parse_text(raw, where)
    target: Any = doc.data
    for depth, part in enumerate(path[:-1]):
        nxt = path[depth + 1]
        if isinstance(target, dict) and isinstance(part, str):
            if part not in target or target[part] is None:
                target[part] = [] if isinstance(nxt, int) else {}
            target = target[part]
        elif isinstance(target, list) and isinstance(part, int) and -len(target) <= part < len(target):
            target = target[part]
        else:
            raise SpecError(f"--set {key}: there is no {part!r} at {'.'.join(map(str, path[:depth])) or 'the top'}")
    last = path[-1]
    if isinstance(target, dict) and isinstance(last, str):
        target[last] = value_doc.data
    elif isinstance(target, list) and isinstance(last, int) and -len(target) <= last < len(target):
        target[last] = value_doc.data
    else:
        raise SpecError(f"--set {key}: cannot set {last!r} here")
    # the new value (and everything below it) is located on the command line
    for p in [p for p in doc.positions if p[: len(path)] == path]:
        del doc.positions[p]
    for sub, loc in value_doc.positions.items():
        doc.positions[(*path, *sub)] = Location(where, loc.line, loc.column)
    doc.key_positions[path] = Location(where, 1, 1)


def compose(doc: Document, overrides: Sequence[str] = ()) -> Document:
    """The document with the overrides applied, in order."""
    if overrides and not isinstance(doc.data, dict):
        raise SpecError("--set needs a spec that is a mapping")
    for i, override in enumerate(overrides):
        _apply(doc, override, i)
    return doc
