"""``extends:``: bases merged underneath the spec that names them, recursively.

Mappings merge key by key, everything else (lists included) is replaced. A
component reference (``optimizer: {sgd: {...}}``) is identified by its name:
the same name (case-insensitively, as registries match) merges the
arguments, another name replaces the reference. ``~key: null`` deletes an
inherited key. Base paths are relative to the extending file; chains are
allowed, cycles refused, and every value keeps the position of the file that
set it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cnnspec.exceptions import SpecError
from cnnspec.load.document import Document, PathKey, format_path
from cnnspec.load.paths import Positions, drop_subtree
from cnnspec.load.reader import parse_text, read_text

__all__ = ["DELETE_PREFIX", "MAX_EXTENDS_DEPTH", "check_no_markers", "resolve_extends"]

#: a mapping key ``~name`` deletes the inherited key ``name``
DELETE_PREFIX = "~"
#: how many bases deep an ``extends`` chain may go
MAX_EXTENDS_DEPTH = 32

#: component references: a different name replaces, the same name merges
_REF_PATHS: frozenset[PathKey] = frozenset({
    ("data", "dataset"), ("train", "optimizer"), ("train", "loss"), ("train", "scheduler"),
})


def _base_dir(doc: Document) -> Path:
    return Path.cwd() if doc.file.startswith("<") else Path(doc.file).parent


def _display(path: Path) -> str:
    """A base's name as the user would write it: relative to cwd when possible."""
    text = os.path.normpath(str(path))
    if os.path.isabs(text):
        try:
            rel = os.path.relpath(text)
        except ValueError:  # another drive on Windows
            return text
        return rel if not rel.startswith("..") else text
    return text


def _bases(doc: Document) -> list[tuple[str, PathKey]]:
    raw = doc.data["extends"]
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(i, str) and i.strip() for i in items):
        raise doc.error("extends: expected a spec file name or a list of them", ("extends",),
                        hint="e.g. extends: base.yaml  or  extends: [base.yaml, data.yaml]")
    return [(item, ("extends", i) if isinstance(raw, list) else ("extends",)) for i, item in enumerate(items)]


def _load_base(doc: Document, name: str, at: PathKey, stack: list[str], files: list[str]) -> Document:
    path = Path(name) if os.path.isabs(name) else _base_dir(doc) / name
    real = os.path.realpath(path)
    shown = _display(path)
    if real in stack:
        chain = " -> ".join([*(_display(Path(s)) for s in stack[stack.index(real):]), shown])
        raise doc.error(f"extends: {name} forms a cycle: {chain}", at,
                        hint="a spec cannot extend itself, directly or through its bases")
    if len(stack) >= MAX_EXTENDS_DEPTH:
        raise doc.error(f"extends: the chain of bases is more than {MAX_EXTENDS_DEPTH} deep", at)
    try:
        text = read_text(path)
    except SpecError as exc:
        if exc.location is not None:
            raise
        raise doc.error(f"extends: {exc.message}", at,
                        hint=f"paths are relative to the extending file's folder ({_display(_base_dir(doc))})") \
            from None
    base = parse_text(text, shown)
    if not isinstance(base.data, dict):
        raise base.error(f"{shown} cannot be extended: a base spec must be a mapping", ())
    files.append(shown)
    return resolve_extends(base, [*stack, real], files)


def resolve_extends(doc: Document, stack: list[str], files: list[str]) -> Document:
    """``doc`` with its bases merged underneath it (recursively)."""
    if not isinstance(doc.data, dict) or "extends" not in doc.data:
        return doc
    merged: Document | None = None
    for name, at in _bases(doc):
        base = _load_base(doc, name, at, stack, files)
        merged = base if merged is None else _merge_docs(merged, base)
    child = Document({k: v for k, v in doc.data.items() if k != "extends"}, doc.file,
                     dict(doc.positions), dict(doc.key_positions))
    drop_subtree(child, ("extends",))
    assert merged is not None
    return _merge_docs(merged, child)


def _merge_docs(base: Document, over: Document) -> Document:
    pos = Positions()
    data = _merge(base, base.data, over, over.data, (), pos)
    return Document(data, over.file, pos.values, pos.keys)


def _ref_names(path: PathKey, a: dict[str, Any], b: dict[str, Any]) -> tuple[str, str] | None:
    """The two names when ``path`` holds a ``{name: {args}}`` reference on both sides."""
    if path in _REF_PATHS and len(a) == 1 and len(b) == 1:
        return next(iter(a)), next(iter(b))
    return None


def _merge(base: Document, a: Any, over: Document, b: Any, path: PathKey, pos: Positions,
           bpath: PathKey | None = None) -> Any:
    """``b`` merged over ``a``; both live at ``path`` (``a`` at ``bpath`` in its own document)."""
    bpath = path if bpath is None else bpath
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return pos.take(over, b, path)
    names = _ref_names(path, a, b)
    if names is not None:
        old, new = names
        if old.lower() != new.lower():
            return pos.take(over, b, path)  # another component: replace the reference
        # the same component (names match case-insensitively, as registries do): merge its arguments
        kpath = (*path, new)
        merged = _merge(base, a[old], over, b[new], kpath, pos, (*bpath, old))
        if kpath in over.key_positions:
            pos.keys[kpath] = over.key_positions[kpath]
        pos.values[path] = over.positions.get(path) or base.positions.get(bpath)  # type: ignore[assignment]
        return {new: merged}
    deletes: set[str] = set()
    for key, value in b.items():
        if not key.startswith(DELETE_PREFIX):
            continue
        name = key[len(DELETE_PREFIX):]
        kpath = (*path, key)
        if value is not None:
            raise over.error(f"{format_path(kpath)}: a delete marker takes null, got {json.dumps(value)}",
                             kpath, hint=f"write {key}: null to delete {name!r}; to change it write {name}: ...")
        if name not in a:
            raise over.error(f"{format_path(kpath)}: nothing to delete, {name!r} is not inherited here", kpath,
                             key=True, hint=_inherited_hint(a))
        deletes.add(name)
    out: dict[str, Any] = {}
    for key, value in a.items():
        kpath, kbase = (*path, key), (*bpath, key)
        if key in b:
            out[key] = pos.take(over, b[key], kpath) if key in deletes else \
                _merge(base, value, over, b[key], kpath, pos, kbase)
            kloc = over.key_positions.get(kpath) or base.key_positions.get(kbase)
            if kloc is not None:
                pos.keys[kpath] = kloc
        elif key not in deletes:
            out[key] = pos.take(base, value, kpath, kbase)
            if kbase in base.key_positions:
                pos.keys[kpath] = base.key_positions[kbase]
    for key, value in b.items():
        if key in a or key.startswith(DELETE_PREFIX):
            continue
        kpath = (*path, key)
        out[key] = pos.take(over, value, kpath)
        if kpath in over.key_positions:
            pos.keys[kpath] = over.key_positions[kpath]
    loc = over.positions.get(path) or base.positions.get(bpath)
    if loc is not None:
        pos.values[path] = loc
    return out


def _inherited_hint(a: dict[str, Any]) -> str:
    keys = ", ".join(a) if a else "none"
    return f"inherited keys here: {keys}"


def check_no_markers(doc: Document, value: Any, path: PathKey) -> None:
    """A ``~key`` left in the result had nothing to delete."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if isinstance(key, str) and key.startswith(DELETE_PREFIX):
                kpath = (*path, key)
                raise doc.error(f"{format_path(kpath)}: nothing to delete, {key[1:]!r} is not inherited here",
                                kpath, key=True,
                                hint="~key: null deletes a key a base spec (extends:) defines")
            check_no_markers(doc, sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            check_no_markers(doc, sub, (*path, i))
