"""An edit of a spec's data, and applying it: what a fix-it is.

A :class:`Fix` sets (or removes, :data:`REMOVE`) one value of the resolved
document, with the follow-up edits it needs; :func:`apply_fix` returns an
edited copy, sharing what it did not touch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cnnspec.exceptions import Location
from cnnspec.load.document import PathKey, format_path

__all__ = ["REMOVE", "Fix", "apply_fix", "get_value", "replace_value", "value_text"]

#: ``Fix.new`` for "delete this key"
REMOVE: Any = type("Remove", (), {"__repr__": lambda self: "REMOVE"})()


@dataclass(frozen=True)
class Fix:
    """One edit: set (or remove) the value at ``path`` of the resolved spec.

    ``also`` lists the follow-up edits the main one needs: an explicitly
    written count downstream (``in_features: 1250``) updated to what the edit
    makes it. They belong together: the fix is valid with all of them.
    """

    path: PathKey
    old: Any
    new: Any
    description: str
    cost: float
    location: Location | None = None
    also: tuple[Fix, ...] = ()

    @property
    def action(self) -> str:
        return "remove" if self.new is REMOVE else "set"

    def to_dict(self) -> dict[str, Any]:
        """The form ``validate --format json`` lists under an error's ``fixes``."""
        return {
            "path": format_path(self.path),
            "old": self.old,
            "new": None if self.new is REMOVE else self.new,
            "action": self.action,
            "description": self.description,
            "location": str(self.location) if self.location else None,
            "also": [{k: v for k, v in f.to_dict().items() if k not in ("also", "description")} for f in self.also],
        }

    def __str__(self) -> str:
        return self.description


def apply_fix(data: Any, fix: Fix) -> Any:
    """A copy of ``data`` with the fix applied (containers on the path copied, the rest shared)."""
    data = replace_value(data, fix.path, fix.new)
    for more in fix.also:
        data = replace_value(data, more.path, more.new)
    return data


def replace_value(data: Any, path: PathKey, value: Any) -> Any:
    """A copy of ``data`` with ``value`` at ``path`` (:data:`REMOVE` deletes the key)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        out = dict(data)
        if not rest and value is REMOVE:
            del out[head]  # type: ignore[arg-type]
        else:
            out[head] = replace_value(data.get(head, {}), rest, value)  # type: ignore[arg-type]
        return out
    out_list = list(data)
    out_list[head] = replace_value(data[head], rest, value)  # type: ignore[index]
    return out_list


def get_value(data: Any, path: PathKey) -> Any:
    """The value at ``path``."""
    for part in path:
        data = data[part]
    return data


def value_text(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value
