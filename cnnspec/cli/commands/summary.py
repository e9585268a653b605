"""``cnnspec summary FILE [--depth N] [--torchinfo]``: the static table, optionally
side by side with torchinfo's view of the built model, totals checked.

Each layer's kernel, stride and padding are shown next to its output shape;
``--depth N`` keeps the first N levels of nesting (like torchinfo's
``depth``), each block's row carrying the totals of what it holds."""

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
    p.add_argument("--depth", type=_depth, default=None, metavar="N",
                   help="show N levels of nesting (1: the top-level layers and blocks only; default: all)")
    p.add_argument("--torchinfo", action="store_true",
                   help="also build the model and compare with torchinfo (imports torch)")
    p.set_defaults(func=run)


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of levels, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"depth must be at least 1 (the top-level layers), got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from cnnspec.shapes.report import table, totals_line
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    spec = load_spec(args.file, overrides=args.overrides)
    trace = infer_shapes(spec)  # a shape error is reported with its fix-its by the CLI
    print(f"{args.file}: {totals_line(trace)}")
    print(table(trace, depth=args.depth, arguments=True))
    if args.torchinfo:
        from cnnspec.build.compare import compare

        report = compare(trace)
        print()
        print(report.text)
        if not report.ok:
            raise CnnspecError("static inference and torchinfo disagree (see above); this is a bug in cnnspec")
    return 0
