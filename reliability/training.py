"""Training processes to kill: the tiny spec, launchers, references and bit-for-bit comparisons.

A trial runs ``cnnspec train`` as a real child process and does real damage
to it (SIGKILL, SIGTERM, a killed DataLoader worker...). Starting a fresh
interpreter costs seconds of imports on a loaded machine, so by default the
child is *forked* from a helper process that has already imported torch and
cnnspec but never computed anything (forking after torch computed is unsafe;
see :mod:`reliability.worker`). The child then runs the CLI exactly as
``python -m cnnspec train ...`` would, in its own process group. Some trials
use a fresh interpreter instead (``mode="exec"``), to show the fork changes
nothing.

Final states are compared as SHA-256 digests of every tensor's bytes in the
model, optimizer and scheduler state of ``last.pt``: equal digests mean
bit-identical weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reliability.harness import default_signals, python_env

__all__ = ["SPECS", "Child", "Launcher", "Reference", "digest", "spec_file"]

#: small but with every source of state a resume must restore: dropout (torch RNG), SGD momentum
#: (optimizer state), a scheduler with a milestone (scheduler state), a validation split, early
#: stopping, and a checkpoint every 2 of its 27 optimizer steps
TINY = """\
name: reliability-tiny
input: [1, 8, 8]
seed: 7
model:
  - conv2d: {out_channels: 6, kernel_size: 3, padding: 1}
  - relu
  - dropout: {p: 0.3}
  - maxpool2d: {kernel_size: 2}
  - flatten
  - linear: {out_features: 10}
data: {dataset: digits, batch_size: 128, val_split: 0.2%(data)s}
train:
  epochs: 3
  optimizer: {sgd: {lr: 0.1, momentum: 0.9}}
  scheduler: {multisteplr: {milestones: [2], gamma: 0.3}}
  progress: false
  threads: 1
callbacks:
  - checkpoint: {every_n_steps: 2, keep_last: 2}
  - earlystopping: {patience: 5}
%(callbacks)s"""

#: spec variants by name: the plain one, one logging to TensorBoard, one reading through DataLoader workers
SPECS: dict[str, str] = {
    "tiny": TINY % {"data": "", "callbacks": ""},
    "tensorboard": TINY % {"data": "", "callbacks": "  - tensorboard: {log_every_n_steps: 1, graph: false, "
                                                  "images: 4, flush_secs: 0.2}\n"},
    "workers": TINY % {"data": ", in_memory: false, num_workers: 2", "callbacks": ""},
}
#: optimizer steps of a complete run (3 epochs of 9 batches)
TOTAL_STEPS = 27


def spec_file(folder: Path, variant: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{variant}.yaml"
    if not path.exists() or path.read_text() != SPECS[variant]:
        path.write_text(SPECS[variant])
    return path


# -- the children ------------------------------------------------------------------------------

def prepare() -> None:
    """Import what a training child needs, compute nothing (called once in the forking process)."""
    # sklearn: the digits dataset; torch._dynamo: torch.optim imports it on first use (seconds)
    import sklearn.datasets  # noqa: F401
    import torch
    import torch._dynamo
    import torch.utils.tensorboard

    import cnnspec.callbacks.checkpoint
    import cnnspec.callbacks.tensorboard
    import cnnspec.cli
    import cnnspec.data
    import cnnspec.engine  # noqa: F401
    import reliability.faults  # noqa: F401

    torch.set_num_threads(1)  # no OpenMP team is ever started here, so forking stays safe


def _child(argv: list[str], log: Path, faults: list[str], env: Mapping[str, str]) -> None:
    """The body of a forked child: its own process group, output to ``log``, the CLI, ``os._exit``."""
    code = 1
    try:
        os.setpgid(0, 0)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.environ.update(env)
        from reliability.faults import install, run_argv

        for fault in faults:
            install(fault)
        code = run_argv(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # escaped the CLI: what the interpreter would print, and its exit status 1
        code = 1
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


@dataclass
class Child:
    """A running ``cnnspec`` process (forked or exec'd); ``returncode`` is negative for a signal."""

    pid: int
    log: Path
    started: float
    proc: subprocess.Popen[bytes] | None = None
    returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        if self.proc is not None:
            self.returncode = self.proc.poll()
            return self.returncode
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid:
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float = 600.0) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                self.signal(signal.SIGKILL)
                self.wait(30)
                raise TimeoutError(f"cnnspec did not finish within {timeout} s (log: {self.log})")
            time.sleep(0.005)
        assert self.returncode is not None
        return self.returncode

    def signal(self, signum: int) -> bool:
        """Send ``signum`` if the process is still running (never to a reaped pid); True if sent."""
        if self.poll() is not None:
            return False
        os.kill(self.pid, signum)
        return True

    @property
    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def children(self) -> list[int]:
        """Direct child processes (DataLoader workers) of this process."""
        try:
            text = (Path("/proc") / str(self.pid) / "task" / str(self.pid) / "children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]


class Launcher:
    """Starts ``cnnspec`` commands: forked from this (prepared) process, or a fresh interpreter."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.logs.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def start(self, argv: list[str], *, mode: str = "fork", faults: tuple[str, ...] = (),
              env: Mapping[str, str] | None = None) -> Child:
        """``cnnspec ARGV`` as a child; ``["@call", "module:function", *args]`` calls that function instead."""
        self.n += 1
        log = self.logs / f"child{self.n:05d}.log"
        log.unlink(missing_ok=True)
        if mode == "exec":
            full_env = python_env(**dict(env or {}))
            if faults or argv[:1] == ["@call"]:
                from reliability.faults import ENV

                full_env[ENV] = json.dumps(list(faults))
                command = [sys.executable, "-m", "reliability.faults", *argv]
            else:
                command = [sys.executable, "-m", "cnnspec", *argv]
            with open(log, "wb") as out:
                proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=full_env,
                                        start_new_session=True, preexec_fn=default_signals)
            return Child(proc.pid, log, time.monotonic(), proc)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            _child(argv, log, list(faults), dict(env or {}))
        return Child(pid, log, time.monotonic())

    def run(self, argv: list[str], **options: Any) -> Child:
        child = self.start(argv, **options)
        child.wait()
        return child


# -- states and references ----------------------------------------------------------------------

def _tensor_bytes(value: Any, prefix: str, out: list[tuple[str, bytes]]) -> None:
    import torch

    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        out.append((f"{prefix}:{t.dtype}:{tuple(t.shape)}", t.view(torch.uint8).numpy().tobytes()
                    if t.numel() else b""))
    elif isinstance(value, Mapping):
        for k in sorted(value, key=str):
            _tensor_bytes(value[k], f"{prefix}.{k}", out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _tensor_bytes(v, f"{prefix}[{i}]", out)
    else:
        out.append((prefix, repr(value).encode()))


def digest(state: Mapping[str, Any], keys: tuple[str, ...] = ("model", "optimizer", "scheduler")) -> str:
    """SHA-256 of the bytes of every tensor (and plain value) under ``keys``: equal means bit-identical."""
    parts: list[tuple[str, bytes]] = []
    for key in keys:
        _tensor_bytes(state.get(key), key, parts)
    h = hashlib.sha256()
    for name, data in parts:
        h.update(name.encode())
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def final_digest(run_dir: Path) -> str:
    """The digest of a finished run's ``last.pt``, loaded through every integrity check."""
    from cnnspec.checkpoint import load_checkpoint

    return digest(load_checkpoint(run_dir / "checkpoints" / "last.pt"))


def temps_in(directory: Path) -> list[Path]:
    """cnnspec's temporary files (an atomic write in progress, or left by a kill) directly in ``directory``."""
    from cnnspec.atomic import TMP_PREFIX

    return sorted(directory.glob(f"{TMP_PREFIX}*"))


def temp_files(run_dir: Path) -> list[str]:
    """Temporary files an interrupted write left anywhere in the run directory."""
    from cnnspec.atomic import TMP_PREFIX

    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                  if p.name.startswith(TMP_PREFIX) or (p.name.startswith(".") and p.name.endswith(".tmp")))


def newest_step(run_dir: Path) -> int:
    """The step of the newest checkpoint the manifest lists (0 if none); read without torch."""
    try:
        manifest = json.loads((run_dir / "checkpoints" / "manifest.json").read_text())
        return max((int(e.get("step", 0)) for e in manifest["checkpoints"]), default=0)
    except (OSError, ValueError, KeyError, TypeError):
        return 0


@dataclass
class Reference:
    """An uninterrupted run of a spec variant: its final digest and how long it took."""

    variant: str
    digest: str
    seconds: float
    first_checkpoint: float  # seconds from start until manifest.json appeared
    run_dir: Path


def reference(launcher: Launcher, folder: Path, variant: str, cache: dict[str, Reference]) -> Reference:
    """Train ``variant`` once, uninterrupted (cached per process)."""
    if variant in cache:
        return cache[variant]
    run_dir = folder / f"reference-{variant}"
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    spec = spec_file(folder, variant)
    child = launcher.start(["train", str(spec), "--run-dir", str(run_dir)])
    manifest = run_dir / "checkpoints" / "manifest.json"
    first = wait_for(child, manifest)
    code = child.wait()
    if code != 0:
        raise RuntimeError(f"the reference run of {variant} failed ({code}):\n{child.output[-3000:]}")
    cache[variant] = Reference(variant, final_digest(run_dir), time.monotonic() - child.started,
                               first if first is not None else 0.0, run_dir)
    return cache[variant]


def wait_for(child: Child, path: Path, timeout: float = 300.0) -> float | None:
    """Seconds since the child started until ``path`` existed, or None if the child ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return time.monotonic() - child.started
        if child.poll() is not None:
            return time.monotonic() - child.started if path.exists() else None
        time.sleep(0.003)
    raise TimeoutError(f"{path} did not appear within {timeout} s")


def sleep_or_exit(child: Child, seconds: float) -> bool:
    """Sleep up to ``seconds``; False if the child ended meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:
            return False
        time.sleep(min(0.002, max(0.0, deadline - time.monotonic())))
    return child.poll() is None


def resume_argv(run_dir: Path) -> list[str]:
    return ["train", "--resume", str(run_dir)]


def train_argv(spec: Path, run_dir: Path) -> list[str]:
    return ["train", str(spec), "--run-dir", str(run_dir)]


Check = Callable[[Child], str | None]
