"""``cnnspec runs [DIR]``: the runs under DIR (default ``runs``) side by side.

One row per run directory: name, start time, status (completed, stopped,
interrupted, diverged, failed, unfinished), epochs done of planned, the best
validation loss and accuracy, the test accuracy, parameters, training time,
and what its spec changes from the first run's (key by key, old → new).
``--sort`` orders by a column or metric (accuracies best first);
``--format json`` prints the same as JSON. ``--plot METRIC`` writes one PNG
with every run's per-epoch curve of METRIC overlaid (``-o`` chooses the file;
default ``DIR/<metric>.png``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]


def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("runs", parents=[parents.format()], help="compare the runs in a folder; plot their curves",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("directory", nargs="?", default="runs", metavar="DIR", help="where the runs are (default: runs)")
    p.add_argument("--sort", default="started", metavar="KEY",
                   help="started (default), name, status, epochs, params, time, best_val_loss, best_val_acc, "
                        "test_loss, test_acc, or any metric of final.json")
    p.add_argument("--reverse", action="store_true", help="reverse the order --sort gives")
    p.add_argument("--plot", metavar="METRIC", help="write the runs' curves of METRIC (val_acc, train_loss, ...)")
    p.add_argument("-o", "--output", metavar="FILE", help="with --plot: the PNG to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnspec.exceptions import CnnspecError
    from cnnspec.results import collect_runs, format_runs, plot_curves, sort_runs

    root = Path(args.directory)
    if not root.is_dir():
        raise CnnspecError(f"runs {root}: no such directory", hint="give the folder your runs are in (--runs-root "
                                                                   "of cnnspec train; default runs)")
    runs = collect_runs(root)
    default_order = args.sort == "started"
    ordered = sort_runs(runs, args.sort, reverse=None if not args.reverse else not _natural(args.sort)) \
        if not default_order else (list(reversed(runs)) if args.reverse else runs)
    if args.plot:
        output = Path(args.output) if args.output else root / f"{args.plot}.png"
        path, drawn = plot_curves(ordered, args.plot, output)
        print(f"wrote {path}: {args.plot} of {len(drawn)} run(s)")
        return 0
    if args.format == "json":
        print(json.dumps([r.to_dict() for r in ordered]))
        return 0
    print(format_runs(ordered))
    return 0


def _natural(key: str) -> bool:
    """Whether ``key`` sorts descending by default (accuracies, counts)."""
    return key.endswith("_acc") or key in ("epochs", "params", "time")
