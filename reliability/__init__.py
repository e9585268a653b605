"""The reliability suite: what cnnspec survives, measured.

Each scenario is one function ``scenario(size, seed, workdir) -> Row`` that
tries ``size`` inputs, kills or trials against one protection and counts
what held (``ok``) and what did not (``losses``). The CI tier
(``tests/reliability/``) runs every scenario at a small size; the long tier,

    .venv/bin/python -m reliability.run --tier long --write docs/reliability.md

runs them at large sizes and rewrites ``docs/reliability.md`` with the table.
Bugs the suite found and that are not fixed yet are listed in
:data:`reliability.findings.FINDINGS`, each pinned by a strict ``xfail``
test; they are reported apart from the scored rows, never hidden in them.
"""

from reliability.rows import Row, Scenario

__all__ = ["Row", "Scenario"]
