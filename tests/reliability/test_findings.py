"""Open findings (reliability/findings.py), each pinned by a strict xfail.

Each test states the behaviour the product should have. It fails today;
when the owner fixes the bug it passes, ``strict=True`` turns that into a
red run, and the fix's author removes the mark here and the entry in
``reliability/findings.py``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from cnnspec.exceptions import SpecError
from cnnspec.spec import load_spec
from reliability.bombs import CASES, MEMORY, run_case
from reliability.findings import FINDINGS
from reliability.harness import Deadline, deadline


def _xfail(finding: str) -> pytest.MarkDecorator:
    f = FINDINGS[finding]
    return pytest.mark.xfail(strict=True, reason=f"{f.id}: {f.title} ({f.owner})")


def _case(name: str):
    return next(c for c in CASES if c.name == name)


@_xfail("F1")
def test_f1_extends_of_a_device_or_fifo_is_refused(tmp_path: Path) -> None:
    # /dev/zero in a subprocess under a memory limit: unbounded reading must not reach this process
    assert run_case(_case("extends /dev/zero"), tmp_path / "zero").verdict == "ok"
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"input: [1]\nmodel: [relu]\nextends: {fifo}\n")
    opened = threading.Event()

    def release() -> None:  # if the loader blocks on the FIFO, open it for writing after the deadline
        if not opened.wait(4.0):
            with open(fifo, "w"):
                pass

    helper = threading.Thread(target=release, daemon=True)
    helper.start()
    try:
        with deadline(2.0, 3.0):
            load_spec(spec)
    except SpecError as exc:
        opened.set()
        assert "extends" in exc.message
        return
    except Deadline:
        pytest.fail("extends: FIFO blocked the loader")
    finally:
        opened.set()
        helper.join()
    pytest.fail("extends: FIFO loaded")


@_xfail("F2")
def test_f2_vars_interpolation_bomb_is_refused(tmp_path: Path) -> None:
    assert MEMORY <= 2 * 1024 ** 3
    result = run_case(_case("a ${vars} string doubling 40 times (1.6 KB)"), tmp_path)
    assert result.verdict == "ok", result.message


@_xfail("F3")
def test_f3_tag_on_a_mapping_key_is_refused() -> None:
    with pytest.raises(SpecError, match="tag"):
        load_spec("!!python/object/apply:os.system input: [1, 8, 8]\nmodel: [relu]\n")


@_xfail("F4")
def test_f4_tensorboard_log_dir_stays_in_the_run_directory(tmp_path: Path) -> None:
    from cnnspec.engine import train

    sandbox = tmp_path / "sandbox"
    spec = ("input: [1, 8, 8]\nmodel: [flatten, {linear: {out_features: 10}}]\n"
            "data: {dataset: digits, batch_size: 512}\ntrain: {epochs: 1, progress: false, threads: 1}\n"
            "callbacks: [{tensorboard: {log_dir: ../../escaped, graph: false, images: 0}}]\n")
    try:
        train(spec, run_dir=sandbox / "runs" / "run", device="cpu")
    except SpecError:
        pass  # refused before training: fine
    assert not (sandbox / "escaped").exists()


@_xfail("F5")
def test_f5_huge_repeat_count_is_refused() -> None:
    from cnnspec.inference import infer_shapes

    spec = "input: [3, 8, 8]\nmodel:\n  - repeat: {times: 1000000000, layers: [relu]}\n"
    try:
        with deadline(2.0, 30.0):
            infer_shapes(load_spec(spec))
    except SpecError:
        return
    except Deadline:
        pytest.fail("repeat: {times: 1000000000} was still being unrolled after 2 s of CPU")
    pytest.fail("repeat: {times: 1000000000} was accepted")


@_xfail("F6")
def test_f6_unknown_top_level_key_reads_well() -> None:
    with pytest.raises(SpecError) as info:
        load_spec("input: [1]\nmodel: [relu]\nfoo: 1\n")
    assert ": :" not in info.value.format() and "'foo'" in info.value.format()


def test_every_finding_has_its_test() -> None:
    here = Path(__file__).read_text()
    for finding in FINDINGS.values():
        path, _, name = finding.test.partition("::")
        assert path == "tests/reliability/test_findings.py" and f"def {name}(" in here, finding.id
