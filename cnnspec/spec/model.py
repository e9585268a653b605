"""The spec: its top-level model, and :func:`load_spec` / :func:`parse_spec` that make one.

A document is validated section by section (pydantic, errors translated to
located ones), then its ``model:`` list is parsed into the layer tree
(:mod:`~cnnspec.spec.layers`) and its component references are checked
against the registries (:mod:`~cnnspec.spec.components`); every problem found
in the pass is reported together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError

from cnnspec.component import SpecModel
from cnnspec.exceptions import SpecError
from cnnspec.load.reader import Document, load_document
from cnnspec.names import IDENTIFIER
from cnnspec.plugins.manager import PluginSet, get_plugins
from cnnspec.spec.components import validate_components
from cnnspec.spec.errors import translate
from cnnspec.spec.layers import CONTAINERS, LayerNode, LayerParser, describe_kind
from cnnspec.spec.sections import DataSpec, SweepSpec, TrainSpec

__all__ = [
    "CONTAINERS",
    "LayerNode",
    "Spec",
    "SpecDocument",
    "load_spec",
    "parse_spec",
]

def _check_dim(d: int | str) -> int | str:
    if isinstance(d, int) and d < 1:
        raise ValueError(f"input dims must be >= 1, got {d}")
    if isinstance(d, str) and not IDENTIFIER.match(d):
        raise ValueError(f"a symbolic dim must be a name like H or width, got {d!r}")
    return d


InputDim = Annotated[int | str, AfterValidator(_check_dim)]


class SpecDocument(SpecModel):
    """The top level of a spec file."""

    name: str | None = Field(default=None, description="a name for the experiment")
    description: str | None = None
    input: list[InputDim] = Field(
        min_length=1,
        description="per-sample input shape, e.g. [3, 32, 32]; a name such as H is a symbolic dim",
    )
    model: list[Any] = Field(min_length=1, description="the layers, in order")
    data: DataSpec | None = None
    train: TrainSpec | None = None
    callbacks: list[Any] = Field(default_factory=list)
    seed: int = 0
    sweep: SweepSpec | None = Field(default=None, description="search space for `cnnspec sweep` (train ignores it)")


@dataclass(frozen=True, eq=False)
class Spec:
    """A loaded, validated spec: its sections, layer tree and source positions."""

    config: SpecDocument
    layers: tuple[LayerNode, ...]
    document: Document
    plugins: PluginSet = field(repr=False)

    @property
    def name(self) -> str:
        if self.config.name:
            return self.config.name
        return "spec" if self.document.file.startswith("<") else Path(self.document.file).stem

    @property
    def input(self) -> tuple[int | str, ...]:
        return tuple(self.config.input)

    @property
    def data(self) -> DataSpec | None:
        return self.config.data

    @property
    def train(self) -> TrainSpec | None:
        return self.config.train

    @property
    def file(self) -> str:
        return self.document.file

    def to_dict(self) -> dict[str, Any]:
        """The resolved spec as plain data (what a run directory records)."""
        return json.loads(json.dumps(self.document.data))

    def fingerprint(self) -> str:
        """A hash of the resolved spec: equal specs, equal fingerprints."""
        canonical = json.dumps(self.document.data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def parse_spec(doc: Document, *, plugins: PluginSet | None = None) -> Spec:
    """Validate a parsed document into a :class:`Spec`, or raise one SpecError
    carrying every problem found."""
    plugins = plugins or get_plugins()
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error(f"a spec is a mapping with input: and model:, got {describe_kind(data)}", (),
                        hint="a spec starts with `input: [3, 32, 32]` and a `model:` list of layers")
    try:
        config = SpecDocument.model_validate(data)
    except ValidationError as exc:
        errors = translate(exc, doc, (), data, SpecDocument)
        # the model list is checked below only when the rest is sound
        raise SpecError.combine(errors) from None
    parser = LayerParser(doc, plugins)
    layers = parser.parse_list(config.model, ("model",))
    errors = parser.errors + validate_components(data, doc, plugins)
    if errors:
        raise SpecError.combine(errors)
    return Spec(config=config, layers=tuple(layers), document=doc, plugins=plugins)


def load_spec(
    source: str | Path | Mapping[str, Any],
    *,
    overrides: Sequence[str] = (),
    plugins: PluginSet | None = None,
) -> Spec:
    """Load, compose and validate a spec from a path, YAML/JSON text or a dict.

    ``overrides`` are ``key.path=value`` strings as given to ``--set``.
    Raises :class:`~cnnspec.exceptions.SpecError` for any mistake, located in
    the source file.
    """
    from cnnspec.load.compose import compose

    doc = compose(load_document(source), overrides)
    return parse_spec(doc, plugins=plugins)
