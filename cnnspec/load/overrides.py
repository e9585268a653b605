"""``--set KEY=VALUE`` and ``--set ~KEY``: overrides from the command line.

They apply after bases are merged and before ``vars`` are interpolated, so
``--set vars.width=64`` changes every use of the variable. VALUE is read as
YAML; the new value and everything below it is located as ``--set[i]``.
"""

from __future__ import annotations

from typing import Any

from cnnspec.exceptions import Location, SpecError
from cnnspec.load.document import Document, PathKey, format_path
from cnnspec.load.extends import DELETE_PREFIX
from cnnspec.load.paths import drop_subtree, parse_key_path, what_is_there
from cnnspec.load.reader import parse_text

__all__ = ["apply_override"]


def apply_override(doc: Document, override: str, index: int) -> None:
    """Apply the ``index``-th ``--set`` to ``doc`` in place."""
    where = f"--set[{index}]"
    text = override.strip()
    if text.startswith(DELETE_PREFIX) and "=" not in text:
        _delete(doc, parse_key_path(text[len(DELETE_PREFIX):].strip()), override)
        return
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"--set {override!r}: expected KEY=VALUE (or ~KEY to delete)", hint="e.g. --set train.epochs=3")
    path = parse_key_path(key.strip())
    if path[0] == "extends":
        raise SpecError(f"--set {key}: extends cannot be overridden", hint="bases are merged before --set applies")
    value_doc = parse_text(raw, where)
    target: Any = doc.data
    for depth, part in enumerate(path[:-1]):
        nxt = path[depth + 1]
        if isinstance(target, dict) and isinstance(part, str):
            if part not in target or target[part] is None:
                target[part] = [] if isinstance(nxt, int) else {}
                doc.positions[path[: depth + 1]] = Location(where, 1, 1)
            target = target[part]
        elif isinstance(target, list) and isinstance(part, int) and -len(target) <= part < len(target):
            path = (*path[:depth], part % len(target), *path[depth + 1:])
            target = target[part]
        else:
            raise SpecError(f"--set {key}: there is no {part!r} at {format_path(path[:depth]) or 'the top'}",
                            hint=what_is_there(target))
    last = path[-1]
    if isinstance(target, list) and isinstance(last, int) and -len(target) <= last < len(target):
        path = (*path[:-1], last % len(target))
    elif not (isinstance(target, dict) and isinstance(last, str)):
        raise SpecError(f"--set {key}: cannot set {last!r} here", hint=what_is_there(target))
    target[path[-1]] = value_doc.data
    # the new value (and everything below it) is located on the command line
    drop_subtree(doc, path)
    for sub, loc in value_doc.positions.items():
        doc.positions[(*path, *sub)] = Location(where, loc.line, loc.column)
    for sub, loc in value_doc.key_positions.items():
        doc.key_positions[(*path, *sub)] = Location(where, loc.line, loc.column)
    doc.key_positions[path] = Location(where, 1, 1)


def _delete(doc: Document, path: PathKey, override: str) -> None:
    target: Any = doc.data
    for part in path[:-1]:
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and isinstance(part, int) and -len(target) <= part < len(target):
            target = target[part]
        else:
            raise SpecError(f"--set {override}: there is no {format_path(path)} to delete")
    last = path[-1]
    if isinstance(target, dict) and last in target:
        del target[last]
    elif isinstance(target, list) and isinstance(last, int) and -len(target) <= last < len(target):
        raise SpecError(f"--set {override}: list items cannot be deleted", hint="set the whole list instead")
    else:
        raise SpecError(f"--set {override}: there is no {format_path(path)} to delete", hint=what_is_there(target))
    drop_subtree(doc, path)
