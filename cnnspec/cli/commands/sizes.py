"""``cnnspec sizes SPEC [--range 1..1024] [--check N]``: the input sizes a spec accepts.

For symbolic inputs (``[3, H, W]``) the symbols vary; for a fixed input the
spatial dims do, with the inferred feature counts pinned as the built model
has them. All varied dims take the same size n unless ``--vary``/``--fix``
say otherwise. Prints the minimum valid size (and why one less fails), the
valid sizes as intervals, and their period when the set is periodic.
``--check N`` explains one size: valid, or the first layer where it
collapses, with the arithmetic; exit 2 if a checked size is invalid.
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
    p = sub.add_parser("sizes", parents=[*parents.spec(), parents.format()],
                       help="which input sizes a spec accepts (minimum, set, period)",
                       description=__doc__)
    p.add_argument("file", metavar="SPEC")
    p.add_argument("--range", default="1..1024", metavar="LOW..HIGH", help="sizes to scan (default 1..1024)")
    p.add_argument("--check", type=int, action="append", default=[], metavar="N", help="explain size N (repeatable)")
    p.add_argument("--vary", action="append", default=[], metavar="DIM", help="vary only DIM (e.g. H; repeatable)")
    p.add_argument("--fix", action="append", default=[], metavar="DIM=N", help="hold DIM at N")
    p.set_defaults(func=run)


def _fixed(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit() or int(value) < 1:
            raise SpecError(f"--fix {item!r}: expected DIM=N with N >= 1, e.g. --fix W=64")
        out[name.strip()] = int(value)
    return out


def _intervals_text(intervals: list[tuple[int, int]], limit: int = 8) -> str:
    parts = [f"{a}" if a == b else f"{a}..{b}" for a, b in intervals]
    if len(parts) > limit:
        parts = [*parts[: limit - 2], "...", *parts[-2:]]
    return ", ".join(parts)


def run(args: argparse.Namespace) -> int:
    from cnnspec.analysis.sizes import SizeProbe, parse_range, scan
    from cnnspec.layer import fmt_shape
    from cnnspec.render import indent, render_error
    from cnnspec.spec import load_spec

    lo, hi = parse_range(args.range)
    spec = load_spec(args.file, overrides=args.overrides)
    probe = SizeProbe.create(spec, args.vary, _fixed(args.fix))
    report = scan(probe, lo, hi)
    checks = []
    for n in args.check:
        if n < 1:
            raise SpecError(f"--check {n}: sizes start at 1")
        error = probe.check(n)
        checks.append((n, error, None if error else probe.trace(n).output_shape))
    if args.format == "json":
        out = report.to_json()
        out["checks"] = [{"size": n, "valid": e is None, "error": e.to_dict() if e else None,
                          "output_shape": None if shape is None else list(shape)} for n, e, shape in checks]
        print(json.dumps(out, indent=2))
    else:
        print(f"{args.file}: input {fmt_shape(spec.input)}; {probe.label} for n in {lo}..{hi}")
        if probe.own_size_error is not None:
            print(f"the spec is invalid at its own size {fmt_shape(spec.input)}; "
                  "inferred counts are left free (see the sizes that work below)")
        if probe.size_dependent:
            print("as built at the spec's size: "
                  + ", ".join(f"{k}={v}" for k, v in probe.size_dependent.items()))
        m = report.minimum
        if m is None:
            print(f"no valid size in {lo}..{hi}")
        else:
            print(f"minimum size: {m}")
            if report.below_minimum is not None:
                print(f"  n = {m - 1} fails: " + indent(render_error(report.below_minimum)).lstrip())
            print(f"valid sizes: {report.count} of {hi - lo + 1}: {_intervals_text(report.intervals)}")
            period = report.period
            if period is not None:
                print(f"periodic: {period}")
        for n, error, shape in checks:
            if error is None:
                print(f"size {n}: valid, output {fmt_shape(shape)}")
                continue
            below, above = report.nearest(n)
            print(f"size {n}: invalid")
            print(indent(render_error(error)))
            near = [f"{below} below" if below else "", f"{above} above" if above else ""]
            if any(near):
                print("  nearest valid sizes: " + ", ".join(x for x in near if x))
    if report.minimum is None or any(e is not None for _, e, _ in checks):
        return 2
    return 0
