"""One module per ``cnnspec`` subcommand; each defines ``register(sub, common)``."""

__all__ = []
