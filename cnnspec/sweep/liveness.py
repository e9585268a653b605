"""Who runs a trial, and whether it still does: lost trials are found and run again.

A trial that is ``RUNNING`` in the study may be running, or its process may
have been killed (``kill -9``, the out-of-memory killer, a lost machine).
Every running trial records its worker — host, process id and the process's
start time — and a heartbeat refreshed every :data:`HEARTBEAT_S` seconds.
A trial is *lost* when

* its worker ran on this host and that process is gone (or the pid now
  belongs to another process): known at once, so a killed sweep resumes at
  once with the same command;
* its worker ran elsewhere and has not beaten for ``stale_after`` seconds.

A lost trial is marked failed (outcome ``lost``) and its point is enqueued
again, so exactly one worker re-runs it; finished trials are never touched.
Optuna's own heartbeat exists for RDB storages only, and a dead local process
would still wait out its grace period; this works the same on every storage.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["HEARTBEAT_S", "STALE_AFTER_S", "Heartbeat", "host_id", "is_alive", "recover_lost", "worker_record"]

#: seconds between two heartbeats of a running trial
HEARTBEAT_S = 30.0
#: a trial of another host is lost when its heartbeat is this old
STALE_AFTER_S = 300.0
_WORKER = "cnnspec.worker"


@cache
def host_id() -> str:
    """This machine: its host name and boot id (a rebooted machine is another host)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        boot = "-"
    return f"{socket.gethostname()}/{boot}"


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), or ``None`` where /proc cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def worker_record() -> dict[str, Any]:
    """This process as a trial's worker."""
    pid = os.getpid()
    return {"host": host_id(), "pid": pid, "start": _start_time(pid), "beat": time.time()}


def _process_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return start is None or _start_time(pid) in (start, None)


def is_alive(record: dict[str, Any] | None, started: datetime | None, *, stale_after: float = STALE_AFTER_S,
             now: float | None = None) -> bool:
    """Whether the worker of a running trial still runs it."""
    now = time.time() if now is None else now
    if not isinstance(record, dict):  # claimed, then killed before it said by whom
        return started is None or now - started.timestamp() < stale_after
    if record.get("host") == host_id() and isinstance(record.get("pid"), int):
        return _process_alive(record["pid"], record.get("start"))
    return now - float(record.get("beat", 0)) < stale_after


class Heartbeat:
    """Refreshes a running trial's worker record every ``interval`` seconds, in a daemon thread."""

    def __init__(self, trial: Any, interval: float = HEARTBEAT_S) -> None:
        self.trial = trial
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cnnspec-sweep-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()  # the first record was written when the trial was claimed
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.trial.set_user_attr(_WORKER, worker_record())
            except Exception:  # the storage is busy or the trial just ended: the next beat tries again
                continue


def recover_lost(study: Any, *, stale_after: float = STALE_AFTER_S) -> list[int]:
    """Fail every lost trial and enqueue its point again; returns the lost trials' numbers.

    Two workers may find the same lost trial: the storage lets only one of
    them end it, and only that one enqueues the point again.
    """
    import optuna
    from optuna.trial import TrialState

    lost = []
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if is_alive(frozen.user_attrs.get(_WORKER), frozen.datetime_start, stale_after=stale_after):
            continue
        trial = optuna.trial.Trial(study, frozen._trial_id)
        try:
            trial.set_user_attr("cnnspec.outcome", "lost")
            study.tell(frozen.number, state=TrialState.FAIL)
        except (ValueError, RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another worker ended it first
        params = {**frozen.user_attrs.get("cnnspec.params", {}), **frozen.params}
        study.enqueue_trial(params, user_attrs={"cnnspec.params": params, "cnnspec.retry_of": frozen.number})
        lost.append(frozen.number)
    return lost
