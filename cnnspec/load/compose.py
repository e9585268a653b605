"""Composing a spec: ``extends:`` bases, ``vars:`` interpolation, ``--set`` overrides.

A family of experiments is one base spec and many small variations, so a
spec may name the specs it builds on and change only what differs:

* ``extends: base.yaml`` (or a list, merged left to right; paths relative to
  the extending file; chains allowed, cycles refused). Mappings merge key by
  key, everything else (lists included) is replaced. A component reference
  (``optimizer: {sgd: {...}}``) is identified by its name: the same name
  (case-insensitively, as registries match) merges the arguments, another
  name replaces the reference.
* ``~key: null`` deletes an inherited key; ``~key: null`` next to ``key:``
  replaces the inherited mapping instead of merging into it.
* ``vars:`` holds named values; ``${vars.name}`` (or ``${vars.a.b[0]}``) in a
  value is replaced by it. A string that is exactly one reference takes the
  variable's value and type (``out_channels: ${vars.width}`` is an int);
  references inside longer strings are formatted into them. Variables may use
  other variables. Nothing is ever evaluated; ``$${`` is a literal ``${``.
* ``--set a.b[0].c=VALUE`` (VALUE read as YAML) and ``--set ~a.b`` (delete)
  apply after merging and before interpolation, so ``--set vars.width=64``
  changes every use of the variable.

Every value keeps the :class:`~cnnspec.exceptions.Location` of whatever set it
(a base file's line, ``--set[i]``, or the variable's definition), so an error
in an inherited value points into the base file. ``extends`` and ``vars`` do
not appear in the resolved document.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnspec.exceptions import Location, SpecError
from cnnspec.load.reader import MAX_BYTES, MAX_NODES, Document, PathKey, format_path, parse_text, read_text
from cnnspec.names import suggest

__all__ = [
    "DELETE_PREFIX",
    "MAX_EXTENDS_DEPTH",
    "Composed",
    "Interpolation",
    "compose",
    "compose_document",
    "parse_key_path",
]

#: a mapping key ``~name`` deletes the inherited key ``name``
DELETE_PREFIX = "~"
#: how many bases deep an ``extends`` chain may go
MAX_EXTENDS_DEPTH = 32

#: component references: a different name replaces, the same name merges
_REF_PATHS: frozenset[PathKey] = frozenset({
    ("data", "dataset"), ("train", "optimizer"), ("train", "loss"), ("train", "scheduler"),
})

_PART = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")
_REF = re.compile(r"\$\$\{|\$\{([^{}]*)\}")
_KEY_HINT = "write keys as a.b.c and list items as a[0]"


@dataclass(frozen=True)
class Interpolation:
    """How a value was produced from ``vars``: the template and where it was written.

    ``site`` is where the ``${...}`` text was; ``names`` are the variables it
    used with the location of each one's definition.
    """

    text: str
    site: Location | None
    names: tuple[tuple[str, Location | None], ...]
    whole: bool


@dataclass
class Composed:
    """The composed document plus what blame needs to explain it."""

    document: Document
    files: list[str] = field(default_factory=list)
    interpolations: dict[PathKey, Interpolation] = field(default_factory=dict)


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


# -- positions -------------------------------------------------------------------------


class _Positions:
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


# -- extends and merging -----------------------------------------------------------------


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
    return _resolve_extends(base, [*stack, real], files)


def _resolve_extends(doc: Document, stack: list[str], files: list[str]) -> Document:
    """``doc`` with its bases merged underneath it (recursively)."""
    if not isinstance(doc.data, dict) or "extends" not in doc.data:
        return doc
    merged: Document | None = None
    for name, at in _bases(doc):
        base = _load_base(doc, name, at, stack, files)
        merged = base if merged is None else _merge_docs(merged, base)
    child = Document({k: v for k, v in doc.data.items() if k != "extends"}, doc.file,
                     dict(doc.positions), dict(doc.key_positions))
    _drop_subtree(child, ("extends",))
    assert merged is not None
    return _merge_docs(merged, child)


def _merge_docs(base: Document, over: Document) -> Document:
    pos = _Positions()
    data = _merge(base, base.data, over, over.data, (), pos)
    return Document(data, over.file, pos.values, pos.keys)


def _ref_names(path: PathKey, a: dict[str, Any], b: dict[str, Any]) -> tuple[str, str] | None:
    """The two names when ``path`` holds a ``{name: {args}}`` reference on both sides."""
    if path in _REF_PATHS and len(a) == 1 and len(b) == 1:
        return next(iter(a)), next(iter(b))
    return None


def _merge(base: Document, a: Any, over: Document, b: Any, path: PathKey, pos: _Positions,
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


def _check_no_markers(doc: Document, value: Any, path: PathKey) -> None:
    """A ``~key`` left in the result had nothing to delete."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if isinstance(key, str) and key.startswith(DELETE_PREFIX):
                kpath = (*path, key)
                raise doc.error(f"{format_path(kpath)}: nothing to delete, {key[1:]!r} is not inherited here",
                                kpath, key=True,
                                hint="~key: null deletes a key a base spec (extends:) defines")
            _check_no_markers(doc, sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            _check_no_markers(doc, sub, (*path, i))


# -- --set -------------------------------------------------------------------------------


def _apply(doc: Document, override: str, index: int) -> None:
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
                            hint=_what_is_there(target))
    last = path[-1]
    if isinstance(target, list) and isinstance(last, int) and -len(target) <= last < len(target):
        path = (*path[:-1], last % len(target))
    elif not (isinstance(target, dict) and isinstance(last, str)):
        raise SpecError(f"--set {key}: cannot set {last!r} here", hint=_what_is_there(target))
    target[path[-1]] = value_doc.data
    # the new value (and everything below it) is located on the command line
    _drop_subtree(doc, path)
    for sub, loc in value_doc.positions.items():
        doc.positions[(*path, *sub)] = Location(where, loc.line, loc.column)
    for sub, loc in value_doc.key_positions.items():
        doc.key_positions[(*path, *sub)] = Location(where, loc.line, loc.column)
    doc.key_positions[path] = Location(where, 1, 1)


def _what_is_there(target: Any) -> str:
    if isinstance(target, dict):
        return "keys there: " + (", ".join(map(str, target)) or "none")
    if isinstance(target, list):
        return f"a list of {len(target)} items there (indices 0..{len(target) - 1})"
    return f"the value there is {json.dumps(target)}, not a mapping or list"


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
        raise SpecError(f"--set {override}: there is no {format_path(path)} to delete", hint=_what_is_there(target))
    _drop_subtree(doc, path)


# -- vars ------------------------------------------------------------------------------


class _Vars:
    """Resolves ``${vars...}`` references, each variable once, cycles refused."""

    def __init__(self, doc: Document, composed: Composed) -> None:
        self.doc = doc
        self.composed = composed
        raw = doc.data.get("vars")
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise doc.error("vars: expected a mapping of names to values", ("vars",),
                            hint="e.g. vars: {width: 32, lr: 0.01}")
        self.vars: dict[str, Any] = raw
        self.done: set[str] = set()
        self.active: list[str] = []
        # interpolation can double a value per variable: bound what it may create
        self.created_values = 0
        self.created_chars = 0

    def spend(self, values: int, chars: int, path: PathKey) -> None:
        self.created_values += values
        self.created_chars += chars
        if self.created_values > MAX_NODES or self.created_chars > MAX_BYTES:
            raise self.doc.error(
                f"{format_path(path)}: ${{vars}} interpolation makes the spec larger than "
                f"{MAX_NODES:,} values or {MAX_BYTES:,} characters", path,
                hint="variables that repeat other variables multiply in size")

    def resolve_all(self) -> None:
        for name in list(self.vars):
            self.var(name)
        for key in list(self.doc.data):
            if key != "vars":
                self.doc.data[key] = self.walk(self.doc.data[key], (key,))

    def var(self, name: str) -> Any:
        if name in self.done:
            return self.vars[name]
        if name in self.active:
            chain = " -> ".join([*self.active[self.active.index(name):], name])
            raise self.doc.error(f"vars: {chain} refer to each other in a cycle", ("vars", name),
                                 hint="a variable cannot use itself, directly or through others")
        self.active.append(name)
        self.vars[name] = self.walk(self.vars[name], ("vars", name))
        self.active.pop()
        self.done.add(name)
        return self.vars[name]

    def walk(self, value: Any, path: PathKey) -> Any:
        if isinstance(value, str):
            return self.string(value, path) if "${" in value else value
        if isinstance(value, dict):
            for key in value:
                value[key] = self.walk(value[key], (*path, key))
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                value[i] = self.walk(sub, (*path, i))
        return value

    def lookup(self, ref: str, path: PathKey, text: str) -> tuple[Any, PathKey]:
        """The value named by ``vars.a.b[0]`` and its path in the document."""
        where = format_path(path)
        hint = "write ${vars.NAME} for a variable defined under vars:; $${ is a literal ${"
        if not ref.startswith("vars.") or len(ref) == len("vars."):
            raise self.doc.error(f"{where}: {text!r}: only ${{vars.NAME}} references are interpolated, "
                                 f"got ${{{ref}}}", path, hint=hint)
        try:
            parts = parse_key_path(ref[len("vars."):], what=f"{where}: ${{{ref}}}:")
        except SpecError as exc:
            raise self.doc.error(exc.message, path, hint=hint) from None
        name = parts[0]
        if name not in self.vars:
            close = suggest(str(name), self.vars)
            msg = f"{where}: unknown variable {name!r} in {text!r}"
            if close:
                msg += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
            defined = ", ".join(self.vars) or "none"
            raise self.doc.error(msg, path, hint=f"variables defined under vars: {defined}")
        value: Any = self.var(str(name))
        vpath: PathKey = ("vars", name)
        for part in parts[1:]:
            if isinstance(value, dict) and isinstance(part, str) and part in value:
                value = value[part]
            elif isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
                part = part % len(value)
                value = value[part]
            else:
                raise self.doc.error(f"{where}: ${{{ref}}}: there is no {part!r} in {format_path(vpath)}", path,
                                     hint=_what_is_there(value))
            vpath = (*vpath, part)
        return value, vpath

    def string(self, text: str, path: PathKey) -> Any:
        site = self.doc.positions.get(path)
        refs = list(_REF.finditer(text))
        leftover = _REF.sub("", text)
        if "${" in leftover:
            raise self.doc.error(f"{format_path(path)}: {text!r} has an unclosed or nested ${{", path,
                                 hint="references look like ${vars.NAME}; write $${ for a literal ${")
        if len(refs) == 1 and refs[0].group(1) is not None and refs[0].span() == (0, len(text)):
            value, vpath = self.lookup(refs[0].group(1).strip(), path, text)
            self.spend(*_size(value), path)
            value = copy.deepcopy(value)
            _drop_subtree(self.doc, path)
            pos = _Positions()
            pos.take(self.doc, value, path, vpath)
            self.doc.positions.update(pos.values)
            self.doc.key_positions.update(pos.keys)
            self.note(path, text, site, [vpath], whole=True)
            return value
        used: list[PathKey] = []
        out, last = [], 0
        for m in refs:
            out.append(text[last:m.start()])
            last = m.end()
            if m.group(1) is None:
                out.append("${")
                continue
            value, vpath = self.lookup(m.group(1).strip(), path, text)
            if isinstance(value, (dict, list)):
                raise self.doc.error(f"{format_path(path)}: ${{{m.group(1)}}} is a {type(value).__name__}, "
                                     "which cannot be formatted into a string", path,
                                     hint="use the reference as the whole value to keep its type")
            out.append(value if isinstance(value, str) else json.dumps(value))
            used.append(vpath)
        out.append(text[last:])
        self.spend(1, sum(len(part) for part in out), path)
        if used:
            self.note(path, text, site, used, whole=False)
        return "".join(out)

    def note(self, path: PathKey, text: str, site: Location | None, used: list[PathKey], whole: bool) -> None:
        if path[0] == "vars":
            return
        names = tuple((format_path(v[1:]), self.doc.positions.get(v)) for v in used)
        self.composed.interpolations[path] = Interpolation(text, site, names, whole)


# -- entry points ----------------------------------------------------------------------


def compose_document(doc: Document, overrides: Sequence[str] = ()) -> Composed:
    """Bases merged, overrides applied, variables interpolated; with provenance."""
    files = [doc.file]
    if isinstance(doc.data, dict):
        # composing edits in place; never the caller's own dicts (load_spec(dict) shares them)
        doc.data = copy.deepcopy(doc.data)
        real = [] if doc.file.startswith("<") else [os.path.realpath(doc.file)]
        doc = _resolve_extends(doc, real, files)
    elif overrides:
        raise SpecError("--set needs a spec that is a mapping")
    composed = Composed(doc, files)
    if not isinstance(doc.data, dict):
        return composed
    _check_no_markers(doc, doc.data, ())
    for i, override in enumerate(overrides):
        _apply(doc, override, i)
    if "vars" in doc.data:
        _Vars(doc, composed).resolve_all()
        del doc.data["vars"]
        _drop_subtree(doc, ("vars",))
    return composed


def compose(doc: Document, overrides: Sequence[str] = ()) -> Document:
    """The resolved document: bases merged, overrides applied, vars interpolated."""
    return compose_document(doc, overrides).document


def _size(value: Any) -> tuple[int, int]:
    """(values, characters) in a plain-data value, counted without copying it."""
    values, chars, stack = 0, 0, [value]
    while stack:
        item = stack.pop()
        values += 1
        if isinstance(item, str):
            chars += len(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        if values > MAX_NODES:
            break
    return values, chars
