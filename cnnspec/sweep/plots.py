"""The sweep's pictures: the objective against each swept key, and parallel coordinates.

``DIR/plots/objective_vs_<key>.png`` — one per dimension: every completed
trial at its value (a log axis for log-scaled dimensions, listed values in
order for choices), with the spread over seeds as error bars and the best
point marked; pruned trials appear hollow at the last value they reported.
``DIR/plots/parallel_coordinates.png`` — one line per completed trial
through every dimension and the objective, coloured by the objective.

Drawn with matplotlib's Agg backend (no display needed), written atomically.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from cnnspec.sweep.results import Results, Row
from cnnspec.sweep.space import Dimension

__all__ = ["axis_values", "plot_results"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def axis_values(dim: Dimension, rows: list[Row]) -> tuple[list[float | None], list[str] | None, bool]:
    """Positions of each row's value on ``dim``'s axis, the tick labels of a categorical
    axis (else ``None``), and whether the axis is logarithmic."""
    numeric = dim.kind in ("uniform", "loguniform", "int", "range") or (
        dim.kind in ("linspace", "geomspace"))
    if numeric:
        out = [float(r.params[dim.key]) if isinstance(r.params.get(dim.key), (int, float)) else None for r in rows]
        log = dim.log or dim.kind == "geomspace"
        return out, None, log and all(v is None or v > 0 for v in out)
    import json

    labels = [json.dumps(v) if not isinstance(v, str) else v for v in dim.values]
    index = {json.dumps(v, sort_keys=True): i for i, v in enumerate(dim.values)}
    return [float(index[json.dumps(r.params[dim.key], sort_keys=True)]) if dim.key in r.params else None
            for r in rows], labels, False


def _save(fig: Any, path: Path) -> Path:
    import io

    from cnnspec.atomic import atomic_write

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write(path, buffer.getvalue())
    return path


def plot_results(results: Results, dims: list[Dimension], folder: Path) -> list[Path]:
    """Write the pictures; returns their paths (none without a completed trial)."""
    done = [r for r in results.rows if r.outcome == "completed" and r.value is not None]
    if not done or not dims:
        return []
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    metric = results.objective["metric"]
    pruned = [r for r in results.rows if r.outcome == "pruned" and r.last_value is not None]
    written = []
    for dim in dims:
        fig, ax = plt.subplots(figsize=(6, 4))
        xs, labels, log = axis_values(dim, done)
        pts = [(x, r) for x, r in zip(xs, done) if x is not None]
        ax.errorbar([x for x, _ in pts], [r.value for _, r in pts], yerr=[r.std or 0.0 for _, r in pts],
                    fmt="o", color="tab:blue", ecolor="tab:gray", capsize=3, label="completed")
        best = results.best
        for x, r in pts:
            if best is not None and r.number == best.number:
                ax.plot([x], [r.value], marker="*", markersize=16, color="tab:red", linestyle="", label="best")
        if pruned:
            pxs, _, _ = axis_values(dim, pruned)
            pp = [(x, r) for x, r in zip(pxs, pruned) if x is not None]
            if pp:
                ax.plot([x for x, _ in pp], [r.last_value for _, r in pp], "o", mfc="none", color="tab:orange",
                        label="pruned (last epoch)")
        if labels is not None:
            ax.set_xticks(range(len(labels)), labels, rotation=30 if max(map(len, labels)) > 6 else 0)
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(dim.key)
        ax.set_ylabel(metric + (" (mean ± std over seeds)" if any(r.std for r in done) else ""))
        ax.set_title(f"{results.name}: {metric} vs {dim.key}")
        ax.legend(fontsize="small")
        written.append(_save(fig, folder / f"objective_vs_{_SAFE.sub('_', dim.key)}.png"))
        plt.close(fig)
    written.append(_parallel(results, dims, done, folder, plt))
    return written


def _parallel(results: Results, dims: list[Dimension], done: list[Row], folder: Path, plt: Any) -> Path:
    """One line per trial across the dimensions (each scaled to [0, 1]) and the objective."""
    import matplotlib
    from matplotlib import cm
    from matplotlib.colors import Normalize

    columns: list[list[float | None]] = []
    ticks: list[tuple[list[float], list[str]]] = []
    for dim in dims:
        xs, labels, log = axis_values(dim, done)
        vals = [math.log10(x) if (log and x is not None) else x for x in xs]
        present = [v for v in vals if v is not None]
        lo, hi = (min(present), max(present)) if present else (0.0, 1.0)
        if labels is not None:
            lo, hi = 0.0, float(max(1, len(labels) - 1))
        span = (hi - lo) or 1.0
        columns.append([None if v is None else (v - lo) / span for v in vals])
        if labels is not None:
            ticks.append(([i / span for i in range(len(labels))], labels))
        else:
            shown = [lo, hi]
            ticks.append(([0.0, 1.0], [f"{10 ** s:.3g}" if log else f"{s:.3g}" for s in shown]))
    objective = [r.value for r in done]
    lo, hi = min(objective), max(objective)
    span = (hi - lo) or 1.0
    columns.append([(v - lo) / span for v in objective])
    ticks.append(([0.0, 1.0], [f"{lo:.4g}", f"{hi:.4g}"]))
    names = [d.key for d in dims] + [results.objective["metric"]]
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(names)), 4.5))
    norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + max(abs(lo) * 0.01, 1e-9))
    cmap = matplotlib.colormaps["viridis_r" if results.objective["direction"] == "minimize" else "viridis"]
    for i, row in enumerate(done):
        ys = [col[i] for col in columns]
        xs = [j for j, y in enumerate(ys) if y is not None]
        ax.plot(xs, [ys[j] for j in xs], color=cmap(norm(row.value)), alpha=0.8,
                linewidth=2.5 if row.rank == 1 else 1.2)
    for j, (pos, labels) in enumerate(ticks):
        ax.axvline(j, color="black", linewidth=0.8)
        for p, label in zip(pos, labels):
            ax.text(j + 0.03, p, label, fontsize="x-small", va="center")
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(names) - 0.6)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=results.objective["metric"])
    ax.set_title(f"{results.name}: parallel coordinates ({len(done)} completed trials)")
    path = _save(fig, folder / "parallel_coordinates.png")
    plt.close(fig)
    return path
