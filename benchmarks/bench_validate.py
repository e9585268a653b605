"""Cold `cnnspec validate` against importing torch and running torchinfo.

Both sides run as fresh processes (what a pre-commit hook or an editor pays):

* cnnspec: ``python -m cnnspec validate -q specs/resnet18.yaml``
* baseline: ``import torch, torchinfo`` + torchvision's resnet18 through
  ``torchinfo.summary`` at 224x224 — the usual way to get the same table.

Reports the median wall time of each over N runs and their ratio
(target: cnnspec >= 10x faster).

    .venv/bin/python benchmarks/bench_validate.py [--runs 7] [--spec specs/resnet18.yaml]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BASELINE = (
    "import torch, torchinfo\n"
    "from torchvision.models import resnet18\n"
    "torchinfo.summary(resnet18(), input_size=(1, 3, 224, 224), verbose=0)\n"
)


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--spec", default="specs/resnet18.yaml")
    args = parser.parse_args()
    ours_cmd = [sys.executable, "-m", "cnnspec", "validate", "-q", args.spec]
    base_cmd = [sys.executable, "-c", BASELINE]
    timed(ours_cmd), timed(base_cmd)  # warm the page cache for both
    ours, base = [], []
    for _ in range(args.runs):  # interleaved, so load changes hit both alike
        ours.append(timed(ours_cmd))
        base.append(timed(base_cmd))
    o, b = statistics.median(ours), statistics.median(base)
    print(f"cnnspec validate {args.spec}: median {o * 1000:.0f} ms over {args.runs} runs")
    print(f"import torch + torchinfo(resnet18): median {b * 1000:.0f} ms over {args.runs} runs")
    print(f"ratio: cnnspec is {b / o:.1f}x faster (target >= 10x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
