"""A semantic diff of two specs: what changed, and what it costs.

A textual diff of two YAML files says a line moved; this says which layers
were added, removed or changed (with each argument's old → new value, the
inferred ones included), which layers are affected only as a consequence
(their input changed), and the effect on parameters, MACs, activation memory,
output shapes and receptive fields — per layer and in total.

Layers are matched by qualified name (``features.conv2``) first, then by
position in the spec (``model[3]``), so renaming a layer is a change, not a
removal plus an addition. Everything is computed statically: no torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from cnnspec.layer import fmt_shape
from cnnspec.load.reader import PathKey, format_path
from cnnspec.shapes.report import BYTES_PER_VALUE, activation_bytes, human, human_bytes
from cnnspec.shapes.walker import LayerInfo, ShapeTrace, infer_shapes
from cnnspec.spec import Spec
from cnnspec.symbolic import Dim, Expr, product

__all__ = ["FieldChange", "LayerChange", "Metrics", "SpecDiff", "diff_specs", "diff_traces", "format_diff"]

Status = Literal["added", "removed", "changed", "affected"]

#: marker for a key present on one side only
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "(absent)"})()


@dataclass(frozen=True)
class Metrics:
    """The numbers a change can move, for one layer or the whole model."""

    params: int
    macs: Dim
    activation_bytes: Dim
    input_shape: tuple[Dim, ...]
    output_shape: tuple[Dim, ...]
    rf: Any

    @classmethod
    def of_layer(cls, info: LayerInfo) -> Metrics:
        return cls(info.params, info.macs, product(info.output_shape) * BYTES_PER_VALUE,
                   info.input_shape, info.output_shape, info.rf)

    @classmethod
    def of_trace(cls, trace: ShapeTrace) -> Metrics:
        spatial = [i.rf for i in trace.leaves() if i.rf not in ("global", ())]
        return cls(trace.params, trace.macs, activation_bytes(trace), trace.input_shape, trace.output_shape,
                   spatial[-1] if spatial else "global")

    def to_json(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "macs": _num(self.macs),
            "activation_bytes": _num(self.activation_bytes),
            "input_shape": [_num(d) for d in self.input_shape],
            "output_shape": [_num(d) for d in self.output_shape],
            "receptive_field": self.rf if self.rf == "global" else list(self.rf),
        }


@dataclass(frozen=True)
class FieldChange:
    """One value that differs: ``path`` is a spec path or a layer argument name."""

    path: str
    old: Any
    new: Any
    inferred: bool = False

    def to_json(self) -> dict[str, Any]:
        out = {"path": self.path, "old": None if self.old is MISSING else self.old,
               "new": None if self.new is MISSING else self.new}
        if self.old is MISSING or self.new is MISSING:
            out["absent"] = "old" if self.old is MISSING else "new"
        if self.inferred:
            out["inferred"] = True
        return out

    def __str__(self) -> str:
        note = " (inferred)" if self.inferred else ""
        return f"{self.path}: {_value(self.old)} -> {_value(self.new)}{note}"


@dataclass
class LayerChange:
    """A layer present on one side only, or matched and different."""

    status: Status
    a: LayerInfo | None
    b: LayerInfo | None
    matched_by: Literal["name", "position"] | None = None
    fields: list[FieldChange] = field(default_factory=list)

    @property
    def before(self) -> Metrics | None:
        return Metrics.of_layer(self.a) if self.a else None

    @property
    def after(self) -> Metrics | None:
        return Metrics.of_layer(self.b) if self.b else None

    @property
    def info(self) -> LayerInfo:
        return self.b or self.a  # type: ignore[return-value]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "a": self.a.qualname if self.a else None,
            "b": self.b.qualname if self.b else None,
            "type": self.info.type,
            "path": self.info.path,
            "matched_by": self.matched_by,
            "fields": [f.to_json() for f in self.fields],
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
        }


@dataclass
class SpecDiff:
    """Everything :func:`format_diff` prints; ``to_json`` for ``--format json``."""

    a: ShapeTrace
    b: ShapeTrace
    fields: list[FieldChange]
    layers: list[LayerChange]
    unchanged: int

    @property
    def before(self) -> Metrics:
        return Metrics.of_trace(self.a)

    @property
    def after(self) -> Metrics:
        return Metrics.of_trace(self.b)

    @property
    def identical(self) -> bool:
        return not self.fields and not self.layers

    def count(self, status: Status) -> int:
        return sum(1 for c in self.layers if c.status == status)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a.spec.file,
            "b": self.b.spec.file,
            "identical": self.identical,
            "fields": [f.to_json() for f in self.fields],
            "layers": [c.to_json() for c in self.layers],
            "counts": {s: self.count(s) for s in ("changed", "added", "removed", "affected")}
            | {"unchanged": self.unchanged},
            "totals": {"before": self.before.to_json(), "after": self.after.to_json()},
        }


def _num(d: Dim) -> int | str:
    return str(d) if isinstance(d, Expr) else d


def _value(v: Any) -> str:
    if v is MISSING:
        return "(absent)"
    return json.dumps(v) if not isinstance(v, Expr) else str(v)


# -- comparing -----------------------------------------------------------------------


def _data_changes(a: Any, b: Any, path: PathKey) -> Iterator[FieldChange]:
    """Leaf-level differences of two plain values (dicts by key, equal-length
    lists of containers by index; a top-level section absent on one side
    counts as empty, a deeper value such as a component reference does not)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            yield from _data_changes(a.get(key, MISSING), b.get(key, MISSING), (*path, key))
    elif len(path) == 1 and ((isinstance(a, dict) and b in (None, MISSING))
                             or (isinstance(b, dict) and a in (None, MISSING))):
        yield from _data_changes(a if isinstance(a, dict) else {}, b if isinstance(b, dict) else {}, path)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and a != b \
            and all(isinstance(x, (dict, list)) for x in a + b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from _data_changes(x, y, (*path, i))
    elif (a != b or type(a) is not type(b)) and {id(a), id(b)} != {id(None), id(MISSING)}:
        yield FieldChange(format_path(path), a, b)


def _paths(value: Any, path: PathKey = ()) -> Iterator[str]:
    yield format_path(path)
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _paths(sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _paths(sub, (*path, i))


def _settings_changes(a: Spec, b: Spec) -> list[FieldChange]:
    """Differences outside ``model:``. Values are compared with defaults filled
    in (``epochs: 10`` written equals the default 10), but only keys one side
    sets explicitly are reported, so an absent section is not a wall of defaults."""
    def dump(spec: Spec, **kw: Any) -> dict[str, Any]:
        return spec.config.model_dump(mode="json", by_alias=True, exclude={"model"}, **kw)

    written = set(_paths(dump(a, exclude_defaults=True))) | set(_paths(dump(b, exclude_defaults=True)))
    return [c for c in _data_changes(dump(a), dump(b), ()) if c.path in written]


def _layer_fields(a: LayerInfo, b: LayerInfo) -> list[FieldChange]:
    out = []
    if a.type != b.type:
        out.append(FieldChange("type", a.type, b.type))
    if a.name != b.name:
        out.append(FieldChange("name", a.name, b.name))
    inferred = set()
    for info in (a, b):
        if info.layer_type is not None:
            inferred |= set(getattr(info.layer_type.params, "inferred", ()))
    ka, kb = dict(a.kwargs), dict(b.kwargs)
    keys = [*ka, *(k for k in kb if k not in ka)]
    if a.type != b.type:  # another layer type: only the arguments both have are comparable
        keys = [k for k in keys if k in ka and k in kb]
    for key in keys:
        old, new = ka.get(key, MISSING), kb.get(key, MISSING)
        if _plain(old) != _plain(new) and {id(old), id(new)} != {id(None), id(MISSING)}:
            out.append(FieldChange(key, _plain(old), _plain(new), inferred=key in inferred))
    extra_a, extra_b = dict(a.extra), dict(b.extra)
    for key in [*extra_a, *(k for k in extra_b if k not in extra_a)]:
        if extra_a.get(key, MISSING) != extra_b.get(key, MISSING):
            out.append(FieldChange(key, extra_a.get(key, MISSING), extra_b.get(key, MISSING)))
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _match(a: list[LayerInfo], b: list[LayerInfo]) -> tuple[dict[int, int], dict[int, str]]:
    """Index in ``b`` → index in ``a``, by qualified name then by spec position."""
    by_name = {info.qualname: i for i, info in enumerate(a)}
    pairs: dict[int, int] = {}
    how: dict[int, str] = {}
    for j, info in enumerate(b):
        i = by_name.get(info.qualname)
        if i is not None:
            pairs[j] = i
            how[j] = "name"
    used = set(pairs.values())
    by_path: dict[str, int] = {}
    for i, info in enumerate(a):
        if i not in used:
            by_path.setdefault(info.path, i)
    for j, info in enumerate(b):
        if j in pairs:
            continue
        i = by_path.pop(info.path, None)
        if i is not None:
            pairs[j] = i
            how[j] = "position"
    return pairs, how


def _units(trace: ShapeTrace) -> list[LayerInfo]:
    """What the diff compares: leaves, plus containers (for their own arguments)."""
    return [info for info in trace.walk() if info.is_leaf or info.kind in ("repeat", "concat")]


def diff_traces(a: ShapeTrace, b: ShapeTrace) -> SpecDiff:
    """The semantic difference of two inferred specs (A before, B after)."""
    fields = _settings_changes(a.spec, b.spec)
    la, lb = _units(a), _units(b)
    pairs, how = _match(la, lb)
    matched_a = set(pairs.values())
    changes: list[LayerChange] = []
    unchanged = 0
    next_a = 0

    def flush_removed(upto: int) -> None:
        nonlocal next_a
        while next_a < upto:
            if next_a not in matched_a:
                changes.append(LayerChange("removed", la[next_a], None))
            next_a += 1

    for j, info_b in enumerate(lb):
        if j not in pairs:
            changes.append(LayerChange("added", None, info_b))
            continue
        i = pairs[j]
        flush_removed(i)
        next_a = max(next_a, i + 1)
        info_a = la[i]
        layer_fields = _layer_fields(info_a, info_b)
        if layer_fields:
            changes.append(LayerChange("changed", info_a, info_b, how[j], layer_fields))
        elif info_b.is_leaf and Metrics.of_layer(info_a) != Metrics.of_layer(info_b):
            changes.append(LayerChange("affected", info_a, info_b, how[j]))
        else:
            unchanged += 1
    flush_removed(len(la))
    return SpecDiff(a, b, fields, changes, unchanged)


def diff_specs(a: Spec, b: Spec, *, at: int | None = None) -> SpecDiff:
    """Infer both specs' shapes and compare them; ``at`` binds every symbolic
    input dim to that size, so symbolic specs compare in plain numbers."""
    def trace(spec: Spec) -> ShapeTrace:
        if at is None:
            return infer_shapes(spec)
        return infer_shapes(spec, input_shape=[at if isinstance(d, str) else d for d in spec.input])

    return diff_traces(trace(a), trace(b))


# -- text ------------------------------------------------------------------------------


def _rf(rf: Any) -> str:
    if rf == "global":
        return "global"
    return "x".join(map(str, rf)) if rf else "-"


def _delta(old: Dim, new: Dim, fmt: Any = human) -> str:
    if not (isinstance(old, int) and isinstance(new, int)) or old == new:
        return ""
    sign = "+" if new > old else "-"
    pct = f", {sign}{abs(new - old) / old:.1%}" if old else ""
    return f" ({sign}{fmt(abs(new - old))}{pct})"


def _metric_rows(before: Metrics, after: Metrics, only_changed: bool) -> list[tuple[str, str, str, str]]:
    rows = [
        ("params", f"{before.params:,}", f"{after.params:,}", _delta(before.params, after.params)),
        ("MACs", human(before.macs), human(after.macs), _delta(before.macs, after.macs)),
        ("activations", human_bytes(before.activation_bytes), human_bytes(after.activation_bytes),
         _delta(before.activation_bytes, after.activation_bytes, human_bytes)),
        ("input", fmt_shape(before.input_shape), fmt_shape(after.input_shape), ""),
        ("output", fmt_shape(before.output_shape), fmt_shape(after.output_shape), ""),
        ("receptive field", _rf(before.rf), _rf(after.rf), ""),
    ]
    if only_changed:
        rows = [r for r in rows if r[1] != r[2]]
    return rows


def _one_side(m: Metrics) -> str:
    return (f"output {fmt_shape(m.output_shape)}, {m.params:,} params, {human(m.macs)} MACs, "
            f"{human_bytes(m.activation_bytes)} activations, RF {_rf(m.rf)}")


def format_diff(d: SpecDiff) -> str:
    """The text ``cnnspec diff`` prints."""
    lines = [f"--- {d.a.spec.file}", f"+++ {d.b.spec.file}"]
    if d.identical:
        lines.append("no differences: same settings, same layers, same shapes")
        return "\n".join(lines)
    if d.fields:
        lines.append("settings:")
        lines += [f"  {f}" for f in d.fields]
    counts = ", ".join(f"{d.count(s)} {s}" for s in ("changed", "added", "removed", "affected") if d.count(s))
    lines.append(f"layers: {counts or 'none changed'}, {d.unchanged} unchanged")
    for c in d.layers:
        info = c.info
        name = info.qualname if not (c.a and c.b and c.a.qualname != c.b.qualname) \
            else f"{c.a.qualname} -> {c.b.qualname}"
        where = f"{info.path}" + (f", matched by {c.matched_by}" if c.matched_by == "position" else "")
        mark = {"changed": "~", "added": "+", "removed": "-", "affected": "="}[c.status]
        lines.append(f"  {mark} {name} ({info.type}, {where}): {c.status}")
        for f in c.fields:
            lines.append(f"      {f}")
        if c.status in ("added", "removed"):
            lines.append(f"      {_one_side(c.before or c.after)}")  # type: ignore[arg-type]
            continue
        assert c.before is not None and c.after is not None
        for label, old, new, delta in _metric_rows(c.before, c.after, only_changed=True):
            if label != "input" or c.status == "affected":
                lines.append(f"      {label}: {old} -> {new}{delta}")
    lines.append("totals:")
    rows = _metric_rows(d.before, d.after, only_changed=False)
    width = max(len(r[0]) for r in rows)
    for label, old, new, delta in rows:
        same = "  (same)" if old == new else ""
        lines.append(f"  {label.ljust(width)}  {old} -> {new}{delta}{same}")
    return "\n".join(lines)
