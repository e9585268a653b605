"""``cnnspec explain [SPEC] --checkpoint PATH``: Grad-CAM overlays of a trained model.

Explains the given image files (``--images``, resized to the spec's input and
passed through its evaluation transforms), or the first ``--samples N``
images of the dataset's test split. Writes one overlay per image, a grid
(``gradcam.png``) and ``gradcam.json`` into ``--output`` (default: the run
directory's ``explain/`` when the checkpoint is in one, else ``./explain``).

The layer defaults to the last convolutional feature map found in the
spec's static shapes; ``--layer NAME`` picks another (``cnnspec summary``
lists the names). Without SPEC the spec stored in the checkpoint is used.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnspec.exceptions import CnnspecError

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]

def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("explain", parents=[*parents.spec()],
                       help="Grad-CAM heat maps of a trained model's predictions",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", nargs="?", metavar="SPEC", help="the spec file (default: the one in the checkpoint)")
    p.add_argument("--checkpoint", required=True, metavar="PATH",
                   help="a checkpoint file, a plain state_dict file, or a run directory (its best checkpoint)")
    p.add_argument("--weights", choices=("best", "last"), default="best",
                   help="with a run directory: its best checkpoint (default) or the newest one")
    p.add_argument("--layer", metavar="NAME", help="target layer (default: the last conv feature map)")
    p.add_argument("--images", nargs="+", metavar="FILE", help="image files to explain")
    p.add_argument("--samples", type=int, default=8, metavar="N",
                   help="without --images: explain the first N images of the dataset (default 8)")
    p.add_argument("--split", choices=("test", "val", "train"), help="dataset split for --samples (default test)")
    p.add_argument("--target", choices=("pred", "true"), default="pred",
                   help="explain the predicted class (default) or the true one (dataset samples only)")
    p.add_argument("--output", metavar="DIR", help="where to write the pictures")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, mps or auto")
    p.set_defaults(func=run)


def _output_dir(args: argparse.Namespace, checkpoint_file: Path) -> Path:
    if args.output:
        return Path(args.output)
    given = Path(args.checkpoint)
    if given.is_dir():
        return given / "explain"
    if checkpoint_file.parent.name == "checkpoints":
        return checkpoint_file.parent.parent / "explain"
    return Path("explain")


def run(args: argparse.Namespace) -> int:
    from cnnspec.checkpoint import describe_checkpoint
    from cnnspec.explain import checkpoint_classes, dataset_samples, explain, load_weights, prepare_images
    from cnnspec.spec import load_spec

    if args.samples < 1:
        raise CnnspecError(f"--samples must be at least 1, got {args.samples}")
    state, checkpoint, file = load_weights(args.checkpoint, which=args.weights)
    if args.spec:
        spec = load_spec(args.spec, overrides=args.overrides)
    elif isinstance(checkpoint.get("spec"), dict):
        spec = load_spec(checkpoint["spec"], overrides=args.overrides)
    else:
        raise CnnspecError(f"{file} holds no spec (a plain state dict): give the SPEC file too")
    if args.images:
        if args.target == "true":
            raise CnnspecError("--target true needs labelled images: use --samples instead of --images")
        inputs, display = prepare_images(spec, args.images)
        names = _unique([Path(f).stem for f in args.images])
        labels, classes, source = None, checkpoint_classes(checkpoint, file), f"{len(names)} image file(s)"
    else:
        inputs, display, labels, classes, split = dataset_samples(spec, args.samples, args.split)
        names = [f"{split}_{i:03d}" for i in range(len(inputs))]
        source = f"the first {len(names)} {split} images"
    device = _device(args.device)
    output = _output_dir(args, file)
    result = explain(spec, state, inputs, output=output, layer=args.layer, display=display, names=names,
                     labels=labels, class_names=classes, target=args.target, device=device)
    chosen = "" if args.layer else " (the last conv feature map; --layer NAME to change)"
    from cnnspec.layer import fmt_shape

    print(f"{spec.name}: Grad-CAM at {result.layer.qualname} {fmt_shape(result.layer.output_shape)}{chosen}, "
          f"weights from {describe_checkpoint(file, checkpoint)}, {source}")
    width = max(len(r["image"]) for r in result.rows)
    for row in result.rows:
        truth = f"   true: {row['true']}" if row["true"] is not None else ""
        zero = "   (CAM is zero: no positive evidence at this layer)" if row["cam_zero"] else ""
        print(f"  {row['image']:<{width}}  pred: {row['predicted']} ({row['probability']:.1%}){truth}{zero}")
    print(f"wrote {output / 'gradcam.png'}, {len(result.rows)} overlay(s) and gradcam.json in {output}/")
    return 0


def _unique(names: list[str]) -> list[str]:
    """File stems, numbered where two files share one (a/cat.png, b/cat.png) or clash with the grid's name."""
    seen: dict[str, int] = {"gradcam": 1}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _device(name: str) -> Any:
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise CnnspecError(f"--device {name}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CnnspecError(f"--device {name}: CUDA is not available here")
    return device
