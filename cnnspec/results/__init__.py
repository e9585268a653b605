"""Comparing finished and unfinished runs: ``cnnspec runs``.

:mod:`~cnnspec.results.runs` reads run directories (their own files only,
no torch), :mod:`~cnnspec.results.table` sorts and prints them,
:mod:`~cnnspec.results.curves` overlays their learning curves in one PNG.
"""

from cnnspec.results.curves import plot_curves
from cnnspec.results.runs import RunRecord, collect_runs
from cnnspec.results.table import SORT_KEYS, format_runs, sort_runs

__all__ = ["SORT_KEYS", "RunRecord", "collect_runs", "format_runs", "plot_curves", "sort_runs"]
