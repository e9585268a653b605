"""The language server for spec files: ``cnnspec lsp``.

Diagnostics as the user types (the same messages as ``validate``), hover
with shapes and their arithmetic, inlay hints, completion, go to definition,
document symbols and fix-its as code actions — all from the pure-Python
stages, never importing torch.
"""

__all__: list[str] = []
