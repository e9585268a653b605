"""Run the reliability suite and, optionally, write ``docs/reliability.md``.

    python -m reliability.run --tier long --write docs/reliability.md   # the published table
    python -m reliability.run --tier ci                                 # every scenario, small
    python -m reliability.run --only kill-training --size 5             # one scenario

Scenarios that fork training processes run together in one helper process
(:mod:`reliability.worker`); the others run here. The long tier also runs
the mutation check (:mod:`reliability.mutations`) unless ``--no-mutations``.
Exit status 0 when every row has zero losses (and every mutation went red).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from reliability.rows import Row
from reliability.scenarios import SCENARIOS, by_id
from reliability.worker import start_worker

__all__ = ["main", "run_scenarios"]


def run_scenarios(ids: list[str], tier: str, seed: int, workdir: Path, *, size: int | None = None) -> list[Row]:
    """Rows in suite order: the worker scenarios in one helper process, in the background, while the
    rest run here (two cores: the two halves take about as long)."""
    chosen = [by_id(i) for i in ids]
    rows: dict[str, Row] = {}
    jobs = [(s.id, size or s.size(tier)) for s in chosen if s.worker]
    worker = start_worker(jobs, seed, workdir / "worker") if jobs else None
    if worker is not None:
        print(f"worker (in the background): {', '.join(f'{i}:{n}' for i, n in jobs)}", file=sys.stderr, flush=True)
    for scenario in chosen:
        if scenario.worker:
            continue
        n = size or scenario.size(tier)
        print(f"{scenario.id}: {n} {scenario.unit} ...", file=sys.stderr, flush=True)
        row = scenario.function()(n, seed, workdir / scenario.id)
        rows[row.scenario] = row
        print(f"  {row.ok} held, {row.losses} lost, {row.known_cases} known ({row.seconds:.0f} s)", file=sys.stderr,
              flush=True)
    if worker is not None:
        print("waiting for the worker ...", file=sys.stderr, flush=True)
        for row in worker.rows(timeout=4 * 3600):
            rows[row.scenario] = row
            print(f"  {row.scenario}: {row.ok} held, {row.losses} lost, {row.known_cases} known of {row.size} "
                  f"({row.seconds:.0f} s)", file=sys.stderr, flush=True)
    return [rows[s.id] for s in chosen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tier", choices=("ci", "long"), default="ci")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="+", metavar="ID", help="these scenarios only")
    parser.add_argument("--size", type=int, help="override every chosen scenario's size")
    parser.add_argument("--workdir", type=Path, help="keep the scenarios' files here (default: a temp dir)")
    parser.add_argument("--write", type=Path, metavar="MD", help="write the markdown report here")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the rows as JSON here")
    parser.add_argument("--no-mutations", action="store_true", help="skip the mutation check in the long tier")
    args = parser.parse_args(argv)

    from reliability.mutations import MUTATIONS, run_mutation
    from reliability.report import machine, render

    ids = args.only or [s.id for s in SCENARIOS]
    info = machine()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cnnspec-reliability-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        rows = run_scenarios(ids, args.tier, args.seed, workdir, size=args.size)
    mutations = []
    if args.tier == "long" and not args.no_mutations and not args.only:
        for mutation in MUTATIONS:
            print(f"mutation {mutation.id} ...", file=sys.stderr, flush=True)
            mutations.append(run_mutation(mutation))
            print(f"  {mutations[-1].outcome}: {mutations[-1].detail}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - began
    if args.json:
        args.json.write_text(json.dumps([r.to_dict() for r in rows], indent=1))
    if args.write:
        args.write.write_text(render(rows, tier=args.tier, seed=args.seed, seconds=seconds, info=info,
                                     mutations=mutations))
        print(f"wrote {args.write}", file=sys.stderr)
    failed = [r for r in rows if not r.passed] + [m for m in mutations if m.outcome != "red"]
    for row in rows:
        if not row.passed:
            print(row.explain(), file=sys.stderr)
    print(f"{len(rows)} scenarios, {sum(r.size for r in rows)} cases, {len(failed)} failing, "
          f"{seconds / 60:.1f} minutes", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
