"""``cnnspec resolve SPEC [--blame]``: the spec after extends, vars and --set.

Prints the fully resolved spec (defaults of the data/train sections filled
in) as YAML or JSON. With ``--blame`` every value carries where it came from:
``file:line``, ``--set[i]`` or ``(default)``. A spec that composes but does
not validate is still printed, then its errors; the exit status is 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import SpecError

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]

def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("resolve", parents=[*parents.spec(), parents.format(("yaml", "json"))],
                       help="print the spec after extends/vars/--set (with --blame)",
                       description=__doc__)
    p.add_argument("file", metavar="SPEC")
    p.add_argument("--blame", action="store_true", help="show where every value came from")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnspec.load.blame import render_json, render_yaml, resolve
    from cnnspec.load.compose import compose_document
    from cnnspec.load.reader import load_document
    from cnnspec.spec import parse_spec

    composed = compose_document(load_document(args.file), args.overrides)
    error: SpecError | None = None
    config = None
    try:
        config = parse_spec(composed.document).config
    except SpecError as exc:
        error = exc
    data, origins = resolve(composed, config)
    shown = origins if args.blame else None
    if args.format == "json":
        sys.stdout.write(render_json(data, shown))
    else:
        files = composed.files
        header = f"{files[0]}" + (f" (extends {', '.join(files[1:])})" if len(files) > 1 else "")
        if args.overrides:
            header += " with " + " ".join(f"--set {o}" for o in args.overrides)
        sys.stdout.write(render_yaml(data, shown, header=f"resolved: {header}"))
    sys.stdout.flush()
    if error is not None:
        from cnnspec.cli.main import report_error

        print(report_error(error), file=sys.stderr)
        return 2
    return 0
