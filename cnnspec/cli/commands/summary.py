"""``cnnspec summary FILE [--torchinfo]``: the static table, optionally
side by side with torchinfo's view of the built model, totals checked."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cnnspec.exceptions import CnnspecError, ShapeError

__all__ = ["register", "run"]

def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("summary", parents=[common], help="per-layer shapes, params, MACs, receptive field",
                       description=__doc__)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--torchinfo", action="store_true",
                   help="also build the model and compare with torchinfo (imports torch)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnspec.shapes.report import table, totals_line
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    spec = load_spec(args.file, overrides=args.overrides)
    try:
        trace = infer_shapes(spec)
    except ShapeError as exc:
        from cnnspec.analysis.fixits import fixes_for, format_error

        print(format_error(exc, fixes_for(spec, exc)), file=sys.stderr)
        return 2
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
