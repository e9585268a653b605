"""Checkpoint files that survive crashes and cannot run code when loaded.

Why: a plain ``torch.save`` killed mid-write leaves an unloadable file, a bit
flip in tensor data loads silently, and a pickle can run arbitrary code when
unpickled. Here

* every file is written atomically (:mod:`cnnspec.checkpoint.atomic`);
* ``manifest.json`` lists each checkpoint with its sha256, size, epoch/step,
  metrics and the spec fingerprint (:mod:`cnnspec.checkpoint.manifest`); a
  file whose bytes do not match is skipped and the previous good one used;
* loading reads the bytes once and verifies them — hash, zip CRC-32s, a
  static pickle allowlist, then ``torch.load(..., weights_only=True)``
  (:mod:`cnnspec.checkpoint.safety`);
* a state holding a non-finite floating-point tensor is never written.

A checkpoint file is a ``torch.save``-d dict: the trainer state (``model``,
``optimizer``, ...) at the top level, so
``torch.load(path, weights_only=True)["model"]`` is a model state dict, plus
:data:`HEADER_KEYS`.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from cnnspec.checkpoint.atomic import atomic_link, atomic_write, clean_temp_files
from cnnspec.checkpoint.errors import (
    CheckpointError,
    CorruptCheckpointError,
    NonFiniteStateError,
    UnsafeCheckpointError,
)
from cnnspec.checkpoint.manifest import (
    MANIFEST,
    checkpoint_dir,
    empty_manifest,
    entries_for,
    quarantine,
    read_manifest,
    remove_checkpoints,
    write_manifest,
)
from cnnspec.checkpoint.safety import check_finite, scan_pickle, torch_load, verify_container
from cnnspec.checkpoint.select import WHICH, Which, best_entry, check_which, describe_checkpoint

__all__ = [
    "FORMAT",
    "HEADER_KEYS",
    "MANIFEST",
    "WHICH",
    "CheckpointError",
    "CorruptCheckpointError",
    "NonFiniteStateError",
    "UnsafeCheckpointError",
    "atomic_write",
    "check_finite",
    "checkpoint_dir",
    "clean_temp_files",
    "describe_checkpoint",
    "latest_valid",
    "load_checkpoint",
    "open_checkpoint",
    "quarantine",
    "read_manifest",
    "remove_checkpoints",
    "repair_aliases",
    "save_checkpoint",
    "scan_pickle",
    "trainer_state",
]

FORMAT = "cnnspec-checkpoint"
VERSION = 1
#: keys a checkpoint file adds next to the trainer state
HEADER_KEYS = ("cnnspec", "meta", "spec", "fingerprint")


def _plain(value: Any) -> Any:
    """A JSON-safe copy for the manifest: one-element tensors become numbers, NaN/inf null."""
    if hasattr(value, "item") and callable(getattr(value, "numel", None)) and value.numel() == 1:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def save_checkpoint(
    directory: str | os.PathLike[str],
    name: str,
    state: Mapping[str, Any],
    *,
    meta: Mapping[str, Any] | None = None,
    spec: Any = None,
    aliases: Iterable[str] = (),
) -> dict[str, Any]:
    """Write ``state`` as ``directory/name`` atomically, then list it in the manifest.

    ``meta`` (epoch, step, metrics, reason...) goes into the file and the
    manifest entry; ``spec`` (a :class:`~cnnspec.spec.Spec`) adds the resolved
    spec and its fingerprint. Each alias (``"last"``, ``"best"``) becomes
    ``directory/<alias>.pt``, a hard link to the new file. Returns the
    manifest entry. Raises :class:`NonFiniteStateError` (nothing written) for
    a NaN/inf tensor, ``OSError`` (previous files intact) for a failed write.
    """
    import torch

    from cnnspec._version import __version__

    if not name or Path(name).name != name or name in (".", "..", MANIFEST) or not name.endswith(".pt"):
        raise ValueError(f"a checkpoint name is a plain file name ending in .pt, got {name!r}")
    clash = [k for k in HEADER_KEYS if k in state]
    if clash:
        raise ValueError(f"the state may not use the reserved keys {clash}")
    check_finite(state)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    fingerprint = spec.fingerprint() if spec is not None else meta.get("fingerprint")
    header = {"format": FORMAT, "version": VERSION, "cnnspec": __version__, "torch": str(torch.__version__),
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    payload = {**state, "cnnspec": header, "meta": meta, "fingerprint": fingerprint,
               "spec": spec.to_dict() if spec is not None else None}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    atomic_write(directory / name, data)

    manifest = read_manifest(directory) or empty_manifest()
    seq = 1 + max((e.get("seq", 0) for e in manifest["checkpoints"]), default=0)
    entry = {**_plain(meta), "file": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
             "seq": seq, "created": header["created"], "fingerprint": fingerprint}
    manifest["checkpoints"] = [e for e in manifest["checkpoints"] if e["file"] != name] + [entry]
    aliases = list(aliases)
    manifest["aliases"].update(dict.fromkeys(aliases, name))
    write_manifest(directory, manifest)
    for alias in aliases:  # after the manifest: a stale alias still matches a listed entry
        atomic_link(directory / name, directory / f"{alias}.pt")
    return entry


def load_checkpoint(path: str | os.PathLike[str], *, map_location: Any = "cpu",
                    entry: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Load a checkpoint after verifying it; raises a :class:`CheckpointError` subclass.

    The sha256 is checked against ``entry``, or else the manifest next to the
    file when it lists it. Plain ``torch.save``-d state dicts (weights saved by
    hand) load too, with every check but the hash.
    """
    path = Path(path)
    return _load(path, [entry] if entry is not None else entries_for(path), map_location)


def _load(path: Path, entries: list[Mapping[str, Any]] | None, map_location: Any) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        if entries is not None:
            digest = hashlib.sha256(data).hexdigest()
            if not any(e.get("size") == len(data) and e.get("sha256") == digest for e in entries):
                if not any(e.get("size") == len(data) for e in entries):
                    sizes = " or ".join(str(e.get("size")) for e in entries[-3:])
                    raise CorruptCheckpointError(f"it is {len(data)} bytes, the manifest says {sizes}: "
                                                 "truncated or altered")
                raise CorruptCheckpointError("its sha256 differs from the manifest's: the bytes were altered")
        verify_container(data)
        obj = torch_load(data, map_location)
    except CheckpointError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    if not isinstance(obj, dict):
        raise CorruptCheckpointError(f"{path}: holds a {type(obj).__name__}, not a dict of tensors")
    return obj


def trainer_state(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The trainer state of a loaded checkpoint, without :data:`HEADER_KEYS`."""
    return {k: v for k, v in checkpoint.items() if k not in HEADER_KEYS}


def latest_valid(
    run_dir: str | os.PathLike[str],
    *,
    on_skip: Callable[[Path, str], None] | None = None,
    map_location: Any = "cpu",
) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint of a run that passes every check, loaded; ``None`` if none does.

    Newest by the manifest's save order; each file that fails (missing, hash
    mismatch, corrupt, unsafe) is reported to ``on_skip(path, reason)`` and
    the one before it is tried. Without a readable manifest, every ``*.pt``
    file is checked (no hash) and the one recording the highest step wins.
    """
    directory = checkpoint_dir(run_dir)
    manifest = read_manifest(directory)
    if manifest is not None:
        for entry in sorted(manifest["checkpoints"], key=lambda e: e.get("seq", 0), reverse=True):
            path = directory / entry["file"]
            try:
                return path, _load(path, [entry], map_location)
            except CheckpointError as exc:
                if on_skip is not None:
                    on_skip(path, str(exc).removeprefix(f"{path}: "))
        return None
    files = sorted(directory.glob("*.pt")) if directory.is_dir() else []
    if files and on_skip is not None:
        on_skip(directory / MANIFEST, "missing or unreadable; checking the files without their hashes")
    best: tuple[tuple[int, int], Path, dict[str, Any]] | None = None
    for path in files:
        try:
            checkpoint = _load(path, None, map_location)
        except CheckpointError as exc:
            if on_skip is not None:
                on_skip(path, str(exc).removeprefix(f"{path}: "))
            continue
        meta = checkpoint.get("meta") if isinstance(checkpoint.get("meta"), dict) else {}
        key = (int(meta.get("step", -1)), int(meta.get("epoch", -1)))
        if best is None or key > best[0]:
            best = (key, path, checkpoint)
    return None if best is None else (best[1], best[2])


def open_checkpoint(path: str | os.PathLike[str], *, map_location: Any = "cpu",
                    which: Which = "best") -> tuple[Path, dict[str, Any]]:
    """A checkpoint named by its file or by its run directory, loaded.

    What every command that takes ``--checkpoint`` accepts; all loading goes
    through :func:`load_checkpoint`'s checks. A run directory means its best
    checkpoint, or with ``which="last"`` its newest valid one
    (:mod:`cnnspec.checkpoint.select`).
    """
    check_which(which)
    path = Path(path)
    if path.is_dir():
        best = best_entry(path) if which == "best" else None
        if best is not None:
            try:
                return best[0], load_checkpoint(best[0], entry=best[1], map_location=map_location)
            except CheckpointError as exc:
                warnings.warn(f"{exc}; using the newest valid checkpoint instead", RuntimeWarning, stacklevel=2)
        found = latest_valid(path, map_location=map_location)
        if found is None:
            raise CheckpointError(f"{path}: no valid checkpoint in this run directory",
                                  hint="runs keep checkpoints/last.pt unless the spec says train: {checkpoint: "
                                       "false}; cnnspec runs lists the runs that have weights")
        return found
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} not found",
                              hint="give a checkpoint file (RUN/checkpoints/best.pt) or a run directory")
    return path, load_checkpoint(path, map_location=map_location)


def repair_aliases(directory: str | os.PathLike[str]) -> list[str]:
    """Relink every alias (``last.pt``, ``best.pt``) that is not the file the manifest names.

    Aliases are relinked after the manifest is written, so a kill in between
    leaves an alias one save behind — harmless mid-run (the next save fixes
    it), but the final save of a run would stay stale. Called when a run starts
    or resumes. Returns the aliases relinked.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest is None:
        return []
    fixed = []
    for alias, name in sorted(manifest["aliases"].items()):
        target, link = directory / name, directory / f"{alias}.pt"
        if not target.is_file():
            continue
        try:
            same = os.path.samefile(target, link) or link.read_bytes() == target.read_bytes()
        except OSError:
            same = False
        if not same:
            atomic_link(target, link)
            fixed.append(alias)
    return fixed
