"""cnnspec's own features, each an ordinary plugin registered through the hooks."""

__all__ = []
