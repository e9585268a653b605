"""Names in the spec language: identifiers, reserved words, and "did you mean".

Every stage needs these (the readers for variable names, the registries for
component names, the spec for module names), so they sit in the contract at
the bottom of the package, importing nothing of cnnspec.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

__all__ = ["CONTAINER_KEYWORDS", "IDENTIFIER", "RESERVED_NAMES", "suggest"]

#: a module name, a symbolic dim, a variable: letters, digits and ``_``, not starting with a digit
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: the spec language's container keywords; no layer type may take these names
CONTAINER_KEYWORDS: frozenset[str] = frozenset({"sequential", "repeat", "residual", "concat"})

#: Attributes of ``torch.nn.Sequential``: a submodule may not take these names
#: (``add_module`` refuses them). Checked against torch in the test suite.
RESERVED_NAMES: frozenset[str] = frozenset(
    """T_destination add_module append apply bfloat16 buffers call_super_init children
    compile cpu cuda double dump_patches eval extend extra_repr float forward get_buffer
    get_extra_state get_parameter get_submodule half insert ipu load_state_dict modules
    mtia named_buffers named_children named_modules named_parameters parameters pop
    register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
    register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
    set_extra_state set_submodule share_memory state_dict to to_empty train training type xpu
    zero_grad""".split()
)


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Close matches for a misspelled name, compared case-insensitively."""
    by_lower: dict[str, str] = {}
    for cand in candidates:
        by_lower.setdefault(cand.lower(), cand)
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[c] for c in close]
