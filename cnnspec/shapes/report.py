"""Turning a ShapeTrace into a table or JSON (pure Python, no torch)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from cnnspec.layer import fmt_shape
from cnnspec.shapes.walker import LayerInfo, ShapeTrace
from cnnspec.symbolic import Dim, Expr, product

__all__ = [
    "activation_bytes",
    "argument_cells",
    "dim_json",
    "human",
    "human_bytes",
    "layer_json",
    "table",
    "totals_line",
    "trace_json",
    "visible_rows",
]

BYTES_PER_VALUE = 4  # float32
_SPATIAL = re.compile(r"([123])d$", re.IGNORECASE)


def dim_json(d: Dim) -> int | str:
    return str(d) if isinstance(d, Expr) else d


def shape_json(shape: tuple[Dim, ...]) -> list[int | str]:
    return [dim_json(d) for d in shape]


def human(n: Dim, unit: str = "") -> str:
    """``4327190 -> '4.33M'``; symbolic values are shown as expressions."""
    if isinstance(n, Expr):
        return str(n)
    for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= threshold:
            return f"{n / threshold:.2f}{suffix}{unit}"
    return f"{n}{unit}"


def human_bytes(n: Dim) -> str:
    if isinstance(n, Expr):
        return f"4*({n}) B"
    for threshold, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= threshold:
            return f"{n / threshold:.2f} {suffix}"
    return f"{n} B"


def _rf_text(rf: Any) -> str:
    if rf == "global":
        return "global"
    if not rf:
        return "-"
    return "x".join(str(r) for r in rf)


def layer_json(info: LayerInfo) -> dict[str, Any]:
    return {
        "name": info.qualname,
        "type": info.type,
        "path": info.path,
        "depth": info.depth,
        "input_shape": shape_json(info.input_shape),
        "output_shape": shape_json(info.output_shape),
        "params": info.params,
        "macs": dim_json(info.macs),
        "receptive_field": info.rf if info.rf == "global" else list(info.rf),
        "leaf": info.is_leaf,
    }


def activation_bytes(trace: ShapeTrace) -> Dim:
    total: Dim = 0
    for info in trace.leaves():
        total = total + product(info.output_shape)
    return total * BYTES_PER_VALUE


def trace_json(trace: ShapeTrace) -> dict[str, Any]:
    return {
        "name": trace.spec.name,
        "input_shape": shape_json(trace.input_shape),
        "output_shape": shape_json(trace.output_shape),
        "params": trace.params,
        "trainable_params": trace.trainable_params,
        "macs": dim_json(trace.macs),
        "activation_bytes": dim_json(activation_bytes(trace)),
        "layers": [layer_json(i) for i in trace.walk()],
        "constraints": [str(c) for c in trace.constraints],
        "min_input_size": trace.min_size or None,
    }


def totals_line(trace: ShapeTrace) -> str:
    return (
        f"input {fmt_shape(trace.input_shape)} -> output {fmt_shape(trace.output_shape)}, "
        f"{trace.params:,} params, {human(trace.macs)} MACs"
    )


def _spatial_dims(info: LayerInfo) -> int:
    """How many spatial dims the layer works on (``Conv2d`` -> 2), for ``3`` -> ``3x3``."""
    match = _SPATIAL.search(info.type)
    return int(match.group(1)) if match else 1


def _arg_text(value: Any, n: int, *, square: bool = False) -> str:
    """``3`` -> ``3x3`` for a kernel (``square``), ``3`` for a stride; ``[1, 2]`` -> ``1x2``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if not square and len(set(values)) == 1:
        return str(values[0])
    return "x".join(str(v) for v in values)


def argument_cells(info: LayerInfo) -> tuple[str, str, str]:
    """Kernel, stride and padding of a layer as the table shows them (blank where it has none).

    A pool's stride defaults to its kernel (torch's rule), and is shown so.
    """
    kwargs = info.kwargs or {}
    if not info.is_leaf or "kernel_size" not in kwargs:
        return "", "", ""
    n = _spatial_dims(info)
    kernel = kwargs.get("kernel_size")
    stride = kwargs.get("stride", 1)
    if stride is None:
        stride = kernel
    return _arg_text(kernel, n, square=True), _arg_text(stride, n), _arg_text(kwargs.get("padding", 0), n)


def visible_rows(trace: ShapeTrace, depth: int | None = None) -> Iterator[LayerInfo]:
    """The modules a table shows: all of them, or those less than ``depth`` levels deep.

    Like torchinfo's ``depth``: ``1`` shows the top-level layers and blocks
    only, each block's row carrying the totals of what it holds.
    """
    for info in trace.walk():
        if depth is None or info.depth < depth:
            yield info


def table(trace: ShapeTrace, *, depth: int | None = None, arguments: bool = False) -> str:
    """The per-layer table ``cnnspec validate`` and ``summary`` print.

    ``depth`` hides modules nested deeper (blocks keep their totals);
    ``arguments`` adds each layer's kernel, stride and padding (``summary``).
    """
    head = ("Layer", "Type", "Output shape", "Params", "MACs", "RF")
    rows = [(*head[:3], "Kernel", "Stride", "Padding", *head[3:]) if arguments else head]
    for info in visible_rows(trace, depth):
        indent = "  " * info.depth
        cells = [indent + info.name, info.type, fmt_shape(info.output_shape)]
        if arguments:
            cells += argument_cells(info)
        cells += [f"{info.params:,}", human(info.macs), _rf_text(info.rf)]
        rows.append(tuple(cells))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {6, 7} if arguments else {3, 4}
    lines = []
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("-" * len(lines[0]))
    lines.append("-" * len(lines[0]))
    lines.append(f"Total params: {trace.params:,}")
    if trace.trainable_params != trace.params:
        lines.append(f"Trainable:    {trace.trainable_params:,} (the rest frozen)")
    lines.append(f"Total MACs:   {trace.macs:,}" if isinstance(trace.macs, int) else f"Total MACs:   {trace.macs}")
    lines.append(f"Activations:  {human_bytes(activation_bytes(trace))} per sample (float32)")
    lines.append(f"Parameters:   {human_bytes(trace.params * BYTES_PER_VALUE)} (float32)")
    if trace.min_size:
        sizes = ", ".join(f"{k} >= {v}" for k, v in trace.min_size.items())
        lines.append(f"Valid input:  {sizes} (smallest sizes that fit every layer)")
    return "\n".join(lines)
