"""Run directories as records: what ``cnnspec runs`` shows of each.

A run directory is a folder holding ``spec.yaml`` and at least one of
``metrics.jsonl``, ``final.json`` or ``checkpoints/``. Everything is read
from those files — nothing is imported from the run, no torch is needed —
and a damaged file makes its fields empty rather than stopping the listing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunRecord", "collect_runs", "find_run_dirs"]

#: how deep under DIR run directories are looked for (runs/<name>/<timestamp> is 2)
MAX_DEPTH = 4


@dataclass
class RunRecord:
    """One run directory, read."""

    path: Path
    name: str  # the path relative to the listed folder
    spec: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    started: str | None = None
    params: int | None = None
    differences: list[str] = field(default_factory=list)  # what its spec changes from the first run's

    @property
    def status(self) -> str:
        if self.final.get("status"):
            return str(self.final["status"])
        return "unfinished" if self.history or (self.path / "checkpoints").is_dir() else "empty"

    @property
    def epochs(self) -> int:
        return len(self.history) or int(self.final.get("epochs") or 0)

    @property
    def planned_epochs(self) -> int | None:
        train = self.spec.get("train")
        value = train.get("epochs", 10) if isinstance(train, dict) else 10
        return int(value) if isinstance(value, int) else None

    def best(self, metric: str) -> float | None:
        """The best value of a per-epoch metric (lowest for losses, highest otherwise)."""
        values = [m[metric] for m in self.history if isinstance(m.get(metric), (int, float))]
        if not values:
            return None
        return min(values) if "loss" in metric else max(values)

    def value(self, key: str) -> Any:
        """A column's value: a final metric (``test_acc``), ``best_<metric>``, or a field."""
        if key.startswith("best_"):
            return self.best(key.removeprefix("best_"))
        if key in ("name", "status", "epochs", "params", "started"):
            return getattr(self, key)
        if key == "time":
            return self.final.get("train_time_s")
        return self.final.get(key)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "started": self.started, "status": self.status,
                "epochs": self.epochs, "planned_epochs": self.planned_epochs, "params": self.params,
                "best_val_loss": self.best("val_loss"), "best_val_acc": self.best("val_acc"),
                "test_loss": self.final.get("test_loss"), "test_acc": self.final.get("test_acc"),
                "train_time_s": self.final.get("train_time_s"), "differences": self.differences}


def find_run_dirs(root: Path, depth: int = MAX_DEPTH) -> list[Path]:
    """Run directories under ``root`` (``root`` itself if it is one), sorted by path."""
    if _is_run(root):
        return [root]
    if depth == 0 or not root.is_dir():
        return []
    found: list[Path] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        found += find_run_dirs(child, depth - 1)
    return found


def _is_run(path: Path) -> bool:
    return (path / "spec.yaml").is_file() and any(
        (path / name).exists() for name in ("metrics.jsonl", "final.json", "checkpoints"))


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _history(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill
        if isinstance(row, dict):
            out.append(row)
    return out


def read_run(path: Path, root: Path) -> RunRecord:
    import yaml

    try:
        spec = yaml.safe_load((path / "spec.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        spec = None
    env = _json(path / "env.json")
    name = str(path.relative_to(root)) if path != root else path.name
    return RunRecord(path, name, spec if isinstance(spec, dict) else {}, _history(path / "metrics.jsonl"),
                     _json(path / "final.json"), env.get("started"))


def _params(spec: dict[str, Any]) -> int | None:
    """Trainable parameters, inferred statically from the spec (``None`` if it no longer validates)."""
    from cnnspec.exceptions import CnnspecError
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    try:
        return int(infer_shapes(load_spec(spec)).params)
    except (CnnspecError, TypeError, ValueError):
        return None


def collect_runs(root: str | Path) -> list[RunRecord]:
    """Every run under ``root``, with its parameters and its spec's differences from the first run's."""
    from cnnspec.engine.resume import spec_changes

    root = Path(root)
    runs = [read_run(p, root) for p in find_run_dirs(root)]
    runs.sort(key=lambda r: (r.started or "", r.name))
    first = runs[0].spec if runs else {}
    for run in runs:
        run.params = _params(run.spec) if run.spec else None
        run.differences = [c.describe() for c in spec_changes(first, run.spec)] if run is not runs[0] else []
    return runs
