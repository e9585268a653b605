"""Name → component registries, one generic implementation for every kind.

Why not a dict: the anchors' registries silently overwrite duplicates and answer
a typo with a bare ``KeyError``. Here a name is matched case-insensitively (the
spec language matches torch class names that way), every entry remembers who
provided it, two providers of one name are an error naming both (in either
install order) while each stays reachable as ``plugin:name``, and an unknown
name gets "did you mean" plus a note about plugins that failed to load.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cnnspec.exceptions import CnnspecError

__all__ = ["BrokenPlugin", "Entry", "Provider", "Registry", "RegistryError", "suggest"]

T = TypeVar("T")


@dataclass(frozen=True)
class Provider:
    """Who registered an entry: a pluggy plugin name and its distribution."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        if self.distribution:
            version = f" {self.version}" if self.version else ""
            return f"plugin '{self.plugin}' (distribution {self.distribution}{version})"
        return f"plugin '{self.plugin}'"


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that was found but could not be loaded, and why."""

    name: str
    error: str
    distribution: str | None = None
    version: str | None = None

    def describe(self) -> str:
        where = ""
        if self.distribution:
            version = f" {self.version}" if self.version else ""
            where = f" (distribution {self.distribution}{version})"
        return f"plugin '{self.name}'{where} failed to load: {self.error}"


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    provider: Provider

    @property
    def qualified_name(self) -> str:
        return f"{self.provider.plugin}:{self.name}"


class RegistryError(CnnspecError):
    """A lookup that cannot be answered: unknown or ambiguous name.

    It has no location of its own; the spec layer turns it into a located
    :class:`~cnnspec.exceptions.SpecError`.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  Hint: {hint}")


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Close matches for a misspelled name, compared case-insensitively."""
    by_lower: dict[str, str] = {}
    for cand in candidates:
        by_lower.setdefault(cand.lower(), cand)
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[c] for c in close]


@dataclass
class Registry(Generic[T]):
    """Entries of one kind (``"layer"``, ``"dataset"``, ...).

    ``broken`` is shared with the plugin manager so an unknown-name error can
    say which installed plugins might have provided the name.
    """

    kind: str
    broken: list[BrokenPlugin] = field(default_factory=list)
    _entries: dict[str, list[Entry[T]]] = field(default_factory=dict)

    def add(self, name: str, obj: T, provider: Provider) -> None:
        key = name.lower()
        bucket = self._entries.setdefault(key, [])
        if any(e.provider.plugin == provider.plugin for e in bucket):
            raise RegistryError(
                f"{provider} registers the {self.kind} '{name}' twice",
                hint="return each name once from the registration hook",
            )
        bucket.append(Entry(name, obj, provider))

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except RegistryError:
            return False
        return True

    def __iter__(self) -> Iterator[Entry[T]]:
        for bucket in self._entries.values():
            yield from bucket

    def __len__(self) -> int:
        return sum(len(b) for b in self._entries.values())

    def names(self) -> list[str]:
        """Display names, one per key, sorted case-insensitively."""
        return sorted((b[0].name for b in self._entries.values()), key=str.lower)

    def entry(self, name: str) -> Entry[T]:
        """The entry for ``name`` or ``plugin:name``; see the module docstring."""
        plugin, sep, bare = name.rpartition(":")
        bucket = self._entries.get(bare.lower(), [])
        if sep:
            for e in bucket:
                if e.provider.plugin == plugin:
                    return e
            raise self._unknown(name, bare, plugin)
        if len(bucket) == 1:
            return bucket[0]
        if not bucket:
            raise self._unknown(name, bare, None)
        providers = " and ".join(str(e.provider) for e in sorted(bucket, key=_provider_key))
        choices = ", ".join(f"'{e.qualified_name}'" for e in sorted(bucket, key=_provider_key))
        raise RegistryError(
            f"the {self.kind} name '{bare}' is registered by both {providers}",
            hint=f"write the qualified name to pick one: {choices}",
        )

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def _unknown(self, name: str, bare: str, plugin: str | None) -> RegistryError:
        if plugin is not None:
            for b in self.broken:
                if b.name == plugin:
                    return RegistryError(
                        f"unknown {self.kind} '{name}': {b.describe()}",
                        hint="fix or reinstall that plugin, or disable it with -p no:" + b.name,
                    )
            known = sorted({e.provider.plugin for e in self}) or ["(none)"]
            return RegistryError(
                f"unknown {self.kind} '{name}': no {self.kind} '{bare}' from plugin '{plugin}'",
                hint="plugins providing " + self.kind + "s: " + ", ".join(known),
            )
        close = suggest(bare, self.names())
        message = f"unknown {self.kind} '{name}'"
        if close:
            message += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        hints = []
        if self.broken:
            hints.append(
                "installed but failed to load, and may provide it: "
                + "; ".join(b.describe() for b in self.broken)
            )
        if not close:
            hints.append(f"known {self.kind}s: " + ", ".join(self.names()))
        return RegistryError(message, hint=" ".join(hints) if hints else None)


def _provider_key(entry: Entry[object]) -> tuple[str, str]:
    return (entry.provider.distribution or "", entry.provider.plugin)
