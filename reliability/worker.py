"""A fresh helper process for scenarios that fork training processes.

Forking a process in which torch has already computed (and started its
OpenMP threads) can deadlock the child, and a pytest or runner process has
usually computed by then. So those scenarios (``Scenario.worker``) run here:

    python -m reliability.worker WORKDIR SEED ID:SIZE [ID:SIZE ...]

which imports what training needs, computes nothing, forks the trials, and
prints the rows as one JSON line starting with ``@@rows``. Scenarios in one
call share their uninterrupted reference runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from reliability.harness import python_env, run_python
from reliability.rows import Row

__all__ = ["MARK", "run_in_worker"]

MARK = "@@rows "


def run_in_worker(jobs: Sequence[tuple[str, int]], seed: int, workdir: Path, *, timeout: float = 3600.0) -> list[Row]:
    """Run ``(scenario id, size)`` jobs in one helper process; rows in the same order."""
    args = ["-m", "reliability.worker", str(workdir), str(seed), *(f"{sid}:{size}" for sid, size in jobs)]
    done = run_python(args, timeout=timeout, env=python_env())
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARK):
            return [Row.from_dict(d) for d in json.loads(line[len(MARK):])]
    raise RuntimeError(f"the reliability worker failed (exit {done.returncode}, "
                       f"{'timed out' if done.timed_out else 'finished'}):\n{done.stderr[-4000:]}")


def _main(argv: list[str]) -> int:
    from reliability.scenarios import by_id
    from reliability.training import prepare

    workdir, seed, jobs = Path(argv[0]), int(argv[1]), argv[2:]
    prepare()
    rows = []
    for job in jobs:
        sid, _, size = job.partition(":")
        scenario = by_id(sid)
        rows.append(scenario.function()(int(size), seed, workdir).to_dict())
        print(f"{sid}: done", file=sys.stderr, flush=True)
    print(MARK + json.dumps(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
