"""Name → component registries, one generic implementation for every kind.

Why not a dict: the anchors' registries silently overwrite duplicates and answer
a typo with a bare ``KeyError``. Here a name is matched case-insensitively (the
spec language matches torch class names that way), every entry remembers who
provided it, two providers of one name are an error naming both (the same
message in either install order) while each stays reachable as
``plugin:name``, and an unknown name gets "did you mean" plus, when a plugin
failed to load, which one provides (or may provide) it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cnnspec.exceptions import RegistryError
from cnnspec.names import suggest

__all__ = ["BrokenPlugin", "Entry", "Provider", "Registry", "RegistryError", "suggest"]

T = TypeVar("T")


def _dist_text(distribution: str | None, version: str | None) -> str:
    if not distribution:
        return ""
    return f" (distribution {distribution}{f' {version}' if version else ''})"


@dataclass(frozen=True)
class Provider:
    """Who registered an entry: a pluggy plugin name and its distribution."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return f"plugin '{self.plugin}'{_dist_text(self.distribution, self.version)}"


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that was found but could not be loaded, and why.

    ``provides`` lists, per registry kind, the names its registration hooks
    returned before it was found broken: empty when it failed earlier (an
    import error), so lookups can say "provided by" or only "may provide".
    """

    name: str
    error: str
    distribution: str | None = None
    version: str | None = None
    provides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def describe(self) -> str:
        return f"plugin '{self.name}'{_dist_text(self.distribution, self.version)} failed to load: {self.error}"

    def would_provide(self, kind: str, name: str) -> bool:
        return name.lower() in (n.lower() for n in self.provides.get(kind, ()))

    @property
    def known(self) -> bool:
        """Whether its registration hooks ran, so ``provides`` is complete."""
        return bool(self.provides)


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered object and the plugin that provided it."""

    name: str
    obj: T
    provider: Provider

    @property
    def qualified_name(self) -> str:
        return f"{self.provider.plugin}:{self.name}"



@dataclass
class Registry(Generic[T]):
    """Entries of one kind (``"layer"``, ``"dataset"``, ...).

    ``broken`` is shared with the plugin manager so an unknown-name error can
    say which installed plugins provide (or might provide) the name;
    ``inactive`` maps plugins that were found but not loaded (``-p no:NAME``,
    autoload disabled) to a short reason, for the same purpose.
    """

    kind: str
    broken: list[BrokenPlugin] = field(default_factory=list)
    inactive: dict[str, str] = field(default_factory=dict)
    _entries: dict[str, list[Entry[T]]] = field(default_factory=dict)

    def add(self, name: str, obj: T, provider: Provider) -> None:
        """Register ``obj``; a second provider of ``name`` makes it ambiguous, never replaced."""
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

    def conflicts(self) -> dict[str, list[Entry[T]]]:
        """Names with more than one provider, each with its entries (sorted by provider)."""
        return {
            bucket[0].name: sorted(bucket, key=_provider_key)
            for bucket in sorted(self._entries.values(), key=lambda b: b[0].name.lower())
            if len(bucket) > 1
        }

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
        ordered = sorted(bucket, key=_provider_key)
        providers = " and ".join(str(e.provider) for e in ordered)
        choices = ", ".join(f"'{e.qualified_name}'" for e in ordered)
        raise RegistryError(
            f"the {self.kind} name '{bare}' is registered by both {providers}",
            hint=f"write the qualified name to pick one: {choices}; or disable one plugin with -p no:NAME",
        )

    def get(self, name: str) -> T:
        return self.entry(name).obj

    # -- unknown names -----------------------------------------------------------------
    def _unknown(self, name: str, bare: str, plugin: str | None) -> RegistryError:
        providing = [b for b in self.broken if b.would_provide(self.kind, bare)]
        if plugin is not None:
            providing = [b for b in self.broken if b.name == plugin] or providing
        if providing:
            b = providing[0]
            verb = "is provided by" if b.would_provide(self.kind, bare) else "would come from"
            return RegistryError(
                f"unknown {self.kind} '{name}': it {verb} {b.describe()}",
                hint=f"fix or reinstall that plugin (see `cnnspec plugins`), or disable it with -p no:{b.name}",
            )
        if plugin is not None:
            return self._unknown_qualified(name, bare, plugin)
        close = suggest(bare, self.names())
        message = f"unknown {self.kind} '{name}'"
        if close:
            message += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        hints = []
        unknown_broken = [b.name for b in self.broken if not b.known]
        if unknown_broken:
            hints.append("installed but failed to load, and may provide it: "
                         + ", ".join(f"'{n}'" for n in unknown_broken) + " (see `cnnspec plugins`).")
        by_reason: dict[str, list[str]] = {}
        for plugin_name, why in sorted(self.inactive.items()):
            by_reason.setdefault(why, []).append(f"'{plugin_name}'")
        for why, names in by_reason.items():
            hints.append(f"not loaded ({why}): {', '.join(names)}.")
        if not close:
            names = self.names()
            if len(names) <= 12:
                hints.append(f"known {self.kind}s: " + (", ".join(names) or "(none)"))
            else:
                hints.append(f"`cnnspec plugins` lists the {len(names)} known {self.kind}s")
        return RegistryError(message, hint=" ".join(hints) if hints else None)

    def _unknown_qualified(self, name: str, bare: str, plugin: str) -> RegistryError:
        providers = sorted({e.provider.plugin for e in self})
        if plugin in self.inactive:
            return RegistryError(f"unknown {self.kind} '{name}': plugin '{plugin}' is not loaded "
                                 f"({self.inactive[plugin]})", hint=f"load it with -p {plugin}")
        if plugin not in providers:
            close = suggest(plugin, providers)
            extra = f"; did you mean '{close[0]}:{bare}'?" if close else ""
            return RegistryError(
                f"unknown {self.kind} '{name}': no plugin '{plugin}' provides {self.kind}s{extra}",
                hint=f"plugins providing {self.kind}s: " + (", ".join(providers) or "(none)"),
            )
        own = sorted((e.name for e in self if e.provider.plugin == plugin), key=str.lower)
        close = suggest(bare, own)
        extra = f"; did you mean '{plugin}:{close[0]}'?" if close else ""
        return RegistryError(
            f"unknown {self.kind} '{name}': plugin '{plugin}' has no {self.kind} '{bare}'{extra}",
            hint=f"its {self.kind}s: " + ", ".join(own),
        )


def _provider_key(entry: Entry[object]) -> tuple[str, str]:
    return (entry.provider.plugin, entry.provider.distribution or "")
