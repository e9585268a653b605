"""``cnnspec predict RUN|SPEC --images FILES|DIR``: a trained model's classes for new images.

RUN is a run directory: its best checkpoint (``--weights last`` for the
newest) and the spec stored with it. A SPEC file needs ``--checkpoint``
(a checkpoint file or a run directory). Folders are searched for image files
recursively; the images go through the spec's evaluation transforms and are
resized to its input when they differ. Output: a table, CSV or JSON lines
(``--format``, or ``-o preds.csv`` / ``-o preds.jsonl`` by the suffix), one
row per image as soon as its batch is done. Unreadable files are listed
with their error and do not stop the others; the exit code is 2 when no file
could be read at all.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from cnnspec.cli.parser import Parents

__all__ = ["register", "run"]


def register(sub: Any, parents: Parents) -> None:
    p = sub.add_parser("predict", parents=[*parents.spec(), parents.format(("table", "csv", "jsonl"))],
                       help="classify image files with a trained model",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="RUN|SPEC", help="a run directory, or a spec file with --checkpoint")
    p.add_argument("--images", nargs="+", required=True, metavar="FILE|DIR", help="image files and/or folders")
    p.add_argument("--checkpoint", metavar="PATH", help="a checkpoint file or a run directory (its best checkpoint)")
    p.add_argument("--weights", choices=("best", "last"), default="best",
                   help="with a run directory: its best checkpoint (default) or the newest one")
    p.add_argument("--top-k", type=int, default=5, metavar="K", help="classes per image (default 5)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N", help="images per forward pass (default 64)")
    p.add_argument("--device", default=None, metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (.csv: CSV, .jsonl/.json: JSON lines)")
    p.set_defaults(func=run)


def _format(args: argparse.Namespace) -> str:
    if args.output and args.format == "table":
        suffix = args.output.rsplit(".", 1)[-1].lower()
        return {"csv": "csv", "jsonl": "jsonl", "json": "jsonl"}.get(suffix, "table")
    return str(args.format)


class _Writer:
    """Writes rows as they come in one of the three formats."""

    def __init__(self, out: TextIO, fmt: str, top_k: int) -> None:
        self.out, self.fmt, self.k = out, fmt, top_k
        self.csv = csv.writer(out) if fmt == "csv" else None
        if self.csv is not None:
            head = ["image", "pred", "prob"]
            for i in range(2, top_k + 1):
                head += [f"top{i}", f"prob{i}"]
            self.csv.writerow([*head, "error"])

    def write(self, row: Any) -> None:
        if self.fmt == "jsonl":
            self.out.write(json.dumps(row.to_dict()) + "\n")
        elif self.csv is not None:
            cells: list[Any] = [row.image]
            for i in range(self.k):
                cells += [row.top[i][0], f"{row.top[i][2]:.6f}"] if i < len(row.top) else ["", ""]
            self.csv.writerow([*cells, row.error or ""])
        elif row.error is not None:
            self.out.write(f"{row.image}  error: {row.error}\n")
        else:
            others = "  ".join(f"{c} {p:.1%}" for c, _, p in row.top[1:])
            self.out.write(f"{row.image}  {row.top[0][0]} ({row.top[0][2]:.1%})" + (f"   {others}" if others else "")
                           + "\n")
        self.out.flush()


def run(args: argparse.Namespace) -> int:
    from cnnspec.checkpoint import describe_checkpoint
    from cnnspec.engine.predict import Predictor, image_files, open_model
    from cnnspec.explain.run import checkpoint_classes
    from cnnspec.render import escape, render_warning

    spec, state, held, file = open_model(args.source, checkpoint=args.checkpoint, overrides=args.overrides,
                                         which=args.weights)
    predictor = Predictor(spec, state, classes=checkpoint_classes(held, file), device=args.device,
                          top_k=args.top_k, batch_size=args.batch_size, source=file)
    fmt = _format(args)
    print(f"{spec.name}: weights from {describe_checkpoint(file, held)} on {predictor.device}", file=sys.stderr)
    failed: list[Any] = []
    count = 0
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    try:
        writer = _Writer(out, fmt, predictor.top_k)
        for row in predictor(image_files(args.images)):
            count += 1
            if row.error is not None:
                failed.append(row)
            writer.write(row)
    finally:
        if out is not sys.stdout:
            out.close()
    if args.output:
        print(f"wrote {count - len(failed)} prediction(s) to {args.output}", file=sys.stderr)
    if failed:
        listed = "".join(f"\n  {r.image}: {r.error}" for r in failed[:20])
        more = f"\n  ... and {len(failed) - 20} more" if len(failed) > 20 else ""
        print(render_warning(f"{len(failed)} of {count} file(s) could not be read as images:{listed}{more}"),
              file=sys.stderr)
    if count == 0:
        print(escape(f"error: --images {' '.join(args.images)}: no image files found"), file=sys.stderr)
        return 2
    return 2 if len(failed) == count else 0
