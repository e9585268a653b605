"""Fix-its for shape errors: the smallest edits that make a spec valid.

A shape error says what is wrong and shows the arithmetic; a fix-it says
what to change. Suggestions are found by search, not by rules of thumb:
candidate edits to the failing layer (and the few spatial layers before it)
— ``padding``, ``kernel_size``, ``stride``, ``dilation``, ``ceil_mode``,
``padding: same``, removing or setting an inferred count such as
``in_features`` — and to the input size are each applied to the resolved
document, which is validated and shape-checked again; only edits after which
the whole spec is valid are kept. An edit that is right but collides with a
count written explicitly further down (the tutorials' hand-computed
``in_features: 1250``) comes with the update of that count. They are ranked by the size of the change
(``|new - old|``, 1 for a flag or a removal, input changes per dim), smallest
first, edits to the failing layer before edits to earlier ones; edits far
larger than the best one (over ``max(4 * best, best + 3)``) are dropped.

Pure Python: no torch, so ``cnnspec validate`` can show them.
"""

from __future__ import annotations

from cnnspec.analysis.edits import REMOVE, Fix, apply_fix, value_text
from cnnspec.analysis.fix_search import SEARCH_SECONDS, FixSearch
from cnnspec.exceptions import ShapeError, SpecError
from cnnspec.load.document import PathKey
from cnnspec.spec import Spec

__all__ = ["LIMIT", "REMOVE", "SEARCH_SECONDS", "Fix", "apply_fix", "fixes_for", "suggest_fixes"]

#: suggestions kept
LIMIT = 5


def suggest_fixes(spec: Spec, error: SpecError, *, limit: int = LIMIT) -> list[Fix]:
    """The smallest verified edits that make ``spec`` valid, best first.

    ``error`` is the shape error ``infer_shapes(spec)`` raised; each returned
    fix, applied to ``spec.document.data`` with :func:`apply_fix`, gives a spec
    that loads and passes shape inference.
    """
    if not isinstance(spec.document.data, dict):
        return []
    search = FixSearch(spec, error)
    found: list[Fix] = []
    for node, own in search.targets():
        found.extend(search.layer_fixes(node, own))
    found.extend(search.input_fixes())
    # stable sort: equal costs keep the search order (failing layer first);
    # one suggestion per edited value (its smallest change), both directions for the input
    out: list[Fix] = []
    seen: set[tuple[PathKey, str]] = set()
    for fix in sorted(found, key=lambda f: f.cost):
        key = (fix.path, value_text(fix.new) if fix.path == ("input",) else fix.action)
        if key not in seen:
            seen.add(key)
            out.append(fix)
    if out:
        # far larger edits than the best one are noise, even if they happen to validate
        bound = max(4 * out[0].cost, out[0].cost + 3)
        out = [f for f in out if f.cost <= bound]
    return out[:limit]


def fixes_for(spec: Spec | None, error: SpecError) -> list[Fix]:
    """Fix-its for an error from loading or inferring ``spec`` (default: the spec
    the error was found in): only shape errors of a spec that loaded get them
    (nothing to search from otherwise)."""
    spec = spec if spec is not None else error.spec
    if spec is None or not isinstance(error, ShapeError):
        return []
    return suggest_fixes(spec, error)
