"""``cnnspec schema``: the JSON Schema of the spec language, for editors.

Includes every registered layer type, plugin layers too. Point an editor at
it with a first line ``# yaml-language-server: $schema=cnnspec.schema.json``.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]

def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("schema", parents=[parents.plugins],
                       help="print the JSON Schema of specs", description=__doc__)
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnspec.spec.schema import spec_schema

    text = json.dumps(spec_schema(), indent=2, sort_keys=False) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        print(text, end="")
    return 0
