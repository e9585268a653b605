"""Exact integer arithmetic on symbolic dimensions (``[3, H, W]``).

Shape rules are written once with ``+ - * //`` and work on both ``int`` and
:class:`Expr`; with ints they are plain Python arithmetic. Expressions are kept
in a canonical form so that equal sizes print alike and compare equal:

* a sum ``const + Σ coeff·atom`` (:class:`Expr`) whose atoms are symbols,
  floors, products and Iverson brackets;
* ``floor((X + r)/d)`` keeps ``-d < r <= 0`` (the integer part is moved out, so a
  stride-2 convolution reads ``floor((H - 1)/2) + 1`` as in torch's formula),
  divides out common factors, and nests flatly by the identity
  ``floor((floor(M/b) + k)/d) = floor((M + k·b)/(b·d))`` for integer ``M, k``.

So a stack of any number of convolutions and pools on ``H`` always yields one
``floor((H + a)/b) + c``: the closed form needs no computer algebra package.
Every expression can be evaluated exactly (:func:`evaluate`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "Dim",
    "Expr",
    "Floor",
    "Ind",
    "Prod",
    "Sym",
    "ceildiv",
    "evaluate",
    "floordiv",
    "free_symbols",
    "indicator",
    "is_const",
    "product",
    "symbol",
]


@dataclass(frozen=True, order=True)
class Sym:
    """A named input dimension such as ``H``."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Floor:
    """``floor(num / den)`` with ``den >= 2`` and ``num`` in canonical form."""

    num: Expr
    den: int

    def __str__(self) -> str:
        return f"floor({_factor_str(self.num)}/{self.den})"


@dataclass(frozen=True)
class Prod:
    """A product of two or more non-constant factors (flatten's ``C·H·W``)."""

    factors: tuple[Expr, ...]

    def __str__(self) -> str:
        return "*".join(_factor_str(f) for f in self.factors)


@dataclass(frozen=True)
class Ind:
    """Iverson bracket ``[expr >= bound]``: 1 when it holds, else 0."""

    expr: Expr
    bound: int

    def __str__(self) -> str:
        return f"[{self.expr} >= {self.bound}]"


Atom = Sym | Floor | Prod | Ind


def _atom_key(atom: Atom) -> tuple[int, str]:
    order = {Sym: 0, Floor: 1, Prod: 2, Ind: 3}[type(atom)]
    return (order, str(atom))


@dataclass(frozen=True)
class Expr:
    """``const + Σ coeff·atom``; never constant (constants are plain ints)."""

    terms: tuple[tuple[Atom, int], ...]
    const: int = 0

    # -- construction -------------------------------------------------------
    @staticmethod
    def make(terms: Mapping[Atom, int], const: int) -> Dim:
        kept = sorted(((a, c) for a, c in terms.items() if c != 0), key=lambda t: _atom_key(t[0]))
        if not kept:
            return const
        return Expr(tuple(kept), const)

    def _as_map(self) -> dict[Atom, int]:
        return dict(self.terms)

    # -- arithmetic ----------------------------------------------------------
    def __add__(self, other: Dim) -> Dim:
        if isinstance(other, bool):
            return NotImplemented
        if isinstance(other, int):
            return Expr.make(self._as_map(), self.const + other)
        if isinstance(other, Expr):
            merged = self._as_map()
            for atom, coeff in other.terms:
                merged[atom] = merged.get(atom, 0) + coeff
            return Expr.make(merged, self.const + other.const)
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> Dim:
        return Expr.make({a: -c for a, c in self.terms}, -self.const)

    def __sub__(self, other: Dim) -> Dim:
        if isinstance(other, (int, Expr)) and not isinstance(other, bool):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other: Dim) -> Dim:
        return (-self) + other

    def __mul__(self, other: Dim) -> Dim:
        if isinstance(other, bool):
            return NotImplemented
        if isinstance(other, int):
            return Expr.make({a: c * other for a, c in self.terms}, self.const * other)
        if isinstance(other, Expr):
            return _product([self, other])
        return NotImplemented

    __rmul__ = __mul__

    def __floordiv__(self, other: int) -> Dim:
        if isinstance(other, bool) or not isinstance(other, int):
            return NotImplemented
        return floordiv(self, other)

    # -- display ---------------------------------------------------------------
    def __str__(self) -> str:
        parts: list[str] = []
        for atom, coeff in self.terms:
            text = str(atom)
            mag = abs(coeff)
            body = text if mag == 1 else f"{mag}*{text}"
            if not parts:
                parts.append(body if coeff > 0 else f"-{body}")
            else:
                parts.append(("+ " if coeff > 0 else "- ") + body)
        if self.const:
            parts.append(("+ " if self.const > 0 else "- ") + str(abs(self.const)))
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"Expr({self})"


Dim = int | Expr


def symbol(name: str) -> Expr:
    """The expression standing for the input dimension ``name``."""
    return Expr(((Sym(name), 1),), 0)


def is_const(d: Dim) -> bool:
    return isinstance(d, int)


def _as_expr_terms(d: Dim) -> tuple[dict[Atom, int], int]:
    if isinstance(d, int):
        return {}, d
    return d._as_map(), d.const


def floordiv(x: Dim, d: int) -> Dim:
    """Canonical ``floor(x / d)`` for a positive integer ``d``."""
    if d <= 0:
        raise ZeroDivisionError(f"floor division by {d}")
    if isinstance(x, int):
        return x // d
    if d == 1:
        return x
    terms, const = _as_expr_terms(x)
    # keep -d < r <= 0 so results read like torch's formula: floor((H - 1)/2) + 1
    q, r = divmod(const, d)
    if r:
        q, r = q + 1, r - d
    outside: dict[Atom, int] = {}
    inside: dict[Atom, int] = {}
    for atom, coeff in terms.items():
        if coeff % d == 0:
            outside[atom] = coeff // d
        else:
            inside[atom] = coeff
    base = Expr.make(outside, q)
    if not inside:
        return base
    if len(inside) == 1:
        ((atom, coeff),) = inside.items()
        if coeff == 1 and isinstance(atom, Floor):
            # floor((floor(M/b) + r)/d) = floor((M + r*b)/(b*d))
            return base + floordiv(atom.num + r * atom.den, atom.den * d)
    g = d
    for coeff in inside.values():
        g = math.gcd(g, coeff)
    g = math.gcd(g, r)
    if g > 1:
        inside = {a: c // g for a, c in inside.items()}
        r //= g
        d //= g
        if d == 1:
            return base + Expr.make(inside, r)
    num = Expr.make(inside, r)
    assert isinstance(num, Expr)
    return base + Expr(((Floor(num, d), 1),), 0)


def ceildiv(x: Dim, d: int) -> Dim:
    """``ceil(x / d)`` for a positive integer ``d`` (exact on integers)."""
    return floordiv(x + (d - 1), d)


def _product(factors: Iterable[Dim]) -> Dim:
    coeff = 1
    parts: list[Expr] = []
    for f in factors:
        if isinstance(f, int):
            coeff *= f
            continue
        # a bare product atom with coefficient c merges its factors
        if len(f.terms) == 1 and f.const == 0 and isinstance(f.terms[0][0], Prod):
            atom, c = f.terms[0]
            coeff *= c
            parts.extend(atom.factors)
        elif len(f.terms) == 1 and f.const == 0 and f.terms[0][1] != 1:
            atom, c = f.terms[0]
            coeff *= c
            parts.append(Expr(((atom, 1),), 0))
        else:
            parts.append(f)
    if coeff == 0:
        return 0
    if not parts:
        return coeff
    if len(parts) == 1:
        return parts[0] * coeff
    parts.sort(key=str)
    return Expr(((Prod(tuple(parts)), coeff),), 0)


def product(factors: Iterable[Dim]) -> Dim:
    """The product of dims, exact and canonical (flatten's element count)."""
    return _product(list(factors))


def indicator(x: Dim, bound: int) -> Dim:
    """``1 if x >= bound else 0``, symbolic when ``x`` is."""
    if isinstance(x, int):
        return int(x >= bound)
    return Expr(((Ind(x, bound), 1),), 0)


def _factor_str(f: Expr) -> str:
    if len(f.terms) == 1 and f.const == 0 and f.terms[0][1] == 1:
        return str(f)
    return f"({f})"


def evaluate(d: Dim, env: Mapping[str, int]) -> int:
    """The exact integer value of ``d`` with the symbols bound by ``env``."""
    if isinstance(d, int):
        return d
    total = d.const
    for atom, coeff in d.terms:
        total += coeff * _eval_atom(atom, env)
    return total


def _eval_atom(atom: Atom, env: Mapping[str, int]) -> int:
    if isinstance(atom, Sym):
        return env[atom.name]
    if isinstance(atom, Floor):
        return evaluate(atom.num, env) // atom.den
    if isinstance(atom, Prod):
        out = 1
        for f in atom.factors:
            out *= evaluate(f, env)
        return out
    return int(evaluate(atom.expr, env) >= atom.bound)


def free_symbols(d: Dim) -> set[str]:
    """Names of the symbols ``d`` depends on."""
    if isinstance(d, int):
        return set()
    out: set[str] = set()
    for atom, _ in d.terms:
        if isinstance(atom, Sym):
            out.add(atom.name)
        elif isinstance(atom, Floor):
            out |= free_symbols(atom.num)
        elif isinstance(atom, Prod):
            for f in atom.factors:
                out |= free_symbols(f)
        else:
            out |= free_symbols(atom.expr)
    return out
