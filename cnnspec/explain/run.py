"""Looking inside a trained model: Grad-CAM heat maps and feature maps.

Grad-CAM is computed by Captum's ``LayerGradCam`` and upsampled with
``LayerAttribution.interpolate``: a well-kept implementation, not hooks
written here. What this module adds is what the tutorials leave to the user:

* **which layer**: chosen from the spec's static shapes (see
  :func:`default_cam_layer`), or by name with "did you mean" for a typo;
* **in-place activations**: ``ReLU(inplace=True)`` chained after the target
  layer overwrites the activation autograd saved, and Captum fails with
  "modified by an inplace operation". :func:`attribution_mode` switches
  ``inplace`` off (and the model to eval) for the duration and restores both,
  so the caller's model, its training mode and its weights are untouched;
* **no side effects on training**: eval mode keeps BatchNorm statistics and
  dropout's random stream as they were, and :func:`preserve_rng` isolates the
  random state around anything that draws samples.

The drawing is in :mod:`cnnspec.explain.pictures`; this module returns tensors. Torch is
imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import CnnspecError, SpecError
from cnnspec.layer import fmt_shape
from cnnspec.names import suggest

if TYPE_CHECKING:
    import torch
    from torch import nn

    from cnnspec.shapes.walker import LayerInfo, ShapeTrace
    from cnnspec.spec import Spec

__all__ = [
    "CamResult",
    "ExplainResult",
    "attribution_mode",
    "capture_activation",
    "checkpoint_classes",
    "dataset_samples",
    "default_cam_layer",
    "default_feature_layer",
    "eval_pipeline",
    "explain",
    "grad_cam",
    "load_images",
    "load_weights",
    "locate_callback_error",
    "prepare_images",
    "preserve_rng",
    "resolve_layer",
    "to_probabilities",
]


# -- choosing a layer (static: uses the trace only) --------------------------------------


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


# -- running the model without disturbing it ---------------------------------------------


@contextlib.contextmanager
def attribution_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode, in-place activations off and gradients on, restored afterwards.

    Restoring per module (not ``model.train(was_training)``) keeps any
    deliberately frozen submodule (a BatchNorm left in eval) as it was.
    """
    import torch

    modes = [(m, m.training) for m in model.modules()]
    inplace = [(m, m.inplace) for m in model.modules() if isinstance(getattr(m, "inplace", None), bool)]
    try:
        model.eval()
        for m, _ in inplace:
            m.inplace = False
        with torch.enable_grad():
            yield model
    finally:
        for m, flag in inplace:
            m.inplace = flag
        for m, mode in modes:
            m.training = mode


@contextlib.contextmanager
def preserve_rng(device: Any = None) -> Iterator[None]:
    """Run a block without advancing the global random streams training draws from.

    Pictures and logs must not change a run's results: drawing sample images
    (a shuffled loader) or an extra forward pass would otherwise shift every
    later dropout mask and data order, and a run with TensorBoard would differ
    from one without.
    """
    import random

    import torch

    devices: list[int] = []
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()]
    py_state = random.getstate()
    np_state = _numpy_state()
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(py_state)
        if np_state is not None:
            import numpy as np

            np.random.set_state(np_state)


def _numpy_state() -> Any:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy ships with torch's usual installs
        return None
    return np.random.get_state()


def capture_activation(model: nn.Module, layer: str, inputs: torch.Tensor) -> torch.Tensor:
    """The output of submodule ``layer`` (a qualname) for ``inputs``, on the CPU.

    A forward hook found by name, as seed 004's ``visualize_activations``,
    in eval mode without gradients; the model's modes are restored.
    """
    import torch

    module = model.get_submodule(layer)
    captured: list[torch.Tensor] = []
    # clone: an in-place activation after the layer would otherwise overwrite what we keep
    handle = module.register_forward_hook(lambda _m, _i, out: captured.append(out.detach().clone()))
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            model(inputs)
    finally:
        handle.remove()
        for m, mode in modes:
            m.training = mode
    if not captured:
        raise CnnspecError(f"layer '{layer}' did not run in the forward pass")
    return captured[0].float().cpu()


def to_probabilities(outputs: torch.Tensor, last_layer: str | None = None) -> torch.Tensor:
    """Class probabilities from the model's outputs, ``[N, classes]``.

    Models usually end in logits; a spec may end in ``softmax`` (already
    probabilities) or ``logsoftmax`` (log-probabilities, for ``nllloss``).
    """
    import torch

    outputs = outputs.detach().float()
    kind = (last_layer or "").lower()
    if kind == "softmax":
        return outputs
    if kind == "logsoftmax":
        return outputs.exp()
    return torch.softmax(outputs, dim=1)


@dataclass
class CamResult:
    """Grad-CAM for a batch.

    ``cams``: ``[N, H, W]`` at the input resolution, each scaled to [0, 1] by
    its maximum (all zeros where nothing speaks for the target class).
    ``raw``: Captum's attribution at the layer's resolution, ``[N, h, w]``,
    unscaled. ``targets``: the class each map explains.
    """

    cams: torch.Tensor
    raw: torch.Tensor
    targets: torch.Tensor
    predicted: torch.Tensor
    probabilities: torch.Tensor
    layer: str


def grad_cam(model: nn.Module, layer: str, inputs: torch.Tensor, target: Any = None,
             last_layer: str | None = None) -> CamResult:
    """Grad-CAM of ``inputs`` (``[N, C, H, W]`` on the model's device) at submodule ``layer``.

    ``target``: ``None`` explains each image's predicted class; an int or an
    ``[N]`` tensor explains the given classes. ``last_layer`` is the type of
    the model's last layer (see :func:`to_probabilities`).
    """
    import torch
    from captum.attr import LayerAttribution, LayerGradCam

    if inputs.dim() != 4:
        raise CnnspecError(f"Grad-CAM needs a batch of [C, H, W] images, got shape {list(inputs.shape)}")
    module = model.get_submodule(layer)
    with attribution_mode(model):
        with torch.no_grad():
            outputs = model(inputs)
        if outputs.dim() != 2:
            raise CnnspecError(f"Grad-CAM needs [N, classes] model outputs, got shape {list(outputs.shape)}")
        probabilities = to_probabilities(outputs, last_layer)
        predicted = probabilities.argmax(dim=1)
        if target is None:
            targets = predicted
        elif isinstance(target, int):
            targets = torch.full_like(predicted, target)
        else:
            targets = torch.as_tensor(target, device=predicted.device).long()
        attribution = LayerGradCam(model, module).attribute(inputs, target=targets, relu_attributions=True)
        upsampled = LayerAttribution.interpolate(attribution, tuple(inputs.shape[-2:]), interpolate_mode="bilinear")
    raw = attribution.detach()[:, 0].float().cpu()
    maps = upsampled.detach()[:, 0].float().cpu().clamp_min(0)
    peak = maps.flatten(1).amax(dim=1)[:, None, None]
    cams = torch.where(peak > 0, maps / peak.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(maps))
    return CamResult(cams=cams, raw=raw, targets=targets.cpu(), predicted=predicted.cpu(),
                     probabilities=probabilities.cpu(), layer=layer)


# -- the `cnnspec explain` command's work -------------------------------------------------


def load_weights(path: str | Path) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """``(state_dict, checkpoint, file)`` from a cnnspec checkpoint, a run directory or a plain state dict.

    Read by :func:`cnnspec.build.weights.read_weights`, through
    :func:`cnnspec.checkpoint.open_checkpoint` (manifest hash, container and
    pickle checks, ``weights_only=True``); a run directory gives its newest
    valid checkpoint.
    """
    from cnnspec.build.weights import read_weights

    weights = read_weights(path)
    return weights.state, weights.held, weights.path


def checkpoint_classes(checkpoint: dict[str, Any], path: Path) -> list[str] | None:
    """Class names for a checkpoint without loading its dataset.

    From the checkpoint's ``meta`` when it records them, else from the run's
    ``final.json`` (``RUN/checkpoints/x.pt`` → ``RUN/final.json``).
    """
    meta = checkpoint.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("classes"), list):
        return [str(c) for c in meta["classes"]]
    for run_dir in (path.parent, path.parent.parent):
        final = run_dir / "final.json"
        try:
            classes = json.loads(final.read_text()).get("classes")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(classes, list):
            return [str(c) for c in classes]
    return None


def eval_pipeline(spec: Spec) -> Any:
    """The spec's evaluation transforms (``eval_transforms`` then ``transforms``), without the dataset."""
    from cnnspec.data.build import build_steps
    from cnnspec.data.pipeline import Pipeline

    data = spec.data
    if data is None:
        return Pipeline([])
    doc, plugins = spec.document, spec.plugins
    return Pipeline(build_steps(list(data.eval_transforms), "eval_transforms", doc, plugins)
                    + build_steps(list(data.transforms), "transforms", doc, plugins))


def load_images(files: Sequence[str | Path], input_shape: Sequence[Any]) -> list[torch.Tensor]:
    """Image files as float ``[C, H, W]`` tensors in [0, 1] at their own size (like ``ToTensor``).

    One input channel reads the files as greyscale, three as RGB, four as RGBA.
    """
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    if len(input_shape) != 3 or not all(isinstance(d, int) for d in input_shape):
        raise CnnspecError(f"image files need a fixed [C, H, W] spec input, this spec's is {fmt_shape(input_shape)}")
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(input_shape[0])
    if mode is None:
        raise CnnspecError(f"the spec's input has {input_shape[0]} channels; image files give 1, 3 or 4")
    out = []
    for file in files:
        try:
            with Image.open(file) as img:
                array = np.asarray(img.convert(mode), dtype=np.float32) / 255.0
        except (OSError, UnidentifiedImageError) as exc:
            raise CnnspecError(f"{file}: cannot read it as an image ({exc})") from None
        if array.ndim == 2:
            array = array[:, :, None]
        out.append(torch.from_numpy(array.transpose(2, 0, 1).copy()))
    return out


def prepare_images(spec: Spec, files: Sequence[str | Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, display)`` for image files: what the model sees, and the picture to draw under the CAM.

    The spec's evaluation transforms run on the images as they are (a resize
    or crop among them decides the size); when the result is not the spec's
    input size, the images are first resized to it (bilinear, antialiased).
    ``display`` is ``inputs`` with the transforms' ``normalize`` undone, so
    it lines up with the heat map pixel for pixel.
    """
    import torch
    import torch.nn.functional as F

    shape = tuple(spec.input)
    images = load_images(files, shape)
    pipeline = eval_pipeline(spec)
    g = torch.Generator().manual_seed(0)
    try:
        inputs = pipeline.run_items([i.clone() for i in images], g)
    except Exception:  # sizes differ and no transform makes them agree: resize below
        inputs = None
    if inputs is None or tuple(inputs.shape[1:]) != shape:
        resized = torch.stack([F.interpolate(i[None], size=shape[1:], mode="bilinear", align_corners=False,
                                             antialias=True)[0].clamp(0, 1) for i in images])
        inputs = pipeline.run_batch(resized, g)
        if tuple(inputs.shape[1:]) != shape:
            raise CnnspecError(f"the spec's transforms turn the images into {list(inputs.shape[1:])}, but the "
                               f"model takes {list(shape)}")
    return inputs, _unnormalize(inputs, pipeline)


def _unnormalize(x: torch.Tensor, pipeline: Any) -> torch.Tensor:
    import torch
    from torchvision.transforms import v2

    x = x.clone()
    for step in reversed(pipeline.steps):
        if type(step.fn) is v2.Normalize:
            mean = torch.tensor(step.fn.mean, dtype=x.dtype).view(-1, 1, 1)
            std = torch.tensor(step.fn.std, dtype=x.dtype).view(-1, 1, 1)
            x = x * std + mean
    return x.clamp(0, 1)


def dataset_samples(spec: Spec, count: int, split: str | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, list[int], list[str], str]:
    """``(inputs, display, labels, classes, split)``: the first ``count`` images of a split of the spec's data.

    The test split by default, else validation, else train; the same images
    as the ``gradcam`` callback would take, with evaluation transforms only.
    """
    from cnnspec.data import build_data

    bundle = build_data(spec)
    order = (split,) if split else ("test", "val", "train")
    chosen = next((s for s in order if bundle.has(s)), None)
    if chosen is None:
        raise CnnspecError(f"the dataset has no {split} split")
    inputs, targets = bundle.sample_batch(chosen, count)
    return inputs, bundle.unnormalize(inputs.clone()), [int(t) for t in targets], list(bundle.classes), chosen


@dataclass
class ExplainResult:
    """What :func:`explain` wrote and found."""

    layer: LayerInfo
    files: list[Path]
    rows: list[dict[str, Any]]


def explain(spec: Spec, state_dict: dict[str, Any], inputs: torch.Tensor, *, output: str | Path,
            layer: str | None = None, display: torch.Tensor | None = None, names: Sequence[str] | None = None,
            labels: Sequence[int | None] | None = None, class_names: Sequence[str] | None = None,
            target: str = "pred", device: Any = "cpu", source: str | Path | None = None) -> ExplainResult:
    """Grad-CAM overlays of ``inputs`` (preprocessed) with the spec's model and the given weights.

    Writes one overlay per image (``<name>.png``), a grid of all of them
    (``gradcam.png``) and ``gradcam.json`` (per image: the predicted class,
    its probability, the true class when known). ``display`` (images in
    [0, 1]) is drawn under the heat maps; without it each input is stretched
    to its own range. ``target="true"`` explains the true classes instead.
    ``source`` names the file the weights came from, for the error when they
    do not fit the model.
    """
    import torch

    from cnnspec.build import build_from_trace
    from cnnspec.build.weights import fit_state
    from cnnspec.explain import pictures as viz
    from cnnspec.shapes.walker import infer_shapes

    trace = infer_shapes(spec)
    info = resolve_layer(trace, layer) if layer else default_cam_layer(trace)
    model = build_from_trace(trace)
    fit_state(model, state_dict, source=source)
    model.to(device)
    count = len(inputs)
    names = list(names) if names is not None else [f"image_{i:03d}" for i in range(count)]
    explained = None
    if target == "true":
        if labels is None or any(label is None for label in labels):
            raise CnnspecError("explaining the true class needs labelled images (dataset samples)")
        explained = torch.tensor(list(labels), device=device)
    result = grad_cam(model, info.qualname, inputs.to(device), target=explained, last_layer=trace.leaves()[-1].type)

    def label_of(k: int) -> str:
        return str(class_names[k]) if class_names and 0 <= k < len(class_names) else str(k)

    predicted = [label_of(int(p)) for p in result.predicted]
    confidence = [float(result.probabilities[i, p]) for i, p in enumerate(result.predicted)]
    truth = [label_of(t) if t is not None else None for t in labels] if labels is not None else None
    shown = (display if display is not None else inputs).detach().float().cpu().numpy()
    stretch = display is None
    cams = result.cams.numpy()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for i, name in enumerate(names):
        fig = viz.cam_overlays(shown[i:i + 1], cams[i:i + 1], predicted[i:i + 1], confidence[i:i + 1],
                               truth[i:i + 1] if truth else None, title=name, stretch=stretch)
        written.append(viz.save_png(fig, out / f"{name}.png"))
    what = "true" if target == "true" else "predicted"
    grid = viz.cam_overlays(shown, cams, predicted, confidence, truth, stretch=stretch,
                            title=f"{spec.name}: Grad-CAM of the {what} class at {info.qualname} "
                                  f"{fmt_shape(info.output_shape)}")
    written.append(viz.save_png(grid, out / "gradcam.png"))
    rows = [{"image": name, "predicted": predicted[i], "probability": confidence[i],
             "explained": label_of(int(result.targets[i])), "true": truth[i] if truth else None,
             "cam_zero": not bool((result.cams[i] > 0).any())}
            for i, name in enumerate(names)]
    report = {"spec": spec.name, "layer": info.qualname, "layer_shape": [str(d) for d in info.output_shape],
              "images": rows}
    (out / "gradcam.json").write_text(json.dumps(report, indent=2) + "\n")
    written.append(out / "gradcam.json")
    return ExplainResult(layer=info, files=written, rows=rows)
