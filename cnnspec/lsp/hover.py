"""Hover: what a layer does to its input, with the arithmetic; where a composed value comes from.

On a layer: its output shape (and, for a fixed input, the same shape as a
formula of the input size H, W; for a symbolic input, its value at the
smallest size that fits), its input, parameters, MACs, receptive field, and
torch's output-size formula with the numbers filled in. On one of its
arguments, also that argument's type, default and meaning. On ``extends:``,
what each base contributes; on ``${vars.x}``, the variable's value and
where it is defined. Markdown, as editors render it.
"""

from __future__ import annotations

import re
from pathlib import Path

from cnnspec.layer import fmt_shape
from cnnspec.load.blame import resolve
from cnnspec.lsp.analysis import Analysis, same_file
from cnnspec.lsp.index import entry_at, layers_at, symbolic_shapes, variables
from cnnspec.lsp.signatures import model_arguments
from cnnspec.lsp.text import Span
from cnnspec.render import escape
from cnnspec.shapes.arithmetic import conv_arithmetic, dim_names, ntuple, pool_arithmetic
from cnnspec.shapes.report import human
from cnnspec.shapes.trace import LayerInfo
from cnnspec.shapes.walker import shape_at

__all__ = ["formula_lines", "hover"]

_REF = re.compile(r"\$\{\s*vars\.([A-Za-z_][A-Za-z0-9_]*)[^}]*\}")
_SPATIAL = re.compile(r"([123])d$", re.IGNORECASE)


def _code(text: str) -> str:
    return f"`{escape(text)}`"


def formula_lines(info: LayerInfo) -> list[str]:
    """torch's output-size arithmetic of a convolution or pooling layer, per spatial dim, numbers filled in."""
    kw = info.kwargs or {}
    if "kernel_size" not in kw or not info.is_leaf:
        return []
    match = _SPATIAL.search(info.type)
    n = int(match.group(1)) if match else len(info.input_shape) - 1
    sizes = info.input_shape[-n:]
    kernel = ntuple(kw["kernel_size"], n)
    stride = ntuple(kw.get("stride") if kw.get("stride") is not None else kw["kernel_size"], n)
    dilation = ntuple(kw.get("dilation", 1), n)
    padding = kw.get("padding", 0)
    if padding == "same":
        return ["padding='same': each output size equals the input size"]
    pads = ntuple(0 if padding == "valid" else padding, n)
    pool = "pool" in info.type.lower()
    out = []
    for name, size, k, s, p, d in zip(dim_names(n), sizes, kernel, stride, pads, dilation):
        if pool:
            text = pool_arithmetic(size, k, s, p, d, bool(kw.get("ceil_mode")))
        else:
            text = conv_arithmetic(size, k, s, p, d)
        out.append(f"{name}: {_code(text)}")
    return out


def _params_line(info: LayerInfo) -> str:
    kw = info.kwargs or {}
    if not info.is_leaf or not info.params:
        return ""
    if "out_channels" in kw and "kernel_size" in kw:
        k = ntuple(kw["kernel_size"], len(info.input_shape) - 1)
        groups = kw.get("groups", 1)
        prod = "·".join(map(str, k))
        bias = f" + {kw['out_channels']}" if kw.get("bias", True) else ""
        return f"params: `{kw['out_channels']}·({kw.get('in_channels')}/{groups})·{prod}{bias} = {info.params:,}`"
    if "out_features" in kw and "in_features" in kw:
        bias = f" + {kw['out_features']}" if kw.get("bias", True) else ""
        return f"params: `{kw['in_features']}·{kw['out_features']}{bias} = {info.params:,}`"
    return ""


def _rf(info: LayerInfo) -> str:
    if info.rf == "global":
        return "global"
    return "x".join(map(str, info.rf)) if info.rf else "-"


def _layer_markdown(analysis: Analysis, infos: list[LayerInfo]) -> str:
    info = infos[-1]
    title = f"**{escape(info.type) if info.is_leaf else info.kind}** `{escape(info.name)}`"
    lines = [f"{title} — module `{escape(info.qualname)}`", ""]
    if len(infos) > 1:
        lines.append(f"repeated {len(infos)} times: " + " → ".join(_code(fmt_shape(i.output_shape)) for i in infos))
    lines.append(f"output {_code(fmt_shape(info.output_shape))} from input {_code(fmt_shape(info.input_shape))}")
    trace = analysis.any_trace
    symbolic = symbolic_shapes(analysis)
    if trace is not None and trace.symbols and trace.min_size:
        env = dict(trace.min_size)
        lines.append(f"at the smallest input ({', '.join(f'{k}={v}' for k, v in env.items())}): "
                     + _code(fmt_shape(shape_at(info.output_shape, env))))
    elif info.qualname in symbolic and symbolic[info.qualname] != info.output_shape:
        lines.append(f"for any input size: {_code(fmt_shape(symbolic[info.qualname]))}")
    macs = sum((i.macs for i in infos), 0) if len(infos) > 1 else info.macs
    lines.append(f"params {info.params:,} · MACs {human(macs)} · receptive field {_rf(info)}")
    formula = formula_lines(info)
    params = _params_line(info)
    if formula or params:
        lines.append("")
        lines += [f"- {f}" for f in formula] + ([f"- {params}"] if params else [])
    if info.layer_type is not None and info.layer_type.doc:
        lines += ["", escape(info.layer_type.doc)]
    return "  \n".join(lines)


def _argument_markdown(info: LayerInfo, arg: str) -> str:
    if info.layer_type is None:
        return ""
    params = info.layer_type.params
    for a in model_arguments(params, tuple(getattr(params, "inferred", ()))):
        if a.name == arg:
            value = (info.kwargs or {}).get(arg)
            used = f" — here {_code(str(value))}" if value is not None else ""
            doc = f": {escape(a.doc)}" if a.doc else ""
            return f"**{a.name}** ({escape(a.describe())}){used}{doc}"
    return ""


def _extends_markdown(analysis: Analysis) -> str:
    composed = analysis.composed
    if composed is None:
        return ""
    _, origins = resolve(composed)
    by_key: dict[str, dict[str, int]] = {}
    for path, origin in origins.items():
        if len(path) < 1 or origin.location is None:
            continue
        source = "this file" if same_file(origin.location.file, analysis.file) else origin.location.file
        counts = by_key.setdefault(str(path[0]), {})
        counts[source] = counts.get(source, 0) + 1
    bases = composed.files[1:]
    lines = ["**extends** — " + ", ".join(_code(b) for b in bases), ""]
    for key, counts in by_key.items():
        parts = ", ".join(f"{escape(src)} ({n})" for src, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        lines.append(f"- `{escape(key)}`: {parts}")
    return "  \n".join(lines)


def _var_markdown(analysis: Analysis, name: str) -> str:
    var = variables(analysis).get(name)
    if var is None:
        return f"`vars.{escape(name)}` is not defined"
    where = f"{Path(var.location.file).name}:{var.location.line}" if var.location else "?"
    value = repr(var.value) if not isinstance(var.value, (list, dict)) else str(var.value)
    if len(value) > 200:
        value = value[:200] + "..."
    return f"**vars.{escape(name)}** = {_code(value)}  \ndefined at {escape(where)}"


def var_at(line_text: str, col: int) -> tuple[str, int, int] | None:
    """The ``${vars.NAME}`` reference covering ``col``: the name and the reference's span."""
    for m in _REF.finditer(line_text):
        if m.start() <= col <= m.end():
            return m.group(1), m.start(), m.end()
    return None


def hover(analysis: Analysis, line: int, col: int) -> tuple[str, Span] | None:
    """Markdown and the range it is about, or ``None`` when there is nothing to say."""
    if not analysis.parsed or line >= len(analysis.lines):
        return None
    text = analysis.lines[line]
    ref = var_at(text, col)
    if ref is not None:
        return _var_markdown(analysis, ref[0]), Span(line, ref[1], line, ref[2])
    entry = entry_at(analysis, line, col)
    if entry is not None and entry.path[:1] == ("extends",):
        md = _extends_markdown(analysis)
        return (md, entry.span) if md else None
    found = layers_at(analysis, line, col)
    if found is None:
        return None
    path, infos = found
    md = _layer_markdown(analysis, infos)
    if entry is not None and entry.key and len(entry.path) == len(path) + 2:
        arg = _argument_markdown(infos[-1], str(entry.path[-1]))
        if arg:
            md = arg + "\n\n---\n\n" + md
    span = entry.span if entry is not None else Span(line, 0, line, len(text))
    return md, span

