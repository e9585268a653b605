"""The base spec and its variants: one point of the space → one plain spec, validated without torch.

A variant is the base spec (its ``extends:``, ``vars:`` and ``--set`` applied as
usual) with each dimension's value applied as one more ``--set``, so sweeping
``vars.width`` changes every use of the variable exactly as ``--set`` would,
and a variant's errors are the same located errors ``cnnspec validate`` gives
— located at the ``--sweep`` argument or the ``sweep.space`` entry that set
the value. The ``sweep:`` section itself never reaches a variant: a trial's
spec is a plain spec that ``cnnspec train`` runs alone.

Key paths are walked before anything is set, which gives three things
``--set`` alone would not:

* a component or layer written as a bare name (``optimizer: adamw``,
  ``- relu``) takes arguments: ``train.optimizer.adamw.lr`` turns it into
  ``{adamw: {lr: ...}}``; the name matches case-insensitively, as registries do;
* a path into a component the point does not use — ``train.optimizer.sgd.momentum``
  when an earlier dimension chose ``adamw`` — is *inactive* for that point
  (a conditional parameter: not sampled, not set);
* a path that cannot exist (``model[40]`` of 14 layers, ``optimizer.sgd`` of
  an adamw spec) is a located error before any trial runs.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnspec.exceptions import Location, SpecError
from cnnspec.load.compose import compose
from cnnspec.load.document import Document, PathKey, format_path
from cnnspec.load.paths import drop_subtree, what_is_there
from cnnspec.load.reader import load_document
from cnnspec.plugins.manager import PluginSet, get_plugins
from cnnspec.shapes.walker import infer_shapes
from cnnspec.spec import Spec, parse_spec
from cnnspec.spec.components import component_refs
from cnnspec.sweep.space import Dimension

__all__ = ["Assignment", "Variants"]

_SET = re.compile(r"^--set\[(\d+)\]$")


@dataclass(frozen=True)
class Assignment:
    """The overrides one point becomes, and the dimensions inactive at it."""

    overrides: tuple[tuple[str, Location | None], ...]
    inactive: tuple[str, ...]


class _Inactive(Exception):
    """The path goes into a component an earlier dimension replaced (control flow, never escapes)."""


class Variants:
    """Builds and validates the variants of one base spec.

    ``source`` is what ``load_spec`` takes (a path, YAML text, a mapping);
    ``overrides`` the user's ``--set`` strings. The base is validated (shapes
    included) when this is created.
    """

    def __init__(self, source: str | Path | Mapping[str, Any], overrides: Sequence[str] = (), *,
                 plugins: PluginSet | None = None) -> None:
        self.overrides = list(overrides)
        self.plugins = plugins or get_plugins()
        self.raw = load_document(source)
        self.file = self.raw.file
        #: the composed spec with its ``sweep:`` section (where the plan is read from)
        self.full = parse_spec(self._compose(()), plugins=self.plugins)
        #: the base every trial is compared with: the composed spec without ``sweep:``
        self.base = self.build(Assignment((), ()))
        self._base_data = self.base.document.data

    # -- composing -------------------------------------------------------------------------
    def _compose(self, extra: Sequence[tuple[str, Location | None]]) -> Document:
        raw = self.raw
        doc = Document(copy.deepcopy(raw.data), raw.file, dict(raw.positions), dict(raw.key_positions))
        n = len(self.overrides)
        try:
            doc = compose(doc, [*self.overrides, *(text for text, _ in extra)])
        except SpecError as exc:
            raise self._relabel_error(exc, extra) from None
        for table in (doc.positions, doc.key_positions):
            for key, loc in list(table.items()):
                m = _SET.match(loc.file)
                if m and int(m.group(1)) >= n:
                    where = extra[int(m.group(1)) - n][1]
                    table[key] = where if where is not None else loc
        return doc

    def _relabel_error(self, exc: SpecError, extra: Sequence[tuple[str, Location | None]]) -> SpecError:
        """A composition error of a dimension's override, said of the dimension."""
        for text, where in extra:
            key = text.partition("=")[0]
            prefix = f"--set {key}: "
            if exc.message.startswith(prefix):
                return SpecError(f"{key}: {exc.message[len(prefix):]}", location=where, hint=exc.hint)
        return exc

    def build(self, assignment: Assignment) -> Spec:
        """The validated spec of one point (shapes inferred: a variant that cannot be built fails here)."""
        doc = self._compose(assignment.overrides)
        if isinstance(doc.data, dict) and "sweep" in doc.data:
            del doc.data["sweep"]
            drop_subtree(doc, ("sweep",))
        spec = parse_spec(doc, plugins=self.plugins)
        infer_shapes(spec)
        return spec

    # -- points ----------------------------------------------------------------------------
    def assign(self, values: Sequence[tuple[Dimension, Any]]) -> Assignment:
        """The overrides that set each dimension to its value, in order."""
        data = copy.deepcopy(self._base_data)
        done: list[PathKey] = []
        out: list[tuple[str, Location | None]] = []
        inactive: list[str] = []
        for dim, value in values:
            if dim.path[0] == "vars":  # variables exist before interpolation only: composition checks them
                out.append((f"{dim.key}={json.dumps(value)}", dim.location))
                continue
            try:
                path, before = self._walk(data, dim, done)
            except _Inactive:
                inactive.append(dim.key)
                continue
            out += before
            _put(data, path, copy.deepcopy(value))
            done.append(path)
            out.append((f"{format_path(path)}={json.dumps(value)}", dim.location))
        return Assignment(tuple(out), tuple(inactive))

    def _walk(self, data: Any, dim: Dimension, done: list[PathKey]) -> tuple[PathKey, list[tuple[str, Any]]]:
        """The path to set (names spelt as the spec spells them) and the overrides it needs first."""
        path = list(dim.path)
        refs = {tuple(p) for _, p, _ in component_refs(data)} if isinstance(data, dict) else set()
        before: list[tuple[str, Any]] = []
        target = data
        for depth in range(len(path) - 1):
            here, part = tuple(path[:depth]), path[depth]
            if (here in refs or _is_layer(here)) and isinstance(part, str):
                name = _ref_name(target)
                if name is not None and name.lower() == part.lower():
                    path[depth] = part = name
                    if not isinstance(target, dict):
                        before.append((f"{format_path(here)}={json.dumps({name: {}})}", dim.location))
                        target = _put(data, here, {name: {}})
                elif name is not None:
                    if any(here[:len(p)] == p for p in done):
                        raise _Inactive
                    rest = format_path((*here, name, *path[depth + 1:]))
                    other = "" if _is_layer(here) else \
                        f"; to choose another, sweep {format_path(here)} itself, e.g. choice({name}, {part})"
                    raise SpecError(f"{dim.key}: {format_path(here)} is {name} here, not {part}",
                                    location=dim.location, hint=f"to sweep its argument: {rest}{other}")
            if isinstance(target, dict) and isinstance(part, str):
                if target.get(part) is None:
                    target[part] = [] if isinstance(path[depth + 1], int) else {}
                target = target[part]
            elif isinstance(target, list) and isinstance(part, int) and -len(target) <= part < len(target):
                path[depth] = part % len(target)
                target = target[part]
            else:
                where = format_path(here) or "the top level"
                raise SpecError(f"{dim.key}: there is no {json.dumps(part)} in {where}", location=dim.location,
                                hint=what_is_there(target))
        last = path[-1]
        if isinstance(target, list) and isinstance(last, int) and -len(target) <= last < len(target):
            path[-1] = last % len(target)
        elif not (isinstance(target, dict) and isinstance(last, str)):
            raise SpecError(f"{dim.key}: cannot set {json.dumps(last)} in {format_path(path[:-1])}",
                            location=dim.location, hint=what_is_there(target))
        return tuple(path), before


def _is_layer(path: PathKey) -> bool:
    """A layer's position: an item of the model list or of a container's layer list."""
    return len(path) >= 2 and path[0] == "model" and isinstance(path[-1], int)


def _ref_name(value: Any) -> str | None:
    """The component or layer name of a bare-name or one-key-mapping reference."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((name, args),) = value.items()
        if isinstance(name, str) and (args is None or isinstance(args, dict)):
            return name
    return None


def _put(data: Any, path: PathKey, value: Any) -> Any:
    """Set ``path`` in plain data (creating mappings on the way) and return the value."""
    target = data
    for i, part in enumerate(path[:-1]):
        if isinstance(target, dict) and target.get(part) is None:
            target[part] = [] if isinstance(path[i + 1], int) else {}
        target = target[part]
    target[path[-1]] = value
    return value
