"""How a dimension is written: ``KEY=DIST`` on the command line, ``KEY: DIST`` in ``sweep.space``.

A dimension is a key path of the spec (as ``--set`` writes it) and a
distribution, in one small syntax shared by ``--sweep`` and the spec's
``sweep: {space: ...}`` section::

    uniform(LOW, HIGH[, step=S])      floats in [LOW, HIGH] (on a grid of S with step)
    loguniform(LOW, HIGH)             floats, log-uniform: 0 < LOW < HIGH
    int(LOW, HIGH[, step=S, log=true])  whole numbers in [LOW, HIGH], both included
    choice(A, B, ...)                 any YAML values: 16, sgd, [3, 3], {adamw: {lr: 0.01}}
    range(STOP) / range(START, STOP[, STEP])   Python's range
    linspace(START, STOP, NUM)        numpy.linspace's NUM values
    geomspace(START, STOP, NUM)       numpy.geomspace's NUM values (1e-4, 1e-3, ... for 1e-4, 1e-1, 4)

Values are read with the spec's own YAML reader (``1e-4`` is a float, nothing
is evaluated). A mistake is a :class:`~cnnspec.exceptions.SpecError` located at
the character that caused it: ``--sweep[1]:1:27`` for the command line, the
file's line and column for the spec's section.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cnnspec.exceptions import Location, SpecError
from cnnspec.load.document import PathKey
from cnnspec.load.paths import parse_key_path
from cnnspec.load.reader import parse_text
from cnnspec.names import suggest
from cnnspec.sweep.space import MAX_GRID, Dimension, _num, _tidy

__all__ = ["DISTRIBUTIONS", "choice_of", "parse_assignment", "parse_dimension"]

#: distribution name -> (positional arguments, keyword arguments)
DISTRIBUTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "uniform": ("LOW, HIGH", ("step",)),
    "loguniform": ("LOW, HIGH", ()),
    "int": ("LOW, HIGH", ("step", "log")),
    "choice": ("A, B, ...", ()),
    "range": ("[START,] STOP[, STEP]", ()),
    "linspace": ("START, STOP, NUM", ()),
    "geomspace": ("START, STOP, NUM", ()),
}
_CALL = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.DOTALL)
_KWARG = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", re.DOTALL)
_FORMS = "; ".join(f"{name}({args})" for name, (args, _) in DISTRIBUTIONS.items())




class _Reader:
    """Reads one distribution text; every error points at a column of it."""

    def __init__(self, key: str, text: str, where: Location | None, spec_path: PathKey, offset: int) -> None:
        self.key, self.text, self.where, self.spec_path, self.offset = key, text, where, spec_path, offset

    def error(self, message: str, at: int = 0, hint: str | None = None) -> SpecError:
        loc = self.where
        if loc is not None:
            loc = Location(loc.file, loc.line, loc.column + self.offset + at)
        label = f"sweep.space {self.key}" if self.spec_path else f"{self.key}={self.text.strip()}"
        return SpecError(f"{label}: {message}", location=loc, key=self.spec_path or None, hint=hint)

    def split(self, inner: str, start: int) -> list[tuple[str, int]]:
        """Top-level comma-separated pieces of ``inner`` with their offsets in the text."""
        pieces, depth, quote, begin = [], 0, "", 0
        for i, ch in enumerate(inner):
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            elif ch == "," and depth == 0:
                pieces.append((inner[begin:i], start + begin))
                begin = i + 1
        if inner[begin:].strip() or pieces:
            pieces.append((inner[begin:], start + begin))
        return pieces

    def value(self, piece: str, at: int) -> Any:
        stripped = piece.strip()
        if not stripped:
            raise self.error("an empty argument", at, hint=f"the forms are: {_FORMS}")
        try:
            return parse_text(stripped, "--sweep").data
        except SpecError as exc:
            raise self.error(f"cannot read {stripped!r}: {exc.message}", at, hint=exc.hint) from None

    def read(self) -> Dimension:
        m = _CALL.match(self.text)
        if not m:
            raise self.error("not a distribution", hint=f"a fixed value is --set {self.key}=VALUE; a sweep "
                                                        f"dimension is one of: {_FORMS}")
        name = m.group(2)
        if name not in DISTRIBUTIONS:
            close = suggest(name, [*DISTRIBUTIONS, "logspace"])
            close = ["geomspace" if c == "logspace" else c for c in close]
            said = f"; did you mean '{close[0]}'?" if close else ""
            raise self.error(f"unknown distribution '{name}'{said}", len(m.group(1)),
                             hint=f"the forms are: {_FORMS}")
        start = m.start(3)
        args: list[tuple[Any, int]] = []
        kwargs: dict[str, tuple[Any, int]] = {}
        for piece, at in self.split(m.group(3), start):
            kw = _KWARG.match(piece)
            if kw and not piece.strip().startswith(("{", "[", "'", '"')):
                if kw.group(2) not in DISTRIBUTIONS[name][1]:
                    allowed = ", ".join(DISTRIBUTIONS[name][1]) or "none"
                    raise self.error(f"{name} takes no argument '{kw.group(2)}' (keyword arguments: {allowed})",
                                     at + len(kw.group(1)), hint=f"{name}({DISTRIBUTIONS[name][0]})")
                value_at = at + kw.start(3) + len(kw.group(3)) - len(kw.group(3).lstrip())
                kwargs[kw.group(2)] = (self.value(kw.group(3), value_at), value_at)
            elif kwargs:
                raise self.error("a positional argument after a keyword argument", at)
            else:
                at += len(piece) - len(piece.lstrip())
                args.append((self.value(piece.lstrip(), at), at))
        return getattr(self, f"_{name}")(name, args, kwargs, start)

    def _dim(self, kind: str, **fields: Any) -> Dimension:
        return Dimension(self.key, parse_key_path(self.key, "--sweep"), kind, self.text.strip(),
                         location=self.where, **fields)

    def _numbers(self, name: str, args: list[tuple[Any, int]], count: int, start: int, *,
                 whole: bool = False) -> list[Any]:
        if len(args) != count:
            raise self.error(f"{name} takes {count} arguments ({DISTRIBUTIONS[name][0]}), got {len(args)}", start,
                             hint=f"e.g. {_EXAMPLES[name]}")
        out = []
        for value, at in args:
            ok = isinstance(value, int) if whole else isinstance(value, (int, float))
            if isinstance(value, bool) or not ok or (isinstance(value, float) and not math.isfinite(value)):
                kind = "a whole number" if whole else "a finite number"
                raise self.error(f"{name}: {json.dumps(value)} is not {kind}", at, hint=f"e.g. {_EXAMPLES[name]}")
            out.append(value)
        return out

    def _bounds(self, name: str, low: float, high: float, at: int) -> None:
        if not low < high:
            raise self.error(f"{name} needs LOW < HIGH, got {_num(low)} and {_num(high)}", at,
                             hint=f"for a single value, use --set {self.key}={_num(low)}")

    def _uniform(self, name: str, args: Any, kwargs: Any, start: int) -> Dimension:
        low, high = (float(v) for v in self._numbers(name, args, 2, start))
        self._bounds(name, low, high, args[0][1])
        step = None
        if "step" in kwargs:
            step, at = kwargs["step"]
            if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step <= high - low:
                raise self.error(f"step must be a number in (0, HIGH - LOW = {_num(high - low)}], got "
                                 f"{json.dumps(step)}", at)
            step = float(step)
        return self._dim("uniform", low=low, high=high, step=step)

    def _loguniform(self, name: str, args: Any, kwargs: Any, start: int) -> Dimension:
        low, high = (float(v) for v in self._numbers(name, args, 2, start))
        if low <= 0:
            raise self.error(f"loguniform needs 0 < LOW, got {_num(low)} (the log of {_num(low)} is undefined)",
                             args[0][1], hint="e.g. loguniform(1e-4, 1e-1); uniform(LOW, HIGH) includes 0")
        self._bounds(name, low, high, args[0][1])
        return self._dim("loguniform", low=low, high=high, log=True)

    def _int(self, name: str, args: Any, kwargs: Any, start: int) -> Dimension:
        low, high = self._numbers(name, args, 2, start, whole=True)
        if low > high:
            raise self.error(f"int needs LOW <= HIGH, got {low} and {high}", args[0][1])
        log, at = kwargs.get("log", (False, 0))
        if not isinstance(log, bool):
            raise self.error(f"log is true or false, got {json.dumps(log)}", at)
        step, at = kwargs.get("step", (1, 0))
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise self.error(f"step must be a whole number >= 1, got {json.dumps(step)}", at)
        if log and (low < 1 or step != 1):
            raise self.error(f"int(..., log=true) needs 1 <= LOW and no step, got LOW={low}, step={step}", start)
        if not log and (high - low) % step:
            raise self.error(f"int: HIGH - LOW = {high - low} is not a multiple of step={step}", at,
                             hint=f"int({low}, {low + (high - low) // step * step}, step={step})")
        return self._dim("int", low=low, high=high, step=step, log=log)

    def _choice(self, name: str, args: Any, kwargs: Any, start: int) -> Dimension:
        if not args:
            raise self.error("choice needs at least one value", start, hint="e.g. choice(16, 32, 64)")
        seen: dict[str, int] = {}
        for value, at in args:
            canon = json.dumps([type(value).__name__, value], sort_keys=True)
            if canon in seen:
                raise self.error(f"choice lists {json.dumps(value)} twice", at)
            seen[canon] = at
        return self._dim("choice", values=tuple(v for v, _ in args))

    def _range(self, name: str, args: Any, kwargs: Any, start: int) -> Dimension:
        if not 1 <= len(args) <= 3:
            raise self.error(f"range takes 1 to 3 arguments ([START,] STOP[, STEP]), got {len(args)}", start)
        numbers = self._numbers(name, args, len(args), start, whole=True)
        if len(numbers) == 3 and numbers[2] == 0:
            raise self.error("range: STEP must not be zero", args[2][1])
        values = tuple(range(*numbers))
        if not values:
            raise self.error(f"range({', '.join(map(str, numbers))}) is empty", start,
                             hint="e.g. range(5) is 0, 1, 2, 3, 4")
        if len(values) > MAX_GRID:
            raise self.error(f"range lists {len(values):,} values, more than {MAX_GRID:,}", start,
                             hint="int(LOW, HIGH) samples from a wide range without listing it")
        step = numbers[2] if len(numbers) == 3 else 1
        return self._dim("range", values=values, step=step)

    def _spaced(self, name: str, args: Any, kwargs: Any, start: int) -> Dimension:
        import numpy as np

        a, b, num = self._numbers(name, args, 3, start)
        if isinstance(num, float) or not 1 <= num <= MAX_GRID:
            raise self.error(f"{name}: NUM must be a whole number in 1..{MAX_GRID:,}, got {json.dumps(num)}",
                             args[2][1])
        if (name == "geomspace" and (a <= 0) != (b <= 0)) or (name == "geomspace" and 0 in (a, b)):
            raise self.error(f"geomspace needs START and STOP of one sign, not zero, got {_num(a)} and {_num(b)}",
                             args[0][1], hint="e.g. geomspace(1e-4, 1e-1, 4) is 1e-4, 1e-3, 1e-2, 1e-1")
        values = getattr(np, name)(float(a), float(b), int(num))
        return self._dim(name, values=tuple(_tidy(float(v)) for v in values))

    _linspace = _spaced
    _geomspace = _spaced


_EXAMPLES = {"uniform": "uniform(0.0, 0.5)", "loguniform": "loguniform(1e-4, 1e-1)", "int": "int(16, 128, step=16)",
             "choice": "choice(16, 32, 64)", "range": "range(5)", "linspace": "linspace(0, 0.5, 6)",
             "geomspace": "geomspace(1e-4, 1e-1, 4)"}


def _check_key(key: str, where: Location | None, spec_path: PathKey) -> PathKey:
    try:
        path = parse_key_path(key, "--sweep")
    except SpecError as exc:
        raise SpecError(exc.message, location=where, key=spec_path or None, hint=exc.hint) from None
    if path[0] in ("extends", "sweep"):
        raise SpecError(f"--sweep {key}: {path[0]} cannot be swept", location=where, key=spec_path or None,
                        hint="sweep the values the spec resolves to, e.g. train.optimizer.adamw.lr")
    return path


def parse_dimension(key: str, text: str, *, where: Location | None = None, spec_path: PathKey = (),
                    offset: int = 0) -> Dimension:
    """``key`` and its distribution ``text``; ``where`` locates the text's first character."""
    _check_key(key, where, spec_path)
    return _Reader(key, text, where, spec_path, offset).read()


def parse_assignment(text: str, index: int) -> Dimension:
    """The ``index``-th ``--sweep KEY=DIST``, located as ``--sweep[index]``."""
    where = Location(f"--sweep[{index}]", 1, 1)
    key, sep, dist = text.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"--sweep {text!r}: expected KEY=DISTRIBUTION", location=where,
                        hint="e.g. --sweep train.optimizer.adamw.lr=loguniform(1e-4,1e-1)")
    stripped = key.strip()
    _check_key(stripped, where, ())
    return _Reader(stripped, dist, where, (), len(key) + 1).read()


def choice_of(key: str, values: Sequence[Any], where: Location | None, spec_path: PathKey) -> Dimension:
    """A YAML list in the spec's ``sweep.space``: a choice of its values."""
    _check_key(key, where, spec_path)
    reader = _Reader(key, json.dumps(list(values)), where, spec_path, 0)
    return replace(reader._choice("choice", [(v, 0) for v in values], {}, 0), text=reader.text)
