"""A parsed spec document: plain data plus where each value came from.

Shared by the YAML and JSON readers, composition (``extends:`` keeps the
position of inherited values in their own file) and every located error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnnspec.exceptions import Location, SpecError
from cnnspec.exceptions import format_key_path as format_path

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_INT_DIGITS", "MAX_NODES", "Document", "PathKey", "format_path"]

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_INT_DIGITS = 64

PathKey = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"


@dataclass
class Document:
    """Plain data plus the source position of each value and key."""

    data: Any
    file: str
    positions: dict[PathKey, Location] = field(default_factory=dict)
    key_positions: dict[PathKey, Location] = field(default_factory=dict)

    def locate(self, path: PathKey, *, key: bool = False) -> Location | None:
        """The position of ``path`` or of its nearest recorded ancestor."""
        path = tuple(path)
        if key and path in self.key_positions:
            return self.key_positions[path]
        while True:
            if path in self.positions:
                return self.positions[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, message: str, path: PathKey, *, hint: str | None = None, key: bool = False,
              cls: type[SpecError] = SpecError) -> SpecError:
        return cls(message, location=self.locate(path, key=key), key=tuple(path), hint=hint)
