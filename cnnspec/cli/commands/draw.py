"""``cnnspec draw SPEC [-o net.svg|net.png|net.dot] [--depth N]``: the architecture as a picture.

Drawn from the static trace (no torch): one box per layer with its type, key
arguments and output shape; residual and concat blocks as branches that
join; symbolic dims as expressions. ``--depth N`` draws blocks nested N
levels deep as one box each (like ``summary --depth``). SVG and PNG need
nothing installed; ``.dot`` is graphviz's language, for ``dot -Tpdf``.
``-o -`` writes the SVG (or ``--format dot``) to standard output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import CnnspecError

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of levels, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"depth must be at least 1 (the top-level layers), got {value}")
    return value


def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("draw", parents=[*parents.spec()], help="draw the architecture (SVG, PNG or DOT)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="picture to write: .svg, .png or .dot (default: SPEC's name with .svg; - for stdout)")
    p.add_argument("--format", dest="fmt", choices=("svg", "png", "dot"), default=None,
                   help="picture format (default: from the output's suffix)")
    p.add_argument("--depth", type=_depth, default=None, metavar="N",
                   help="draw blocks N levels deep as one box (1: the top-level layers and blocks; default: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnspec.draw import FORMATS, render
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    output = args.output or str(Path(Path(args.file).name).with_suffix(".svg"))
    fmt = args.fmt or ("svg" if output == "-" else FORMATS.get(Path(output).suffix.lower()))
    if fmt is None:
        raise CnnspecError(f"cannot tell the picture format of {output}",
                           hint="name the file .svg, .png or .dot, or give --format svg|png|dot")
    if output == "-" and fmt == "png":
        raise CnnspecError("a PNG is not written to the terminal", hint="give -o FILE.png")
    trace = infer_shapes(load_spec(args.file, overrides=args.overrides))
    data = render(trace, fmt, depth=args.depth)
    if output == "-":
        sys.stdout.write(data.decode())
        return 0
    from cnnspec.atomic import atomic_write

    target = Path(output)
    try:
        atomic_write(target, data)
    except OSError as exc:
        raise CnnspecError(f"cannot write {output}: {exc.strerror or exc}",
                           hint="check that its folder exists and is writable") from None
    boxes = sum(1 for _ in trace.walk())
    print(f"{output}: {fmt.upper()} of {trace.spec.name}, {boxes} modules"
          + (f" (depth {args.depth})" if args.depth else ""))
    return 0
