"""A registered component other than a layer: dataset, optimizer, loss, ...

Components are declared without importing torch: ``factory`` may be a
``"module:attribute"`` string that is resolved only when the component is
built, so listing or validating names stays cheap. ``params`` (optional) is a
pydantic model of the spec arguments; without one, arguments are checked
against the factory's signature when it is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from cnnspec.names import suggest

__all__ = ["Component", "SpecModel", "check_signature", "resolve_dotted", "split_ref"]


class SpecModel(BaseModel):
    """Base of spec sections and of components' argument models: strict, closed, immutable, finite.

    ``lr: "0.1"`` is an error (never coerced), an unknown key is an error with
    a suggestion, ``nan``/``inf`` are refused. Plugin components subclass it
    for their ``params`` so their arguments are checked like the built-ins'.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def resolve_dotted(target: str) -> Any:
    """``"torch.optim:SGD"`` → the object (imports the module)."""
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Component:
    """A named thing a spec can refer to, and how to make it.

    ``meta`` carries kind-specific facts that tools may read without building
    the component (a dataset's sample shape and class count, a loss's expected
    model output, a callback's metrics).
    """

    name: str
    factory: Callable[..., Any] | str
    params: type[BaseModel] | None = None
    doc: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def load(self) -> Callable[..., Any]:
        """The factory itself, importing it if it was given by name."""
        if isinstance(self.factory, str):
            return resolve_dotted(self.factory)
        return self.factory


def split_ref(ref: Any) -> tuple[str, dict[str, Any]]:
    """``"sgd"`` or ``{"sgd": {...}}`` → ``("sgd", {...})`` (shape already validated)."""
    if isinstance(ref, str):
        return ref, {}
    ((name, args),) = ref.items()
    return name, dict(args or {})


def check_signature(factory: Callable[..., Any], args: Mapping[str, Any], *, skip: int = 0) -> str | None:
    """Why ``factory(<skip positional>, **args)`` cannot be called, or ``None``.

    Used for components without a params model (torch.optim classes...): the
    spec's arguments are checked against the real signature before anything
    runs, so a typo is a spec error rather than a crash in epoch 1.
    """
    import inspect

    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())[skip:]
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in params)
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if not accepts_any:
        for key in args:
            if key not in names:
                close = suggest(key, names)
                extra = f"; did you mean '{close[0]}'?" if close else f" (accepted: {', '.join(names)})"
                return f"unknown argument '{key}'{extra}"
    for p in params:
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty and p.name not in args:
            return f"missing required argument '{p.name}'"
    return None
