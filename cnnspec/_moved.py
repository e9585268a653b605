"""Old module paths, kept working for one release after the move to stage packages.

cnnspec's modules used to sit flat in the package (``cnnspec.loading``,
``cnnspec.inference``, ``cnnspec.spec_run``...). They now live in packages
named after the pipeline stages. Code that imports an old path still gets the
module, with a :class:`DeprecationWarning` naming the new one, the way timm
kept ``timm.models.layers`` importable after moving it to ``timm.layers``.

One import hook answers for every old name, so the package does not keep a
file per shim.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType
from typing import Any

__all__ = ["MOVED", "install"]

#: old module -> where it lives now (removed in the release after next)
MOVED: dict[str, str] = {
    "cnnspec.document": "cnnspec.load.document",
    "cnnspec.yaml_reader": "cnnspec.load.yaml_reader",
    "cnnspec.json_reader": "cnnspec.load.json_reader",
    "cnnspec.loading": "cnnspec.load.reader",
    "cnnspec.composition": "cnnspec.load.compose",
    "cnnspec.blame": "cnnspec.load.blame",
    "cnnspec.registry": "cnnspec.plugins.registry",
    "cnnspec.plugin_manager": "cnnspec.plugins.manager",
    "cnnspec.spec_run": "cnnspec.spec.sections",
    "cnnspec.spec_components": "cnnspec.spec.components",
    "cnnspec.pydantic_errors": "cnnspec.spec.errors",
    "cnnspec.schema": "cnnspec.spec.schema",
    "cnnspec.inference": "cnnspec.shapes.walker",
    "cnnspec.report": "cnnspec.shapes.report",
    "cnnspec.sizes": "cnnspec.analysis.sizes",
    "cnnspec.fixits": "cnnspec.analysis.fixits",
    "cnnspec.diff": "cnnspec.analysis.diff",
    "cnnspec.modules": "cnnspec.build.modules",
    "cnnspec.torchinfo_compare": "cnnspec.build.compare",
    "cnnspec.export": "cnnspec.build.export",
    "cnnspec.viz": "cnnspec.explain.pictures",
    "cnnspec.metrics": "cnnspec.engine.metrics",
    "cnnspec.distributed": "cnnspec.engine.distributed",
    "cnnspec.signals": "cnnspec.engine.signals",
    "cnnspec.rundir": "cnnspec.engine.rundir",
    "cnnspec.resume": "cnnspec.engine.resume",
    "cnnspec.commands": "cnnspec.cli.commands",
}


def _target(name: str) -> str | None:
    if name in MOVED:
        return MOVED[name]
    head, _, rest = name.partition(".commands.")
    if head == "cnnspec" and rest:  # cnnspec.commands.validate -> cnnspec.cli.commands.validate
        return f"cnnspec.cli.commands.{rest}"
    return None


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old name and hands back the module that now holds its code."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        new = _target(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=fullname == "cnnspec.commands")

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = _target(spec.name)
        assert new is not None
        warnings.warn(f"{spec.name} moved to {new}; import it from there (the old name goes in the next release)",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """The module ran already, under its new name."""


_ALIAS = _Alias()


def install() -> None:
    """Answer for the old names (idempotent). First in line: a submodule of an old package name
    (``cnnspec.commands.validate``) must resolve to the one module, not load a second copy."""
    if _ALIAS not in sys.meta_path:
        sys.meta_path.insert(0, _ALIAS)
