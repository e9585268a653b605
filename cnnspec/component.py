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

from pydantic import BaseModel

__all__ = ["Component", "resolve_dotted"]


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
