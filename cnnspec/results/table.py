"""The ``cnnspec runs`` table: one row per run, sortable, with what each changed from the first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnnspec.results.runs import RunRecord

__all__ = ["SORT_KEYS", "format_runs", "sort_runs"]

#: what ``--sort`` accepts: a column, a final metric of final.json, or best_<per-epoch metric>
SORT_KEYS = ("started", "name", "status", "epochs", "params", "time", "best_val_loss", "best_val_acc",
             "test_loss", "test_acc")


def sort_runs(runs: Sequence[RunRecord], key: str, *, reverse: bool | None = None) -> list[RunRecord]:
    """Runs ordered by ``key``; runs without a value go last. Accuracies sort best first
    unless ``reverse`` says otherwise, losses lowest first."""
    if reverse is None:
        reverse = key.endswith("_acc") or key in ("epochs", "params", "time")
    have = [r for r in runs if r.value(key) is not None]
    missing = [r for r in runs if r.value(key) is None]
    return sorted(have, key=lambda r: r.value(key), reverse=reverse) + missing


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _num(value: Any, fmt: str = ".4f") -> str:
    return "-" if value is None else format(value, fmt)


def _params(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value / 1e3:.1f}k" if value >= 1e4 else str(value)


def _time(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    whole = round(value)
    return f"{whole // 60}:{whole % 60:02d}" if whole >= 60 else f"{value:.1f}s"


def format_runs(runs: Sequence[RunRecord], *, max_diff: int = 60) -> str:
    """The runs as an aligned text table; the last column is what each run's spec changes from the first's."""
    if not runs:
        return "no runs found"
    head = ("run", "started", "status", "epochs", "best val_loss", "best val_acc", "test_acc", "params", "time",
            "differs from the first run")
    rows = []
    for run in runs:
        planned = run.planned_epochs
        epochs = f"{run.epochs}/{planned}" if planned is not None else str(run.epochs)
        diff = "; ".join(run.differences) if run.differences else ("(first)" if run is _first(runs) else "-")
        if len(diff) > max_diff:
            diff = diff[:max_diff - 3] + "..."
        started = (run.started or "-").replace("+00:00", "Z")
        rows.append((run.name, started, run.status, epochs, _num(run.best("val_loss")), _pct(run.best("val_acc")),
                     _pct(run.final.get("test_acc")), _params(run.params), _time(run.final.get("train_time_s")),
                     diff))
    widths = [max(len(str(r[i])) for r in (head, *rows)) for i in range(len(head))]
    right = {3, 4, 5, 6, 7, 8}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(head).rstrip(), *(line(r).rstrip() for r in rows)])


def _first(runs: Sequence[RunRecord]) -> RunRecord | None:
    """The run the differences are measured from: the one that started first."""
    return min(runs, key=lambda r: (r.started or "", r.name)) if runs else None
