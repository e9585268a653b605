"""The run directory: everything one training run leaves behind.

``runs/<spec name>/<UTC timestamp>/`` by default, holding

* ``spec.yaml`` — the fully resolved spec (extends, vars and ``--set`` applied),
  enough to rerun the experiment;
* ``env.json`` — versions (python, torch, torchvision, cnnspec, plugins),
  device, seed, process count and the command line;
* ``metrics.jsonl`` — one JSON object per finished epoch, appended and
  flushed as training goes, so a crashed run still has its curves;
* ``final.json`` — the final metrics (test included) and how the run ended;

plus whatever callbacks write (checkpoints, TensorBoard logs, pictures).
Files that are rewritten are written atomically (temporary file, fsync,
rename), so a crash leaves the old version or the new one, never half of one.

The spec name becomes a directory name; a name that would escape the runs
root (``../x``, ``/tmp/x``, ``a/b``) is refused. An explicit ``--run-dir``
is trusted as given.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cnnspec.atomic import atomic_write_text, clean_temp_files
from cnnspec.exceptions import CnnspecError

__all__ = [
    "RUNS_ROOT",
    "RunDir",
    "atomic_write_text",
    "environment",
    "held_run_files",
    "jsonable",
    "new_run_dir",
    "resolve_run_dir",
]

RUNS_ROOT = "runs"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_OWN_FILES = ("metrics.jsonl", "final.json")
#: what the built-in callbacks write into a run directory; ``--force`` removes these with the run, so the
#: new run's TensorBoard and pictures never sit beside the old run's
_PRODUCTS = ("tensorboard", "plots", "gradcam", "architecture.svg")


def jsonable(value: Any) -> Any:
    """Plain JSON data: tensors become numbers/lists, NaN and infinities ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    tolist = getattr(value, "tolist", None)  # tensors and numpy values
    if callable(tolist):
        return jsonable(tolist())
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(jsonable(value), allow_nan=False)


def _timestamp(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def new_run_dir(spec: Any, root: str | Path = RUNS_ROOT, *, now: datetime | None = None) -> Path:
    """Create ``root/<spec name>/<timestamp>`` (``-2``, ``-3``... on a clash) and return it."""
    name = spec.name
    if not _SAFE_NAME.match(name) or name in (".", ".."):
        where = ("name",) if spec.config.name else ()
        raise spec.document.error(
            f"the spec name {name!r} cannot be used as a directory name under {root}/", where,
            hint="use letters, digits, '_', '-', '.' and '+' (no '/' and no leading '.'), "
                 "or choose the directory with --run-dir")
    root = Path(root)
    parent = root / name
    if os.path.commonpath([os.path.normpath(root), os.path.normpath(parent)]) != os.path.normpath(root):
        raise CnnspecError(f"run directory {parent} would be outside {root}")  # pragma: no cover - guarded above
    parent.mkdir(parents=True, exist_ok=True)
    stamp = _timestamp(now)
    for n in range(1, 1000):
        candidate = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise CnnspecError(f"could not create a new run directory under {parent}")  # pragma: no cover


def resolve_run_dir(spec: Any, run_dir: str | Path | None, root: str | Path = RUNS_ROOT, *,
                    resuming: bool = False, force: bool = False) -> Path:
    """The directory for this run: ``run_dir`` when given (created if needed), else a new one.

    A ``run_dir`` that already holds a run — its metrics, its final results or
    any checkpoint, even one written before the first epoch ended — is refused
    unless the run is resumed, or ``force`` replaces it (its metrics,
    checkpoints, TensorBoard files and pictures are removed first)."""
    if run_dir is None:
        return new_run_dir(spec, root)
    path = Path(run_dir)
    if path.exists() and not path.is_dir():
        raise CnnspecError(f"--run-dir {path}: exists and is not a directory")
    held = [] if resuming else held_run_files(path)
    if held and not force:
        shown = ", ".join(str(p.relative_to(path)) for p in held[:3]) + (", ..." if len(held) > 3 else "")
        raise CnnspecError(f"--run-dir {path} already holds a run ({shown})",
                           hint=f"continue it with `cnnspec train SPEC --resume {path}`, choose a new directory, "
                                "or pass --force to replace it")
    if held:
        import shutil

        for item in [*held, *(path / name for name in _PRODUCTS if (path / name).exists())]:
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def held_run_files(path: Path) -> list[Path]:
    """What marks ``path`` as holding a run: ``metrics.jsonl``, ``final.json``, a ``checkpoints/``
    folder with any checkpoint or manifest in it."""
    held = [path / f for f in _OWN_FILES if (path / f).exists()]
    checkpoints = path / "checkpoints"
    if checkpoints.is_dir() and any(p.suffix in (".pt", ".json") or ".pt." in p.name for p in checkpoints.iterdir()):
        held.append(checkpoints)
    return held


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment(spec: Any, *, device: Any, world_size: int, seed: int,
                argv: Iterable[str] | None = None) -> dict[str, Any]:
    """What ``env.json`` records: enough to tell why two runs differ."""
    import torch

    from cnnspec._version import __version__

    plugins = [
        {"name": info.name, "module": info.module, "builtin": info.builtin,
         "distribution": info.distribution, "version": info.version,
         **({"error": info.error} if info.error else {})}
        for info in spec.plugins.info.values()
    ]
    dev = torch.device(device)
    device_name = None
    if dev.type == "cuda" and torch.cuda.is_available():
        device_name = torch.cuda.get_device_name(dev)
    return {
        "cnnspec": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": _version("torchvision"),
        "cuda": torch.version.cuda,
        "device": str(dev),
        "device_name": device_name,
        "cpu_threads": torch.get_num_threads(),
        "world_size": world_size,
        "seed": seed,
        "spec_fingerprint": spec.fingerprint(),
        "command": list(sys.argv if argv is None else argv),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "plugins": plugins,
    }


class RunDir:
    """Writes the run directory's own files (only the main process makes one)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.metrics_path = self.path / "metrics.jsonl"

    def clean_temp_files(self) -> list[Path]:
        """Remove writes a killed run left unfinished (``final.json``, pictures), here and one folder down
        (``plots/``, ``gradcam/``, ``checkpoints/``): called as a run starts or resumes, before it writes."""
        removed = clean_temp_files(self.path)
        for sub in sorted(self.path.iterdir()) if self.path.is_dir() else []:
            if sub.is_dir() and not sub.is_symlink():
                removed += clean_temp_files(sub)
        return removed

    def write_spec(self, spec: Any, *, keep_header: bool = False) -> None:
        """``spec.yaml``; a resumed run keeps the header naming the file the run was started from."""
        import yaml

        source = spec.file if spec.file and not str(spec.file).startswith("<") else None
        header = (f"# resolved spec of {source}; " if source else "# resolved spec; ") + \
            "rerun with: cnnspec train <this file>\n"
        old = self.path / "spec.yaml"
        if keep_header and old.is_file():
            first = old.read_text(encoding="utf-8", errors="replace").partition("\n")[0]
            if first.startswith("# resolved spec"):
                header = first + "\n"
        text = yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=None)
        atomic_write_text(self.path / "spec.yaml", header + text)

    def write_json(self, name: str, data: Any) -> None:
        atomic_write_text(self.path / name, json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n")

    def append_metrics(self, metrics: Mapping[str, Any]) -> None:
        """One line per epoch; flushed so ``tail -f`` and a crash both see it."""
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(_dumps(metrics) + "\n")
            fh.flush()

    def rewrite_metrics(self, history: Iterable[Mapping[str, Any]]) -> None:
        """Make ``metrics.jsonl`` hold exactly ``history`` (after a resume)."""
        atomic_write_text(self.metrics_path, "".join(_dumps(m) + "\n" for m in history))

    def read_env(self) -> dict[str, Any]:
        """``env.json`` as written by an earlier session (empty if missing or unreadable)."""
        try:
            data = json.loads((self.path / "env.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]
