"""``manifest.json``: the list of a run's checkpoints with their sha256, in save order.

The manifest is the source of truth for which files are complete and
unaltered: a file is listed only after it was written and renamed in place,
and unlisted before it is deleted, so a crash at any point leaves at worst an
unlisted file, never a listed one that is missing or half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cnnspec.checkpoint.atomic import atomic_write

__all__ = ["MANIFEST", "checkpoint_dir", "entries_for", "quarantine", "read_manifest", "remove_checkpoints",
           "write_manifest"]

MANIFEST = "manifest.json"
VERSION = 1


def checkpoint_dir(run_dir: str | os.PathLike[str]) -> Path:
    """``RUN_DIR/checkpoints`` where it exists, else the directory itself."""
    run_dir = Path(run_dir)
    return run_dir / "checkpoints" if (run_dir / "checkpoints").is_dir() else run_dir


def empty_manifest() -> dict[str, Any]:
    return {"format": "cnnspec-manifest", "version": VERSION, "checkpoints": [], "aliases": {}}


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest of a checkpoint directory; ``None`` if missing or unreadable."""
    try:
        data = json.loads((Path(directory) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("checkpoints"), list):
        return None
    if not isinstance(data.get("aliases"), dict):
        data["aliases"] = {}
    # a manifest may come from someone else's run directory: only plain names in this folder count
    data["checkpoints"] = [e for e in data["checkpoints"] if isinstance(e, dict) and _plain_name(e.get("file"))]
    data["aliases"] = {k: v for k, v in data["aliases"].items() if _plain_name(v)}
    return data


def _plain_name(name: Any) -> bool:
    """A file name without any directory part (no '/', no '..', not absolute)."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name)


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    atomic_write(directory / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())


def entries_for(path: Path) -> list[dict[str, Any]] | None:
    """The manifest entries ``path``'s bytes may match, or ``None`` for no hash check.

    A listed file must match its own entry. An alias (``last.pt``,
    ``best.pt``) may match any listed checkpoint: aliases are relinked after
    the manifest is written, so after a crash one may still, validly, hold
    the previous checkpoint. A file the manifest does not mention is not
    hash-checked (the other checks still apply).
    """
    manifest = read_manifest(path.parent)
    if manifest is None:
        return None
    listed = [e for e in manifest["checkpoints"] if e["file"] == path.name]
    if listed:
        return listed
    if path.suffix == ".pt" and path.stem in manifest["aliases"]:
        return manifest["checkpoints"]
    return None


def remove_checkpoints(directory: str | os.PathLike[str], names: Iterable[str]) -> list[str]:
    """Unlist checkpoints, then delete their files (files aliases point to are kept).

    Returns the names removed.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest is None:
        return []
    keep = set(manifest["aliases"].values())
    drop = {n for n in names if n not in keep and _plain_name(n)}
    if not drop:
        return []
    manifest["checkpoints"] = [e for e in manifest["checkpoints"] if e["file"] not in drop]
    write_manifest(directory, manifest)
    for n in drop:
        with contextlib.suppress(FileNotFoundError):
            (directory / n).unlink()
    return sorted(drop)


def quarantine(directory: str | os.PathLike[str], names: Iterable[str]) -> list[Path]:
    """Unlist damaged checkpoints and rename them ``<name>.damaged`` (kept for a look,
    out of the way of rotation and of the next resume). Returns the new paths."""
    directory = Path(directory)
    names = {n for n in names if _plain_name(n)}
    manifest = read_manifest(directory)
    if manifest is not None and any(e["file"] in names for e in manifest["checkpoints"]):
        manifest["checkpoints"] = [e for e in manifest["checkpoints"] if e["file"] not in names]
        manifest["aliases"] = {k: v for k, v in manifest["aliases"].items() if v not in names}
        write_manifest(directory, manifest)
    moved = []
    for n in sorted(names):
        target = directory / f"{n}.damaged"
        with contextlib.suppress(OSError):
            os.replace(directory / n, target)
            moved.append(target)
    return moved
