"""``cnnspec summary FILE [--torchinfo]``: the static table, optionally
side by side with torchinfo's view of the built model, totals checked."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import CnnspecError

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]

def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("summary", parents=[*parents.spec()],
                       help="per-layer shapes, params, MACs, receptive field",
                       description=__doc__)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--torchinfo", action="store_true",
                   help="also build the model and compare with torchinfo (imports torch)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnspec.shapes.report import table, totals_line
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    spec = load_spec(args.file, overrides=args.overrides)
    trace = infer_shapes(spec)  # a shape error is reported with its fix-its by the CLI
    print(f"{args.file}: {totals_line(trace)}")
    print(table(trace))
    if args.torchinfo:
        from cnnspec.build.compare import compare

        report = compare(trace)
        print()
        print(report.text)
        if not report.ok:
            raise CnnspecError("static inference and torchinfo disagree (see above); this is a bug in cnnspec")
    return 0
