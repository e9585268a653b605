"""``cnnspec sweep SPEC``: many runs of one spec, searched with Optuna, on one machine or many.

  cnnspec sweep specs/digits.yaml --epochs 2 \\
      --sweep 'train.optimizer.adamw.lr=loguniform(1e-4,1e-1)' \\
      --sweep 'model[0].conv2d.out_channels=choice(16,32,64)' --sweep 'seed=range(3)' --trials 12

The space comes from --sweep KEY=DIST and the spec's sweep: section
(docs/sweeps.md). Every key path, every dimension and the space as a whole
are checked statically before anything trains; --check stops there. Results
go to --dir (default sweeps/<spec name>): the study (study.db), one run
directory per trial under trials/, best.yaml (the best trial's spec, plain)
and plots/. The same command resumes a sweep that was stopped or killed;
--jobs N runs N trials at a time; --storage URL shares the study between
machines. ``cnnspec sweep --status DIR`` ranks the trials.

Exit codes: 0 done, 2 a mistake in the spec, the space or the options
(nothing was trained because of it), 130/143 interrupted by SIGINT/SIGTERM
(the running trials run again on resume), 1 an internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run", "worker_command"]


def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("sweep", parents=[*parents.spec(), parents.format()],
                       help="many runs of one spec, searched with Optuna; --status ranks them",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="SPEC", nargs="?", help="the base spec (not needed with --status)")
    p.add_argument("--sweep", dest="sweeps", action="append", default=[], metavar="KEY=DIST",
                   help="a dimension, e.g. train.optimizer.adamw.lr=loguniform(1e-4,1e-1), "
                        "model[0].conv2d.out_channels=choice(16,32,64), seed=range(5) (repeatable)")
    p.add_argument("--trials", type=int, default=None, metavar="N",
                   help="points to train in all (default: the whole grid; 20 for random and tpe)")
    p.add_argument("--dir", default=None, metavar="DIR", help="the sweep directory (default: sweeps/<spec name>)")
    p.add_argument("--epochs", type=int, default=None, metavar="N", help="same as --set train.epochs=N")
    p.add_argument("--device", default=None, metavar="DEVICE", help="as for train: auto, cpu, cuda, cuda:N, mps")
    p.add_argument("--sampler", choices=("grid", "random", "tpe"), default=None,
                   help="default: grid when every dimension lists its values and --trials is not given, else tpe")
    p.add_argument("--objective", default=None, metavar="METRIC", help="the metric to optimise (default val_loss)")
    p.add_argument("--direction", choices=("minimize", "maximize"), default=None,
                   help="default: maximize for *_acc metrics, minimize otherwise")
    p.add_argument("--pruner", default=None, metavar="NAME",
                   help="stop poor trials after an epoch: median, percentile, successive_halving, hyperband, none")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="trials at a time on this machine (processes)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="share the study: an SQLAlchemy URL (postgresql://...) or journal:PATH (default: DIR/study.db)")
    p.add_argument("--study", default=None, metavar="NAME", help="the study's name in the storage (default: spec name)")
    p.add_argument("--nproc-per-trial", type=int, default=1, metavar="N",
                   help="train each trial as a torchrun job of N processes (DDP)")
    p.add_argument("--check", action="store_true", help="check the spec and the space, print the plan, train nothing")
    p.add_argument("--status", default=None, metavar="DIR", help="rank the trials of the sweep in DIR")
    p.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def worker_command(args: argparse.Namespace, index: int, directory: Path) -> list[str]:
    """The command line of worker ``index`` of a ``--jobs`` sweep: this one, as a worker."""
    cmd = [sys.executable, "-m", "cnnspec"]
    for plugin in getattr(args, "plugin_options", []) or []:
        cmd += ["-p", plugin]
    cmd += ["sweep", str(Path(args.file).resolve()) if Path(args.file).exists() else args.file,
            "--dir", str(directory), "--jobs", str(args.jobs), "--worker-index", str(index),
            "--format", args.format, "--nproc-per-trial", str(args.nproc_per_trial)]
    for flag in ("sweeps", "overrides"):
        for value in getattr(args, flag):
            cmd += ["--sweep" if flag == "sweeps" else "--set", value]
    for option in ("trials", "epochs", "device", "sampler", "objective", "direction", "pruner", "storage", "study"):
        value = getattr(args, option)
        if value is not None:
            cmd += [f"--{option}", str(value)]
    return cmd


class _WorkerFailed(Exception):
    """A --jobs worker exited with a mistake (it printed the message); carries its exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _positive(name: str, value: int | None) -> None:
    from cnnspec.exceptions import CnnspecError

    if value is not None and value < 1:
        raise CnnspecError(f"{name} must be >= 1, got {value}")


def _print_results(args: argparse.Namespace, results: Any, directory: Path, storage: str, best: Path | None,
                   plots: list[Path]) -> None:
    from cnnspec.sweep.report import format_status

    if args.format == "json":
        best_row = results.best
        payload = {"directory": str(directory), "study": results.name, "storage": storage,
                   "objective": results.objective, "counts": results.counts(),
                   "best": best_row.to_json() if best_row else None, "best_spec": str(best) if best else None,
                   "plots": [str(p) for p in plots], "trials": [r.to_json() for r in results.rows]}
        from cnnspec.engine.rundir import jsonable

        print(json.dumps(jsonable(payload), allow_nan=False), flush=True)
    else:
        print(format_status(results, directory=directory, storage=storage, best_file=best, plots=plots), flush=True)


def run(args: argparse.Namespace) -> int:
    from cnnspec.exceptions import CnnspecError
    from cnnspec.sweep import session
    from cnnspec.sweep.plan import Options

    for name in ("--trials", "--epochs", "--jobs", "--nproc-per-trial"):
        _positive(name, getattr(args, name[2:].replace("-", "_")))
    if args.status is not None:
        results, storage, _, best, plots = session.status(Path(args.status), args.storage)
        _print_results(args, results, Path(args.status).resolve(), storage, best, plots)
        return 0
    if not args.file:
        raise CnnspecError("cnnspec sweep needs a SPEC (or --status DIR)",
                           hint="e.g. cnnspec sweep specs/digits.yaml --sweep 'seed=range(3)'")
    options = Options(sweeps=args.sweeps, sampler=args.sampler, trials=args.trials, objective=args.objective,
                      direction=args.direction, pruner=args.pruner)
    req = session.SweepRequest(args.file, overrides=list(args.overrides), epochs=args.epochs, device=args.device,
                               directory=Path(args.dir) if args.dir else None, storage=args.storage,
                               study=args.study, jobs=args.jobs, nproc=args.nproc_per_trial, options=options,
                               worker=args.worker_index, argv=["cnnspec", "sweep", args.file])
    prep = session.prepare(req)
    info = sys.stderr if args.format == "json" else sys.stdout
    main = args.worker_index is None
    if main:
        from cnnspec.render import render_warning
        from cnnspec.sweep.report import format_plan

        report = prep.report
        valid = len(report.grid) if report and report.grid is not None else \
            (report.tried - len(report.invalid) if report else None)
        print(format_plan(prep.plan, name=prep.name, directory=prep.directory, storage=prep.ref.shown,
                          valid=valid, tried=report.tried if report else 0), file=info, flush=True)
        for note in (report.notes if report else [])[:10]:
            print(render_warning(note), file=sys.stderr)
        if args.check:
            print("check: ok, nothing trained", file=info, flush=True)
            return 0
    existed = prep.directory.exists()
    study, created = session.open_sweep(prep, req)
    code = 0
    try:
        if main and args.jobs > 1:
            from cnnspec.sweep.parallel import run_workers, worker_environment

            threads = bool(prep.variants.base.train and prep.variants.base.train.threads)
            commands = [worker_command(args, i, prep.directory) for i in range(args.jobs)]
            envs = [worker_environment(i, args.jobs, device=args.device, threads_set=threads)
                    for i in range(args.jobs)]
            code = run_workers(commands, envs)
            if code in (1, 2):
                raise _WorkerFailed(code)
        else:
            summary = session.work(prep, study, req, out=info)
            if summary.interrupted:
                from cnnspec.engine.signals import exit_code

                print(f"stopped ({summary.interrupted}); the same command resumes the sweep", file=sys.stderr)
                return exit_code(summary.interrupted)
    except KeyboardInterrupt:
        print("interrupted: the running trial runs again when the sweep resumes (same command)", file=sys.stderr)
        return 130
    except (CnnspecError, _WorkerFailed) as exc:
        if main and created and session.discard_if_untrained(study, prep, dir_existed=existed):
            print("nothing was trained; the sweep was not kept, so the corrected command starts afresh",
                  file=sys.stderr)
        if isinstance(exc, _WorkerFailed):
            return exc.code
        raise
    if main:
        results, best, plots = session.finish(study, prep.directory, list(prep.plan.dims))
        _print_results(args, results, prep.directory, prep.ref.shown, best, plots)
    return code
