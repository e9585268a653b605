"""Static inference side by side with torchinfo on the built model.

torchinfo runs a real forward pass; agreement on every leaf's output shape,
parameter count and MACs (and on the totals) is what "exact" means.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnspec.build import build_from_trace
from cnnspec.layer import fmt_shape
from cnnspec.shapes.report import human
from cnnspec.shapes.walker import ShapeTrace, infer_shapes

__all__ = ["Comparison", "compare"]


@dataclass
class Comparison:
    ok: bool
    text: str
    torchinfo_params: int
    torchinfo_macs: int


def compare(trace: ShapeTrace) -> Comparison:
    import torch
    import torchinfo

    if trace.min_size:
        trace = infer_shapes(trace.spec, input_shape=[trace.min_size.get(d, d) if isinstance(d, str) else d
                                                      for d in trace.spec.input])
    model = build_from_trace(trace).eval()
    names = {id(m): n for n, m in model.named_modules()}
    stats = torchinfo.summary(model, input_data=torch.zeros(1, *trace.input_shape), verbose=0, depth=100)
    every = {names[id(li.module)]: li for li in stats.summary_list if id(li.module) in names}
    leaves = {n: li for n, li in every.items() if li.is_leaf_layer}
    rows = [("Layer", "cnnspec shape", "torchinfo shape", "params", "torchinfo", "MACs", "torchinfo", "")]
    ok = True
    for info in trace.leaves():
        li = every.get(info.qualname)
        if li is None:
            rows.append((info.qualname, fmt_shape(info.output_shape), "(not run)", "", "", "", "", "?"))
            continue
        # a cnnspec layer may wrap a whole torch model (backbone): add up torchinfo's leaves inside it
        inside = [leaf for n, leaf in leaves.items() if n == info.qualname or n.startswith(info.qualname + ".")]
        params = sum(leaf.num_params for leaf in inside) if not li.is_leaf_layer else li.num_params
        macs = sum(leaf.macs for leaf in inside) if not li.is_leaf_layer else li.macs
        their_shape = tuple(li.output_size[1:])
        same = their_shape == tuple(info.output_shape) and params == info.params and macs == info.macs
        ok &= same
        rows.append((info.qualname, fmt_shape(info.output_shape), fmt_shape(their_shape), f"{info.params:,}",
                     f"{params:,}", human(info.macs), human(macs), "ok" if same else "MISMATCH"))
    totals_ok = (stats.total_params == trace.params and stats.total_mult_adds == trace.macs
                 and stats.trainable_params == trace.trainable_params)
    ok &= totals_ok
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append(
        f"totals: params {trace.params:,} vs torchinfo {stats.total_params:,}; "
        f"trainable {trace.trainable_params:,} vs {stats.trainable_params:,}; "
        f"MACs {trace.macs:,} vs torchinfo {stats.total_mult_adds:,} — {'agree' if totals_ok else 'DISAGREE'}"
    )
    return Comparison(ok, "\n".join(lines), stats.total_params, stats.total_mult_adds)
