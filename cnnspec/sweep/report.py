"""How a sweep reads on the terminal: its plan, one line per trial, the ranked table.

Every line is plain text that greps well (no escape codes); values that came
from a spec file go through :func:`cnnspec.render.escape`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cnnspec.render import escape
from cnnspec.sweep.plan import Plan
from cnnspec.sweep.results import NOISE_P, Results, Row

__all__ = ["format_plan", "format_status", "format_trial", "short_names"]


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """Each key by its last part (``lr``), or whole where two keys would read alike."""
    last = {k: k.rsplit(".", 1)[-1] for k in keys}
    counts: dict[str, int] = {}
    for name in last.values():
        counts[name] = counts.get(name, 0) + 1
    return {k: (name if counts[name] == 1 else k) for k, name in last.items()}


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return json.dumps(v) if not isinstance(v, str) else v


def _params(row: Row, names: dict[str, str]) -> str:
    parts = [f"{names.get(k, k)}={_value(v)}" for k, v in row.params.items()]
    return escape(", ".join(parts)) or "(base)"


def _score(row: Row, metric: str) -> str:
    if row.value is None:
        return ""
    spread = f" ± {row.std:.4f}" if row.std is not None else ""
    seeds = f" ({len(row.values)} seeds)" if len(row.values) > 1 else ""
    return f"{metric} {row.value:.4f}{spread}{seeds}"


def format_plan(plan: Plan, *, name: str, directory: Any, storage: str, valid: int | None, tried: int) -> str:
    """What is about to run."""
    seeds = plan.seed_values
    lines = [f"sweep {escape(name)}: {len(plan.dims)} dimension{'s' * (len(plan.dims) != 1)}, "
             f"{plan.sampler}, {plan.trials} trial{'s' * (plan.trials != 1)}"
             + (f" x {len(seeds)} seeds" if plan.seeds is not None else "")
             + f"; objective {plan.objective.metric} ({plan.objective.direction})"
             + (f"; pruner {plan.pruner.name}" if plan.pruner else "")]
    width = max([len(d.key) for d in plan.dims] + [len(plan.seeds.key) if plan.seeds else 0, 4])
    for dim in plan.dims:
        lines.append(f"  {escape(dim.key).ljust(width)}  {escape(dim.canonical())}")
    if plan.seeds is not None:
        lines.append(f"  {plan.seeds.key.ljust(width)}  {', '.join(map(str, seeds))} (every point, each seed)")
    if valid is not None:
        lines.append(f"  {valid} of {tried} grid points are valid specs" if plan.sampler == "grid" else
                     f"  {valid} of {tried} sampled points are valid specs")
    lines.append(f"  study in {storage}; trials in {directory}/trials")
    return "\n".join(lines)


def format_trial(row: Row, metric: str, names: dict[str, str]) -> str:
    """The line printed as a trial ends."""
    head = f"trial {row.number}  {_params(row, names)}"
    took = f"  {row.seconds:.1f}s" if row.seconds is not None else ""
    if row.outcome == "completed":
        return f"{head}  {_score(row, metric)}{took}"
    if row.outcome == "pruned":
        return f"{head}  pruned after epoch {row.last_step} ({metric} {row.last_value:.4f}){took}" \
            if row.last_step is not None and row.last_value is not None else f"{head}  pruned{took}"
    if row.outcome == "invalid":
        first = (row.error or "").splitlines()[0] if row.error else ""
        return f"{head}  invalid, skipped: {escape(first)}"
    if row.outcome in ("failed", "diverged"):
        first = (row.error or "").splitlines()[0] if row.error else ""
        return f"{head}  {row.outcome}: {escape(first)}{took}"
    if row.outcome in ("lost", "interrupted"):
        why = "its process was gone" if row.outcome == "lost" else "stopped by a signal"
        again = f"; ran again as trial {row.rerun_as}" if row.rerun_as is not None else ""
        return f"{head}  {row.outcome} ({why}){again}"
    return f"{head}  {row.outcome}{took}"


def format_status(results: Results, *, directory: Any = None, storage: str = "", best_file: Any = None,
                  plots: Sequence[Any] = ()) -> str:
    """The ranked table ``cnnspec sweep --status`` prints."""
    metric = results.objective["metric"]
    counts = results.counts()
    told = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    lines = [f"sweep {escape(results.name)}" + (f" in {directory}" if directory else "")
             + (f" (study in {storage})" if storage else ""),
             f"{len(results.rows)} trials: {told or 'none yet'}; objective {metric} ({results.objective['direction']})"]
    if results.seeds:
        lines.append(f"each point trained with {results.seeds['key']} in {results.seeds['values']}: mean ± std")
    names = short_names(results.keys)
    ranked = [r for r in results.rows if r.rank is not None]

    def cell(row: Row, key: str) -> str:
        return escape(_value(row.params[key])) if key in row.params else "-"

    widths = {k: max([len(names[k])] + [len(cell(r, k)) for r in ranked]) for k in results.keys}
    if ranked:
        lines.append("")
        lines.append((f"rank  trial  {metric}".ljust(36) + "  ".join(names[k].ljust(widths[k])
                                                                   for k in results.keys)).rstrip())
    for row in results.rows:
        if row.rank is not None:
            score = f"{row.value:.4f}" + (f" ± {row.std:.4f}" if row.std is not None else "")
            noise = ""
            if row.p_vs_best is not None:
                verdict = "within noise" if row.p_vs_best >= NOISE_P else "beyond noise"
                noise = f"  (vs best: p={row.p_vs_best:.2g}, {verdict})"
            cells = "  ".join(cell(row, k).ljust(widths[k]) for k in results.keys)
            lines.append((f"{row.rank:>4}  {row.number:>5}  {score}".ljust(36) + cells + noise).rstrip())
        else:
            lines.append(f"{'-':>4}  {format_trial(row, metric, names)}")
        for change in row.changes:
            lines.append(f"             {escape(change)}")
    best = results.best
    if best is not None:
        lines.append("")
        lines.append(f"best: trial {best.number}, {_score(best, metric)}"
                     + (f" -> {best_file} (cnnspec train {best_file})" if best_file else ""))
    if plots:
        lines.append("plots: " + ", ".join(str(p) for p in plots))
    return "\n".join(lines)
