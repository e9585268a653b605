"""Stage 1, load: text → :class:`Document`, data plus the position of every value.

The readers (:mod:`~cnnspec.load.yaml_reader`, :mod:`~cnnspec.load.json_reader`)
parse safely and remember ``file:line:col``; composition applies ``extends:``,
``--set`` overrides and ``vars:``; :mod:`~cnnspec.load.blame` says where each
resolved value came from. Nothing here knows what a layer or a plugin is.
"""

from cnnspec.load.compose import Composed, compose, compose_document, parse_key_path
from cnnspec.load.document import Document, PathKey, format_path
from cnnspec.load.reader import load_document, parse_text, read_text

__all__ = [
    "Composed",
    "Document",
    "PathKey",
    "compose",
    "compose_document",
    "format_path",
    "load_document",
    "parse_key_path",
    "parse_text",
    "read_text",
]
