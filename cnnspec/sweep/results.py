"""A sweep's results: trials ranked, each point's spread over seeds, its diff against the base.

Read from the study alone (any machine that reaches the storage can ask):
completed trials ranked by the objective (the mean over seeds), then the
pruned ones (by the last epoch they reported), then the rest. With a seed
axis each point shows mean ± sample standard deviation, and its difference
from the best point is tested with Welch's t-test (``scipy.stats.ttest_ind``,
unequal variances): ``p >= 0.05`` reads *within noise* — the two specs are
not shown to differ by these seeds.

Each trial's spec is compared with the base by :mod:`cnnspec.analysis.diff`
(the settings that changed, the layers that changed and what that does to
the parameter count), and the best trial's spec is written out as a plain
spec file that ``cnnspec train`` runs alone.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnspec.atomic import atomic_write_text

__all__ = ["NOISE_P", "Results", "Row", "collect", "row_of", "welch_p", "write_best"]

ATTR = "cnnspec."
#: below this p-value a difference from the best point is more than the seeds' noise
NOISE_P = 0.05


@dataclass
class Row:
    """One trial as the status shows it."""

    number: int
    outcome: str
    params: dict[str, Any]
    value: float | None = None
    std: float | None = None
    values: list[float] = field(default_factory=list)  # the objective per seed
    seconds: float | None = None
    directory: str | None = None
    error: str | None = None
    stop_reason: str | None = None
    last_step: int | None = None
    last_value: float | None = None
    spec: dict[str, Any] | None = None
    retry_of: int | None = None
    rerun_as: int | None = None
    inactive: list[str] = field(default_factory=list)
    rank: int | None = None
    p_vs_best: float | None = None
    changes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "spec"}
        return out


@dataclass
class Results:
    """The ranked rows of a study and what they came from."""

    name: str
    objective: dict[str, str]
    keys: list[str]
    rows: list[Row]
    base: dict[str, Any] | None
    seeds: dict[str, Any] | None

    @property
    def best(self) -> Row | None:
        return next((r for r in self.rows if r.rank == 1), None)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows:
            out[row.outcome] = out.get(row.outcome, 0) + 1
        return out


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Welch's t-test p-value of two samples (``None`` with fewer than two values on a side)."""
    if len(a) < 2 or len(b) < 2:
        return None
    if statistics.pvariance(a) == 0 and statistics.pvariance(b) == 0:
        return 1.0 if statistics.fmean(a) == statistics.fmean(b) else 0.0
    from scipy.stats import ttest_ind

    p = float(ttest_ind(a, b, equal_var=False).pvalue)
    return p if math.isfinite(p) else None


def _decode(params: dict[str, Any]) -> dict[str, Any]:
    from cnnspec.sweep.space import decode

    return {k: decode(v) for k, v in params.items()}


def row_of(t: Any) -> Row:
    """A frozen trial as a row (not ranked)."""
    attrs = t.user_attrs
    outcome = attrs.get(ATTR + "outcome") or ("running" if t.state.name == "RUNNING" else
                                                "queued" if t.state.name == "WAITING" else t.state.name.lower())
    seeds = attrs.get(ATTR + "seeds") or []
    values = [float(s["value"]) for s in seeds if isinstance(s.get("value"), (int, float))]
    params = t.params or attrs.get(ATTR + "params") or {}
    last = max(t.intermediate_values) if t.intermediate_values else None
    return Row(
        number=t.number, outcome=outcome, params=_decode(params),
        value=t.value if outcome == "completed" else None, std=attrs.get(ATTR + "std"),
        values=values if outcome == "completed" else [], seconds=attrs.get(ATTR + "seconds"),
        directory=attrs.get(ATTR + "dir"), error=attrs.get(ATTR + "error"),
        stop_reason=attrs.get(ATTR + "stop_reason"), last_step=last,
        last_value=t.intermediate_values[last] if last is not None else None, spec=attrs.get(ATTR + "spec"),
        retry_of=attrs.get(ATTR + "retry_of"), inactive=list(attrs.get(ATTR + "inactive") or []))


def collect(study: Any, *, diffs: bool = True) -> Results:
    """The study's trials as ranked rows (surplus claims left out)."""
    identity = study.user_attrs.get(ATTR + "identity") or {}
    objective = identity.get("objective") or {"metric": "value", "direction": study.direction.name.lower()}
    rows = [row_of(t) for t in study.get_trials(deepcopy=False) if t.user_attrs.get(ATTR + "outcome") != "surplus"]
    sign = 1 if objective["direction"] == "minimize" else -1
    done = sorted((r for r in rows if r.outcome == "completed"), key=lambda r: (sign * r.value, r.number))
    pruned = sorted((r for r in rows if r.outcome == "pruned"),
                    key=lambda r: (-(r.last_step or 0), sign * (r.last_value if r.last_value is not None else
                                                                math.inf * sign), r.number))
    rest = sorted((r for r in rows if r.outcome not in ("completed", "pruned")), key=lambda r: r.number)
    by_number = {r.number: r for r in rows}
    for row in rows:
        if row.retry_of in by_number:
            by_number[row.retry_of].rerun_as = row.number
    for i, row in enumerate(done, start=1):
        row.rank = i
    if done and len(done[0].values) > 1:
        for row in done[1:]:
            row.p_vs_best = welch_p(done[0].values, row.values)
    base = study.user_attrs.get(ATTR + "base")
    keys = [d["key"] for d in identity.get("space", [])] or sorted({k for r in rows for k in r.params})
    results = Results(study.study_name, objective, keys, [*done, *pruned, *rest], base, identity.get("seeds"))
    if diffs and isinstance(base, dict):
        _add_changes(results)
    return results


def _add_changes(results: Results) -> None:
    """Each trial's difference from the base spec, through cnnspec.analysis.diff."""
    from cnnspec.analysis.diff import diff_specs
    from cnnspec.exceptions import CnnspecError
    from cnnspec.spec import load_spec

    try:
        base = load_spec(results.base)
    except CnnspecError:
        return
    seed_key = (results.seeds or {}).get("key")
    for row in results.rows:
        if not isinstance(row.spec, dict) or row.outcome in ("lost", "interrupted"):
            continue
        try:
            d = diff_specs(base, load_spec(row.spec))
        except CnnspecError:
            continue
        lines = [_change(f) for f in d.fields if f.path != seed_key]
        for change in d.layers:
            if change.status == "changed":
                lines += [f"{change.info.qualname} {_change(f)}" for f in change.fields if not f.inferred]
            elif change.status in ("added", "removed"):
                lines.append(f"{change.info.qualname} ({change.info.type}) {change.status}")
        if d.before.params != d.after.params:
            delta = d.after.params - d.before.params
            lines.append(f"params: {d.before.params:,} -> {d.after.params:,} "
                         f"({'+' if delta > 0 else '-'}{abs(delta) / max(1, d.before.params):.1%})")
        row.changes = lines


def _change(field: Any) -> str:
    """``path: old -> new`` with floats to 6 significant digits (a sampled 0.016871947468957305 reads 0.0168719)."""
    def short(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.6g}"
        return "(absent)" if repr(v) == "(absent)" else json.dumps(v)

    return f"{field.path}: {short(field.old)} -> {short(field.new)}"


def write_best(directory: Path, results: Results) -> Path | None:
    """``DIR/best.yaml``: the best trial's spec, plain (no sweep section), ready for ``cnnspec train``."""
    import yaml

    best = results.best
    if best is None or not isinstance(best.spec, dict):
        return None
    metric = results.objective["metric"]
    spread = f" ± {best.std:.4g}" if best.std is not None else ""
    seeds = results.seeds
    lines = [f"# the best point of the sweep '{results.name}': trial {best.number}, "
             f"{metric} {best.value:.6g}{spread}"]
    if seeds:
        lines.append(f"# (mean over {seeds['key']} in {seeds['values']}; this file trains with the first)")
    if best.params:
        lines.append("# " + ", ".join(f"{k}={json.dumps(v)}" for k, v in best.params.items()))
    lines.append("# train it alone with: cnnspec train <this file>")
    text = "\n".join(lines) + "\n" + yaml.safe_dump(best.spec, sort_keys=False, allow_unicode=True,
                                                    default_flow_style=None)
    path = directory / "best.yaml"
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path
