"""Which layer to look at, chosen from the spec's static shapes (no torch, no weights).

Grad-CAM and the feature-map grid need a layer with a ``[C, H, W]`` output.
:func:`default_cam_layer` and :func:`default_feature_layer` pick one from the
trace; :func:`resolve_layer` takes one by name, with "did you mean" for a
typo; :func:`locate_callback_error` puts an error about a layer named in a
callback's arguments back where the spec wrote the name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cnnspec.exceptions import SpecError
from cnnspec.layer import fmt_shape
from cnnspec.names import suggest

if TYPE_CHECKING:
    from cnnspec.shapes.walker import LayerInfo, ShapeTrace
    from cnnspec.spec import Spec

__all__ = ["default_cam_layer", "default_feature_layer", "locate_callback_error", "resolve_layer"]


def _is_map(info: LayerInfo) -> bool:
    """A ``[C, H, W]`` output: something Grad-CAM and a feature-map grid can show."""
    return len(info.output_shape) == 3


def _spatial_size(info: LayerInfo) -> int | None:
    h, w = info.output_shape[1], info.output_shape[2]
    return h * w if isinstance(h, int) and isinstance(w, int) else None


def _is_conv(info: LayerInfo) -> bool:
    return info.layer_type is not None and "conv" in info.layer_type.tags


def _is_follower(info: LayerInfo) -> bool:
    """An activation or normalisation: what turns a convolution's output into its feature map."""
    if info.layer_type is None:
        return False
    return bool({"activation", "norm"} & info.layer_type.tags) or "norm" in info.layer_type.name.lower()


def _parent(info: LayerInfo) -> str:
    return info.qualname.rpartition(".")[0]


def default_cam_layer(trace: ShapeTrace) -> LayerInfo:
    """Grad-CAM's default target: the last convolutional feature map, after its activation.

    The rule: take the last layer (depth-first, so inside blocks too) tagged
    ``"conv"`` whose output is ``[C, H, W]`` — plugin layers count when they
    carry the tag — then step over the normalisation and activation layers
    that directly follow it in the same block with the same shape (seed 004:
    ``conv3`` → ``relu3``). Without conv layers: the last ``[C, H, W]``
    output larger than 1x1.

    Why the last convolution: it has the most semantic features while still
    knowing *where*; after flatten or a global pool that is gone. Why after
    its ReLU: Grad-CAM weighs feature maps by their mean gradient, and before
    the ReLU a negative pre-activation times a negative weight shows up as
    heat where there is no evidence at all (see the sanity test).
    """
    leaves = trace.leaves()
    convs = [i for i, info in enumerate(leaves) if _is_conv(info) and _is_map(info)]
    if convs:
        index = convs[-1]
        chosen = leaves[index]
        for info in leaves[index + 1:]:
            if not (_is_follower(info) and _parent(info) == _parent(chosen)
                    and info.output_shape == chosen.output_shape):
                break
            chosen = info
        return chosen
    maps = [i for i in leaves if _is_map(i) and (_spatial_size(i) or 2) > 1]
    if maps:
        return maps[-1]
    raise SpecError("the model has no [C, H, W] feature map for Grad-CAM to explain",
                    hint="Grad-CAM needs a 2-D convolutional model on [C, H, W] inputs")


def default_feature_layer(trace: ShapeTrace) -> LayerInfo:
    """The feature-map grid's default layer: the first convolution (seed 004 shows ``conv1``).

    Early layers show recognisable edges and colours; fall back to the first
    ``[C, H, W]`` output when no layer is tagged ``"conv"``.
    """
    leaves = trace.leaves()
    for candidates in ([i for i in leaves if _is_conv(i) and _is_map(i)], [i for i in leaves if _is_map(i)]):
        if candidates:
            return candidates[0]
    raise SpecError("the model has no [C, H, W] feature map to draw",
                    hint="feature maps need a 2-D convolutional model on [C, H, W] inputs")


def resolve_layer(trace: ShapeTrace, name: str, purpose: str = "Grad-CAM") -> LayerInfo:
    """The layer called ``name`` (its qualname, ``features.conv1``) if it outputs a feature map.

    Raises an unlocated :class:`SpecError` with "did you mean" for an unknown
    name, and one listing the suitable layers for a layer whose output is not
    ``[C, H, W]``; callers add a location when the name came from a spec.
    """
    infos = list(trace.walk())
    by_name = {i.qualname: i for i in infos}
    info = by_name.get(name)
    maps = [i.qualname for i in infos if _is_map(i)]
    if info is None:
        close = suggest(name, list(by_name))
        message = f"unknown layer '{name}'"
        if close:
            message += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        raise SpecError(message, hint=f"layers with [C, H, W] outputs: {', '.join(maps) or '(none)'}")
    if not _is_map(info):
        raise SpecError(
            f"layer '{name}' ({info.type.lower()}) outputs {fmt_shape(info.output_shape)}, not a [C, H, W] "
            f"feature map, so {purpose} cannot use it",
            hint=f"pick one of: {', '.join(maps) or '(none)'}")
    return info


def locate_callback_error(spec: Spec, names: Sequence[str], key: str, exc: BaseException) -> SpecError:
    """An error about argument ``key`` of a callback named in ``names``, located in the spec file.

    Layer names in callback arguments can only be checked against the
    static shapes, after the spec is loaded; this puts the error back where
    the user wrote the name.
    """
    from cnnspec.load.reader import format_path

    message = getattr(exc, "message", None) or str(exc)
    hint = getattr(exc, "hint", None)
    wanted = {n.lower() for n in names}
    for i, ref in enumerate(spec.document.data.get("callbacks") or []):
        if isinstance(ref, dict) and len(ref) == 1:
            ((name, args),) = ref.items()
            if name.rpartition(":")[2].lower() in wanted and isinstance(args, dict) and key in args:
                path = ("callbacks", i, name, key)
                return spec.document.error(f"{format_path(path)}: {message}", path, hint=hint)
    return SpecError(message, hint=hint)
