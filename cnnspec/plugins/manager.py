"""Loading plugins and building the registries from them; the process-wide set.

Plugins are found by :mod:`~cnnspec.plugins.discovery` (built-ins and the
``cnnspec`` entry points) and checked by :mod:`~cnnspec.plugins.checks`.
``-p no:NAME`` disables a plugin; ``CNNSPEC_DISABLE_PLUGIN_AUTOLOAD=1`` skips
entry points except those named with ``-p NAME``.

Unlike plain pluggy, nothing about one plugin stops the others: a plugin that
fails to import, implements a misspelled hook (pluggy accepts those unless
``check_pending()`` is called — here each plugin is checked on its own), asks
for an argument its hook does not have, raises inside a registration hook or
returns the wrong objects is recorded as broken, with its distribution and
error, and contributes nothing. Lookups of names it would have provided say
so; specs that do not need it never notice.

"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from cnnspec import hookspec
from cnnspec.plugins.checks import Broken, as_list, check_hookimpls, check_item, describe_exception, hook_names
from cnnspec.plugins.discovery import (
    BUILTIN_PLUGINS,
    ENTRY_POINT_GROUP,
    Candidate,
    builtin_candidate,
    entry_point_candidates,
    module_candidate,
)
from cnnspec.plugins.registry import BrokenPlugin, Provider, Registry

__all__ = [
    "AUTOLOAD_ENV",
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "PluginInfo",
    "PluginSet",
    "configure",
    "get_plugins",
    "hook_names",
    "reset_plugins",
]

AUTOLOAD_ENV = "CNNSPEC_DISABLE_PLUGIN_AUTOLOAD"

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

LOADED, BROKEN, DISABLED, NOT_LOADED = "loaded", "broken", "disabled", "not loaded"


@dataclass
class PluginInfo:
    """One plugin as ``cnnspec plugins`` shows it.

    ``status`` is ``loaded``, ``broken`` (see ``errors``), ``disabled``
    (``-p no:NAME``) or ``not loaded`` (autoload disabled and not named with
    ``-p``). ``notes`` are warnings that do not break it, such as a plugin
    name shared with another distribution.
    """

    name: str
    module: str
    builtin: bool
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None
    status: str = LOADED
    registers: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) if self.errors else None

    @property
    def provider(self) -> Provider:
        return Provider(self.name, self.distribution, self.version)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``cnnspec plugins --format json``."""
        return {
            "name": self.name,
            "status": self.status,
            "builtin": self.builtin,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "entry_point": self.entry_point,
            "registers": {kind: list(names) for kind, names in self.registers.items()},
            "error": self.error,
            "notes": list(self.notes),
        }


class PluginSet:
    """A loaded set of plugins and the registries they fill.

    Plugins are found and imported when the set is made; their registration
    hooks run once, together, on the first registry lookup. A plugin is used
    whole or not at all: if any of its hooks misbehaves it is marked broken
    and none of its names are registered, whichever registry was asked for
    first.
    """

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
        #: problems that belong to no plugin (unreadable distribution metadata)
        self.warnings: list[str] = []
        self._registries: dict[str, Registry[Any]] | None = None
        self._load()

    # -- finding and importing -----------------------------------------------------------
    def _load(self) -> None:
        candidates = [builtin_candidate(name, module) for name, module in BUILTIN_PLUGINS.items()]
        candidates += entry_point_candidates(self.warnings)
        wanted = set(self.enabled)
        for cand in candidates:
            if self._selected(cand, self.disabled):
                self._skip(cand, DISABLED, f"disabled with -p no:{cand.claimed_as}")
            elif not cand.builtin and not self.autoload and not self._selected(cand, wanted):
                self._skip(cand, NOT_LOADED, f"{AUTOLOAD_ENV} is set and it was not named with -p {cand.claimed_as}")
            else:
                self._import(cand)
        for name in self.enabled:
            if name in self.disabled or any(self._selected(c, {name}) for c in candidates):
                continue
            self._import(module_candidate(name, candidates))
        self.pm.check_pending()  # every plugin was checked on its own; this must hold

    @staticmethod
    def _selected(cand: Candidate, names: Iterable[str]) -> bool:
        names = set(names)
        return cand.name in names or cand.claimed_as in names

    def _skip(self, cand: Candidate, status: str, why: str) -> None:
        info = self._info(cand)
        info.status = status
        info.notes.append(why)

    def _info(self, cand: Candidate) -> PluginInfo:
        info = PluginInfo(cand.name, cand.module, cand.builtin, cand.distribution, cand.version,
                          cand.entry_point, notes=list(cand.notes))
        self.info[cand.name] = info
        return info

    def _import(self, cand: Candidate) -> None:
        info = self._info(cand)
        try:
            plugin = cand.load()
        except KeyboardInterrupt:
            # a plugin that hangs at import (a network call, a lock): say which one it was
            dist = " ".join(p for p in (cand.distribution, cand.version) if p)
            dist = f" ({dist})" if dist else ""
            raise KeyboardInterrupt(
                f"while importing plugin '{cand.name}'{dist}; skip it with -p no:{cand.name}") from None
        except (Exception, SystemExit) as exc:  # a broken plugin must not stop the others
            self._mark_broken(info, f"cannot import {cand.module}: {describe_exception(exc)}")
            return
        try:
            other = self.pm.get_name(plugin)
            if other is not None:
                raise Broken(f"{cand.module} is already registered as plugin '{other}'")
            check_hookimpls(self.pm, plugin)
            self.pm.register(plugin, name=cand.name)
        except Broken as exc:
            self._mark_broken(info, str(exc))
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._mark_broken(info, " ".join(str(exc).split()))

    def _mark_broken(self, info: PluginInfo, error: str, provides: Mapping[str, tuple[str, ...]] | None = None) -> None:
        info.status = BROKEN
        info.errors.append(error)
        info.registers.clear()
        self.broken.append(BrokenPlugin(info.name, error, info.distribution, info.version, dict(provides or {})))

    # -- registration hooks ---------------------------------------------------------------
    def _collect(self) -> dict[str, Registry[Any]]:
        """Run every plugin's registration hooks once and fill every registry."""
        reasons = {DISABLED: "disabled with -p no:NAME", NOT_LOADED: f"{AUTOLOAD_ENV} is set; load with -p NAME"}
        inactive = {n: reasons[i.status] for n, i in self.info.items() if i.status in reasons}
        registries = {kind: Registry(kind, broken=self.broken, inactive=inactive) for kind in KINDS}
        for name, info in list(self.info.items()):
            if info.status != LOADED:
                continue
            plugin = self.pm.get_plugin(name)
            items, problems = self._call_registration_hooks(name, plugin)
            if problems:
                provides = {kind: tuple(i.name for i in found if isinstance(getattr(i, "name", None), str))
                            for kind, found in items.items()}
                self._mark_broken(info, "; ".join(problems), provides)
                self.pm.unregister(plugin)
                continue
            for kind, found in items.items():
                for item in found:
                    registries[kind].add(item.name, item, info.provider)
                if found:
                    info.registers[kind] = sorted((i.name for i in found), key=str.lower)
        return registries

    def _call_registration_hooks(self, name: str, plugin: Any) -> tuple[dict[str, list[Any]], list[str]]:
        from cnnspec.component import Component
        from cnnspec.layer import LayerType

        items: dict[str, list[Any]] = {}
        problems: list[str] = []
        for kind, hook in KINDS.items():
            expected = LayerType if kind == "layer" else Component
            impls = [i for i in getattr(self.pm.hook, hook).get_hookimpls() if i.plugin is plugin]
            for impl in impls:
                if impl.hookwrapper or impl.wrapper:
                    problems.append(f"hook {hook} cannot be a wrapper: registration hooks return definitions")
                    continue
                try:
                    result = impl.function()
                    found = as_list(result, expected, hook)
                except Broken as exc:
                    problems.append(str(exc))
                    continue
                except Exception as exc:
                    problems.append(f"hook {hook} raised {describe_exception(exc)}")
                    continue
                items.setdefault(kind, []).extend(found)
            seen: dict[str, str] = {}
            for item in items.get(kind, []):
                problem = check_item(kind, item, hook)
                if problem:
                    problems.append(problem)
                    continue
                if item.name.lower() in seen:
                    problems.append(f"hook {hook} returns the {kind} name '{item.name}' twice "
                                    f"(also as '{seen[item.name.lower()]}'); names are case-insensitive")
                seen.setdefault(item.name.lower(), item.name)
        return items, problems

    # -- public ------------------------------------------------------------------------------
    def registry(self, kind: str) -> Registry[Any]:
        """The registry of ``kind`` (``"layer"``, ``"dataset"``...)."""
        if kind not in KINDS:
            raise ValueError(f"unknown registry kind {kind!r}; kinds: {', '.join(KINDS)}")
        if self._registries is None:
            self._registries = self._collect()
        return self._registries[kind]

    def layers(self) -> Registry[Any]:
        return self.registry("layer")

    def all_registries(self) -> dict[str, Registry[Any]]:
        return {kind: self.registry(kind) for kind in KINDS}

    def plugins(self) -> list[PluginInfo]:
        """Every plugin found, built-ins first, after running the registration hooks."""
        self.all_registries()
        return list(self.info.values())

    def conflicts(self) -> dict[str, dict[str, list[Any]]]:
        """Names registered by more than one plugin, per kind (each is ambiguous in specs)."""
        out = {}
        for kind, registry in self.all_registries().items():
            found = registry.conflicts()
            if found:
                out[kind] = found
        return out


# -- the process-wide set ----------------------------------------------------------------------
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


def reset_plugins() -> None:
    """Forget the cached plugin sets and selection (after installing a plugin in-process, in tests)."""
    _cache.clear()
    configure()
