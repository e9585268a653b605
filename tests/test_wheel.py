"""The wheel: built from this tree, installed into a fresh virtual environment, it runs the main job.

Slow (a build, a venv, a short training): ``pytest -m slow tests/test_wheel.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(argv: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_the_wheel_ships_the_examples_and_trains_digits(tmp_path: Path):
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist),
                  str(ROOT)], cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("cnnspec-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {Path(n).name: archive.read(n) for n in archive.namelist() if n.startswith("cnnspec/examples/")}
    assert shipped == {p.name: p.read_bytes() for p in (ROOT / "specs").glob("*.yaml")}

    # a fresh environment that sees this one's dependencies (torch...) but not this checkout
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                      str(wheel)], cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-3000:]

    work = tmp_path / "work"  # no specs/ here: the examples must come from the wheel
    work.mkdir()
    where = _run([str(python), "-c", "import cnnspec; print(cnnspec.__file__)"], cwd=work)
    assert Path(where.stdout.strip()).is_relative_to(env_dir), where
    cnnspec = str(env_dir / "bin" / "cnnspec")
    listed = _run([cnnspec, "examples"], cwd=work)
    assert listed.returncode == 0 and "digits " in listed.stdout and str(site) in listed.stdout, listed
    trained = _run([cnnspec, "train", "digits", "--epochs", "1", "--run-dir", "run"], cwd=work)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert (work / "run" / "final.json").is_file() and (work / "run" / "checkpoints" / "last.pt").is_file()
    again = _run([cnnspec, "train", "specs/digits.yaml", "--dry-run"], cwd=work)
    assert again.returncode == 0 and "using the example spec 'digits'" in again.stderr, again
