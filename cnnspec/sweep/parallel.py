"""``--jobs N``: N worker processes on one machine, one study between them.

Each worker is the same ``cnnspec sweep`` command with ``--worker-index i``:
it joins the study and runs the worker loop; the storage hands out trials, so
the workers need no other coordination. The parent only starts, watches and
stops them:

* each worker gets ``cpu_count // N`` CPU threads (``OMP_NUM_THREADS``) unless
  the spec sets ``train.threads``, and, with several GPUs visible and no
  ``--device cpu``, one GPU of them in turn (``CUDA_VISIBLE_DEVICES``);
* workers run in their own process group, so a Ctrl-C reaches them once,
  through the parent (a second one stops them at once, as for ``train``);
* on Linux a worker is sent SIGTERM when the parent dies, even by ``kill -9``:
  it ends its trial as interrupted and the point runs again on resume.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["run_workers", "worker_environment"]


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    os.setpgrp()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # no usable torch build for counting: no GPU assignment
        return 0


def worker_environment(index: int, jobs: int, *, device: str | None, threads_set: bool,
                       gpus: int | None = None) -> dict[str, str]:
    """The environment of worker ``index`` of ``jobs``."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if not threads_set:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    if device in (None, "auto", "cuda") and "CUDA_VISIBLE_DEVICES" not in os.environ:
        count = _gpu_count() if gpus is None else gpus
        if count > 1:
            env["CUDA_VISIBLE_DEVICES"] = str(index % count)
    return env


def run_workers(commands: Sequence[list[str]], environments: Sequence[dict[str, str]],
                on_start: Callable[[int, Any], None] | None = None) -> int:
    """Run the worker commands to the end; returns the sweep's exit code.

    2 if a worker met a user mistake, 1 an internal error, 128+N if a signal
    stopped them, else 0.
    """
    procs = []
    for i, (cmd, env) in enumerate(zip(commands, environments)):
        proc = subprocess.Popen(cmd, env=env, preexec_fn=_child_setup)
        procs.append(proc)
        if on_start is not None:
            on_start(i, proc)

    def forward(signum: int, frame: Any) -> None:
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signum)
                except ProcessLookupError:
                    pass

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, forward)
        except ValueError:  # not the main thread
            pass
    try:
        codes = [proc.wait() for proc in procs]
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    for wanted in (2, 1):
        if wanted in codes:
            return wanted
    stopped = [c for c in codes if c > 128 or c < 0]
    if stopped:
        return stopped[0] if stopped[0] > 128 else 128 - stopped[0]
    return max(codes, default=0)
