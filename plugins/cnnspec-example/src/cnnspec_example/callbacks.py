"""``csv_log``: every epoch's metrics as a row of a CSV file in the run directory.

cnnspec already writes ``metrics.jsonl``; a CSV opens directly in a
spreadsheet or ``pandas.read_csv``. The file is rewritten whole (temp file +
``os.replace``) each epoch from the rows kept in memory, which are also the
callback's checkpoint state: after a resume, epochs the interrupted run
logged beyond its last checkpoint are replaced rather than duplicated, a
metric that appears later (``val_acc`` after a warm-up) gets its column, and
a reader never sees a half-written file.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from pathlib import Path
from typing import Any

from pydantic import Field

from cnnspec.callbacks.base import Callback
from cnnspec.component import SpecModel

__all__ = ["CsvLog", "CsvLogParams"]


class CsvLogParams(SpecModel):
    """Arguments of ``callbacks: [{csv_log: {...}}]``."""

    filename: str = Field(default="metrics.csv", pattern=r"^[^/\\]+\.csv$", description="a file name in the run dir")
    columns: list[str] | None = Field(default=None, description="only these metrics, in this order (default: all)")


class CsvLog(Callback):
    """Writes ``metrics.csv`` (one row per epoch) under ``trainer.run_dir``."""

    def __init__(self, filename: str = "metrics.csv", columns: list[str] | None = None) -> None:
        self.filename = filename
        self.columns = list(columns) if columns else None
        self.rows: list[dict[str, Any]] = []
        self.path: Path | None = None

    def setup(self, trainer: Any) -> None:
        self.path = Path(trainer.run_dir) / self.filename

    def on_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, Any]) -> None:
        number = int(metrics.get("epoch", epoch + 1))  # cnnspec counts finished epochs from 1
        row = {"epoch": number, **{k: _plain(v) for k, v in metrics.items() if k != "epoch"}}
        self.rows = [r for r in self.rows if r["epoch"] < number] + [row]
        if self.path is not None:
            self.write(self.path)

    def render(self) -> str:
        if self.columns:
            columns = ["epoch", *(c for c in self.columns if c != "epoch")]
        else:
            columns = []
            for row in self.rows:
                columns += [k for k in row if k not in columns]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()

    def write(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(self.render(), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:  # a full disk must not stop training
            warnings.warn(f"csv_log: cannot write {path}: {exc}", stacklevel=2)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state.get("rows", [])]


def _plain(value: Any) -> Any:
    """Tensors and numpy scalars as Python numbers; lists (per-class values) as text."""
    if hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return value
