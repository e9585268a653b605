"""Which checkpoint a run directory means.

``evaluate``, ``explain``, ``export`` and ``predict`` take a run directory
as well as a file. A run directory means its **best** checkpoint (the
``best`` alias of ``manifest.json``: the best epoch by the monitored metric,
like Keras' ``restore_best_weights`` or Lightning's ``ckpt_path="best"``) when
it has one, else its newest valid one; ``which="last"`` asks for the newest
valid one. A damaged best file falls back to the newest valid checkpoint with
a warning, never silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from cnnspec.checkpoint.errors import CheckpointError
from cnnspec.checkpoint.manifest import checkpoint_dir, read_manifest

__all__ = ["WHICH", "Which", "best_entry", "check_which", "describe_checkpoint"]

Which = Literal["best", "last"]
#: the choices of ``--weights``
WHICH: tuple[str, ...] = ("best", "last")


def best_entry(run_dir: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]] | None:
    """The file and manifest entry of the run's ``best`` alias, if the manifest names one."""
    directory = checkpoint_dir(run_dir)
    manifest = read_manifest(directory)
    if manifest is None or "best" not in manifest["aliases"]:
        return None
    name = manifest["aliases"]["best"]
    entry = next((e for e in manifest["checkpoints"] if e.get("file") == name), None)
    return (directory / name, entry) if entry is not None else None


def check_which(which: str) -> None:
    if which not in WHICH:
        raise CheckpointError(f"--weights {which}: choose one of {', '.join(WHICH)}")


def describe_checkpoint(path: str | os.PathLike[str], checkpoint: Mapping[str, Any] | None = None) -> str:
    """``runs/x/checkpoints/epoch0009.pt (best, val_loss 0.0123, epoch 9)``: what a command says it used."""
    path = Path(path)
    manifest = read_manifest(path.parent)
    meta = (checkpoint or {}).get("meta") if checkpoint is not None else None
    if not isinstance(meta, Mapping):
        meta = next((e for e in (manifest or {}).get("checkpoints", []) if e.get("file") == path.name), None)
    if not isinstance(meta, Mapping):
        return str(path)
    roles = [alias for alias, name in sorted((manifest or {}).get("aliases", {}).items()) if name == path.name]
    monitor = meta.get("monitor")
    value = (meta.get("metrics") or {}).get(monitor) if monitor else None
    parts = []
    if roles:
        parts.append(" and ".join(roles))
    if value is not None:
        parts.append(f"{monitor} {value:.4g}")
    epoch, batch = meta.get("epoch"), meta.get("batch")
    if epoch is not None:
        parts.append(f"epoch {epoch}" if not batch else f"in epoch {int(epoch) + 1}, batch {batch}")
    return f"{path} ({', '.join(parts)})" if parts else str(path)
