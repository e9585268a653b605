"""The plan of a sweep: its dimensions, seeds, sampler, budget, objective and pruner.

Read from the spec's ``sweep:`` section and the command line, the command line
winning (as ``--set`` wins over the file): ``--sweep KEY=DIST`` adds or
replaces a dimension, ``--sampler``/``--trials``/``--objective``/
``--direction``/``--pruner`` replace the section's values. Every mistake is
located — at the section's line or at the command-line option.

Defaults, chosen as a user of Optuna or W&B sweeps would expect: the grid
sampler when every dimension lists its values and no trial count is given
(the whole grid is the budget), TPE otherwise with 20 trials; the objective
``val_loss``, minimised (``*_acc`` metrics are maximised); no pruning.

A ``seed`` (or ``train.seed``) dimension is the seed axis: it is not searched.
Each point is trained once per seed, and scored by the mean over seeds, so
two points are compared on what they do, not on their luck.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnspec.exceptions import Location, SpecError
from cnnspec.load.document import PathKey
from cnnspec.names import suggest
from cnnspec.spec import Spec
from cnnspec.sweep.space import Dimension
from cnnspec.sweep.syntax import choice_of, parse_assignment, parse_dimension

__all__ = ["DEFAULT_TRIALS", "KNOWN_METRICS", "MAX_GRID_POINTS", "PRUNERS", "Objective", "Options", "Plan", "Pruner",
           "make_plan"]

#: trials of a random or TPE sweep when none is given
DEFAULT_TRIALS = 20
#: metrics every run with the matching split reports (callbacks may add more)
KNOWN_METRICS = ("val_loss", "val_acc", "train_loss", "train_acc", "test_loss", "test_acc", "lr")
#: pruner name -> Optuna class (``optuna.pruners.<name>``)
PRUNERS = {"none": "NopPruner", "median": "MedianPruner", "percentile": "PercentilePruner",
           "successive_halving": "SuccessiveHalvingPruner", "hyperband": "HyperbandPruner",
           "threshold": "ThresholdPruner"}
MAX_SEEDS = 100
#: the most points a grid may have: each is validated and enqueued before the first trial
MAX_GRID_POINTS = 5000


@dataclass(frozen=True)
class Objective:
    """The metric a sweep optimises and which way is better."""

    metric: str
    direction: str  # "minimize" or "maximize"
    location: Location | None = field(default=None, compare=False)

    def better(self, a: float, b: float) -> bool:
        return a < b if self.direction == "minimize" else a > b


@dataclass(frozen=True)
class Pruner:
    """An Optuna pruner by name and arguments; stops poor trials after an epoch."""

    name: str
    args: dict[str, Any]
    location: Location | None = field(default=None, compare=False)

    def build(self) -> Any:
        import optuna

        return getattr(optuna.pruners, PRUNERS[self.name])(**self.args)


@dataclass(frozen=True)
class Plan:
    """Everything that decides which points are trained and how they are scored."""

    dims: tuple[Dimension, ...]
    seeds: Dimension | None
    sampler: str
    trials: int
    objective: Objective
    pruner: Pruner | None

    @property
    def seed_values(self) -> list[int | None]:
        """The seeds each point is trained with (``[None]``: the spec's own seed, once)."""
        return list(self.seeds.grid()) if self.seeds is not None else [None]

    @property
    def grid_size(self) -> int | None:
        """Points in the grid of the discrete dimensions (``None`` if one is continuous)."""
        if not all(d.discrete for d in self.dims):
            return None
        return math.prod(d.size or 0 for d in self.dims)

    def identity(self, fingerprint: str) -> dict[str, Any]:
        """What a resumed (or shared) study must match: the trial budget may change, nothing else."""
        return {
            "base": fingerprint,
            "space": [d.describe() for d in self.dims],
            "seeds": None if self.seeds is None else {"key": self.seeds.key, "values": self.seed_values},
            "objective": {"metric": self.objective.metric, "direction": self.objective.direction},
            "sampler": self.sampler,
            "pruner": None if self.pruner is None else {"name": self.pruner.name, "args": self.pruner.args},
        }


@dataclass
class Options:
    """The command line's share of the plan (``None``: not given)."""

    sweeps: Sequence[str] = ()
    sampler: str | None = None
    trials: int | None = None
    objective: str | None = None
    direction: str | None = None
    pruner: str | None = None


def _loc(spec: Spec, path: PathKey, *, key: bool = False) -> Location | None:
    return spec.document.locate(path, key=key)


def _quoted(loc: Location | None) -> int:
    """1 when the scalar at ``loc`` starts with a quote (so columns point inside it)."""
    if loc is None or loc.file.startswith("<") or not Path(loc.file).is_file():
        return 0
    try:
        line = Path(loc.file).read_text(encoding="utf-8").splitlines()[loc.line - 1]
    except (OSError, IndexError, UnicodeDecodeError):
        return 0
    return 1 if line[loc.column - 1:loc.column] in ("'", '"') else 0


def _section_dims(spec: Spec) -> list[Dimension]:
    section = spec.config.sweep
    out = []
    for key, value in (section.space.items() if section else ()):
        path = ("sweep", "space", key)
        if isinstance(value, list):
            out.append(choice_of(key, value, _loc(spec, path), path))
        else:
            loc = _loc(spec, path)
            out.append(parse_dimension(key, value, where=loc, spec_path=path, offset=_quoted(loc)))
    return out


def _objective(spec: Spec, options: Options) -> Objective:
    section = spec.config.sweep
    metric, direction, loc = "val_loss", None, _loc(spec, ("data",)) or _loc(spec, ())
    written = section.objective if section else None
    if written is not None:
        loc = _loc(spec, ("sweep", "objective"))
        metric = written if isinstance(written, str) else written.metric
        direction = None if isinstance(written, str) else written.direction
    if options.objective:
        metric, loc = options.objective, Location("--objective", 1, 1)
        direction = None
    if options.direction:
        direction = options.direction
    if metric not in KNOWN_METRICS and metric not in _callback_metrics(spec):
        close = suggest(metric, [*KNOWN_METRICS, *_callback_metrics(spec)])
        said = f"; did you mean '{close[0]}'?" if close else ""
        raise SpecError(f"objective: no run reports a metric '{metric}'{said}", location=loc,
                        key=("sweep", "objective") if loc and not loc.file.startswith("--") else None,
                        hint="metrics: " + ", ".join([*KNOWN_METRICS, *_callback_metrics(spec)]))
    if direction is None:
        direction = "maximize" if "acc" in metric else "minimize"
    return Objective(metric, direction, loc)


def _callback_metrics(spec: Spec) -> list[str]:
    """Metrics the spec's callbacks add to every epoch (their ``provides_metrics``)."""
    from cnnspec.component import split_ref

    names: list[str] = []
    for ref in spec.config.callbacks:
        try:
            name, _ = split_ref(ref)
            factory = spec.plugins.registry("callback").entry(name).obj.load()
        except Exception:  # a callback that cannot be loaded provides nothing we could check
            continue
        names += [m for m in getattr(factory, "provides_metrics", ()) if m not in names]
    return names


def _pruner(spec: Spec, options: Options, objective: Objective) -> Pruner | None:
    from cnnspec.component import check_signature

    section = spec.config.sweep
    ref: Any = section.pruner if section else None
    loc = _loc(spec, ("sweep", "pruner"))
    if options.pruner:
        ref, loc = options.pruner, Location("--pruner", 1, 1)
    if ref is None:
        return None
    name, args = (ref, {}) if isinstance(ref, str) else next(iter(ref.items()))
    args = dict(args or {})
    where = ("sweep", "pruner") if loc and not loc.file.startswith("--") else None
    if name not in PRUNERS:
        close = suggest(name, PRUNERS)
        said = f"; did you mean '{close[0]}'?" if close else ""
        raise SpecError(f"pruner: unknown pruner '{name}'{said}", location=loc, key=where,
                        hint="pruners: " + ", ".join(PRUNERS))
    if name == "none":
        return None
    if objective.metric.startswith("test_"):
        raise SpecError(f"pruner: {name} prunes by epoch, but the objective {objective.metric} exists only "
                        "after the last epoch", location=loc, key=where,
                        hint="prune on a per-epoch metric (val_loss, val_acc) or leave pruning out")
    import optuna

    cls = getattr(optuna.pruners, PRUNERS[name])
    problem = check_signature(cls, args)
    if problem is None:
        try:
            cls(**args)
        except (TypeError, ValueError) as exc:
            problem = str(exc)
    if problem:
        raise SpecError(f"pruner {name}: {problem}", location=loc, key=where,
                        hint=f"the arguments are those of optuna.pruners.{PRUNERS[name]}")
    return Pruner(name, args, loc)


def make_plan(spec: Spec, options: Options) -> Plan:
    """The plan of ``spec`` (the composed spec with its ``sweep:`` section) and the command line."""
    dims: dict[str, Dimension] = {d.key: d for d in _section_dims(spec)}
    for i, text in enumerate(options.sweeps):
        dim = parse_assignment(text, i)
        dims.pop(dim.key, None)
        dims[dim.key] = dim
    seeds = [d for d in dims.values() if d.is_seed]
    if len(seeds) > 1:
        raise SpecError(f"two seed axes, {seeds[0].key} and {seeds[1].key}; sweep one", location=seeds[1].location,
                        hint="seed varies the split and the initialisation, train.seed the initialisation only")
    seed = seeds[0] if seeds else None
    if seed is not None:
        values = seed.grid() if seed.discrete and (seed.size or 0) <= MAX_SEEDS else None
        if values is None or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise SpecError(f"{seed.key}: the seed axis lists whole numbers (at most {MAX_SEEDS}), got "
                            f"{seed.text}", location=seed.location, hint=f"e.g. {seed.key}=range(5)")
    searched = tuple(d for d in dims.values() if not d.is_seed)
    section = spec.config.sweep
    sampler = options.sampler or (section.sampler if section else None)
    trials = options.trials if options.trials is not None else (section.trials if section else None)
    grid = math.prod(d.size or 0 for d in searched) if all(d.discrete for d in searched) else None
    if not searched:  # the base alone (with its seeds): one point
        sampler, trials = "grid", 1
    if sampler is None:
        sampler = "grid" if grid is not None and trials is None else "tpe"
    if sampler == "grid":
        continuous = next((d for d in searched if not d.discrete), None)
        if continuous is not None:
            raise SpecError(f"{continuous.key}: a grid lists values, and {continuous.text} is continuous",
                            location=continuous.location,
                            hint="list them: choice(...), range(...), linspace(A, B, N) or geomspace(A, B, N); "
                                 "or search it with --sampler tpe")
        if grid is not None and grid > MAX_GRID_POINTS:
            raise SpecError(f"the grid has {grid:,} points, more than {MAX_GRID_POINTS:,}",
                            location=searched[0].location if searched else None,
                            hint="search it with --sampler tpe --trials N")
        trials = min(trials, grid or 1) if trials is not None else (grid or 1)
    elif trials is None:
        trials = DEFAULT_TRIALS
    objective = _objective(spec, options)
    return Plan(searched, seed, sampler, int(trials), objective, _pruner(spec, options, objective))
