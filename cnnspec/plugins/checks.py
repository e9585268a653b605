"""Checking what a plugin declares and returns, so one broken plugin never stops the others.

pluggy accepts a misspelled hook silently (until ``check_pending()``, which
stops at the first offender of all plugins) and rejects an unknown argument
with a message that does not say what the hook takes. Here each plugin is
checked on its own, every problem names the nearest real name, and a
registration hook's answer is checked item by item: a wrong answer marks its
plugin broken (:class:`Broken`) instead of failing a lookup later.
"""

from __future__ import annotations

import inspect
import re
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

import pluggy

from cnnspec import hookspec
from cnnspec.names import CONTAINER_KEYWORDS, suggest

__all__ = ["Broken", "as_list", "check_hookimpls", "check_item", "describe_exception", "hook_names"]

#: a registered name: no ``:`` (it qualifies names as ``plugin:name``), no spaces
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")

class Broken(Exception):
    """A reason to mark the plugin being registered as broken."""


def hook_names() -> list[str]:
    """Every hook of the contract, in the order :mod:`cnnspec.hookspec` declares them."""
    return [name for name, obj in vars(hookspec).items()
            if name.startswith("cnnspec_") and callable(obj)]


def check_hookimpls(pm: pluggy.PluginManager, plugin: Any) -> None:
    """Unknown hooks and unknown arguments, each with the nearest real name.

    pluggy would accept a misspelled hook silently (until ``check_pending``,
    which stops at the first offender of all plugins) and reject an unknown
    argument with a message that does not say what the hook takes.
    """
    known = hook_names()
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        function = getattr(plugin, attr)
        where = _where(function)
        hook = opts.get("specname") or attr
        if hook not in known:
            if opts.get("optionalhook"):
                continue
            close = suggest(hook, known, n=1)
            raise Broken(
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
            raise Broken(f"hook '{hook}'{where} asks for argument '{arg}', but {hook} {takes}; {fix}")

def as_list(result: Any, expected: type, hook: str) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, expected):
        raise Broken(f"hook {hook} returned a single {expected.__name__}; return a list of them")
    if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
        raise Broken(f"hook {hook} returned {type(result).__name__} {_short(result)}, "
                      f"expected a list of {expected.__name__} objects")
    items = list(result)
    for item in items:
        if not isinstance(item, expected):
            name = getattr(item, "name", None)
            shown = repr(name) if isinstance(name, str) else _short(item)
            raise Broken(f"hook {hook} returned a {type(item).__name__} ({shown}) in its list, "
                          f"expected {expected.__name__} objects")
    return items


def check_item(kind: str, item: Any, hook: str) -> str | None:
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


def describe_exception(exc: BaseException) -> str:
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
