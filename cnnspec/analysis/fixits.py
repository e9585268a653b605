"""Fix-its for shape errors: the smallest edits that make a spec valid.

A shape error says what is wrong and shows the arithmetic; a fix-it says
what to change. Suggestions are found by search, not by rules of thumb:
candidate edits to the failing layer (and the few spatial layers before it)
— ``padding``, ``kernel_size``, ``stride``, ``dilation``, ``ceil_mode``,
``padding: same``, removing or setting an inferred count such as
``in_features`` — and to the input size are each applied to the resolved
document, which is validated and shape-checked again; only edits after which
the whole spec is valid are kept. An edit that is right but collides with a
count written explicitly further down (the tutorials' hand-computed
``in_features: 1250``) comes with the update of that count. They are ranked by the size of the change
(``|new - old|``, 1 for a flag or a removal, input changes per dim), smallest
first, edits to the failing layer before edits to earlier ones; edits far
larger than the best one (over ``max(4 * best, best + 3)``) are dropped.

Pure Python: no torch, so ``cnnspec validate`` can show them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cnnspec.exceptions import Location, ShapeError, SpecError
from cnnspec.layer import fmt_shape
from cnnspec.load.reader import Document, PathKey, format_path
from cnnspec.shapes.walker import ShapeTrace, infer_shapes
from cnnspec.spec import LayerNode, Spec, parse_spec

__all__ = ["REMOVE", "Fix", "apply_fix", "fixes_for", "suggest_fixes"]

#: ``Fix.new`` for "delete this key"
REMOVE: Any = type("Remove", (), {"__repr__": lambda self: "REMOVE"})()

#: how far a numeric argument is moved, at most, in each direction
MAX_STEP = 16
#: time the fix-it search may take before it returns what it has verified so far
SEARCH_SECONDS = 1.0
#: how far the input size is moved, at most, in each direction
MAX_INPUT_STEP = 256
#: preceding spatial layers (besides the failing one) whose arguments are tried
PRECEDING = 3
#: suggestions kept
LIMIT = 5

_NUMERIC = ("padding", "kernel_size", "stride", "dilation")
_MINIMUM = {"padding": 0}
_OTHER_LAYER = 0.5  # cost added for an edit outside the failing layer


@dataclass(frozen=True)
class Fix:
    """One edit: set (or remove) the value at ``path`` of the resolved spec.

    ``also`` lists the follow-up edits the main one needs: an explicitly
    written count downstream (``in_features: 1250``) updated to what the edit
    makes it. They belong together: the fix is valid with all of them.
    """

    path: PathKey
    old: Any
    new: Any
    description: str
    cost: float
    location: Location | None = None
    also: tuple[Fix, ...] = ()

    @property
    def action(self) -> str:
        return "remove" if self.new is REMOVE else "set"

    def to_dict(self) -> dict[str, Any]:
        """The form ``validate --format json`` lists under an error's ``fixes``."""
        return {
            "path": format_path(self.path),
            "old": self.old,
            "new": None if self.new is REMOVE else self.new,
            "action": self.action,
            "description": self.description,
            "location": str(self.location) if self.location else None,
            "also": [{k: v for k, v in f.to_dict().items() if k not in ("also", "description")} for f in self.also],
        }

    def __str__(self) -> str:
        return self.description


def apply_fix(data: Any, fix: Fix) -> Any:
    """A copy of ``data`` with the fix applied (containers on the path copied, the rest shared)."""
    data = _replace(data, fix.path, fix.new)
    for more in fix.also:
        data = _replace(data, more.path, more.new)
    return data


def _replace(data: Any, path: PathKey, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        out = dict(data)
        if not rest and value is REMOVE:
            del out[head]  # type: ignore[arg-type]
        else:
            out[head] = _replace(data.get(head, {}), rest, value)  # type: ignore[arg-type]
        return out
    out_list = list(data)
    out_list[head] = _replace(data[head], rest, value)  # type: ignore[index]
    return out_list


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        data = data[part]
    return data


def _text(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


# -- search ------------------------------------------------------------------------------


class _Search:
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
        return self.validate(_replace(self.doc.data, path, value))

    def explicit_counts(self) -> Iterator[tuple[PathKey, Any, LayerNode, str]]:
        """Every inferred argument (``in_features``...) the spec writes explicitly."""
        for node, _ in _leaves(self.spec.layers, ()):
            item = _get(self.doc.data, node.path)
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
        data = _replace(self.doc.data, path, value)
        if self.validate(data) is not None:
            return ()
        counts = [c for c in self.counts if c[0][: len(path)] != path]
        if not counts:
            return None
        stripped = data
        for cpath, *_ in counts:
            stripped = _replace(stripped, cpath, REMOVE)
        trace = self.validate(stripped)
        if trace is None:
            return None
        extras = []
        for cpath, old, node, name in counts:
            new = _inferred_value(trace, node, name)
            if new is None:
                return None
            if new != old:
                data = _replace(data, cpath, new)
                extras.append(Fix(cpath, old, new, f"{format_path(cpath)}: {_text(old)} -> {_text(new)}", 1.0,
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
        item = _get(self.doc.data, node.path)
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
            shown_old = _text(old) if name in args else f"{_text(old)} (default)"
            return _with_also(Fix(path, item if isinstance(item, str) else args.get(name), value,
                                  f"{format_path((*node.path, type_key, name))}: {shown_old} -> {_text(new)}{why}",
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
                      f"remove {format_path(path)} ({_text(args[name])}); it is inferred"
                      + (f" as {inferred}" if inferred is not None else ""),
                      1.0 + extra, self.doc.locate(path))
            if inferred is not None and self.works(path, inferred) is not None:
                yield Fix(path, args[name], inferred, f"{format_path(path)}: {_text(args[name])} -> {inferred}",
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


def suggest_fixes(spec: Spec, error: SpecError, *, limit: int = LIMIT) -> list[Fix]:
    """The smallest verified edits that make ``spec`` valid, best first.

    ``error`` is the shape error ``infer_shapes(spec)`` raised; each returned
    fix, applied to ``spec.document.data`` with :func:`apply_fix`, gives a spec
    that loads and passes shape inference.
    """
    if not isinstance(spec.document.data, dict):
        return []
    search = _Search(spec, error)
    found: list[Fix] = []
    for node, own in search.targets():
        found.extend(search.layer_fixes(node, own))
    found.extend(search.input_fixes())
    # stable sort: equal costs keep the search order (failing layer first);
    # one suggestion per edited value (its smallest change), both directions for the input
    out: list[Fix] = []
    seen: set[tuple[PathKey, str]] = set()
    for fix in sorted(found, key=lambda f: f.cost):
        key = (fix.path, _text(fix.new) if fix.path == ("input",) else fix.action)
        if key not in seen:
            seen.add(key)
            out.append(fix)
    if out:
        # far larger edits than the best one are noise, even if they happen to validate
        bound = max(4 * out[0].cost, out[0].cost + 3)
        out = [f for f in out if f.cost <= bound]
    return out[:limit]


def fixes_for(spec: Spec | None, error: SpecError) -> list[Fix]:
    """Fix-its for an error from loading or inferring ``spec`` (default: the spec
    the error was found in): only shape errors of a spec that loaded get them
    (nothing to search from otherwise)."""
    spec = spec if spec is not None else error.spec
    if spec is None or not isinstance(error, ShapeError):
        return []
    return suggest_fixes(spec, error)
