"""Finding, loading and checking plugins; building the registries from them.

The pytest model: built-in plugins are listed in :data:`BUILTIN_PLUGINS` and
registered exactly like third-party ones, which come from the ``cnnspec``
entry-point group of installed distributions. ``-p no:NAME`` disables a
plugin; ``CNNSPEC_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points except those
named with ``-p NAME``.

Unlike plain pluggy, nothing about one plugin stops the others: a plugin that
fails to import, implements a misspelled hook (pluggy accepts those unless
``check_pending()`` is called — here each plugin is checked on its own), asks
for an argument its hook does not have, raises inside a registration hook or
returns the wrong objects is recorded as broken, with its distribution and
error, and contributes nothing. Lookups of names it would have provided say
so; specs that do not need it never notice.

A plugin name claimed by two sources (two distributions with the same
entry-point name, or an entry point named like a built-in) is not silently
resolved by install order: every third-party claimant is registered as
``NAME@DISTRIBUTION`` and both are reported by ``cnnspec plugins``.
"""

from __future__ import annotations

import inspect
import os
import re
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import import_module, metadata
from typing import Any

import pluggy

from cnnspec import hookspec
from cnnspec.exceptions import PluginError
from cnnspec.names import CONTAINER_KEYWORDS, suggest
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

ENTRY_POINT_GROUP = "cnnspec"
AUTOLOAD_ENV = "CNNSPEC_DISABLE_PLUGIN_AUTOLOAD"

#: built-in plugin name -> module; each registers through the public hooks
BUILTIN_PLUGINS: dict[str, str] = {
    "layers": "cnnspec.builtin.layers",
    "backbones": "cnnspec.builtin.backbones",
    "datasets": "cnnspec.builtin.datasets",
    "transforms": "cnnspec.builtin.transforms",
    "optim": "cnnspec.builtin.optim",
    "losses": "cnnspec.builtin.losses",
    "progress": "cnnspec.builtin.progress",
    "tensorboard": "cnnspec.builtin.tensorboard",
    "plots": "cnnspec.builtin.plots",
    "gradcam": "cnnspec.builtin.gradcam",
    "checkpointing": "cnnspec.builtin.checkpointing",
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

#: a registered name: no ``:`` (it qualifies names as ``plugin:name``), no spaces
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

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


@dataclass
class _Candidate:
    """A plugin found before it is imported: an entry point or a module name."""

    name: str
    module: str
    builtin: bool
    claimed_as: str
    load: Callable[[], Any]
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None
    notes: list[str] = field(default_factory=list)


class _Broken(Exception):
    """A reason to mark the plugin being registered as broken."""


def hook_names() -> list[str]:
    """Every hook of the contract, in the order :mod:`cnnspec.hookspec` declares them."""
    return [name for name, obj in vars(hookspec).items()
            if name.startswith("cnnspec_") and callable(obj)]


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
        candidates = [_builtin(name, module) for name, module in BUILTIN_PLUGINS.items()]
        candidates += _entry_point_candidates(self.warnings)
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
            self._import(_module_candidate(name, candidates))
        self.pm.check_pending()  # every plugin was checked on its own; this must hold

    @staticmethod
    def _selected(cand: _Candidate, names: Iterable[str]) -> bool:
        names = set(names)
        return cand.name in names or cand.claimed_as in names

    def _skip(self, cand: _Candidate, status: str, why: str) -> None:
        info = self._info(cand)
        info.status = status
        info.notes.append(why)

    def _info(self, cand: _Candidate) -> PluginInfo:
        info = PluginInfo(cand.name, cand.module, cand.builtin, cand.distribution, cand.version,
                          cand.entry_point, notes=list(cand.notes))
        self.info[cand.name] = info
        return info

    def _import(self, cand: _Candidate) -> None:
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
            self._mark_broken(info, f"cannot import {cand.module}: {_describe_exception(exc)}")
            return
        try:
            other = self.pm.get_name(plugin)
            if other is not None:
                raise _Broken(f"{cand.module} is already registered as plugin '{other}'")
            self._check_hookimpls(plugin)
            self.pm.register(plugin, name=cand.name)
        except _Broken as exc:
            self._mark_broken(info, str(exc))
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._mark_broken(info, " ".join(str(exc).split()))

    def _check_hookimpls(self, plugin: Any) -> None:
        """Unknown hooks and unknown arguments, each with the nearest real name.

        pluggy would accept a misspelled hook silently (until ``check_pending``,
        which stops at the first offender of all plugins) and reject an unknown
        argument with a message that does not say what the hook takes.
        """
        known = hook_names()
        for attr in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                continue
            function = getattr(plugin, attr)
            where = _where(function)
            hook = opts.get("specname") or attr
            if hook not in known:
                if opts.get("optionalhook"):
                    continue
                close = suggest(hook, known, n=1)
                raise _Broken(
                    f"'{hook}'{where} is not a cnnspec hook"
                    + (f"; did you mean '{close[0]}'?" if close else f" (hooks: {', '.join(known)})")
                )
            spec_args = _required_args(getattr(hookspec, hook))
            for arg in _required_args(function):
                if arg in spec_args:
                    continue
                close = suggest(arg, spec_args, n=1)
                takes = f"takes ({', '.join(spec_args)})" if spec_args else "takes no arguments"
                fix = f"did you mean '{close[0]}'?" if close else f"remove '{arg}'"
                raise _Broken(f"hook '{hook}'{where} asks for argument '{arg}', but {hook} {takes}; {fix}")

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
                    found = _as_list(result, expected, hook)
                except _Broken as exc:
                    problems.append(str(exc))
                    continue
                except Exception as exc:
                    problems.append(f"hook {hook} raised {_describe_exception(exc)}")
                    continue
                items.setdefault(kind, []).extend(found)
            seen: dict[str, str] = {}
            for item in items.get(kind, []):
                problem = _check_item(kind, item, hook)
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


# -- candidates ----------------------------------------------------------------------------
def _builtin(name: str, module: str) -> _Candidate:
    return _Candidate(name, module, True, name, lambda: import_module(module),
                      distribution="cnnspec", version=_own_version())


def _own_version() -> str | None:
    from cnnspec._version import __version__

    return __version__


def _group_entry_points(problems: list[str]) -> list[metadata.EntryPoint]:
    """Entry points of group ``cnnspec``, first distribution on ``sys.path`` winning.

    The standard library's scan reads only ``entry_points.txt`` files (fast);
    if one distribution's metadata is unreadable it raises for all of them, so
    then each distribution is read on its own, and an unreadable one is
    skipped and described in ``problems``.
    """
    try:
        return list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:
        pass
    seen: set[str] = set()
    found = []
    for dist in metadata.distributions():
        where = getattr(dist, "_path", None) or dist
        try:
            key = re.sub(r"[-_.]+", "-", dist.metadata["Name"] or "").lower()
            eps = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
        except Exception as exc:
            problems.append(f"the metadata of {where} is unreadable ({type(exc).__name__}: {exc}); "
                            "its plugins, if any, are skipped — reinstall that distribution")
            continue
        if key and key not in seen:
            seen.add(key)
            found.extend(eps)
    return found


def _entry_point_candidates(problems: list[str]) -> list[_Candidate]:
    found: list[_Candidate] = []
    for ep in _group_entry_points(problems):
        dist = ep.dist
        name = version = None
        if dist is not None:
            try:
                name, version = dist.metadata["Name"], dist.version
            except Exception:
                pass
        found.append(_Candidate(ep.name, ep.value, False, ep.name, ep.load, distribution=name,
                                version=version, entry_point=f"{ep.name} = {ep.value}"))
    found.sort(key=lambda c: (c.name, (c.distribution or "").lower()))
    by_name: dict[str, list[_Candidate]] = {}
    for cand in found:
        by_name.setdefault(cand.name, []).append(cand)
    for name, claimants in by_name.items():
        builtin = name in BUILTIN_PLUGINS
        if len(claimants) == 1 and not builtin:
            continue
        others = [f"distribution {c.distribution}" for c in claimants]
        if builtin:
            others.insert(0, "cnnspec (built-in)")
        for i, cand in enumerate(claimants):
            cand.name = f"{name}@{cand.distribution or i + 1}"
            cand.notes.append(
                f"the plugin name '{name}' is claimed by {' and '.join(others)}; registered as "
                f"'{cand.name}' (rename the entry point to give it a name of its own)"
            )
    return found


def _module_candidate(name: str, candidates: list[_Candidate]) -> _Candidate:
    """``-p NAME`` for a name that is no entry point: an importable module, like pytest."""
    try:
        import importlib.util

        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        known = sorted({c.claimed_as for c in candidates} | {c.name for c in candidates})
        close = suggest(name, known, n=1)
        raise PluginError(
            f"-p {name}: no plugin named '{name}' (no entry point in group '{ENTRY_POINT_GROUP}' "
            "and no importable module of that name)"
            + (f"; did you mean '{close[0]}'?" if close else ""),
            hint=f"installed plugins: {', '.join(known) or '(none)'}",
        )
    return _Candidate(name, name, False, name, lambda: import_module(name))


# -- checks ----------------------------------------------------------------------------------
def _as_list(result: Any, expected: type, hook: str) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, expected):
        raise _Broken(f"hook {hook} returned a single {expected.__name__}; return a list of them")
    if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
        raise _Broken(f"hook {hook} returned {type(result).__name__} {_short(result)}, "
                      f"expected a list of {expected.__name__} objects")
    items = list(result)
    for item in items:
        if not isinstance(item, expected):
            name = getattr(item, "name", None)
            shown = repr(name) if isinstance(name, str) else _short(item)
            raise _Broken(f"hook {hook} returned a {type(item).__name__} ({shown}) in its list, "
                          f"expected {expected.__name__} objects")
    return items


def _check_item(kind: str, item: Any, hook: str) -> str | None:
    """Why a returned definition cannot be registered, or ``None``."""
    from pydantic import BaseModel

    from cnnspec.layer import LayerParams

    name = item.name
    label = f"hook {hook}: {kind} {name!r}"
    if not isinstance(name, str) or not _NAME_RE.match(name):
        return (f"{label}: a name starts with a letter or _ and has only letters, digits, _ . - "
                "(':' is reserved for plugin:name)")
    if kind == "layer":
        if name.lower() in CONTAINER_KEYWORDS:
            return f"{label}: '{name.lower()}' is a container keyword of the spec language; choose another name"
        if not (isinstance(item.params, type) and issubclass(item.params, LayerParams)):
            return f"{label}: params must be a subclass of cnnspec.layer.LayerParams, got {_short(item.params)}"
        for attr in ("infer", "build"):
            if not callable(getattr(item, attr)):
                return f"{label}: {attr} must be callable, got {_short(getattr(item, attr))}"
        return None
    factory = item.factory
    if isinstance(factory, str):
        module, sep, attr = factory.partition(":")
        if not sep or not module or not attr:
            return f"{label}: a factory given by name is 'module:attribute', got {factory!r}"
    elif not callable(factory):
        return f"{label}: factory must be callable or a 'module:attribute' string, got {_short(factory)}"
    if item.params is not None and not (isinstance(item.params, type) and issubclass(item.params, BaseModel)):
        return f"{label}: params must be a pydantic model class or None, got {_short(item.params)}"
    return None


def _required_args(function: Any) -> list[str]:
    """Arguments pluggy will pass by name: those without defaults (``self`` excluded)."""
    try:
        sig = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    return [p.name for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]


def _where(function: Any) -> str:
    try:
        code = inspect.unwrap(function).__code__
    except AttributeError:
        return ""
    return f" (at {code.co_filename}:{code.co_firstlineno})"


def _describe_exception(exc: BaseException) -> str:
    """``Type: message (at file:line)``, pointing at the innermost frame that raised."""
    text = f"{type(exc).__name__}: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        text += f" (at {last.filename}:{last.lineno})"
    return text


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
