"""What can be wrong with a checkpoint; the classes live in :mod:`cnnspec.exceptions`."""

from __future__ import annotations

from cnnspec.exceptions import CheckpointError, CorruptCheckpointError, NonFiniteStateError, UnsafeCheckpointError

__all__ = ["CheckpointError", "CorruptCheckpointError", "NonFiniteStateError", "UnsafeCheckpointError"]
