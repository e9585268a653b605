"""Which input sizes a network accepts: minimum, the valid set, its period.

torchvision documents "minimum input size 75x75" by hand; here it is
computed. The answer is exact because it is not derived from a formula: every
size in the range is run through the same static inference that ``validate``
uses (with concrete ints), so floors, ``ceil_mode``, padding modes and the
equalities residual and concat blocks impose are all honoured.

Which dims vary:

* a spec with symbolic dims (``input: [3, H, W]``) varies its symbols;
* a spec with a fixed input (``[3, 32, 32]``) varies its spatial dims (all
  but the first, the channels), named ``L`` / ``H, W`` / ``D, H, W``. The
  question is then "which sizes does *the model built from this spec*
  accept", so the channel and feature counts inference filled in at the
  spec's own size (``in_features`` of the first Linear...) are pinned: a
  larger image then fails where torch would, at that Linear. (If the spec
  is invalid at its own size there is no built model: nothing is pinned and
  the scan says which sizes would work.)

By default all varied dims take the same value ``n`` (square inputs);
``vary`` picks a subset and ``fixed`` binds the others.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cnnspec.exceptions import SpecError
from cnnspec.layer import fmt_shape
from cnnspec.load.reader import Document, PathKey, format_path
from cnnspec.shapes.walker import ShapeTrace, infer_shapes
from cnnspec.spec import LayerNode, Spec, parse_spec

__all__ = [
    "MAX_RANGE",
    "Period",
    "SizeProbe",
    "SizeReport",
    "compress",
    "find_period",
    "free_dims",
    "parse_range",
    "scan",
]

#: the largest size ``cnnspec sizes`` scans up to
MAX_RANGE = 1 << 16

_SPATIAL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def free_dims(spec: Spec) -> dict[int, str]:
    """Input index → name of each dim that may vary (symbols, else spatial dims)."""
    symbolic = {i: d for i, d in enumerate(spec.input) if isinstance(d, str)}
    if symbolic:
        return symbolic
    n = len(spec.input) - 1
    names = _SPATIAL_NAMES.get(n, tuple(f"D{i}" for i in range(1, n + 1)))
    return {i + 1: name for i, name in enumerate(names)}


def parse_range(text: str) -> tuple[int, int]:
    """``"1..1024"`` → ``(1, 1024)``; also ``"64"`` → ``(1, 64)``."""
    lo_text, sep, hi_text = text.partition("..")
    try:
        lo, hi = (int(lo_text), int(hi_text)) if sep else (1, int(lo_text))
    except ValueError:
        raise SpecError(f"--range {text!r}: expected LOW..HIGH, e.g. 1..1024") from None
    if not 1 <= lo <= hi <= MAX_RANGE:
        raise SpecError(f"--range {text}: need 1 <= LOW <= HIGH <= {MAX_RANGE}")
    return lo, hi


def _type_key(spec: Spec, path: PathKey) -> str:
    item: Any = spec.document.data
    for part in path:
        item = item[part]
    return item if isinstance(item, str) else next(iter(item))


def _node_paths(nodes: Sequence[LayerNode]) -> dict[PathKey, LayerNode]:
    out: dict[PathKey, LayerNode] = {}
    for node in nodes:
        out[tuple(node.path)] = node
        for sub in (node.children, node.shortcut or [], *node.branches):
            out.update(_node_paths(sub))
    return out


def _inferred_values(spec: Spec, trace: ShapeTrace) -> dict[tuple[PathKey, str], Any]:
    """(layer path, argument) → value, for every argument inference filled in.

    A layer inside ``repeat`` may be inferred differently per repetition;
    such arguments are left out (they cannot be written once).
    """
    nodes = _node_paths(spec.layers)
    out: dict[tuple[PathKey, str], Any] = {}
    conflicts: set[tuple[PathKey, str]] = set()
    for info in trace.leaves():
        node = nodes.get(info.spec_path)
        if node is None or info.layer_type is None:
            continue
        args = node.args or {}
        for name in getattr(info.layer_type.params, "inferred", ()):
            if name in args or name not in info.kwargs:
                continue
            key = (node.path, name)
            if key in out and out[key] != info.kwargs[name]:
                conflicts.add(key)
            out.setdefault(key, info.kwargs[name])
    return {k: v for k, v in out.items() if k not in conflicts}


def _pin(spec: Spec, values: Mapping[tuple[PathKey, str], Any]) -> tuple[Spec, dict[str, Any]]:
    """The spec with ``values`` written into its layers' arguments."""
    data = copy.deepcopy(spec.document.data)
    pinned: dict[str, Any] = {}
    for (path, name), value in values.items():
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        item = parent[path[-1]]
        if isinstance(item, str):
            parent[path[-1]] = item = {item: {}}
        ((type_key, args),) = item.items()
        if args is None:
            item[type_key] = args = {}
        args[name] = value
        pinned[format_path((*path, type_key, name))] = value
    if not pinned:
        return spec, {}
    doc = spec.document
    return parse_spec(Document(data, doc.file, doc.positions, doc.key_positions), plugins=spec.plugins), pinned


@dataclass
class SizeProbe:
    """Runs inference at concrete sizes of the varied dims."""

    spec: Spec
    vary: dict[int, str]
    fixed: dict[int, int]
    pinned: dict[str, Any] = field(default_factory=dict)
    size_dependent: dict[str, Any] = field(default_factory=dict)
    own_size_error: SpecError | None = None

    @classmethod
    def create(cls, spec: Spec, vary: Sequence[str] = (), fixed: Mapping[str, int] | None = None) -> SizeProbe:
        dims = free_dims(spec)
        by_name = {name: i for i, name in dims.items()}
        fixed = dict(fixed or {})
        for name in [*vary, *fixed]:
            if name not in by_name:
                raise SpecError(f"no input dim named {name!r}; the free dims of input {fmt_shape(spec.input)} "
                                f"are {', '.join(by_name) or 'none'}")
        if not dims:
            raise SpecError(f"input {fmt_shape(spec.input)} has no spatial dims to vary",
                            hint="sizes applies to inputs like [3, 32, 32] or [3, H, W]")
        chosen = {i: n for i, n in dims.items() if (n in vary if vary else n not in fixed)}
        if not chosen:
            raise SpecError("every free dim is fixed; nothing left to vary")
        symbolic = any(isinstance(d, str) for d in spec.input)
        bound: dict[int, int] = {}
        for i, name in dims.items():
            if i in chosen:
                continue
            if name in fixed:
                bound[i] = fixed[name]
            elif symbolic:
                raise SpecError(f"{name} is neither varied nor fixed", hint=f"add --fix {name}=N")
            else:
                bound[i] = spec.input[i]  # type: ignore[assignment]
        probe = cls(spec, chosen, bound)
        if not symbolic:
            try:
                own = infer_shapes(spec)
            except SpecError as exc:
                # nothing was built at the spec's own size: nothing to pin, every count stays inferred
                probe.own_size_error = exc
                return probe
            values = _inferred_values(spec, own)
            probe.spec, probe.pinned = _pin(spec, values)
            probe.size_dependent = probe._size_dependent(spec, values)
        return probe

    def _size_dependent(self, spec: Spec, values: Mapping[tuple[PathKey, str], Any]) -> dict[str, Any]:
        """The pinned values that change with the input size (the ones worth
        telling the user about), found by inferring at a few other sizes."""
        changing: set[tuple[PathKey, str]] = set()
        for scale in ((2, 0), (1, 1), (3, 0)):
            dims = [d * scale[0] + scale[1] if i in self.vary else d for i, d in enumerate(spec.input)]
            try:
                other = _inferred_values(spec, infer_shapes(spec, input_shape=dims))
            except SpecError:
                continue
            changing |= {k for k, v in values.items() if other.get(k, v) != v}
        shown = {format_path((*path, _type_key(spec, path), name)) for path, name in changing}
        return {k: v for k, v in self.pinned.items() if k in shown}

    def input_at(self, n: int) -> list[int | str]:
        out: list[int | str] = list(self.spec.input)
        for i in self.vary:
            out[i] = n
        for i, v in self.fixed.items():
            out[i] = v
        return out

    def trace(self, n: int) -> ShapeTrace:
        return infer_shapes(self.spec, input_shape=self.input_at(n))

    def check(self, n: int) -> SpecError | None:
        try:
            self.trace(n)
        except SpecError as exc:
            return exc
        return None

    @property
    def label(self) -> str:
        names = " = ".join(self.vary.values())
        return f"{names} = n" if len(self.vary) > 1 else names


@dataclass(frozen=True)
class Period:
    """From ``start`` (a valid size) on, ``n`` is valid exactly when ``n % period``
    is in ``residues``."""

    start: int
    period: int
    residues: tuple[int, ...]

    def __str__(self) -> str:
        if len(self.residues) == 1:
            rule = f"n % {self.period} == {self.residues[0]}"
        else:
            rule = f"n % {self.period} in {{{', '.join(map(str, self.residues))}}}"
        return f"every size with {rule}, from {self.start} on (period {self.period})"


def compress(valid: Sequence[bool], lo: int) -> list[tuple[int, int]]:
    """Runs of valid sizes as inclusive intervals."""
    out: list[tuple[int, int]] = []
    start = None
    for k, ok in enumerate(valid):
        n = lo + k
        if ok and start is None:
            start = n
        elif not ok and start is not None:
            out.append((start, n - 1))
            start = None
    if start is not None:
        out.append((start, lo + len(valid) - 1))
    return out


def _periodic_from(bits: int, length: int, p: int) -> int:
    """The first index from which ``valid[k] == valid[k + p]`` holds to the end."""
    mismatch = (bits ^ (bits >> p)) & ((1 << (length - p)) - 1)
    return mismatch.bit_length()


def find_period(valid: Sequence[bool], lo: int, *, max_period: int = 4096) -> Period | None:
    """The smallest period ``p >= 2`` the valid set settles into, if any.

    Each candidate ``p`` gives the earliest size from which the set repeats
    with period ``p`` (found with one XOR of the set as a bitmask). A period is
    reported when that stretch spans at least three periods, holds both valid
    and invalid sizes, and starts before the set becomes constant (a constant
    tail — everything valid from the minimum on — is an interval, not a period).
    """
    length = len(valid)
    bits = sum(1 << k for k, ok in enumerate(valid) if ok)
    if not bits:
        return None
    constant_from = _periodic_from(bits, length, 1)
    for p in range(2, min(max_period, length // 3) + 1):
        start = _periodic_from(bits, length, p)
        if start >= constant_from or length - start < 3 * p:
            continue
        window = [valid[k] for k in range(start, start + p)]
        if all(window) or not any(window):
            continue
        residues = tuple(sorted((lo + k) % p for k in range(start, start + p) if valid[k]))
        first_valid = next(k for k in range(start, start + p) if valid[k])
        return Period(lo + first_valid, p, residues)
    return None


@dataclass
class SizeReport:
    """The scan of one spec over a range of sizes."""

    probe: SizeProbe
    lo: int
    hi: int
    valid: list[bool]
    below_minimum: SpecError | None = None

    @property
    def minimum(self) -> int | None:
        for k, ok in enumerate(self.valid):
            if ok:
                return self.lo + k
        return None

    @property
    def count(self) -> int:
        return sum(self.valid)

    @property
    def intervals(self) -> list[tuple[int, int]]:
        return compress(self.valid, self.lo)

    @property
    def period(self) -> Period | None:
        return find_period(self.valid, self.lo)

    def is_valid(self, n: int) -> bool | None:
        return self.valid[n - self.lo] if self.lo <= n <= self.hi else None

    def nearest(self, n: int) -> tuple[int | None, int | None]:
        """The closest valid sizes below and above ``n`` within the range."""
        below = next((m for m in range(min(n - 1, self.hi), self.lo - 1, -1) if self.is_valid(m)), None)
        above = next((m for m in range(max(n + 1, self.lo), self.hi + 1) if self.is_valid(m)), None)
        return below, above

    def to_json(self) -> dict[str, Any]:
        period = self.period
        return {
            "file": self.probe.spec.file,
            "input": list(self.probe.spec.input),
            "vary": list(self.probe.vary.values()),
            "fixed": {free_dims(self.probe.spec)[i]: v for i, v in self.probe.fixed.items()},
            "pinned": self.probe.pinned,
            "size_dependent": self.probe.size_dependent,
            "range": [self.lo, self.hi],
            "minimum": self.minimum,
            "count": self.count,
            "intervals": [list(iv) for iv in self.intervals],
            "period": None if period is None else {"start": period.start, "period": period.period,
                                                   "residues": list(period.residues)},
            "below_minimum": None if self.below_minimum is None else self.below_minimum.to_dict(),
        }


def scan(probe: SizeProbe, lo: int = 1, hi: int = 1024) -> SizeReport:
    """Check every size in ``lo..hi``."""
    valid = [probe.check(n) is None for n in range(lo, hi + 1)]
    report = SizeReport(probe, lo, hi, valid)
    m = report.minimum
    if m is not None and m > 1:
        report.below_minimum = probe.check(m - 1)
    elif m is None:
        report.below_minimum = probe.check(hi)
    return report
