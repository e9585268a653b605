"""One module per ``cnnspec`` subcommand; each defines ``register(sub, parents)`` and ``run(args)``."""

__all__ = []
