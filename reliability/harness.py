"""Tools every scenario needs: deadlines, sandboxes, child processes and their leftovers.

* :func:`deadline` interrupts a call that runs too long (``SIGALRM``), so a
  hang is a counted loss rather than a stuck suite;
* :class:`Snapshot` records every file under a folder, to prove that nothing
  was written outside the run directory;
* :func:`run_python` runs code in a fresh interpreter with memory and time
  limits (for inputs that could crash or exhaust the process);
* :func:`group_members` lists the processes still alive in a process group,
  to find DataLoader workers orphaned by a crash.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ROOT",
    "Deadline",
    "Snapshot",
    "deadline",
    "default_signals",
    "group_members",
    "python_env",
    "run_python",
    "wait_gone",
]

ROOT = Path(__file__).resolve().parent.parent


class Deadline(BaseException):
    """Raised inside the call that overran; a BaseException so no ``except Exception`` swallows it."""


@contextmanager
def deadline(cpu: float, wall: float | None = None) -> Iterator[None]:
    """Interrupt the block after ``cpu`` seconds of CPU time or ``wall`` seconds of wall time.

    CPU time is what an input costs whatever else the machine is doing (the
    suite runs on shared, loaded machines); the wall-clock limit catches
    blocking hangs (a read that never returns), which burn no CPU. Main
    thread only; elsewhere a no-op. Python runs the handler between
    bytecodes, so code stuck inside one C call is interrupted when it
    returns; inputs that could crash or stall C code run in a subprocess
    instead (:func:`run_python`).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum: int, frame: object) -> None:
        which = f"{cpu} s of CPU" if signum == signal.SIGPROF else f"{wall} s of wall time"
        raise Deadline(f"still running after {which}")

    previous = {sig: signal.signal(sig, fire) for sig in (signal.SIGPROF, signal.SIGALRM)}
    # keep firing: an exception raised inside a garbage-collector callback is printed and dropped
    signal.setitimer(signal.ITIMER_PROF, cpu, 0.2)
    if wall is not None:
        signal.setitimer(signal.ITIMER_REAL, wall, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass(frozen=True)
class Snapshot:
    """Every file and folder under ``root`` with its size and modification time."""

    root: Path
    entries: dict[str, tuple[bool, int, int]]

    @classmethod
    def take(cls, root: Path) -> Snapshot:
        entries: dict[str, tuple[bool, int, int]] = {}
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames]:
                path = Path(dirpath) / name
                try:
                    st = path.lstat()
                except FileNotFoundError:
                    continue
                entries[str(path.relative_to(root))] = (path.is_dir(), st.st_size, st.st_mtime_ns)
        return cls(root, entries)

    def changes(self, after: Snapshot, *, inside: tuple[str, ...] = ()) -> list[str]:
        """Paths created, removed or modified since this snapshot, except under ``inside``."""
        def allowed(rel: str) -> bool:
            return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in inside)

        out = []
        for rel, entry in after.entries.items():
            if allowed(rel):
                continue
            before = self.entries.get(rel)
            if before is None:
                out.append(f"created {rel}")
            elif not entry[0] and before != entry:
                out.append(f"modified {rel}")
        out += [f"removed {rel}" for rel in self.entries if rel not in after.entries and not allowed(rel)]
        return sorted(out)


def python_env(**extra: str) -> dict[str, str]:
    """The environment for a child interpreter: this repository importable, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNSPEC_")}
    path = [str(ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Finished:
    """A finished child interpreter: exit status (negative: killed by that signal), output, wall time."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def crashed(self) -> bool:
        """Killed by a signal it did not ask for (SIGSEGV, SIGABRT, the OOM killer...)."""
        return self.returncode < 0 and not self.timed_out


def default_signals() -> None:
    """SIGINT and SIGTERM back to their defaults, as in a terminal (a background job inherits SIGINT
    ignored, and a Python started with SIGINT ignored never raises KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _limits(memory_bytes: int | None, cpu_seconds: int | None) -> None:  # in the child, before exec
    os.setsid()
    default_signals()
    if memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if cpu_seconds is not None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def run_python(args: list[str], *, timeout: float = 120.0, memory_bytes: int | None = None,
               cpu_seconds: int | None = None, env: dict[str, str] | None = None, cwd: Path | None = None,
               stdin: str | None = None) -> Finished:
    """``python ARGS`` in a new session with address-space and CPU limits (exceeding the CPU
    limit kills it with SIGXCPU); the whole session is killed after ``timeout`` wall seconds."""
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL, text=True,
                            env=env or python_env(), cwd=cwd,
                            preexec_fn=lambda: _limits(memory_bytes, cpu_seconds))
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    return Finished(proc.returncode, out, err, time.perf_counter() - began, timed_out)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid`` (Linux ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: split after the last ')'
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def wait_gone(pgid: int, timeout: float) -> tuple[list[int], float]:
    """Wait until no process of group ``pgid`` is alive; returns (survivors, seconds waited)."""
    began = time.monotonic()
    while True:
        alive = group_members(pgid)
        waited = time.monotonic() - began
        if not alive or waited > timeout:
            return alive, waited
        time.sleep(0.05)
