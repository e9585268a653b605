"""``cnnspec export SPEC [--checkpoint PATH] --format pt2|onnx [-o FILE]``.

Writes the spec's model as a ``torch.export`` program (``.pt2``) or an ONNX
graph, with a dynamic batch dimension, then reads the file back and runs it
on random inputs at other batch sizes against the eager model, printing the
largest absolute difference. ``--checkpoint`` is a weights file (a bare
state_dict or a checkpoint with a ``model`` entry) or a run directory (its
best checkpoint, or its newest with ``--weights last``); without it the spec's seeded initial weights are
exported. Exit 0 when the check passes, 1 when the exported model disagrees
beyond the tolerance, 2 for a mistake (spec, checkpoint, missing packages).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]

def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("export", parents=[*parents.spec()],
                       help="export the model to .pt2 (torch.export) or ONNX, checked",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="SPEC")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="weights file or run directory (its best checkpoint; default: untrained weights)")
    p.add_argument("--weights", choices=("best", "last"), default="best",
                   help="with a run directory: its best checkpoint (default) or the newest one")
    p.add_argument("--format", dest="fmt", choices=("pt2", "onnx"), default="pt2", help="default: pt2")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write (default: <spec name>.<format>)")
    p.add_argument("--tolerance", type=float, default=1e-4, metavar="TOL",
                   help="largest allowed |exported - eager|, relative to the largest output magnitude "
                        "(default 1e-4)")
    p.add_argument("--opset", type=int, default=None, metavar="N", help="ONNX opset version (default: torch's)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnspec.build.export import export_model
    from cnnspec.layer import fmt_shape
    from cnnspec.shapes.report import human_bytes
    from cnnspec.spec import load_spec

    spec = load_spec(args.file, overrides=args.overrides)
    report = export_model(spec, fmt=args.fmt, checkpoint=args.checkpoint, output=args.output,
                          tolerance=args.tolerance, opset=args.opset, which=args.weights)
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0 if report.ok else 1
    verdict = "ok" if report.ok else "TOO LARGE"
    batches = " and ".join(str(b) for b in report.batches)
    print(f"{args.file}: exported to {report.path} ({args.fmt}, {human_bytes(report.size)})")
    print(f"  input  [batch, {', '.join(map(str, report.input_shape))}] (batch is dynamic) -> output "
          f"[batch, {fmt_shape(report.output_shape)[1:]}")
    print(f"  weights: {report.weights}")
    print(f"  check: {report.checked_with} vs eager torch on batches of {batches}: "
          f"max abs diff {report.max_abs_diff:.3g} (tolerance {report.tolerance:.3g}) — {verdict}")
    return 0 if report.ok else 1
