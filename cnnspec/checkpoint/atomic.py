"""Checkpoint-file helpers on top of :mod:`cnnspec.atomic`: atomic aliases
(``last.pt``/``best.pt`` as hard links); the writer and the temp-file cleaner are re-exported."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["TMP_PREFIX", "atomic_link", "atomic_write", "clean_temp_files"]

from cnnspec.atomic import TMP_PREFIX, atomic_write, clean_temp_files
from cnnspec.atomic import fsync_dir as _fsync_dir


def atomic_link(target: Path, alias: Path) -> None:
    """Point ``alias`` at ``target``'s bytes atomically: a hard link (no extra
    disk space), or an atomic copy where links are not supported."""
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{alias.name}.", dir=alias.parent)
    os.close(fd)
    os.unlink(tmp)  # a unique free name for the link
    try:
        os.link(target, tmp)
    except OSError:
        atomic_write(alias, target.read_bytes())
        return
    try:
        os.replace(tmp, alias)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(alias.parent)
