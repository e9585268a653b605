"""The smallest input size a spec with symbolic dims accepts, by exact search.

Closed forms with floors and Iverson brackets are not inverted algebraically:
sizes are checked by running the same static inference with concrete ints,
doubling until one fits, then bisecting each symbol. That validity is
upward-closed in each dim is assumed for the search and verified after it;
where sizes interact (parity constraints of residual blocks) the common size
found is returned instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from cnnspec.exceptions import Location, ShapeError, SpecError

__all__ = ["MAX_SOLVE_SIZE", "solve_min_size"]

#: largest size tried when solving symbolic dims
MAX_SOLVE_SIZE = 1 << 16


def solve_min_size(symbols: Sequence[str], check: Callable[[Mapping[str, int]], SpecError | None],
                   input_location: Location | None) -> dict[str, int]:
    """The smallest sizes for which ``check`` (the spec's error at those sizes, or ``None``) passes."""
    n, last_error = 1, None
    while n <= MAX_SOLVE_SIZE:
        last_error = check(dict.fromkeys(symbols, n))
        if last_error is None:
            break
        n *= 2
    else:
        assert last_error is not None
        raise ShapeError(
            f"no input size up to {MAX_SOLVE_SIZE} satisfies the layers; with "
            f"{' = '.join(symbols)} = {MAX_SOLVE_SIZE}: {last_error.message}",
            location=last_error.location or input_location, path=last_error.path, key=last_error.key,
            hint=last_error.hint,
        )
    high = n
    out = {}
    for sym in symbols:
        lo, hi = 0, high  # hi valid, lo invalid (0 is never a size)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            env = dict.fromkeys(symbols, high)
            env[sym] = mid
            if check(env) is None:
                hi = mid
            else:
                lo = mid
        out[sym] = hi
    if check(out) is not None:
        # sizes interact (e.g. parity constraints): fall back to the common size found
        return dict.fromkeys(symbols, high)
    return out
