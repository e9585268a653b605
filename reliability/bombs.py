"""Scenario group 1, part 2: inputs that could take the interpreter down, each in a subprocess.

``cnnspec validate FILE`` runs in a fresh interpreter under a memory limit
(``RLIMIT_AS``) and a CPU limit, so a crash (the C YAML parser segfaults on
~50,000 levels of nesting), an exhausted memory or a hang is observed from
outside instead of taking the suite with it. Every case must end with exit 2
and a located message (or exit 0 for the few valid ones), no traceback.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reliability.fuzz import CPU_LIMIT
from reliability.harness import Finished, run_python
from reliability.rows import Row

__all__ = ["CASES", "REGRESSIONS", "Case", "bombs", "run_case"]

#: memory a validate process may map (validate never imports torch)
MEMORY = 1536 * 1024 * 1024
#: CPU seconds before a case counts as hung (SIGXCPU); a known-slow finding gets less
CPU_GUARD = 10
WALL_GUARD = 60.0

_DRIVER = """\
import sys, time
cpu, wall = time.process_time(), time.perf_counter()
from cnnspec.cli import main
code = main(["validate", "-q", sys.argv[1]])
sys.stderr.write(f"\\n@@ cpu={time.process_time() - cpu:.3f} wall={time.perf_counter() - wall:.3f}\\n")
sys.exit(code)
"""
_TIMES = re.compile(r"@@ cpu=(?P<cpu>[\d.]+) wall=(?P<wall>[\d.]+)")
_LOCATED = re.compile(r"^.+?:\d+:\d+: ")


@dataclass(frozen=True)
class Case:
    """A file to validate, what must happen, and which open finding explains a failure, if any."""

    name: str
    make: Callable[[Path], Path]
    valid: bool = False
    finding: str | None = None
    cpu: int = CPU_GUARD
    wall: float = WALL_GUARD


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _spec(extra: str) -> str:
    return f"input: [3, 8, 8]\nmodel: [relu]\n{extra}"


def _billion_laughs() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\ninput: [1, 8, 8]\nmodel: [relu]\n"


def _merge_bomb() -> str:
    lines = ["k0: &k0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}"]
    for i in range(1, 12):
        lines.append(f"k{i}: &k{i} {{x{i}: [*k{i - 1}, *k{i - 1}, *k{i - 1}, *k{i - 1}], <<: *k{i - 1}}}")
    return "\n".join(lines) + "\ninput: [1, 8, 8]\nmodel: [relu]\n"


def _extends_chain(folder: Path) -> Path:
    for i in range(40):
        base = f"extends: chain{i + 1}.yaml\n" if i < 39 else _spec("")
        _write(folder, f"chain{i}.yaml", base)
    return folder / "chain0.yaml"


def _extends_cycle(folder: Path) -> Path:
    _write(folder, "cycle_b.yaml", "extends: cycle_a.yaml\n")
    return _write(folder, "cycle_a.yaml", _spec("extends: cycle_b.yaml\n"))


def _fifo(folder: Path) -> Path:
    fifo = folder / "pipe.yaml"
    if not fifo.exists():
        os.mkfifo(fifo)
    return _write(folder, "extends_fifo.yaml", _spec(f"extends: {fifo}\n"))


def _vars_doubling(as_list: bool) -> str:
    lines = ["vars:", "  a0: " + ("[1, 2, 3, 4, 5, 6, 7, 8]" if as_list else "xxxxxxxxxxxxxxxx")]
    for i in range(1, 40):
        ref = f"${{vars.a{i - 1}}}"
        lines.append(f"  a{i}: ['{ref}', '{ref}']" if as_list else f"  a{i}: '{ref}{ref}'")
    return "\n".join(lines) + "\ndescription: '${vars.a39}'\ninput: [1]\nmodel: [relu]\n"


def _nested_blocks(depth: int) -> str:
    text = "[relu]"
    for _ in range(depth):
        text = f"[{{sequential: {{layers: {text}}}}}]"
    return f"input: [3, 8, 8]\nmodel: {text}\n"


CASES: list[Case] = [
    Case("flow sequences nested 50,000 deep", lambda d: _write(d, "seq.yaml", "[" * 50_000 + "]" * 50_000)),
    Case("block sequences nested 60,000 deep on one line", lambda d: _write(d, "dash.yaml", "- " * 60_000 + "x")),
    Case("alias bomb (9 levels of 9 aliases, 342 bytes)", lambda d: _write(d, "laughs.yaml", _billion_laughs())),
    Case("JSON arrays nested 50,000 deep", lambda d: _write(d, "deep.json", "[" * 50_000 + "]" * 50_000)),
    Case("a 5,000-digit integer (YAML)", lambda d: _write(d, "bigint.yaml", _spec(f"seed: {'9' * 5000}\n"))),
    Case("a file of 2 MB + 1 byte", lambda d: _write(d, "big.yaml", _spec("# " + "x" * (2 * 1024 * 1024)))),
    Case("flow mappings nested 50,000 deep", lambda d: _write(d, "map.yaml", "{a: " * 50_000 + "1" + "}" * 50_000)),
    Case("mixed block/flow nesting 25,000 deep", lambda d: _write(d, "mixed.yaml", "- [" * 25_000 + "]" * 25_000)),
    Case("indentation nested 1,900 deep",
         lambda d: _write(d, "indent.yaml", "a:\n" + "".join(" " * i + "- \n" for i in range(1, 1900)))),
    Case("JSON objects nested 50,000 deep",
         lambda d: _write(d, "deep_obj.json", '{"a":' * 50_000 + "1" + "}" * 50_000)),
    Case("merge-key alias bomb", lambda d: _write(d, "merge.yaml", _merge_bomb())),
    Case("100,000 aliases of one anchor",
         lambda d: _write(d, "fanout.yaml", "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [" + ", ".join(["*a"] * 100_000)
                          + "]\n")),
    Case("a 400 KB flow list just under the node limit",
         lambda d: _write(d, "flat.yaml", "a: [" + ",".join(["1"] * 199_990) + "]\ninput: [1]\nmodel: [relu]\n")),
    Case("a 440 KB document over the node limit",
         lambda d: _write(d, "flat_over.yaml", "a: [" + ",".join(["[1,2,3,4,5,6,7,8,9,10]"] * 19_000) + "]\n")),
    Case("200,000-value JSON array", lambda d: _write(d, "flat.json", '{"a": [' + ",".join(["1"] * 199_990) + "]}")),
    Case("a 5,000-digit integer (JSON)",
         lambda d: _write(d, "bigint.json", '{"input": [1], "model": ["relu"], "seed": ' + "9" * 5000 + "}")),
    Case("an exponent of 99,999,999", lambda d: _write(d, "exp.yaml", _spec("seed: 1e99999999\n"))),
    Case("a 1.9 MB single-line string", lambda d: _write(d, "line.yaml", _spec(f"name: {'a' * 1_900_000}\n")),
         valid=True),
    Case("a 100,000-character key", lambda d: _write(d, "key.yaml", _spec(f"{'k' * 100_000}: 1\n"))),
    Case("100,000 distinct keys", lambda d: _write(d, "keys.yaml", "".join(f"k{i}: {i}\n" for i in range(100_000))
                                                    + "input: [1]\nmodel: [relu]\n")),
    Case("1 MB of 4-byte characters", lambda d: _write(d, "emoji.yaml", _spec(f"description: {'🙂' * 250_000}\n")),
         valid=True),
    Case("a NUL byte after 1 MB", lambda d: _write(d, "nul.yaml", _spec("# " + "x" * 1_000_000 + "\x00\n"))),
    Case("invalid UTF-8 after 1 MB", lambda d: _write(d, "utf8.yaml", _spec("# " + "x" * 1_000_000).encode()
                                                       + b"\xff\xfe\n")),
    Case("UTF-16 with a BOM", lambda d: _write(d, "utf16.yaml", _spec("").encode("utf-16"))),
    Case("sequential blocks nested 15 deep", lambda d: _write(d, "blocks.yaml", _nested_blocks(15)), valid=True),
    Case("sequential blocks nested 40 deep", lambda d: _write(d, "blocks40.yaml", _nested_blocks(40))),
    Case("an extends chain 40 files deep", _extends_chain),
    Case("an extends cycle through two files", _extends_cycle),
    Case("a spec extending itself", lambda d: _write(d, "self.yaml", _spec("extends: self.yaml\n"))),
    Case("extends a directory", lambda d: _write(d, "dir.yaml", _spec(f"extends: {d}\n"))),
    Case("extends /etc/passwd", lambda d: _write(d, "passwd.yaml", _spec("extends: /etc/passwd\n"))),
    Case("extends /dev/zero", lambda d: _write(d, "zero.yaml", _spec("extends: /dev/zero\n")), cpu=5),
    Case("extends a FIFO nobody writes to", _fifo, wall=8.0),
    Case("a ${vars} chain 3,000 deep", lambda d: _write(d, "chain_vars.yaml", "vars:\n  v0: 1\n" + "".join(
        f'  v{i}: "${{vars.v{i - 1}}}"\n' for i in range(1, 3000)) + 'input: ["${vars.v2999}"]\nmodel: [relu]\n'),
        valid=True),
    Case("a ${vars} self-reference", lambda d: _write(d, "self_vars.yaml", _spec("vars: {a: '${vars.a}'}\n"
                                                                                 "name: '${vars.a}'\n"))),
    Case("a ${vars} cycle", lambda d: _write(d, "cycle_vars.yaml", _spec("vars: {a: '${vars.b}', b: '${vars.a}'}\n"
                                                                         "name: '${vars.a}'\n"))),
    Case("a ${vars} string doubling 40 times (1.6 KB)",
         lambda d: _write(d, "vars_bomb.yaml", _vars_doubling(False)), cpu=5),
    Case("a ${vars} list doubling 40 times (1.7 KB)",
         lambda d: _write(d, "vars_list_bomb.yaml", _vars_doubling(True)), cpu=5),
    Case("repeat: {times: 1000000000}",
         lambda d: _write(d, "repeat.yaml", "input: [3, 8, 8]\nmodel:\n  - repeat: {times: 1000000000, layers: "
                                            "[relu]}\n"), cpu=5),
    Case("input: [1, 10**18, 10**18] with a conv", lambda d: _write(d, "huge_input.yaml", "input: [1, "
         "1000000000000000000, 1000000000000000000]\nmodel:\n  - conv2d: {out_channels: 1000000000, kernel_size: 3}\n"),
         valid=True),
]


#: cases that were bugs this suite found (since fixed): a CI-tier test keeps each one fixed
REGRESSIONS = ["extends /dev/zero", "extends a FIFO nobody writes to", "a ${vars} string doubling 40 times (1.6 KB)",
               "a ${vars} list doubling 40 times (1.7 KB)", "repeat: {times: 1000000000}"]


@dataclass
class CaseResult:
    """What one case did: ``ok``, ``known`` (its finding's failure) or a loss message."""

    verdict: str
    message: str = ""
    cpu: float | None = None
    wall: float = 0.0


def _classify(case: Case, path: Path, done: Finished) -> CaseResult:
    times = _TIMES.search(done.stderr)
    cpu = float(times["cpu"]) if times else None
    err = done.stderr[:times.start()] if times else done.stderr
    if done.timed_out or done.returncode in (-9, -24):  # wall timeout, SIGKILL, SIGXCPU
        problem = f"hung (no answer after {done.seconds:.1f} s wall, CPU limit {case.cpu} s)"
    elif done.crashed:
        problem = f"the interpreter died with signal {-done.returncode}"
    elif "Traceback" in err or done.returncode == 1:
        last = err.strip().splitlines()[-1] if err.strip() else ""
        problem = f"internal error (exit {done.returncode}): {last[:200]}"
    elif case.valid and done.returncode != 0:
        problem = f"a valid spec was refused (exit {done.returncode}): {err[:200]}"
    elif not case.valid and done.returncode != 2:
        problem = f"exit {done.returncode}, expected 2: {err[:200]} {done.stdout[:200]}"
    elif done.returncode == 2 and not _LOCATED.match(err.lstrip("\n")):
        problem = f"the error is not located (file:line:col:): {err[:200]}"
    else:
        return CaseResult("ok", cpu=cpu, wall=done.seconds)
    if case.finding is not None:
        return CaseResult("known", f"{case.finding}: {problem}", cpu, done.seconds)
    return CaseResult("loss", f"{case.name}: {problem}", cpu, done.seconds)


def run_case(case: Case, folder: Path) -> CaseResult:
    folder.mkdir(parents=True, exist_ok=True)
    path = case.make(folder)
    done = run_python(["-c", _DRIVER, str(path)], timeout=case.wall, memory_bytes=MEMORY, cpu_seconds=case.cpu,
                      cwd=folder)
    return _classify(case, path, done)


def bombs(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: every case of :data:`CASES` (``size`` of them, cycling), each in a fresh interpreter."""
    row = Row("fuzz-bombs", "deep nesting (50,000 levels, C and pure parsers, JSON), alias and merge bombs, "
              "limits (nodes, bytes, digits), odd encodings, extends chains/cycles/devices, ${vars} bombs, "
              "huge repeat counts: cnnspec validate in a subprocess under memory and CPU limits", unit="inputs")
    folder = workdir / "bombs"
    slowest: tuple[float, str] = (0.0, "")
    over: dict[str, float] = {}
    with row.timed():
        for i in range(size):
            case = CASES[i % len(CASES)]
            row.size += 1
            result = run_case(case, folder / f"case{i % len(CASES)}")
            if result.cpu is not None and result.verdict == "ok":
                row.peak("max_cpu_s", result.cpu)
                slowest = max(slowest, (result.cpu, case.name))
                if result.cpu > CPU_LIMIT:
                    over[case.name] = max(over.get(case.name, 0.0), result.cpu)
            if result.verdict == "ok":
                row.hold()
            elif result.verdict == "known":
                row.known_case(case.finding or "")
            else:
                row.lose(result.message)
    if slowest[1]:
        row.note(f"slowest: {slowest[1]} ({slowest[0]:.2f} s CPU for validate's whole run)")
    for name, cpu in sorted(over.items(), key=lambda kv: -kv[1]):
        row.note(f"over {CPU_LIMIT:g} s CPU (not a hang, but slow): {name}, {cpu:.2f} s")
    return row


if __name__ == "__main__":  # pragma: no cover - a quick look at one case: python -m reliability.bombs N
    import sys
    import tempfile

    chosen = CASES[int(sys.argv[1])]
    with tempfile.TemporaryDirectory() as tmp:
        print(chosen.name, json.dumps(run_case(chosen, Path(tmp)).__dict__))
