"""Tools over traces: fix-its for shape errors, the valid input sizes, semantic diffs.

Pure Python like the stages below: ``cnnspec validate`` and the language
tools use them without torch.
"""

__all__ = []
