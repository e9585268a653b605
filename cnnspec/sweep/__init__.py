"""Sweeps: many runs of one spec, searched with Optuna, on one machine or many (``cnnspec sweep``).

The stage above the engine: it runs trainings through :func:`cnnspec.engine.train`
and never changes them. Its parts, in the order a sweep uses them:

* :mod:`~cnnspec.sweep.syntax` and :mod:`~cnnspec.sweep.space` — ``KEY=DIST``
  read into a :class:`~cnnspec.sweep.space.Dimension`, and its Optuna distribution;
* :mod:`~cnnspec.sweep.plan` — dimensions, seed axis, sampler, budget, objective, pruner;
* :mod:`~cnnspec.sweep.variants` — a point becomes a plain spec, validated without torch;
* :mod:`~cnnspec.sweep.checks` — every key path and the space, before anything trains;
* :mod:`~cnnspec.sweep.storage` and :mod:`~cnnspec.sweep.study` — where the study lives,
  created once and joined by every later process;
* :mod:`~cnnspec.sweep.worker`, :mod:`~cnnspec.sweep.trial`, :mod:`~cnnspec.sweep.pruning`,
  :mod:`~cnnspec.sweep.liveness` — the loop, one trial, the per-epoch report, lost trials;
* :mod:`~cnnspec.sweep.parallel` (``--jobs``) and :mod:`~cnnspec.sweep.child` (torchrun trials);
* :mod:`~cnnspec.sweep.results`, :mod:`~cnnspec.sweep.report`, :mod:`~cnnspec.sweep.plots` —
  ranked trials, mean ± std over seeds, diffs against the base, best spec, pictures;
* :mod:`~cnnspec.sweep.session` — one command, start to end.

The user's guide is docs/sweeps.md.
"""

__all__: list[str] = []
