"""Group 9: hostile output and resources (terminals, output paths, memory, pipes, devices).

Each scenario attacks what cnnspec writes or allocates and counts the cases
where the fence held, with a positive control showing the attack works
without its fence.
"""

from __future__ import annotations

from reliability.rows import Scenario

__all__ = ["SCENARIOS"]

SCENARIOS: list[Scenario] = []
