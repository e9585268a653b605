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
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reliability.harness import default_signals, python_env
from reliability.rows import Row

__all__ = ["MARK", "Worker", "run_in_worker", "start_worker"]

MARK = "@@rows "


@dataclass
class Worker:
    """A helper process running in the background; :meth:`rows` waits for its answer."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    def rows(self, timeout: float = 3600.0) -> list[Row]:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for line in reversed(self.out.read_text(errors="replace").splitlines()):
            if line.startswith(MARK):
                return [Row.from_dict(d) for d in json.loads(line[len(MARK):])]
        raise RuntimeError(f"the reliability worker failed (exit {self.proc.returncode}):\n"
                           f"{self.err.read_text(errors='replace')[-4000:]}")


def start_worker(jobs: Sequence[tuple[str, int]], seed: int, workdir: Path) -> Worker:
    """Start ``(scenario id, size)`` jobs in one helper process, in the background."""
    workdir.mkdir(parents=True, exist_ok=True)
    out, err = workdir / "worker.out", workdir / "worker.err"
    args = ["-m", "reliability.worker", str(workdir), str(seed), *(f"{sid}:{size}" for sid, size in jobs)]
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, *args], stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                env=python_env(), start_new_session=True, preexec_fn=default_signals)
    return Worker(proc, out, err)


def run_in_worker(jobs: Sequence[tuple[str, int]], seed: int, workdir: Path, *, timeout: float = 3600.0) -> list[Row]:
    """Run ``(scenario id, size)`` jobs in one helper process and wait; rows in the same order."""
    return start_worker(jobs, seed, workdir).rows(timeout)


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
