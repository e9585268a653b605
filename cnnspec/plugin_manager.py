"""Finding, loading and checking plugins; building the registries from them.

The pytest model: built-in plugins are listed here and registered exactly
like third-party ones, which come from the ``cnnspec`` entry-point group.
``-p no:NAME`` disables a plugin, ``CNNSPEC_DISABLE_PLUGIN_AUTOLOAD=1`` skips
entry points except those named with ``-p NAME``.

Unlike plain pluggy, one plugin that fails to import, implements a misspelled
hook, or raises inside a hook does not stop the others: it is recorded as
broken (with its distribution and error) and reported where it matters.
"""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from cnnspec import hookspec
from cnnspec.registry import BrokenPlugin, Provider, Registry, RegistryError

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "PluginInfo",
    "PluginSet",
    "configure",
    "get_plugins",
]

ENTRY_POINT_GROUP = "cnnspec"
AUTOLOAD_ENV = "CNNSPEC_DISABLE_PLUGIN_AUTOLOAD"

#: built-in plugin name -> module; each registers through the public hooks
BUILTIN_PLUGINS: dict[str, str] = {
    "layers": "cnnspec.builtin.layers",
}

#: registry kind -> the hook that fills it
KINDS: dict[str, str] = {
    "layer": "cnnspec_layers",
    "dataset": "cnnspec_datasets",
    "optimizer": "cnnspec_optimizers",
    "loss": "cnnspec_losses",
    "scheduler": "cnnspec_schedulers",
    "transform": "cnnspec_transforms",
    "callback": "cnnspec_callbacks",
}


@dataclass
class PluginInfo:
    """One plugin as ``cnnspec plugins`` shows it."""

    name: str
    module: str
    builtin: bool
    distribution: str | None = None
    version: str | None = None
    registers: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


class PluginSet:
    """A loaded set of plugins and the registries they fill (built lazily)."""

    def __init__(self, *, disabled: Iterable[str] = (), enabled: Iterable[str] = (),
                 autoload: bool | None = None) -> None:
        self.disabled = frozenset(disabled)
        self.enabled = tuple(enabled)
        if autoload is None:
            autoload = not os.environ.get(AUTOLOAD_ENV)
        self.autoload = autoload
        self.pm = pluggy.PluginManager(hookspec.PROJECT_NAME)
        self.pm.add_hookspecs(hookspec)
        self.info: dict[str, PluginInfo] = {}
        self.broken: list[BrokenPlugin] = []
        self._registries: dict[str, Registry[Any]] = {}
        self._load()

    # -- loading ---------------------------------------------------------------
    def _load(self) -> None:
        for name, module in BUILTIN_PLUGINS.items():
            if name not in self.disabled:
                self._register_module(name, module, builtin=True)
        wanted = set(self.enabled)
        seen: dict[str, str] = {}
        for ep in _entry_points():
            if ep.name in self.disabled:
                continue
            if not self.autoload and ep.name not in wanted:
                continue
            dist = ep.dist.name if ep.dist else None
            version = ep.dist.version if ep.dist else None
            if ep.name in seen or ep.name in BUILTIN_PLUGINS:
                other = seen.get(ep.name, "cnnspec (built-in)")
                self._broken(ep.name, f"the plugin name '{ep.name}' is already taken by {other}; "
                             "rename one entry point", dist, version, ep.value)
                continue
            seen[ep.name] = f"{dist} {version}" if dist else ep.value
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not stop the others
                self._broken(ep.name, f"{type(exc).__name__}: {exc}", dist, version, ep.value)
                continue
            self._register(ep.name, plugin, ep.value, builtin=False, dist=dist, version=version)
        for name in self.enabled:
            if name not in self.info and name not in self.disabled and not any(b.name == name for b in self.broken):
                # -p NAME may also name an importable module, like pytest
                self._register_module(name, name, builtin=False)

    def _register_module(self, name: str, module: str, *, builtin: bool) -> None:
        try:
            plugin = importlib.import_module(module)
        except Exception as exc:
            self._broken(name, f"{type(exc).__name__}: {exc}", None, None, module)
            return
        self._register(name, plugin, module, builtin=builtin, dist=None, version=None)

    def _register(self, name: str, plugin: Any, module: str, *, builtin: bool,
                  dist: str | None, version: str | None) -> None:
        problem = _check_hooks(plugin)
        if problem:
            self._broken(name, problem, dist, version, module)
            return
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            self._broken(name, _explain_validation(str(exc)), dist, version, module)
            return
        self.info[name] = PluginInfo(name, module, builtin, dist, version)

    def _broken(self, name: str, error: str, dist: str | None, version: str | None, module: str) -> None:
        self.broken.append(BrokenPlugin(name, error, dist, version))
        self.info[name] = PluginInfo(name, module, False, dist, version, error=error)

    # -- registries ------------------------------------------------------------
    def registry(self, kind: str) -> Registry[Any]:
        """The registry of ``kind`` (``"layer"``, ``"dataset"``...), built once."""
        if kind not in self._registries:
            self._registries[kind] = self._build(kind)
        return self._registries[kind]

    def _build(self, kind: str) -> Registry[Any]:
        from cnnspec.component import Component
        from cnnspec.layer import LayerType

        expected = LayerType if kind == "layer" else Component
        registry: Registry[Any] = Registry(kind, broken=self.broken)
        caller = getattr(self.pm.hook, KINDS[kind])
        for impl in reversed(caller.get_hookimpls()):  # registration order
            name = impl.plugin_name
            info = self.info[name]
            provider = Provider(name, info.distribution, info.version)
            try:
                items = list(impl.function() or ())
            except Exception as exc:
                self._mark_broken(name, f"hook {KINDS[kind]} raised {type(exc).__name__}: {exc}")
                continue
            bad = [i for i in items if not isinstance(i, expected)]
            if bad:
                self._mark_broken(name, f"hook {KINDS[kind]} returned {type(bad[0]).__name__} "
                                  f"{bad[0]!r:.60}, expected {expected.__name__} objects")
                continue
            try:
                for item in items:
                    registry.add(item.name, item, provider)
            except RegistryError as exc:
                self._mark_broken(name, exc.message)
                continue
            info.registers[kind] = sorted(i.name for i in items)
        return registry

    def _mark_broken(self, name: str, error: str) -> None:
        info = self.info[name]
        info.error = error if info.error is None else f"{info.error}; {error}"
        self.broken.append(BrokenPlugin(name, error, info.distribution, info.version))

    def layers(self) -> Registry[Any]:
        return self.registry("layer")

    def all_registries(self) -> dict[str, Registry[Any]]:
        return {kind: self.registry(kind) for kind in KINDS}


def _entry_points() -> Sequence[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _check_hooks(plugin: Any) -> str | None:
    """A misspelled hook name, with the nearest real one (pluggy would ignore it)."""
    known = [n for n in dir(hookspec) if n.startswith("cnnspec_")]
    marker = f"{hookspec.PROJECT_NAME}_impl"
    for attr in dir(plugin):
        fn = getattr(plugin, attr, None)
        if not callable(fn) or not hasattr(fn, marker):
            continue
        if attr not in known:
            close = difflib.get_close_matches(attr, known, n=1)
            suggestion = f"; did you mean '{close[0]}'?" if close else ""
            return f"implements unknown hook '{attr}'{suggestion} (hooks: {', '.join(known)})"
    return None


def _explain_validation(message: str) -> str:
    return " ".join(message.split())


_configured: dict[str, Any] = {"disabled": (), "enabled": (), "autoload": None}
_cache: dict[tuple[Any, ...], PluginSet] = {}


def configure(*, disabled: Iterable[str] = (), enabled: Iterable[str] = (),
              autoload: bool | None = None) -> None:
    """Set the process-wide plugin selection (the CLI's ``-p`` options)."""
    _configured.update(disabled=tuple(disabled), enabled=tuple(enabled), autoload=autoload)


def get_plugins() -> PluginSet:
    """The process-wide plugin set for the current configuration (cached)."""
    autoload = _configured["autoload"]
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)
    key = (_configured["disabled"], _configured["enabled"], autoload)
    if key not in _cache:
        _cache[key] = PluginSet(disabled=key[0], enabled=key[1], autoload=key[2])
    return _cache[key]
