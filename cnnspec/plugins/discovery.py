"""Finding plugins: the built-ins, the ``cnnspec`` entry points, and ``-p MODULE``.

The pytest model: built-in plugins are listed in :data:`BUILTIN_PLUGINS` and
found exactly like third-party ones, which come from the ``cnnspec``
entry-point group of installed distributions. Nothing is imported here: a
:class:`Candidate` knows how to load its plugin, and the manager decides
whether to.

A plugin name claimed by two sources (two distributions with the same
entry-point name, or an entry point named like a built-in) is not silently
resolved by install order: every third-party claimant is registered as
``NAME@DISTRIBUTION`` and both are reported by ``cnnspec plugins``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module, metadata
from typing import Any

from cnnspec._version import __version__
from cnnspec.exceptions import PluginError
from cnnspec.names import suggest

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "Candidate",
    "builtin_candidate",
    "entry_point_candidates",
    "module_candidate",
]

ENTRY_POINT_GROUP = "cnnspec"

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

@dataclass
class Candidate:
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


def builtin_candidate(name: str, module: str) -> Candidate:
    """A built-in plugin, by module name (imported only when loaded)."""
    return Candidate(name, module, True, name, lambda: import_module(module),
                     distribution="cnnspec", version=__version__)


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


def entry_point_candidates(problems: list[str]) -> list[Candidate]:
    found: list[Candidate] = []
    for ep in _group_entry_points(problems):
        dist = ep.dist
        name = version = None
        if dist is not None:
            try:
                name, version = dist.metadata["Name"], dist.version
            except Exception:
                pass
        found.append(Candidate(ep.name, ep.value, False, ep.name, ep.load, distribution=name,
                                version=version, entry_point=f"{ep.name} = {ep.value}"))
    found.sort(key=lambda c: (c.name, (c.distribution or "").lower()))
    by_name: dict[str, list[Candidate]] = {}
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


def module_candidate(name: str, candidates: list[Candidate]) -> Candidate:
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
    return Candidate(name, name, False, name, lambda: import_module(name))
