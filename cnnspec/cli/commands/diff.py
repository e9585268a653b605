"""``cnnspec diff A B``: a semantic diff of two specs and its consequences.

Layers added, removed or changed (old -> new per argument, inferred ones
included), layers affected only through their input, and the effect on
params, MACs, activation memory, output shape and receptive field, per layer
and in total. ``--set`` applies to both specs; ``--set-a``/``--set-b`` to
one, so ``cnnspec diff s.yaml s.yaml --set-b model[0].conv2d.stride=2`` shows
what an edit would do; ``--at N`` evaluates symbolic inputs at size N.
Static: imports no torch.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import SpecError

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]

def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("diff", parents=[*parents.spec(), parents.format()],
                       help="semantic diff of two specs: layers, fields, costs",
                       description=__doc__)
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--at", type=int, metavar="N", help="evaluate symbolic input dims (H, W...) at size N")
    p.add_argument("--set-a", dest="overrides_a", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value in A only")
    p.add_argument("--set-b", dest="overrides_b", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value in B only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnspec.analysis.diff import diff_specs, format_diff
    from cnnspec.spec import load_spec

    a = load_spec(args.a, overrides=[*args.overrides, *args.overrides_a])
    b = load_spec(args.b, overrides=[*args.overrides, *args.overrides_b])
    if args.at is not None and args.at < 1:
        raise SpecError(f"--at {args.at}: sizes start at 1")
    result = diff_specs(a, b, at=args.at)
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(format_diff(result))
    return 0
