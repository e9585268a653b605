"""The ``cnnspec explain`` command's work: Grad-CAM overlays of images with a checkpoint's weights.

The weights are read and fitted by :mod:`cnnspec.build.weights`, the layer
chosen by :mod:`cnnspec.explain.layers`, the images prepared by
:mod:`cnnspec.explain.inputs`, the maps computed by
:mod:`cnnspec.explain.attribution` and drawn by :mod:`cnnspec.explain.pictures`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import CnnspecError
from cnnspec.explain.attribution import grad_cam
from cnnspec.explain.layers import default_cam_layer, resolve_layer
from cnnspec.layer import fmt_shape

if TYPE_CHECKING:
    import torch

    from cnnspec.shapes.walker import LayerInfo
    from cnnspec.spec import Spec

__all__ = ["ExplainResult", "checkpoint_classes", "explain", "load_weights"]


def load_weights(path: str | Path, which: str = "best") -> tuple[dict[str, Any], dict[str, Any], Path]:
    """``(state_dict, checkpoint, file)`` from a cnnspec checkpoint, a run directory or a plain state dict.

    Read by :func:`cnnspec.build.weights.read_weights`, through
    :func:`cnnspec.checkpoint.open_checkpoint` (manifest hash, container and
    pickle checks, ``weights_only=True``); a run directory gives its best
    checkpoint, or its newest valid one with ``which="last"``.
    """
    from cnnspec.build.weights import read_weights

    weights = read_weights(path, which=which)
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
