"""The search space: one :class:`Dimension` per swept key path, and what Optuna makes of it.

A dimension is *discrete* when it lists its values (choice, range, linspace,
geomspace, int, uniform with a step): only those can be grid axes. Each maps
to one Optuna distribution (:meth:`Dimension.distribution`) and is sampled
through Optuna's public suggest API; ``choice`` values that Optuna cannot
store (lists, mappings) travel as their JSON text (:func:`encode`). How a
dimension is written is :mod:`cnnspec.sweep.syntax`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from cnnspec.exceptions import Location
from cnnspec.load.document import PathKey

__all__ = ["MAX_GRID", "SEED_KEYS", "Dimension", "decode", "encode"]

#: key paths that are the seed axis: each point is trained once per value, not searched
SEED_KEYS = ("seed", "train.seed")
#: the most values one dimension (or a whole grid) may list
MAX_GRID = 100_000

@dataclass(frozen=True)
class Dimension:
    """One searched key path and its distribution."""

    key: str
    path: PathKey
    kind: str
    text: str
    values: tuple[Any, ...] = ()  # the listed values of a discrete dimension
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    location: Location | None = field(default=None, compare=False)

    @property
    def is_seed(self) -> bool:
        return self.key in SEED_KEYS

    @property
    def discrete(self) -> bool:
        return self.kind not in ("uniform", "loguniform") or self.step is not None

    @property
    def size(self) -> int | None:
        """How many values a discrete dimension lists (``None``: continuous)."""
        if self.kind == "int":
            return _int_count(int(self.low), int(self.high), int(self.step or 1), self.log)
        if self.kind == "uniform" and self.step is not None:
            return math.floor((self.high - self.low) / self.step + 1e-9) + 1
        return len(self.values) if self.discrete else None

    def grid(self) -> list[Any]:
        """Every value of a discrete dimension, in order."""
        if self.kind == "int":
            step = int(self.step or 1)
            return list(range(int(self.low), int(self.high) + 1, 1 if self.log else step))
        if self.kind == "uniform" and self.step is not None:
            return [_tidy(self.low + i * self.step) for i in range(self.size or 0)]
        if not self.discrete:
            raise ValueError(f"{self.key}: {self.kind} is continuous")
        return list(self.values)

    def probes(self) -> list[Any]:
        """The values tried before any trial runs: a discrete dimension's every value (up to 64,
        ends included), a continuous one's ends and middle."""
        if self.discrete:
            size = self.size or 0
            if size <= 64:
                return self.grid()
            values = self.grid() if size <= MAX_GRID else [self.low, self.high]
            picks = sorted({round(i * (len(values) - 1) / 15) for i in range(16)})
            return [values[i] for i in picks]
        middle = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
        return [self.low, _tidy(middle), self.high]

    # -- Optuna ------------------------------------------------------------------------
    def distribution(self) -> Any:
        """The Optuna distribution this dimension samples from."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind in ("uniform", "loguniform"):
            return FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log,
                                   step=1 if self.log else int(self.step or 1))
        if self.kind == "range" and self.step and self.step > 0:
            return IntDistribution(int(self.values[0]), int(self.values[-1]), step=int(self.step))
        return CategoricalDistribution([encode(v) for v in self.values])

    def suggest(self, trial: Any) -> Any:
        """This dimension's value for an Optuna trial (decoded), through Optuna's public suggest API."""
        if self.kind in ("uniform", "loguniform"):
            return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        if self.kind == "range" and self.step and self.step > 0:
            return trial.suggest_int(self.key, int(self.values[0]), int(self.values[-1]), step=int(self.step))
        return decode(trial.suggest_categorical(self.key, [encode(v) for v in self.values]))

    def to_optuna(self, value: Any) -> Any:
        """``value`` as Optuna stores it (for enqueued grid points)."""
        from optuna.distributions import CategoricalDistribution

        return encode(value) if isinstance(self.distribution(), CategoricalDistribution) else value

    def sample(self, rng: Any) -> Any:
        """A random value (numpy Generator), for checking a space before it is searched."""
        if self.discrete:
            values = self.grid() if (self.size or 0) <= MAX_GRID else None
            if values is not None:
                return values[int(rng.integers(len(values)))]
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def describe(self) -> dict[str, Any]:
        """What identifies the dimension (a resumed sweep must have the same)."""
        return {"key": self.key, "distribution": self.canonical()}

    def canonical(self) -> str:
        if self.kind in ("choice", "linspace", "geomspace") or (self.kind == "range" and not self.step):
            return f"choice({', '.join(json.dumps(v, sort_keys=True) for v in self.values)})"
        if self.kind == "range":
            return f"range({self.values[0]}, {self.values[-1] + int(self.step or 1)}, {self.step})"
        shown = self.step is not None and (self.step != 1 or self.kind == "uniform")
        extra = (f", step={_num(self.step)}" if shown else "") + (", log=true" if self.log and
                                                                                    self.kind == "int" else "")
        return f"{self.kind}({_num(self.low)}, {_num(self.high)}{extra})"


# -- values Optuna can store -----------------------------------------------------------

_JSON_MARK = "json:"


def encode(value: Any) -> Any:
    """A choice value as an Optuna categorical: scalars as they are, anything else as JSON text."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str) and not value.startswith(_JSON_MARK):
        return value
    return _JSON_MARK + json.dumps(value, sort_keys=True)


def decode(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_JSON_MARK):
        return json.loads(value[len(_JSON_MARK):])
    return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def _tidy(x: float) -> float:
    """Round away float noise (0.30000000000000004 -> 0.3) without changing a real value."""
    return float(f"{x:.12g}")


def _int_count(low: int, high: int, step: int, log: bool) -> int:
    return high - low + 1 if log else (high - low) // step + 1
