"""cnnspec-example: a plugin package to copy from.

The entry point (``pyproject.toml``, group ``cnnspec``) names
:mod:`cnnspec_example.plugin`; everything torch-dependent lives in modules
that plugin only names as strings, so registering stays torch-free.
"""

__version__ = "0.1.0"
