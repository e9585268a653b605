"""What a sweep costs on top of its trainings, and what ``--jobs`` buys.

1. Overhead: ``cnnspec sweep`` over a grid of N and of 2N learning rates
   (one process, the default SQLite study, static checks, one run directory
   per trial) against the baseline of the same trainings done by a plain
   Python loop of ``cnnspec.train(spec, overrides=[...])`` in one process —
   what a user writes by hand without sweeps. The difference between the N
   and 2N runs is the cost of N more trials, so the sweep's fixed cost
   (opening the study, the plots) and its cost per trial are reported apart;
   the ratio is per trial (target: <= 1.15x). Interleaved repeats, medians.
2. Parallelism: the same sweep as a fresh process with ``--jobs 2`` against
   ``--jobs 1`` (ratio of wall times; bounded by the machine's free cores).

    .venv/bin/python benchmarks/bench_sweep.py [--trials 8] [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = """\
name: bench
input: [1, 8, 8]
seed: 0
model:
  - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}
  - relu
  - maxpool2d: {kernel_size: 2}
  - flatten
  - linear: {out_features: 10}
data: {dataset: digits, batch_size: 64, val_split: 0.2}
train: {epochs: EPOCHS, optimizer: {sgd: {lr: 0.05, momentum: 0.9}}, threads: 1, progress: false}
"""


def _lrs(n: int) -> list[float]:
    return [round(0.01 + 0.02 * i, 4) for i in range(n)]


def _sweep_in_process(spec: Path, work: Path, n: int) -> float:
    from cnnspec.cli import main

    grid = "train.optimizer.sgd.lr=choice(" + ", ".join(map(str, _lrs(n))) + ")"
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["sweep", str(spec), "--sweep", grid, "--dir", str(work / "sweep")]) == 0
    return time.perf_counter() - start


def _loop_in_process(spec: Path, work: Path, n: int) -> float:
    from cnnspec.engine import train

    start = time.perf_counter()
    for i, lr in enumerate(_lrs(n)):
        train(str(spec), overrides=[f"train.optimizer.sgd.lr={lr}"], run_dir=work / "loop" / f"{i:04d}")
    return time.perf_counter() - start


def _sweep_process(spec: Path, work: Path, n: int, jobs: int) -> float:
    grid = "train.optimizer.sgd.lr=choice(" + ", ".join(map(str, _lrs(n))) + ")"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cnnspec", "sweep", str(spec), "--sweep", grid, "--jobs", str(jobs),
                           "--dir", str(work / f"jobs{jobs}")], capture_output=True, env=env, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the sweep exited with {done.returncode}:\n{done.stderr[-5000:]}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    runs: dict[tuple[str, int], list[float]] = {}
    one, two = [], []
    sizes = (args.trials, 2 * args.trials)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "bench.yaml"
        spec.write_text(SPEC.replace("EPOCHS", str(args.epochs)))
        _loop_in_process(spec, Path(tmp) / "warm", 1)  # imports, the dataset, the first model
        for r in range(args.repeats):  # interleaved, so load changes hit both alike
            for n in sizes:
                for name, fn in (("sweep", _sweep_in_process), ("loop", _loop_in_process)):
                    work = Path(tmp) / f"{name}{n}-{r}"
                    runs.setdefault((name, n), []).append(fn(spec, work, n))
                    shutil.rmtree(work)
            for times, jobs in ((one, 1), (two, 2)):
                work = Path(tmp) / f"p{jobs}-{r}"
                times.append(_sweep_process(spec, work, args.trials, jobs))
                shutil.rmtree(work)
    med = {key: statistics.median(v) for key, v in runs.items()}
    n, n2 = sizes
    per_sweep = (med["sweep", n2] - med["sweep", n]) / n
    per_loop = (med["loop", n2] - med["loop", n]) / n
    fixed = med["sweep", n] - n * per_sweep - (med["loop", n] - n * per_loop)
    print(f"trials of {args.epochs} epochs, median of {args.repeats}")
    for name in ("sweep", "loop"):
        label = "cnnspec sweep (in process)" if name == "sweep" else "loop of cnnspec.train"
        print(f"{label:28s} {n} trials {med[name, n]:.2f} s, {n2} trials {med[name, n2]:.2f} s")
    print(f"per trial: sweep {per_sweep * 1000:.0f} ms, loop {per_loop * 1000:.0f} ms; "
          f"ratio {per_sweep / per_loop:.2f}x (target <= 1.15x); the sweep's fixed cost {fixed:.2f} s")
    o, t = statistics.median(one), statistics.median(two)
    print(f"cnnspec sweep --jobs 1 (process):    {o:.2f} s")
    print(f"cnnspec sweep --jobs 2 (process):    {t:.2f} s")
    print(f"ratio: --jobs 2 is {o / t:.2f}x faster on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
