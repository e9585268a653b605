"""``metrics_log``: every epoch's metrics as a JSON line or a CSV row in the run dir.

The file is rewritten whole (temp file + ``os.replace``) each epoch from the
rows kept in memory, which are also the callback's checkpoint state: after a
resume, epochs the interrupted run logged beyond its last checkpoint are
replaced rather than duplicated, and a reader never sees a half-written file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Literal

from cnnspec.callbacks.base import Callback
from cnnspec.spec_run import SpecModel

__all__ = ["MetricsLog", "MetricsLogParams"]


class MetricsLogParams(SpecModel):
    """Arguments of ``callbacks: [{metrics_log: {...}}]``."""

    format: Literal["jsonl", "csv"] = "jsonl"
    filename: str | None = None


class MetricsLog(Callback):
    """Writes ``metrics.jsonl`` (or ``metrics.csv``) under ``trainer.run_dir``."""

    def __init__(self, format: str = "jsonl", filename: str | None = None) -> None:
        self.format = format
        self.filename = filename or f"metrics.{format}"
        self.rows: list[dict[str, Any]] = []
        self.path: Path | None = None

    def setup(self, trainer: Any) -> None:
        self.path = Path(trainer.run_dir) / self.filename

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        row = {"epoch": epoch, **{k: _plain(v) for k, v in metrics.items()}}
        self.rows = [r for r in self.rows if r["epoch"] < epoch] + [row]
        if self.path is not None:
            self.write(self.path)

    def write(self, path: Path) -> None:
        text = self.render()
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:  # a full disk must not stop training
            import warnings

            warnings.warn(f"metrics_log: cannot write {path}: {exc}", stacklevel=2)

    def render(self) -> str:
        if self.format == "jsonl":
            return "".join(json.dumps(row) + "\n" for row in self.rows)
        columns: list[str] = []
        for row in self.rows:
            columns += [k for k in row if k not in columns]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state.get("rows", [])]


def _plain(value: Any) -> Any:
    """Tensors and numpy scalars as Python numbers, so the row is JSON."""
    if hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return value
