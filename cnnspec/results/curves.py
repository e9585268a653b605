"""Learning curves of several runs in one picture: ``cnnspec runs --plot val_acc``.

One line per run that recorded the metric (epochs on the x axis), labelled
with the run's name; accuracies in percent. Drawn with matplotlib's Agg
backend (no display needed) and written atomically.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from cnnspec.exceptions import CnnspecError
from cnnspec.results.runs import RunRecord

__all__ = ["plot_curves"]


def plot_curves(runs: Sequence[RunRecord], metric: str, output: str | Path) -> tuple[Path, list[RunRecord]]:
    """Write the overlaid curves of ``metric`` to ``output``; returns it and the runs drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnspec.atomic import atomic_write

    drawn = [r for r in runs if any(isinstance(m.get(metric), (int, float)) for m in r.history)]
    if not drawn:
        known = sorted({k for r in runs for m in r.history for k, v in m.items() if isinstance(v, (int, float))})
        raise CnnspecError(f"--plot {metric}: no run recorded '{metric}' per epoch",
                           hint="metrics recorded: " + (", ".join(known) or "none (no run finished an epoch)"))
    scale = 100.0 if metric.endswith("_acc") else 1.0
    fig, ax = plt.subplots(figsize=(8, 5))
    try:
        for run in drawn:
            points = [(int(m.get("epoch", i + 1)), m[metric] * scale) for i, m in enumerate(run.history)
                      if isinstance(m.get(metric), (int, float))]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=run.name)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric + (" (%)" if scale != 1.0 else ""))
        ax.set_title(f"{metric} of {len(drawn)} run(s)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="best")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(output, buffer.getvalue())
    return output, drawn
