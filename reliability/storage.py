"""Scenario group 4: checkpoint files under kills, truncation, bit flips, a full disk.

The invariants, checked after every fault:

* the newest checkpoint that passes every check is found and its content is
  the one its manifest entry describes (a saver writes ``w = full(step)``);
* every file the manifest lists loads (nothing listed is torn);
* a damaged file is refused with a ``CheckpointError``, never loaded, never
  another exception;
* a failed save leaves no temporary file, and the previous checkpoint intact;
* every replace of a file is preceded by an ``fsync`` of the new bytes and
  followed by an ``fsync`` of the directory (the write protocol itself:
  without it the kills above still pass, but a power cut would not).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from reliability.rows import Row
from reliability.training import temps_in

__all__ = ["atomic_protocol", "bit_flips", "full_disk", "injected_errors", "non_finite", "save_kill", "saver",
           "truncation"]

#: floats per saved tensor: 1.2 MB files, so a kill often lands inside a write
SAVER_FLOATS = 300_000


def _state(step: int, floats: int = SAVER_FLOATS) -> dict[str, Any]:
    import torch

    return {"w": torch.full((floats,), float(step)), "step": torch.tensor(step)}


def saver(directory: str, start: str, floats: str = str(SAVER_FLOATS)) -> int:
    """Save checkpoints ``c<step>.pt`` forever, keeping the last two (run as a child, then killed)."""
    from cnnspec.checkpoint import remove_checkpoints, save_checkpoint

    step = int(start)
    while True:
        save_checkpoint(directory, f"c{step:06d}.pt", _state(step, int(floats)), meta={"step": step},
                        aliases=["last"])
        if step - 2 >= int(start):
            remove_checkpoints(directory, [f"c{step - 2:06d}.pt"])
        step += 1


def verify(directory: Path, *, floats: int = SAVER_FLOATS) -> tuple[int | None, list[str]]:
    """The invariants of a saver's directory: (newest valid step, problems)."""
    import torch

    from cnnspec.checkpoint import CheckpointError, latest_valid, load_checkpoint, read_manifest

    problems: list[str] = []
    found = latest_valid(directory)
    if found is None:
        return None, ["no valid checkpoint"]
    path, state = found
    step = int(state["meta"]["step"])
    if not (int(state["step"]) == step and torch.equal(state["w"], torch.full((floats,), float(step)))):
        problems.append(f"{path.name}: its content is not the state its manifest entry describes")
    manifest = read_manifest(directory)
    for entry in (manifest or {}).get("checkpoints", []):
        try:
            load_checkpoint(directory / entry["file"])
        except CheckpointError as exc:
            problems.append(f"listed but unloadable: {exc}")
    last = directory / "last.pt"
    if last.exists():
        try:
            alias_step = int(load_checkpoint(last)["meta"]["step"])
            if alias_step not in (step, step - 1):
                problems.append(f"last.pt holds step {alias_step}, the newest valid is {step}")
        except CheckpointError as exc:
            problems.append(f"last.pt: {exc}")
    return step, problems


# -- kills during saves ----------------------------------------------------------------------------

def save_kill(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: SIGKILL a process that does nothing but save 1.2 MB checkpoints (and prune old ones)."""
    from cnnspec.checkpoint import clean_temp_files
    from reliability.training import Launcher, prepare

    prepare()
    row = Row("save-kill", "SIGKILL at a random moment of a process saving 1.2 MB checkpoints back to back "
              "(write, manifest, alias, pruning): the newest valid checkpoint has the content its manifest entry "
              "describes, everything listed loads, temporary files are recognised and removed", unit="kills")
    rng = random.Random(seed)
    folder = workdir / "save-kill"
    shutil.rmtree(folder, ignore_errors=True)
    directory = folder / "checkpoints"
    directory.mkdir(parents=True)
    launcher = Launcher(folder / "logs")
    start = 1
    with row.timed():
        for _ in range(size):
            manifest = directory / "manifest.json"
            before = manifest.read_bytes() if manifest.exists() else b""
            child = launcher.start(["@call", "reliability.storage:saver", str(directory), str(start)])
            deadline = time.monotonic() + 120
            while (not manifest.exists() or manifest.read_bytes() == before) and child.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.4))
            child.signal(signal.SIGKILL)
            code = child.wait()
            row.size += 1
            if code != -signal.SIGKILL:
                row.lose(f"the saver ended with {code}: {child.output[-500:]}")
                continue
            temps = temps_in(directory)
            if temps:
                row.count("kills_inside_a_write")
            step, problems = verify(directory)
            removed = clean_temp_files(directory)
            if sorted(removed) != temps or temps_in(directory):
                problems.append(f"clean_temp_files removed {removed}, left {temps_in(directory)}")
            if step is not None and not problems:
                _, after = verify(directory)  # cleaning must not touch a valid checkpoint
                problems += after
            if problems:
                row.lose("; ".join(problems))
            else:
                row.hold()
            start = (step or start) + 1
    return row


# -- truncation and bit flips ----------------------------------------------------------------------

def _two_checkpoints(folder: Path, floats: int) -> tuple[Path, Path]:
    from cnnspec.checkpoint import save_checkpoint

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for step in (1, 2):
        save_checkpoint(folder, f"c{step:06d}.pt", _state(step, floats), meta={"step": step}, aliases=["last"])
    return folder / "c000001.pt", folder / "c000002.pt"


def _damage_trial(row: Row, folder: Path, target: Path, damaged: bytes, *, floats: int, label: str) -> None:
    """Write ``damaged`` over ``target``, check refusal and fallback with and without the manifest."""
    import torch

    from cnnspec.checkpoint import CheckpointError, latest_valid, load_checkpoint

    original = target.read_bytes()
    manifest = folder / "manifest.json"
    manifest_bytes = manifest.read_bytes()
    problems: list[str] = []
    try:
        target.write_bytes(damaged)
        if target.name != "manifest.json":
            try:
                load_checkpoint(target)
                problems.append(f"{label}: the damaged file loaded")
            except CheckpointError:
                pass
        found = latest_valid(folder)
        expected = (1,) if target.name != "manifest.json" else (1, 2)
        if found is None:
            problems.append(f"{label}: no valid checkpoint found")
        else:
            step = int(found[1]["meta"]["step"])
            if step not in expected or not torch.equal(found[1]["w"], torch.full((floats,), float(step))):
                problems.append(f"{label}: fell back to {found[0].name} (step {step}), expected step {expected}")
        if target.name != "manifest.json":  # without the manifest's hashes only the file's own checks stand
            manifest.unlink()
            try:
                state = load_checkpoint(target)
                intact = torch.equal(state["w"], torch.full((floats,), 2.0))
                row.count("harmless_without_manifest" if intact else "undetected_without_manifest")
                if not intact:
                    problems.append(f"{label}: without the manifest the damaged file loaded altered tensors")
            except CheckpointError:
                row.count("refused_without_manifest")
            found = latest_valid(folder)
            if found is None:
                problems.append(f"{label}: without the manifest no checkpoint was found")
    except Exception as exc:  # anything but a CheckpointError from a damaged file is the finding
        problems.append(f"{label}: {type(exc).__name__}: {exc}")
    finally:
        target.write_bytes(original)
        manifest.write_bytes(manifest_bytes)
    if problems:
        row.lose("; ".join(problems[:3]))
    else:
        row.hold()


def truncation(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: the newest checkpoint (or the manifest) cut at a random length."""
    row = Row("truncation", "the newest checkpoint (or manifest.json) truncated at a random length: refused with a "
              "CheckpointError, the previous checkpoint used, with or without the manifest", unit="files")
    rng = random.Random(seed)
    floats = 20_000
    folder = workdir / "truncation"
    with row.timed():
        _, newest = _two_checkpoints(folder, floats)
        for i in range(size):
            target = folder / "manifest.json" if i % 5 == 4 else newest
            data = target.read_bytes()
            cut = rng.choice([0, 1, len(data) - 1, rng.randrange(len(data))])
            row.size += 1
            _damage_trial(row, folder, target, data[:cut], floats=floats, label=f"{target.name} cut at {cut}")
    return row


def bit_flips(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: one random bit flipped anywhere in the newest checkpoint (or the manifest)."""
    row = Row("bit-flips", "one random bit flipped anywhere in the newest checkpoint (or manifest.json): refused and "
              "the previous checkpoint used; without the manifest, never loaded with altered tensors",
              unit="files")
    rng = random.Random(seed)
    floats = 20_000
    folder = workdir / "bit-flips"
    with row.timed():
        _, newest = _two_checkpoints(folder, floats)
        for i in range(size):
            target = folder / "manifest.json" if i % 5 == 4 else newest
            data = bytearray(target.read_bytes())
            # every third flip lands in the first record's header (its time and date fields), which no
            # CRC covers: only the manifest's hash can tell; the rest anywhere
            at = rng.randrange(10, 14) if i % 3 == 1 and target.name != "manifest.json" else rng.randrange(len(data))
            data[at] ^= 1 << rng.randrange(8)
            row.size += 1
            _damage_trial(row, folder, target, bytes(data), floats=floats, label=f"{target.name} bit at {at}")
    return row


# -- a full disk and other write errors -------------------------------------------------------------

@contextlib.contextmanager
def _failing(call: str, after: int, err: int) -> Iterator[None]:
    """``os.<call>`` raises ``OSError(err)`` from its ``after``-th call on (counting from 0)."""
    original = getattr(os, call)
    calls = {"n": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError(err, os.strerror(err))
        return original(*args, **kwargs)

    setattr(os, call, wrapper)
    try:
        yield
    finally:
        setattr(os, call, original)


def injected_errors(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: ENOSPC / EIO / EDQUOT injected into a random write, fsync, replace or link of a save."""
    from cnnspec.checkpoint import remove_checkpoints, save_checkpoint

    row = Row("injected-write-errors", "ENOSPC, EDQUOT or EIO raised by a random os.write / os.fsync / os.replace / "
              "os.link call of a save (the data file, the manifest or an alias): the save raises OSError, no "
              "temporary file is left, the previous checkpoints stay valid", unit="saves")
    rng = random.Random(seed)
    floats = 20_000
    folder = workdir / "injected"
    with row.timed():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        step = 1
        save_checkpoint(folder, f"c{step:06d}.pt", _state(step, floats), meta={"step": step}, aliases=["last"])
        for _ in range(size):
            call = rng.choice(["write", "fsync", "replace", "link"])
            err = rng.choice([errno.ENOSPC, errno.EDQUOT, errno.EIO])
            after = rng.randrange(0, 4)
            row.size += 1
            problems = []
            try:
                with _failing(call, after, err):
                    save_checkpoint(folder, f"c{step + 1:06d}.pt", _state(step + 1, floats), meta={"step": step + 1},
                                    aliases=["last"])
                row.count("saves_the_fault_missed")
                step += 1
                remove_checkpoints(folder, [f"c{step - 2:06d}.pt"])
            except OSError as exc:
                row.count(f"failed_{call}")
                if exc.errno != err:
                    problems.append(f"os.{call} raised errno {err} but the save raised {exc!r}")
            except Exception as exc:
                problems.append(f"os.{call} failing: the save raised {type(exc).__name__}: {exc}")
            if temps_in(folder):
                problems.append(f"os.{call} failing left {[p.name for p in temps_in(folder)]}")
            newest, found = verify(folder, floats=floats)
            problems += found
            if newest is not None and newest < step:
                problems.append(f"the newest valid checkpoint is {newest}, {step} was saved")
            if problems:
                row.lose(f"{call}#{after} {errno.errorcode[err]}: {'; '.join(problems)}")
                for p in temps_in(folder):
                    p.unlink()
            else:
                row.hold()
    return row


def _mount_tmpfs(path: Path, size: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


def full_disk(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: save and prune checkpoints on a small tmpfs until the disk is full (root only)."""
    from cnnspec.checkpoint import remove_checkpoints, save_checkpoint

    row = Row("full-disk", "a real full disk: checkpoints saved and pruned on a tmpfs of 1.3-4.5 checkpoints until a "
              "save fails with ENOSPC: OSError, no temporary file left, the previous checkpoint valid and used",
              unit="disks")
    rng = random.Random(seed)
    floats = 250_000
    with row.timed():
        for i in range(size):
            mount = workdir / "full-disk" / f"tmpfs{i}"
            file_size = floats * 4 + 2000
            if not _mount_tmpfs(mount, int(file_size * rng.uniform(1.3, 4.5))):
                row.note("no tmpfs could be mounted here (needs root): see injected-write-errors")
                break
            row.size += 1
            try:
                problems, step = [], 0
                while True:
                    try:
                        save_checkpoint(mount, f"c{step + 1:06d}.pt", _state(step + 1, floats),
                                        meta={"step": step + 1}, aliases=["last"])
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            problems.append(f"the save raised {exc!r}, expected ENOSPC")
                        break
                    step += 1
                    if rng.random() < 0.7:  # keep-last pruning, as the callback does; sometimes not
                        remove_checkpoints(mount, [f"c{step - 1:06d}.pt"])
                    if step > 1000:
                        problems.append("the disk never filled")
                        break
                row.count("saves_before_full", step)
                if temps_in(mount):
                    problems.append(f"left {[p.name for p in temps_in(mount)]}")
                if step:
                    newest, found = verify(mount, floats=floats)
                    problems += found
                    if newest != step:
                        problems.append(f"newest valid {newest}, last saved {step}")
                if problems:
                    row.lose("; ".join(problems))
                else:
                    row.hold()
            finally:
                _umount(mount)
    return row


# -- the write protocol ------------------------------------------------------------------------------

class _Recorder:
    """Records the file system calls of saves: which fd is which path, writes, fsyncs, replaces."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.fds: dict[int, str] = {}
        self.originals: dict[str, Callable[..., Any]] = {}

    def __enter__(self) -> _Recorder:
        for name in ("open", "write", "fsync", "replace", "rename", "link", "close"):
            self.originals[name] = getattr(os, name)
            setattr(os, name, getattr(self, f"_{name}"))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, fn in self.originals.items():
            setattr(os, name, fn)

    def _open(self, path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        fd = self.originals["open"](path, flags, *args, **kwargs)
        self.fds[fd] = os.path.abspath(os.fsdecode(path) if not isinstance(path, int) else str(path))
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC):
            self.events.append(("open-write", self.fds[fd]))
        return fd

    def _write(self, fd: int, data: Any) -> int:
        self.events.append(("write", self.fds.get(fd, f"fd{fd}")))
        return self.originals["write"](fd, data)

    def _fsync(self, fd: Any) -> None:
        fd = fd if isinstance(fd, int) else fd.fileno()
        self.events.append(("fsync", self.fds.get(fd, f"fd{fd}")))
        self.originals["fsync"](fd)

    def _replace(self, src: Any, dst: Any, **kwargs: Any) -> None:
        self.events.append(("replace", f"{os.path.abspath(os.fsdecode(src))} -> {os.path.abspath(os.fsdecode(dst))}"))
        self.originals["replace"](src, dst, **kwargs)

    def _rename(self, src: Any, dst: Any, **kwargs: Any) -> None:
        self.events.append(("rename", f"{os.path.abspath(os.fsdecode(src))} -> {os.path.abspath(os.fsdecode(dst))}"))
        self.originals["rename"](src, dst, **kwargs)

    def _link(self, src: Any, dst: Any, **kwargs: Any) -> None:
        self.events.append(("link", f"{os.path.abspath(os.fsdecode(src))} -> {os.path.abspath(os.fsdecode(dst))}"))
        self.originals["link"](src, dst, **kwargs)

    def _close(self, fd: int) -> None:
        self.originals["close"](fd)


def protocol_problems(events: list[tuple[str, str]], directory: Path) -> list[str]:
    """Break the recorded calls against the crash-safe protocol; returns what was violated."""
    problems = []
    directory = directory.resolve()
    written: set[str] = set()
    synced: set[str] = set()
    linked: set[str] = set()
    pending_dir_sync = False
    for kind, what in events:
        if kind == "open-write":
            name = os.path.basename(what)
            if os.path.dirname(what) == str(directory) and not name.startswith("."):
                problems.append(f"{name} was opened for writing under its final name")
        elif kind == "write":
            written.add(what)
            synced.discard(what)
        elif kind == "fsync":
            synced.add(what)
            if what == str(directory):
                pending_dir_sync = False
        elif kind == "link":
            linked.add(what.split(" -> ")[1])
        elif kind in ("replace", "rename"):
            src, dst = what.split(" -> ")
            if src not in linked and src not in synced:
                problems.append(f"{os.path.basename(dst)} replaced by bytes that were never fsynced")
            if pending_dir_sync:
                problems.append("a replace happened before the previous one's directory was fsynced")
            pending_dir_sync = True
    if pending_dir_sync:
        problems.append("the last replace's directory was never fsynced")
    return problems


def atomic_protocol(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: the file system calls of random saves, prunes and run-directory writes follow the protocol."""
    from cnnspec.checkpoint import remove_checkpoints, save_checkpoint
    from cnnspec.engine.rundir import RunDir

    row = Row("atomic-protocol", "file system calls of random checkpoint saves (with aliases), prunes and "
              "run-directory JSON writes, recorded: new bytes go to a temporary name, are fsynced, replace the "
              "file, then the directory is fsynced; nothing is written in place", unit="operations")
    rng = random.Random(seed)
    folder = workdir / "protocol"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "checkpoints").mkdir(parents=True)
    rundir = RunDir(folder)
    step = 0
    with row.timed():
        for _ in range(size):
            op = rng.choice(["save", "save", "save", "prune", "json"])
            row.size += 1
            with _Recorder() as rec:
                if op == "save" or (op == "prune" and step < 3):
                    step += 1
                    aliases = rng.choice([["last"], ["last", "best"], []])
                    save_checkpoint(folder / "checkpoints", f"c{step:06d}.pt", _state(step, 1000),
                                    meta={"step": step}, aliases=aliases)
                    directory = folder / "checkpoints"
                elif op == "prune":
                    remove_checkpoints(folder / "checkpoints", [f"c{step - 2:06d}.pt"])
                    directory = folder / "checkpoints"
                else:
                    rundir.write_json(rng.choice(["final.json", "env.json"]), {"step": step, "x": [1.5, None]})
                    directory = folder
            problems = protocol_problems(rec.events, directory)
            replaces = sum(1 for k, _ in rec.events if k in ("replace", "rename"))
            row.count("replaces_checked", replaces)
            if problems:
                row.lose(f"{op}: {'; '.join(problems)}")
            else:
                row.hold()
    return row


def non_finite(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: a NaN or inf planted in a random tensor of a trainer-like state is never written."""
    import torch

    from cnnspec.checkpoint import NonFiniteStateError, save_checkpoint

    row = Row("non-finite-state", "a NaN/inf planted in a random float tensor (weights, optimizer buffers, nested "
              "state): the save refuses with NonFiniteStateError and writes nothing", unit="saves")
    rng = random.Random(seed)
    folder = workdir / "non-finite"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with row.timed():
        for i in range(size):
            torch.manual_seed(seed * 1000 + i)
            state = {"model": {"conv.weight": torch.randn(4, 3, 3, 3), "conv.bias": torch.randn(4),
                               "bn.running_var": torch.rand(4), "bn.num_batches_tracked": torch.tensor(5)},
                     "optimizer": {"state": {0: {"momentum_buffer": torch.randn(4, 3, 3, 3)},
                                             1: {"exp_avg": torch.randn(4).double()}}, "param_groups": []},
                     "extra": [torch.randn(3).half(), {"deep": torch.randn(2, 2)}]}
            floats = [t for t in _flat(state) if t.is_floating_point()]
            target = rng.choice(floats)
            target.view(-1)[rng.randrange(target.numel())] = rng.choice([float("nan"), float("inf"), float("-inf")])
            before = sorted(p.name for p in folder.iterdir())
            row.size += 1
            try:
                save_checkpoint(folder, f"c{i:04d}.pt", state, meta={"step": i})
                row.lose(f"a state with a non-finite {target.dtype} tensor was saved")
            except NonFiniteStateError:
                after = sorted(p.name for p in folder.iterdir())
                row.check(after == before, f"the refused save changed the directory: {before} -> {after}")
    return row


def _flat(value: Any) -> Iterator[Any]:
    import torch

    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flat(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _flat(v)


def _json(path: Path) -> Any:  # pragma: no cover - debugging aid
    return json.loads(path.read_text())
