"""Sweeps: many runs of one spec, searched with Optuna."""

__all__: list[str] = []
