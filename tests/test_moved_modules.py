"""Old module paths keep working for one release, with a warning naming the new one."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from cnnspec._moved import MOVED


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_gives_the_new_module_with_a_warning(old):
    code = (f"import warnings, importlib\nwarnings.simplefilter('error')\n"
            f"try:\n    importlib.import_module({old!r})\nexcept DeprecationWarning as w:\n    print(w)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"{old} moved to {MOVED[old]}; import it from there (the old name goes in the next release)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(old)
    assert module is importlib.import_module(MOVED[old])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_names_plugins_and_docs_used_resolve_to_the_same_objects():
    from cnnspec.commands import validate  # the imports a plugin of the previous release writes
    from cnnspec.fixits import suggest_fixes
    from cnnspec.spec_run import SpecModel

    import cnnspec.analysis.fixits
    import cnnspec.cli.commands.validate
    import cnnspec.spec.sections

    assert SpecModel is cnnspec.spec.sections.SpecModel
    assert validate is cnnspec.cli.commands.validate
    assert suggest_fixes is cnnspec.analysis.fixits.suggest_fixes


def test_the_old_names_have_no_files_left():
    """A real file under an old name would shadow the alias and split one module in two."""
    import cnnspec

    root = Path(cnnspec.__path__[0])
    for old in MOVED:
        tail = old.split(".", 1)[1].replace(".", "/")
        assert not (root / f"{tail}.py").exists() and not (root / tail).is_dir(), old
