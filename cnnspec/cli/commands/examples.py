"""``cnnspec examples [NAME]``: the example specs that ship with cnnspec.

Without NAME, one line per example: its name and what it is. With NAME, the
spec's text (``cnnspec examples digits > my.yaml`` to start from one). Any
command that takes a SPEC accepts an example's name: ``cnnspec train digits``
trains the main job after a plain ``pip install``.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import CnnspecError

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]


def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("examples", parents=[parents.format()], help="list the example specs, or print one",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", metavar="NAME", help="print this example's spec")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnspec.load.examples import find_example, list_examples
    from cnnspec.names import suggest
    from cnnspec.render import escape

    examples = list_examples()
    if args.name:
        example = find_example(args.name)
        if example is None:
            close = suggest(args.name, [e.name for e in examples])
            raise CnnspecError(f"no example spec called '{args.name}'"
                               + (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""),
                               hint="cnnspec examples lists them")
        if args.format == "json":
            print(json.dumps({"name": example.name, "path": str(example.path),
                              "text": example.path.read_text(encoding="utf-8")}))
        else:
            print(example.path.read_text(encoding="utf-8"), end="")
        return 0
    if args.format == "json":
        print(json.dumps([{"name": e.name, "path": str(e.path), "summary": e.summary} for e in examples]))
        return 0
    width = max((len(e.name) for e in examples), default=4)
    for e in examples:
        print(escape(f"{e.name:<{width}}  {e.summary}"))
    if examples:
        print(f"\n{len(examples)} example specs in {examples[0].path.parent}; "
              "use a name as the SPEC: cnnspec train digits")
    return 0
