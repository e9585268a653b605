"""Stage 3, spec: Document → :class:`Spec`, every field validated and located.

The top-level model and the layer-list parser, the ``data:``/``train:``
sections, the static checks of component references, the translation of
pydantic's errors into located ones, and the JSON Schema.
"""

from cnnspec.spec.model import CONTAINERS, LayerNode, Spec, SpecDocument, load_spec, parse_spec
from cnnspec.spec.sections import DataSpec, SpecModel, TrainSpec

__all__ = [
    "CONTAINERS",
    "DataSpec",
    "LayerNode",
    "Spec",
    "SpecDocument",
    "SpecModel",
    "TrainSpec",
    "load_spec",
    "parse_spec",
]
