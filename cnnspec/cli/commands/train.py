"""``cnnspec train SPEC``: train the spec's model and leave a run directory.

Text output is the progress (a bar on a terminal, a line per epoch
otherwise) and where the results are. ``--format json`` sends the progress
to stderr and prints exactly one JSON object as the last stdout line: the
run directory and the final metrics. Exit codes: 0 trained (or stopped
early by a callback), 2 a mistake in the spec or the options, 3 the loss
became non-finite, 128 + the signal number when SIGINT (130) or SIGTERM
(143) stopped it (a checkpoint callback saved a resumable state: continue
with ``--resume RUN_DIR``), 1 an internal error or a failing callback.

Under ``torchrun --nproc_per_node=N -m cnnspec train SPEC`` the processes
train together (DistributedDataParallel); only rank 0 prints and writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["EXIT_DIVERGED", "EXIT_INTERRUPTED", "register", "run"]

EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130


def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("train", parents=[*parents.spec(), parents.format()],
                       help="train a spec's model; results go to a run directory",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="SPEC", nargs="?", help="the spec (optional with --resume: the checkpoint's)")
    p.add_argument("--epochs", type=int, default=None, metavar="N", help="same as --set train.epochs=N")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps; default: train.device")
    p.add_argument("--run-dir", default=None, metavar="DIR",
                   help="write the results here (default: runs/<spec name>/<UTC timestamp>)")
    p.add_argument("--runs-root", default="runs", metavar="DIR", help="parent of the default run directories")
    p.add_argument("--dry-run", action="store_true",
                   help="run 2 batches of train/val/test end to end in a temporary directory, keep nothing")
    p.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="continue RUN_DIR from its newest valid checkpoint; with a SPEC, start the run there when "
                        "there is nothing to resume yet; 'auto': --run-dir, or the spec's newest run under --runs-root "
                        "(see docs/checkpoints.md)")
    p.add_argument("--force", action="store_true",
                   help="with --resume: accept a spec that differs from the run's; with --run-dir: replace the "
                        "run that directory holds")
    p.set_defaults(func=run)


def _json_line(result: Any) -> str:
    from cnnspec.engine.rundir import jsonable

    payload = {"run_dir": str(result.run_dir) if result.run_dir is not None else None,
               "status": result.status, "stop_reason": result.stop_reason, "metrics": result.metrics}
    return json.dumps(jsonable(payload), allow_nan=False)


def _finished(point: Any, fmt: str) -> int:
    from cnnspec.engine.resume import finished_result

    if fmt == "json":
        print(_json_line(finished_result(point)), flush=True)
    else:
        print(point.describe(), file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from cnnspec.engine import CallbackError, train
    from cnnspec.engine.resume import cli_train_arguments, resume_hint
    from cnnspec.engine.signals import exit_code
    from cnnspec.exceptions import CnnspecError
    from cnnspec.render import render_error

    if args.epochs is not None and args.epochs < 1:
        raise CnnspecError(f"--epochs must be >= 1, got {args.epochs}")
    progress = {"stream": "stderr"} if args.format == "json" else None
    options = cli_train_arguments(args)
    if "finished" in options:  # nothing to train, nothing rewritten
        return _finished(options["finished"], args.format)
    try:
        result = train(options.pop("spec"), **options, device=args.device, runs_root=args.runs_root,
                       dry_run=args.dry_run, progress=progress, argv=["cnnspec", *sys.argv[1:]])
    except CallbackError as exc:  # a plugin's bug, not the user's: exit 1, but no traceback
        print(render_error(exc), file=sys.stderr)
        return 1
    main = result.trainer is None or result.trainer.is_main_process
    if main:
        if args.format == "json":
            print(_json_line(result), flush=True)
        elif args.dry_run:
            print(f"dry run ok: {result.trainer.steps_per_epoch if result.trainer else 0} batches per split "
                  "ran end to end; nothing was kept")
        elif result.status in ("interrupted", "diverged"):
            print(f"stopped ({result.stop_reason}); partial results in {result.run_dir}", file=sys.stderr)
            if result.status == "interrupted" and resume_hint(result.run_dir):
                print(resume_hint(result.run_dir), file=sys.stderr)
    if result.status == "diverged":
        return EXIT_DIVERGED
    if result.status == "interrupted":
        return exit_code(result.stop_reason, default=EXIT_INTERRUPTED)
    return 0
