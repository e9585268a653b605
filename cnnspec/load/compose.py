"""Composing a spec: ``extends:`` bases, ``vars:`` interpolation, ``--set`` overrides.

A family of experiments is one base spec and many small variations, so a
spec may name the specs it builds on and change only what differs:

* ``extends: base.yaml`` (or a list, merged left to right; paths relative to
  the extending file; chains allowed, cycles refused). Mappings merge key by
  key, everything else (lists included) is replaced. A component reference
  (``optimizer: {sgd: {...}}``) is identified by its name: the same name
  (case-insensitively, as registries match) merges the arguments, another
  name replaces the reference.
* ``~key: null`` deletes an inherited key; ``~key: null`` next to ``key:``
  replaces the inherited mapping instead of merging into it.
* ``vars:`` holds named values; ``${vars.name}`` (or ``${vars.a.b[0]}``) in a
  value is replaced by it. A string that is exactly one reference takes the
  variable's value and type (``out_channels: ${vars.width}`` is an int);
  references inside longer strings are formatted into them. Variables may use
  other variables. Nothing is ever evaluated; ``$${`` is a literal ``${``.
* ``--set a.b[0].c=VALUE`` (VALUE read as YAML) and ``--set ~a.b`` (delete)
  apply after merging and before interpolation, so ``--set vars.width=64``
  changes every use of the variable.

Every value keeps the :class:`~cnnspec.exceptions.Location` of whatever set it
(a base file's line, ``--set[i]``, or the variable's definition), so an error
in an inherited value points into the base file. ``extends`` and ``vars`` do
not appear in the resolved document.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from cnnspec.exceptions import SpecError
from cnnspec.load.document import Document, PathKey
from cnnspec.load.extends import DELETE_PREFIX, MAX_EXTENDS_DEPTH, check_no_markers, resolve_extends
from cnnspec.load.overrides import apply_override
from cnnspec.load.paths import drop_subtree, parse_key_path
from cnnspec.load.variables import Interpolation, Variables

__all__ = [
    "DELETE_PREFIX",
    "MAX_EXTENDS_DEPTH",
    "Composed",
    "Interpolation",
    "compose",
    "compose_document",
    "parse_key_path",
]


@dataclass
class Composed:
    """The composed document plus what blame needs to explain it."""

    document: Document
    files: list[str] = field(default_factory=list)
    interpolations: dict[PathKey, Interpolation] = field(default_factory=dict)


def compose_document(doc: Document, overrides: Sequence[str] = ()) -> Composed:
    """Bases merged, overrides applied, variables interpolated; with provenance."""
    files = [doc.file]
    if isinstance(doc.data, dict):
        # composing edits in place; never the caller's own dicts (load_spec(dict) shares them)
        doc.data = copy.deepcopy(doc.data)
        real = [] if doc.file.startswith("<") else [os.path.realpath(doc.file)]
        doc = resolve_extends(doc, real, files)
    elif overrides:
        raise SpecError("--set needs a spec that is a mapping")
    composed = Composed(doc, files)
    if not isinstance(doc.data, dict):
        return composed
    check_no_markers(doc, doc.data, ())
    for i, override in enumerate(overrides):
        apply_override(doc, override, i)
    if "vars" in doc.data:
        Variables(doc, composed.interpolations).resolve_all()
        del doc.data["vars"]
        drop_subtree(doc, ("vars",))
    return composed


def compose(doc: Document, overrides: Sequence[str] = ()) -> Document:
    """The resolved document: bases merged, overrides applied, vars interpolated."""
    return compose_document(doc, overrides).document
