"""One ``cnnspec sweep`` command, start to end: check, join the study, work, report.

:func:`prepare` does everything static (the spec, the plan, every key path,
the space); :func:`open_sweep` opens the storage and creates or joins the
study; :func:`work` runs this process's worker loop; :func:`finish` ranks the
results, writes the best spec and the plots. ``--jobs N`` runs N worker
processes (:mod:`cnnspec.sweep.parallel`) between ``open_sweep`` and ``finish``.
The same command, run again, resumes: the study is joined, finished trials
are kept, lost ones run again.
"""

from __future__ import annotations

import os
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from cnnspec.exceptions import SweepError
from cnnspec.sweep.checks import SpaceReport, check_space
from cnnspec.sweep.liveness import STALE_AFTER_S, host_id
from cnnspec.sweep.plan import Options, Plan, make_plan
from cnnspec.sweep.storage import StorageRef, default_dir, open_storage, read_sweep_file, write_sweep_file
from cnnspec.sweep.variants import Variants

__all__ = ["Prepared", "SweepRequest", "discard_if_untrained", "finish", "open_sweep", "prepare", "status", "work"]


@dataclass
class SweepRequest:
    """What the command line asked for."""

    spec: str
    overrides: list[str] = field(default_factory=list)
    epochs: int | None = None
    device: str | None = None
    directory: Path | None = None
    storage: str | None = None
    study: str | None = None
    jobs: int = 1
    nproc: int = 1
    options: Options = field(default_factory=Options)
    worker: int | None = None  # this process is worker N of a --jobs sweep
    stale_after: float = STALE_AFTER_S
    argv: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """The checked sweep, before any storage is touched."""

    variants: Variants
    plan: Plan
    report: SpaceReport | None
    directory: Path
    name: str
    ref: StorageRef


def prepare(req: SweepRequest) -> Prepared:
    """Every static check; a mistake raises before the storage is opened or anything trains."""
    overrides = [*req.overrides, *([f"train.epochs={req.epochs}"] if req.epochs is not None else [])]
    variants = Variants(req.spec, overrides)
    plan = make_plan(variants.full, req.options)
    directory = (req.directory or default_dir(variants.base.name)).resolve()
    storage = req.storage
    name = req.study or variants.base.name
    if (directory / "sweep.json").is_file():
        record = read_sweep_file(directory)
        if storage is None:
            storage = record.get("storage")
        elif record.get("storage") not in (None, storage):
            raise SweepError(f"{directory} belongs to the sweep in --storage {record.get('storage')}, not {storage}",
                             hint="run it with its own storage, or choose another --dir")
        if record["study"] != name:
            raise SweepError(f"{directory} belongs to the study '{record['study']}', not '{name}'",
                             hint=f"resume it with --study {record['study']}, or choose another --dir")
    report = None if req.worker is not None else check_space(variants, plan, seed=variants.base.config.seed)
    return Prepared(variants, plan, report, directory, name, StorageRef.parse(storage, directory))


def _sampler_seed(prep: Prepared, req: SweepRequest) -> int:
    seed = prep.variants.base.config.seed + 7919 * (req.worker or 0)
    if req.storage is not None:  # other machines may run this very command: never the same proposals
        seed += zlib.crc32(f"{host_id()}:{os.getpid()}".encode()) % 1_000_003
    return seed


def open_sweep(prep: Prepared, req: SweepRequest) -> tuple[Any, bool]:
    """The study, created with the plan (and the grid enqueued) or joined and checked; and whether
    this call created it."""
    from cnnspec.sweep.study import join_study

    if prep.ref.given is None:
        prep.directory.mkdir(parents=True, exist_ok=True)
    storage = open_storage(prep.ref)
    points = []
    if prep.report is not None and prep.report.grid is not None:
        points = [{d.key: d.to_optuna(v) for d, v in point} for point in prep.report.grid]
    study, created = join_study(storage, prep.name, prep.plan, prep.variants, seed=_sampler_seed(prep, req),
                                grid_points=points, spec_file=str(req.spec))
    if req.worker is None:
        write_sweep_file(prep.directory, prep.ref, prep.name, str(req.spec))
    return study, created


def discard_if_untrained(study: Any, prep: Prepared, *, dir_existed: bool) -> bool:
    """Forget a sweep this command created when its first trial failed before anything trained.

    The mistake is fixed in the spec or the options, which makes another sweep:
    keeping this one would only make the corrected command refuse to start
    ("a study of another spec"). Returns whether it was discarded.
    """
    import shutil

    import optuna

    if any(t.user_attrs.get("cnnspec.outcome") in ("completed", "pruned", "diverged")
           for t in study.get_trials(deepcopy=False)):
        return False
    optuna.delete_study(study_name=prep.name, storage=study._storage)
    if not dir_existed:
        shutil.rmtree(prep.directory, ignore_errors=True)
    else:
        shutil.rmtree(prep.directory / "trials", ignore_errors=True)
        (prep.directory / "sweep.json").unlink(missing_ok=True)
    return True


def work(prep: Prepared, study: Any, req: SweepRequest, *, out: TextIO | None = None) -> Any:
    """This process's worker loop (see :class:`~cnnspec.sweep.worker.Worker`)."""
    from cnnspec.sweep.report import format_trial, short_names
    from cnnspec.sweep.results import row_of
    from cnnspec.sweep.trial import Launcher
    from cnnspec.sweep.worker import Worker

    if req.jobs > 1 and req.worker is not None and not (prep.variants.base.train and
                                                          prep.variants.base.train.threads):
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // req.jobs))
    names = short_names([d.key for d in prep.plan.dims])
    metric = prep.plan.objective.metric
    launcher = Launcher(metric, where=prep.plan.objective.location, device=req.device, nproc=req.nproc,
                        argv=req.argv, storage=prep.ref.exact, study=prep.name)
    label = f"[{req.worker}] " if req.worker is not None and req.jobs > 1 else ""
    worker = Worker(study, variants=prep.variants, plan=prep.plan, directory=prep.directory, launcher=launcher,
                    label=label, out=out or sys.stdout, stale_after=req.stale_after,
                    describe=lambda result, frozen: format_trial(row_of(frozen), metric, names))
    return worker.run()


def finish(study: Any, directory: Path, dims: list[Any] | None = None) -> tuple[Any, Path | None, list[Path]]:
    """Rank the study's trials; write ``best.yaml`` and the plots into ``directory``."""
    from cnnspec.sweep.plots import plot_results
    from cnnspec.sweep.results import collect, write_best

    results = collect(study)
    if dims is None:
        dims = _dims_of(study)
    try:
        best = write_best(directory, results)
        plots = plot_results(results, dims, directory / "plots")
    except OSError as exc:  # a read-only sweep directory (someone else's): still show the table
        from cnnspec.render import render_warning

        print(render_warning(f"cannot write the best spec or the plots into {directory}: {exc}"), file=sys.stderr)
        best, plots = None, []
    return results, best, plots


def _dims_of(study: Any) -> list[Any]:
    """The dimensions recorded with the study (for ``--status`` without the spec)."""
    from cnnspec.exceptions import SpecError
    from cnnspec.sweep.syntax import parse_dimension

    dims = []
    for entry in (study.user_attrs.get("cnnspec.identity") or {}).get("space", []):
        try:
            dims.append(parse_dimension(entry["key"], entry["distribution"]))
        except (SpecError, KeyError, TypeError):
            continue
    return dims


def status(directory: Path, storage: str | None = None) -> tuple[Any, str, Any, Path | None, list[Path]]:
    """``cnnspec sweep --status DIR``: the study the directory points at, ranked."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directory = directory.resolve()
    record = read_sweep_file(directory)
    ref = StorageRef.parse(storage if storage is not None else record.get("storage"), directory)
    opened = open_storage(ref)
    try:
        study = optuna.load_study(study_name=record["study"], storage=opened)
    except KeyError:
        raise SweepError(f"{ref.shown} holds no study '{record['study']}'",
                         hint=f"{directory / 'sweep.json'} names it; was the storage replaced?") from None
    results, best, plots = finish(study, directory)
    return results, ref.shown, study, best, plots
