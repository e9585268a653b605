"""``cnnspec evaluate SPEC --checkpoint PATH``: saved weights on the test split.

Prints loss, accuracy, top-5 accuracy (more than 5 classes), per-class
precision, recall and F1 with their macro and weighted averages, and the
confusion matrix (rows: true class, columns: predicted). A run directory as
``--checkpoint`` means its best checkpoint (``--weights last``: the newest). The checkpoint is loaded with
``weights_only=True``: a file that would run code is refused. ``--format
json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]

def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("evaluate", parents=[*parents.spec(), parents.format()],
                       help="evaluate saved weights on the test split",
                       description=__doc__)
    p.add_argument("file", metavar="SPEC")
    p.add_argument("--checkpoint", required=True, metavar="PATH",
                   help="a cnnspec checkpoint, a run directory (its best checkpoint), "
                        "or a torch.save'd state dict of the spec's model")
    p.add_argument("--weights", choices=("best", "last"), default="best",
                   help="with a run directory: its best checkpoint (default) or the newest one")
    p.add_argument("--device", default=None, metavar="DEVICE")
    p.add_argument("--split", default="test", choices=("test", "val"),
                   help="test (default) or the validation split")
    p.set_defaults(func=run)


def confusion_table(classes: list[str], confusion: list[list[int]], per_class: list[float | None]) -> str:
    """The confusion matrix as an aligned text table with per-class accuracy."""
    names = [str(c) for c in classes]
    width = max(4, *(len(n) for n in names), *(len(str(v)) for row in confusion for v in row))
    head = " " * (width + 2) + " ".join(n[:width].rjust(width) for n in names) + "   acc"
    lines = [head]
    for name, row, acc in zip(names, confusion, per_class):
        shown = "-" if acc is None else f"{100 * acc:.1f}%"
        lines.append(f"{name[:width].rjust(width)}  " + " ".join(str(v).rjust(width) for v in row) + f"  {shown:>6}")
    return "\n".join(lines)


def class_table(classes: list[str], metrics: dict[str, Any], split: str) -> str:
    """Per-class precision, recall, F1 and support, then the macro and weighted averages."""
    names = [str(c) for c in classes]
    width = max(12, *(len(n) for n in names))
    lines = [f"{'class':>{width}}  precision  recall      f1  support"]
    rows = zip(names, metrics[f"{split}_precision"], metrics[f"{split}_recall"], metrics[f"{split}_f1"],
               metrics[f"{split}_support"])
    lines += [f"{n[:width]:>{width}}  {p:9.4f}  {r:6.4f}  {f:6.4f}  {s:7d}" for n, p, r, f, s in rows]
    total = sum(metrics[f"{split}_support"])
    for avg in ("macro", "weighted"):
        p, r, f = (metrics[f"{split}_{avg}_{m}"] for m in ("precision", "recall", "f1"))
        lines.append(f"{avg + ' avg':>{width}}  {p:9.4f}  {r:6.4f}  {f:6.4f}  {total:7d}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from cnnspec.engine import evaluate
    from cnnspec.engine.rundir import jsonable

    split = args.split
    metrics = evaluate(args.file, args.checkpoint, overrides=args.overrides, device=args.device, split=split,
                       which=args.weights)
    if args.format == "json":
        print(json.dumps(jsonable({"checkpoint": args.checkpoint, "split": split, "metrics": metrics}),
                         allow_nan=False))
        return 0
    loss, acc = metrics[f"{split}_loss"], metrics[f"{split}_acc"]
    print(f"{args.file} with {metrics['weights']}: {split} on {metrics[f'{split}_samples']} samples")
    top = "".join(f"  {k.removeprefix(split + '_')} {100 * v:.2f}%" for k, v in metrics.items()
                  if k.startswith(f"{split}_top") and v is not None)
    print(f"{split}_loss {loss:.4f}  {split}_acc {100 * acc:.2f}%{top}")
    print("\n" + class_table(metrics["classes"], metrics, split))
    print("\nconfusion matrix (rows: true class, columns: predicted class):")
    print(confusion_table(metrics["classes"], metrics[f"{split}_confusion"], metrics[f"{split}_per_class_acc"]))
    return 0
