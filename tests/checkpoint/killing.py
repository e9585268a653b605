"""Kill ``cnnspec train`` with SIGKILL at random moments and resume it, as a user's
preempted job would be; reusable by a larger reliability run (see ``kill_and_resume``)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cnnspec.checkpoint import latest_valid

__all__ = ["KillReport", "cli", "kill_and_resume", "wait_for"]


def cli(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "cnnspec", *map(str, args)]


def wait_for(proc: subprocess.Popen, path: Path, timeout: float = 120.0) -> bool:
    """Until ``path`` exists (True) or the process ends (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        if proc.poll() is not None:
            return path.exists()
        time.sleep(0.01)
    raise TimeoutError(f"{path} did not appear within {timeout} s")


@dataclass
class KillReport:
    kills: int = 0  # SIGKILLs delivered to a running process
    restarts: int = 0  # resumes started
    missing_checkpoint: int = 0  # restarts that found no loadable checkpoint (must stay 0)
    skipped: list[str] = field(default_factory=list)  # damaged checkpoints passed over on a resume
    returncode: int | None = None  # of the run that finished


def kill_and_resume(spec: Path, run_dir: Path, *, kills: int, rng: random.Random, window: float = 1.5,
                    timeout: float = 300.0) -> KillReport:
    """Train ``spec`` into ``run_dir``, SIGKILL it ``kills`` times at a random moment within
    ``window`` seconds after its first checkpoint, resume each time, then let it finish."""
    report = KillReport()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = cli("train", spec, "--run-dir", run_dir)
    manifest = run_dir / "checkpoints" / "manifest.json"
    while True:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if report.kills < kills and wait_for(proc, manifest):
            time.sleep(rng.uniform(0, window))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                report.kills += 1
        _, err = proc.communicate(timeout=timeout)
        if proc.returncode == 0:
            if report.kills > report.restarts:  # the run finished before the signal landed: no kill
                report.kills -= 1
            report.returncode = 0
            return report
        if proc.returncode not in (-signal.SIGKILL,):
            raise AssertionError(f"cnnspec train exited with {proc.returncode}:\n{err.decode()[-3000:]}")
        found = latest_valid(run_dir, on_skip=lambda p, r: report.skipped.append(f"{p.name}: {r}"))
        if found is None:
            report.missing_checkpoint += 1
            return report
        report.restarts += 1
        command = cli("train", "--resume", run_dir)
