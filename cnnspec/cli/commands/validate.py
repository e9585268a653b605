"""``cnnspec validate FILE...``: the static check, a linter for specs.

Imports no torch. Text output is a per-layer table per file; ``--format
json`` prints one JSON object per file per line. Exit 2 if any spec is
invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import SpecError

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]

def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("validate", parents=[*parents.spec(), parents.format()],
                       help="check specs statically and print their shapes",
                       description=__doc__)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="text: print only errors and a one-line verdict")
    p.set_defaults(func=run)


def check(file: str, overrides: list[str]) -> dict[str, Any]:
    """The JSON report for one file (``valid`` false with ``errors`` on failure)."""
    from cnnspec.analysis.consistency import check_spec
    from cnnspec.shapes.report import trace_json
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    spec = None
    try:
        spec = load_spec(file, overrides=overrides)
        trace = infer_shapes(spec)
        check_spec(spec, trace)  # the model against its dataset and loss
    except SpecError as exc:
        from cnnspec.analysis.fixits import fixes_for

        errors = [e.to_dict() for e in exc.all_errors()]
        fixes = fixes_for(spec, exc)
        errors[0]["fixes"] = [f.to_dict() for f in fixes]
        return {"file": file, "valid": False, "input_shape": None, "output_shape": None, "params": None,
                "macs": None, "layers": [], "errors": errors, "_exc": exc, "_fixes": fixes}
    return {"file": file, "valid": True, **trace_json(trace), "errors": [], "_trace": trace}


def run(args: argparse.Namespace) -> int:
    from cnnspec.shapes.report import table, totals_line

    ok = True
    for n, file in enumerate(args.files):
        result = check(file, args.overrides)
        ok &= result["valid"]
        exc, trace, fixes = result.pop("_exc", None), result.pop("_trace", None), result.pop("_fixes", [])
        if args.format == "json":
            print(json.dumps(result), flush=True)
            continue
        if exc is not None:
            from cnnspec.render import render_error

            print(render_error(exc, fixes), file=sys.stderr, flush=True)
            continue
        if args.quiet:
            print(f"{file}: ok — {totals_line(trace)}")
        else:
            if n:
                print()
            print(f"{file}: ok — {totals_line(trace)}")
            print(table(trace))
    _warn_broken_plugins()
    return 0 if ok else 2


def _warn_broken_plugins() -> None:
    """One line on stderr per broken plugin: specs that need it fail, others pass."""
    from cnnspec.plugins.manager import get_plugins

    seen: set[str] = set()
    for broken in get_plugins().broken:
        if broken.name not in seen:
            seen.add(broken.name)
            print(f"warning: {broken.describe()} (see `cnnspec plugins`)", file=sys.stderr)
