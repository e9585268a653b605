"""Golden error messages: location, what, the arithmetic, a hint — pinned.

Each broken spec in tests/golden/errors/ has its exact expected message in a
.txt file beside it. Regenerate after an intended change with
``CNNSPEC_UPDATE_GOLDEN=1 python3 dev.py test tests/test_errors_golden.py``
and review the diff.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnspec.exceptions import SpecError
from cnnspec.shapes.walker import infer_shapes
from cnnspec.spec import load_spec
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "errors"
CASES = sorted(p for p in GOLDEN.iterdir() if p.suffix in (".yaml", ".json"))


def _error(spec_file: Path) -> SpecError:
    rel = spec_file.relative_to(ROOT).as_posix()
    with pytest.raises(SpecError) as info:
        infer_shapes(load_spec(rel))
    return info.value


@pytest.mark.parametrize("spec_file", CASES, ids=lambda p: p.name)
def test_golden_message(spec_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    message = _error(spec_file).format() + "\n"
    expected_file = spec_file.with_suffix(".txt")
    if os.environ.get("CNNSPEC_UPDATE_GOLDEN"):
        expected_file.write_text(message)
    assert message == expected_file.read_text()


def test_cli_exits_2_with_each_message_and_no_traceback() -> None:
    files = [p.relative_to(ROOT).as_posix() for p in CASES]
    result = subprocess.run([sys.executable, "-m", "cnnspec", "validate", *files], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for spec_file in CASES:
        first_line = spec_file.with_suffix(".txt").read_text().splitlines()[0]
        assert first_line in result.stderr


def test_there_are_at_least_fifteen_golden_errors() -> None:
    assert len(CASES) >= 15
    assert all(p.with_suffix(".txt").exists() for p in CASES)
