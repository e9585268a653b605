"""Stage 4, shapes: Spec → :class:`ShapeTrace`, statically, without torch.

:mod:`~cnnspec.shapes.arithmetic` holds torch's output-size formulas (for
plugin authors too), the walker applies every layer's rule and the
containers' combinators, and :mod:`~cnnspec.shapes.report` turns a trace into
a table or JSON.
"""

from cnnspec.shapes.arithmetic import (
    conv_arithmetic,
    conv_fit_hint,
    conv_size,
    dim_names,
    ntuple,
    pool_arithmetic,
    pool_size,
    same_padding,
)
from cnnspec.shapes.walker import LayerInfo, ShapeTrace, infer_shapes

__all__ = [
    "LayerInfo",
    "ShapeTrace",
    "conv_arithmetic",
    "conv_fit_hint",
    "conv_size",
    "dim_names",
    "infer_shapes",
    "ntuple",
    "pool_arithmetic",
    "pool_size",
    "same_padding",
]
