"""What can be wrong with a checkpoint, as exception types callers can tell apart."""

from __future__ import annotations

from cnnspec.exceptions import CnnspecError

__all__ = ["CheckpointError", "CorruptCheckpointError", "NonFiniteStateError", "UnsafeCheckpointError"]


class CheckpointError(CnnspecError):
    """A checkpoint that cannot be used (and why)."""


class CorruptCheckpointError(CheckpointError):
    """Torn, truncated, bit-flipped or not a checkpoint at all."""


class UnsafeCheckpointError(CheckpointError):
    """The file's pickle names objects a weights file never needs: refused unread."""


class NonFiniteStateError(CheckpointError):
    """A tensor to be saved holds NaN or inf; saving it would poison every resume."""
