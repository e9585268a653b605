"""The fix-it search: candidate edits, each applied and validated again.

Candidates are edits to the failing layer (and the few spatial layers before
it) — ``padding``, ``kernel_size``, ``stride``, ``dilation``, ``ceil_mode``,
``padding: same``, removing or setting an inferred count — and to the input
size. Each is applied to the resolved document, which is parsed and
shape-checked again (memoised); an edit that collides with a count written
explicitly further down comes with the update of that count. The search stops
after :data:`SEARCH_SECONDS`, returning what it verified so far.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from cnnspec.analysis.edits import REMOVE, Fix, get_value, replace_value, value_text
from cnnspec.exceptions import SpecError
from cnnspec.layer import fmt_shape
from cnnspec.load.document import Document, PathKey, format_path
from cnnspec.shapes.walker import ShapeTrace, infer_shapes
from cnnspec.spec import LayerNode, Spec, parse_spec

__all__ = ["MAX_INPUT_STEP", "MAX_STEP", "PRECEDING", "SEARCH_SECONDS", "FixSearch"]

#: how far a numeric argument is moved, at most, in each direction
MAX_STEP = 16
#: time the fix-it search may take before it returns what it has verified so far
SEARCH_SECONDS = 1.0
#: how far the input size is moved, at most, in each direction
MAX_INPUT_STEP = 256
#: preceding spatial layers (besides the failing one) whose arguments are tried
PRECEDING = 3

_NUMERIC = ("padding", "kernel_size", "stride", "dilation")
_MINIMUM = {"padding": 0}
_OTHER_LAYER = 0.5  # cost added for an edit outside the failing layer


class FixSearch:
    def __init__(self, spec: Spec, error: SpecError) -> None:
        self.spec = spec
        self.doc = spec.document
        self.error = error
        self.checked: dict[str, ShapeTrace | None] = {}
        self.counts = list(self.explicit_counts())
        # an error report must stay interactive even for huge specs: search for a while, then stop
        self.deadline = time.monotonic() + SEARCH_SECONDS

    def validate(self, data: Any) -> ShapeTrace | None:
        """The trace if ``data`` is a valid spec, else ``None`` (memoised).

        Past the search deadline every candidate counts as not validating, so
        what was found so far is returned (each of it still verified).
        """
        key = json.dumps(data, sort_keys=True, default=str)
        if key not in self.checked:
            if time.monotonic() > self.deadline:
                return None
            doc = Document(data, self.doc.file, self.doc.positions, self.doc.key_positions)
            try:
                self.checked[key] = infer_shapes(parse_spec(doc, plugins=self.spec.plugins))
            except SpecError:
                self.checked[key] = None
        return self.checked[key]

    def works(self, path: PathKey, value: Any) -> ShapeTrace | None:
        return self.validate(replace_value(self.doc.data, path, value))

    def explicit_counts(self) -> Iterator[tuple[PathKey, Any, LayerNode, str]]:
        """Every inferred argument (``in_features``...) the spec writes explicitly."""
        for node, _ in _leaves(self.spec.layers, ()):
            item = get_value(self.doc.data, node.path)
            if not isinstance(item, dict) or node.layer_type is None:
                continue
            ((type_key, args),) = item.items()
            for name in getattr(node.layer_type.params, "inferred", ()):
                if isinstance(args, dict) and name in args:
                    yield (*node.path, type_key, name), args[name], node, name

    def attempt(self, path: PathKey, value: Any) -> tuple[Fix, ...] | None:
        """The follow-up edits that make an edit valid: none needed (``()``),
        the explicit counts it changes (each set to its new inferred value),
        or ``None`` when it cannot be made valid that way."""
        data = replace_value(self.doc.data, path, value)
        if self.validate(data) is not None:
            return ()
        counts = [c for c in self.counts if c[0][: len(path)] != path]
        if not counts:
            return None
        stripped = data
        for cpath, *_ in counts:
            stripped = replace_value(stripped, cpath, REMOVE)
        trace = self.validate(stripped)
        if trace is None:
            return None
        extras = []
        for cpath, old, node, name in counts:
            new = _inferred_value(trace, node, name)
            if new is None:
                return None
            if new != old:
                data = replace_value(data, cpath, new)
                extras.append(Fix(cpath, old, new, f"{format_path(cpath)}: {value_text(old)} -> {value_text(new)}", 1.0,
                                  self.doc.locate(cpath)))
        if not extras or self.validate(data) is None:
            return None
        return tuple(extras)

    # -- which layers -------------------------------------------------------------------

    def targets(self) -> list[tuple[LayerNode, bool]]:
        """(leaf, is part of the failing node) for the failing node's leaves and
        the last few spatial leaves before it, nearest first."""
        leaves = list(_leaves(self.spec.layers, ()))
        failing = _error_node_path(self.error, leaves)
        if failing is None:
            return []
        inside = [i for i, (_, scopes) in enumerate(leaves) if failing in scopes]
        if not inside:
            return []
        before = [node for node, _ in reversed(leaves[: inside[0]]) if _spatial(node)][:PRECEDING]
        return [(leaves[i][0], True) for i in inside] + [(node, False) for node in before]

    # -- candidates -----------------------------------------------------------------------

    def layer_fixes(self, node: LayerNode, own: bool) -> Iterator[Fix]:
        item = get_value(self.doc.data, node.path)
        type_key = item if isinstance(item, str) else next(iter(item))
        args = {} if isinstance(item, str) else (item[type_key] or {})
        fields = node.layer_type.params.model_fields if node.layer_type else {}
        extra = 0.0 if own else _OTHER_LAYER

        def edit(name: str, value: Any) -> tuple[PathKey, Any]:
            if isinstance(item, str):
                return node.path, {type_key: {name: value}}
            return (*node.path, type_key, name), value

        def make(name: str, old: Any, new: Any, cost: float, why: str = "") -> Fix | None:
            path, value = edit(name, new)
            also = self.attempt(path, value)
            if also is None:
                return None
            shown_old = value_text(old) if name in args else f"{value_text(old)} (default)"
            return _with_also(Fix(path, item if isinstance(item, str) else args.get(name), value,
                                  f"{format_path((*node.path, type_key, name))}: {shown_old} -> {value_text(new)}{why}",
                                  cost + extra, self.doc.locate(path)), also)

        for name in _NUMERIC:
            if name not in fields:
                continue
            current = args.get(name, getattr(node.params, name, None))
            if current is None and name == "stride":
                current = args.get("kernel_size", getattr(node.params, "kernel_size", None))
            if current == "valid":
                current = 0
            if isinstance(current, int) and not isinstance(current, bool):
                yield from self.numeric(make, name, current, lambda v: v, current)
            elif isinstance(current, list) and all(isinstance(v, int) for v in current):
                for i in range(len(current)):
                    yield from self.numeric(make, name, current[i],
                                            lambda v, i=i, c=current: [*c[:i], v, *c[i + 1:]], current)
        if "padding" in fields and args.get("padding") != "same" and "same" in _padding_choices(node):
            fix = make("padding", args.get("padding", 0), "same", 2.0, " (output size = input size)")
            if fix:
                yield fix
        if "ceil_mode" in fields:
            current = bool(args.get("ceil_mode", getattr(node.params, "ceil_mode", False)))
            fix = make("ceil_mode", current, not current, 1.0)
            if fix:
                yield fix
        for name in getattr(node.layer_type.params, "inferred", ()) if node.layer_type else ():
            if name not in args:
                continue
            path = (*node.path, type_key, name)
            trace = self.works(path, REMOVE)
            if trace is None:
                continue
            inferred = _inferred_value(trace, node, name)
            yield Fix(path, args[name], REMOVE,
                      f"remove {format_path(path)} ({value_text(args[name])}); it is inferred"
                      + (f" as {inferred}" if inferred is not None else ""),
                      1.0 + extra, self.doc.locate(path))
            if inferred is not None and self.works(path, inferred) is not None:
                yield Fix(path, args[name], inferred, f"{format_path(path)}: {value_text(args[name])} -> {inferred}",
                          1.0 + extra, self.doc.locate(path))

    def numeric(self, make: Any, name: str, current: int, wrap: Any, old: Any) -> Iterator[Fix]:
        floor = _MINIMUM.get(name, 1)
        for direction in (1, -1):
            for step in range(1, MAX_STEP + 1):
                value = current + direction * step
                if value < floor:
                    break
                fix = make(name, old, wrap(value), float(step))
                if fix is not None:
                    yield fix
                    break

    def input_fixes(self) -> Iterator[Fix]:
        data = self.doc.data
        dims = data.get("input")
        if not isinstance(dims, list) or len(dims) < 2:
            return
        path = ("input",)
        symbolic = [i for i, d in enumerate(dims) if isinstance(d, str)]
        if symbolic:
            for n in range(1, 1025):
                new = [n if isinstance(d, str) else d for d in dims]
                if self.works(path, new) is not None:
                    yield Fix(path, dims, new, f"input: {fmt_shape(dims)} -> {fmt_shape(new)} "
                              "(the smallest size that fits)", float(len(symbolic)) * 8, self.doc.locate(path))
                    return
            return
        spatial = range(1, len(dims))
        # square inputs stay square; others may also move one dim at a time
        square = len({dims[i] for i in spatial}) == 1
        groups = [tuple(spatial)] + ([] if square else [(i,) for i in spatial])
        for group in groups:
            for direction in (1, -1):
                for step in range(1, MAX_INPUT_STEP + 1):
                    new = [d + direction * step if i in group else d for i, d in enumerate(dims)]
                    if any(d < 1 for d in new):
                        break
                    also = self.attempt(path, new)
                    if also is not None:
                        what = "larger" if direction > 0 else "smaller"
                        yield _with_also(Fix(path, dims, new, f"input: {fmt_shape(dims)} -> {fmt_shape(new)} "
                                             f"(the nearest {what} size that fits)", float(step * len(group)),
                                             self.doc.locate(path)), also)
                        break


def _with_also(fix: Fix, also: tuple[Fix, ...]) -> Fix:
    if not also:
        return fix
    text = fix.description + ", with " + ", ".join(f.description for f in also)
    return Fix(fix.path, fix.old, fix.new, text, fix.cost + sum(f.cost for f in also), fix.location, also)


def _padding_choices(node: LayerNode) -> tuple[str, ...]:
    """``same`` is offered for unstrided convolutions (torch refuses it with stride)."""
    params = node.params
    if params is None or "conv" not in (node.layer_type.tags if node.layer_type else ()):
        return ()
    stride = getattr(params, "stride", 1)
    strides = stride if isinstance(stride, list) else [stride]
    return ("same",) if all(s == 1 for s in strides) else ()


def _leaves(nodes: Sequence[LayerNode], scopes: tuple[PathKey, ...]) -> Iterator[tuple[LayerNode, tuple]]:
    """Every leaf in spec order, with the paths of the nodes that contain it (itself included)."""
    for node in nodes:
        inner = (*scopes, node.path)
        if node.kind == "layer":
            yield node, inner
            continue
        for sub in (node.children, node.shortcut or [], *node.branches):
            yield from _leaves(sub, inner)


def _spatial(node: LayerNode) -> bool:
    fields = node.layer_type.params.model_fields if node.layer_type else {}
    return "kernel_size" in fields


def _inferred_value(trace: ShapeTrace, node: LayerNode, name: str) -> Any:
    for info in trace.leaves():
        if info.spec_path == tuple(node.path) and name in info.kwargs:
            return info.kwargs[name]
    return None


def _error_node_path(error: SpecError, leaves: Sequence[tuple[LayerNode, tuple]]) -> PathKey | None:
    """The path of the innermost layer or container the error's key points into."""
    key = error.key
    if not key or key[0] != "model":
        return None
    scopes = {scope for _, inner in leaves for scope in inner}
    inside = [scope for scope in scopes if tuple(key[: len(scope)]) == tuple(scope)]
    return max(inside, key=len) if inside else None
