#!/usr/bin/env python3
"""Bootstrap and tasks for a fresh clone; needs only Python 3.10+.

    python3 dev.py run     # the main job (creates .venv on first use)
    python3 dev.py test    # the test suite (fast tier; --all for every tier)

The virtual environment is created in .venv and re-installed whenever
pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".cnnspec-installed"


def _sh(*cmd: str | Path, **kw) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def ensure_venv() -> None:
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want and PY.exists():
        return
    if not PY.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    _sh(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _sh(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev,export]")
    STAMP.write_text(want)


def run(argv: list[str]) -> int:
    """The main job: train specs/digits.yaml (offline) and say where the results are.

    Extra arguments go to ``cnnspec train`` (e.g. ``--epochs 3``, ``--device cpu``).
    """
    spec = ROOT / "specs" / "digits.yaml"
    runs = ROOT / "runs" / "digits"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    code = subprocess.call([str(BIN / "cnnspec"), "train", str(spec.relative_to(ROOT)), *argv], cwd=ROOT)
    new = sorted(set(runs.iterdir()) - before) if runs.is_dir() else []
    if code == 0 and new:
        run_dir = new[-1]
        rel = run_dir.relative_to(ROOT)
        print(f"\nresults in {rel}/:")
        for item in sorted(run_dir.rglob("*")):
            if item.is_file() and not item.name.startswith("."):
                print(f"  {item.relative_to(run_dir)}")
        tool = BIN.relative_to(ROOT)
        if (run_dir / "tensorboard").is_dir():
            print(f"curves:      {tool / 'tensorboard'} --logdir {rel / 'tensorboard'}")
        best = run_dir / "checkpoints" / "best.pt"
        if best.exists():
            print(f"re-evaluate: {tool / 'cnnspec'} evaluate {rel / 'spec.yaml'} --checkpoint {best.relative_to(ROOT)}")
    return code


def test(argv: list[str]) -> int:
    args = ["-m", "pytest", "-n", "2"]
    if "--all" in argv:
        argv = [a for a in argv if a != "--all"]
        args += ["-m", "slow or not slow"]
    else:
        args += ["-m", "not slow"]
    return subprocess.call([str(PY), *args, *argv], cwd=ROOT)


def main() -> int:
    tasks = {"run": run, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in tasks:
        print(__doc__)
        return 2
    ensure_venv()
    return tasks[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
