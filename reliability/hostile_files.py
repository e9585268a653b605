"""Group 8: hostile files around a run (checkpoints, weights, images, archives, extends: bases).

Each scenario hands cnnspec a file built to hurt it and counts the cases where
the fence held; every attack also has a positive control showing that it works
without its fence.
"""

from __future__ import annotations

from reliability.rows import Scenario

__all__ = ["SCENARIOS"]

SCENARIOS: list[Scenario] = []
