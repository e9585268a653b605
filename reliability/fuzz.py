"""Scenario group 1: spec fuzzing.

The contract under test: whatever bytes a spec file holds, the only
exception that leaves ``load_spec``/``infer_shapes`` is ``SpecError``, it
is located in a file, the CLI exits 2 with ``file:line:col:`` first and no
traceback, and no input costs more than :data:`CPU_LIMIT` seconds of CPU.

Inputs come from hypothesis (YAML-ish and JSON-ish token soup, random
values rendered as YAML/JSON, raw bytes) and from structure-aware mutations
of the example specs in ``specs/`` (wrong types, missing and extra keys,
extreme numbers, deep nesting, unicode, huge strings, aliases, tags).
Inputs that could take the interpreter down (50,000 levels of nesting for
the C parser, alias bombs) run in subprocesses: see :mod:`reliability.bombs`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reliability.harness import ROOT, Deadline, deadline
from reliability.rows import Row

__all__ = [
    "CPU_LIMIT",
    "aliases",
    "bytes_files",
    "json_text",
    "judge",
    "mutations",
    "tags",
    "yaml_text",
]

#: CPU seconds one input may cost (the harness interrupts it there and counts a loss)
CPU_LIMIT = 2.0
#: wall seconds before a blocked input counts as hung (generous: the machine may be loaded)
WALL_LIMIT = 30.0
#: every n-th input also goes through the CLI (in this process: ``cnnspec validate FILE``)
CLI_EVERY = 4

_LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): ")


@dataclass
class Verdict:
    """How one input ended: ``valid``, ``refused`` (a located SpecError), ``loss``, or ``known`` (the
    failure an open finding describes; ``message`` is its id)."""

    outcome: str
    cpu: float
    wall: float
    message: str = ""


def _show(text: str | bytes, limit: int = 160) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[:limit] + f"... ({len(text)} long)"


def judge(path: Path) -> Verdict:
    """Check ``path`` exactly as ``cnnspec validate`` does (load_spec, infer_shapes, the static data and
    loss checks, fix-its for an error), and classify the result."""
    from cnnspec.cli.commands.validate import check
    from cnnspec.exceptions import SpecError

    cpu0, wall0 = time.process_time(), time.perf_counter()

    def done(outcome: str, message: str = "") -> Verdict:
        return Verdict(outcome, time.process_time() - cpu0, time.perf_counter() - wall0, message)

    import cnnspec.analysis.fixits as fixits

    search = {"inside": False, "cpu": 0.0}
    real = fixits.fixes_for

    def timed_fixes(*args: Any, **kwargs: Any) -> Any:  # validate imports fixes_for when it needs it
        search["inside"], began = True, time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            search["inside"], search["cpu"] = False, search["cpu"] + time.process_time() - began

    def attempt() -> Verdict:
        try:
            with deadline(CPU_LIMIT, WALL_LIMIT):
                report = check(str(path), [])
            exc = report.get("_exc")
            if exc is not None:
                raise exc
        except SpecError as exc:
            unlocated = [e for e in exc.all_errors() if e.location is None]
            if unlocated:
                return done("loss", f"unlocated SpecError: {unlocated[0].format_one()}")
            return done("refused", exc.message)
        except Deadline as exc:
            where = " (in the fix-it search)" if search["inside"] or search["cpu"] > CPU_LIMIT / 2 else ""
            return done("loss", f"hang{where}: {exc}")
        except RecursionError:
            return done("loss", "RecursionError")
        except Exception as exc:  # anything but SpecError is the finding
            return done("loss", f"{type(exc).__name__}: {str(exc)[:200]}")
        return done("valid")

    fixits.fixes_for = timed_fixes
    try:
        verdict = attempt()
    finally:
        fixits.fixes_for = real
    if verdict.outcome in ("valid", "refused") and verdict.cpu > CPU_LIMIT:  # overran without being stopped
        return Verdict("loss", verdict.cpu, verdict.wall, f"took {verdict.cpu:.2f} s of CPU "
                                                          f"({search['cpu']:.2f} s in the fix-it search)")
    return verdict


def cli_check(path: Path, verdict: Verdict) -> str | None:
    """``cnnspec validate PATH`` in this process: the exit code matches the verdict, an error
    starts with ``file:line:col:`` and nothing prints a traceback. Returns the problem, if any."""
    from cnnspec.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["validate", str(path)])
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 1
    text = err.getvalue()
    if "Traceback" in text or "internal error" in text:
        return f"CLI printed a traceback: {text[-300:]}"
    expected = 0 if verdict.outcome == "valid" else 2
    if code != expected:
        return f"CLI exit {code}, expected {expected}: {text[:300]}"
    if code == 2:
        first = text.splitlines()[0] if text else ""
        if not _LOCATED.match(first):
            return f"CLI error is not located (file:line:col:): {first[:200]}"
    return None


class _Judge:
    """Runs inputs through :func:`judge` (and every n-th through the CLI), filling a row."""

    def __init__(self, row: Row, workdir: Path, *, cli_every: int = CLI_EVERY) -> None:
        self.row = row
        self.workdir = workdir
        self.cli_every = cli_every
        self.n = 0
        from reliability.findings import FINDINGS

        self.known = set(FINDINGS)  # an expectation may answer with a finding id: a known failure
        workdir.mkdir(parents=True, exist_ok=True)

    def file(self, content: str | bytes, suffix: str) -> Path:
        path = self.workdir / f"input{suffix}"
        path.unlink(missing_ok=True)  # a fresh file: truncating one in place makes ext4 flush it on close
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8", "surrogatepass"))
        return path

    def __call__(self, content: str | bytes, suffix: str = ".yaml",
                 expect: Callable[[Verdict, Path], str | None] | None = None) -> Verdict:
        self.n += 1
        self.row.size += 1
        path = self.file(content, suffix)
        verdict = judge(path)
        if verdict.outcome in ("valid", "refused"):  # what one input costs; known findings are apart
            self.row.peak("max_cpu_s", verdict.cpu)
            self.row.peak("max_wall_s", verdict.wall)
        self.row.count(verdict.outcome if verdict.outcome != "loss" else "lost")
        if verdict.outcome == "loss":
            self.row.lose(f"{verdict.message} <- {_show(content)}")
            return verdict
        if verdict.outcome == "known":
            self.row.known_case(verdict.message)
            return verdict
        problem = expect(verdict, path) if expect is not None else None
        if problem is not None and problem in self.known:
            self.row.known_case(problem)
            return verdict
        if problem is None and self.cli_every and self.n % self.cli_every == 0:
            self.row.count("cli_checked")
            problem = cli_check(path, verdict)
            if problem in self.known:
                self.row.known_case(problem)
                return verdict
        if problem is not None:
            self.row.lose(f"{problem} <- {_show(content)}")
        else:
            self.row.hold()
        return verdict


def _run_hypothesis(strategy: Any, size: int, seed: int, test: Callable[[Any], None]) -> None:
    """Feed ``size`` examples of ``strategy`` to ``test`` (generation only: no shrinking, no database)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    @hseed(seed)
    @settings(max_examples=size, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(example: Any) -> None:
        test(example)

    run()


# -- hypothesis strategies ---------------------------------------------------------------------

_YAML_TOKENS = [
    "{", "}", "[", "]", ":", ": ", ", ", "- ", "\n", "  ", "    ", "\t", "#", "&a ", "*a", "&b ", "*b", "<<: ",
    "!!python/object/apply:os.system ", "!!str ", "!!int ", "!!binary ", "!!set ", "!tag ", "!<x> ", "? ", "| ",
    "> ", "'", '"', "\\", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "input: ", "model:", "- conv2d: ",
    "{out_channels: 4, kernel_size: 3}", "linear", "out_features: ", "kernel_size: ", "data: ", "dataset: digits",
    "train: ", "optimizer: ", "callbacks: ", "extends: ", "vars: ", "${vars.x}", "~", "null", "true", "no", "1e400",
    ".nan", "-.inf", "0x1F", "0o17", "007", "-0", "1_000", "99999999999999999999999999", "3", "8", "[3, 8, 8]",
    "relu", "repeat: ", "residual: ", "concat: ", "layers: ", "times: ", "é", "\U0001F600", "\u202e", "\ufeff",
    "\x85", "\u2028", "\r\n", "\x00",
]
_JSON_TOKENS = [
    "{", "}", "[", "]", ":", ",", " ", "\n", '"input"', '"model"', '"conv2d"', '"out_channels"', '"kernel_size"',
    '"linear"', '"out_features"', '"relu"', '"data"', '"train"', '"extends"', "[3, 8, 8]", "3", "-1", "0", "1e999",
    "-0.0", "1.5", "NaN", "Infinity", "-Infinity", "true", "false", "null", '"\\ud800"', '"\\u0000"', '"\\x"', '"',
    "//", "/*", "*/", "'", "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
    '{"input": [1, 4, 4], "model": ["relu"]}', '"${vars.x}"', "\ufeff", "\x00",
]


def _strategies() -> dict[str, Any]:
    from hypothesis import strategies as st

    def soup(tokens: list[str]) -> Any:
        piece = st.one_of(st.sampled_from(tokens), st.text(max_size=4))
        return st.lists(piece, max_size=80).map("".join)

    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                        st.sampled_from(["conv2d", "linear", "relu", "flatten", "digits", "sgd", "input", "model"]))
    values = st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(
            ["input", "model", "data", "train", "callbacks", "name", "conv2d", "out_channels", "kernel_size",
             "layers", "times", "extends", "vars"])), inner, max_size=5)), max_leaves=40)

    @st.composite
    def spec_shaped(draw: Any) -> dict[str, Any]:
        """Mostly right keys with random values: reaches the validators, not only the parser."""
        doc: dict[str, Any] = {"input": draw(st.one_of(st.lists(st.integers(-2, 40), max_size=4), values)),
                               "model": draw(st.one_of(st.lists(values, max_size=5), values))}
        for key in ("data", "train", "callbacks", "name", "seed"):
            if draw(st.booleans()):
                doc[key] = draw(values)
        return doc

    def mutated(text: str, rnd: random.Random) -> str:
        if not text or rnd.random() < 0.5:
            return text
        i = rnd.randrange(len(text))
        op = rnd.randrange(3)
        if op == 0:
            return text[:i] + text[i + 1:]
        piece = rnd.choice(["{", "}", "[", "]", ":", ",", "-", "\n", " ", "&x ", "*x", '"'])
        return text[:i] + piece + text[i + (op == 2):]

    def render_yaml(doc: Any, rnd: random.Random) -> str:
        try:
            text = yaml.safe_dump(doc, default_flow_style=rnd.choice([None, True, False]), allow_unicode=True,
                                  sort_keys=False, width=rnd.choice([40, 80, 10_000]))
        except (yaml.YAMLError, ValueError, UnicodeEncodeError):
            text = repr(doc)
        return mutated(text, rnd)

    def render_json(doc: Any, rnd: random.Random) -> str:
        return mutated(json.dumps(doc, indent=rnd.choice([None, 1, 2]), ensure_ascii=rnd.random() < 0.5), rnd)

    randoms = st.randoms(use_true_random=False)
    yaml_docs = st.tuples(st.one_of(values, spec_shaped()), randoms).map(lambda t: render_yaml(*t))
    json_docs = st.tuples(st.one_of(values, spec_shaped()), randoms).map(lambda t: render_json(*t))
    return {
        "yaml": st.one_of(soup(_YAML_TOKENS), yaml_docs, st.text(max_size=200)),
        "json": st.one_of(soup(_JSON_TOKENS), json_docs, st.text(max_size=200)),
        "bytes": st.one_of(
            st.binary(max_size=400),
            st.tuples(yaml_docs, st.sampled_from(["utf-16", "utf-32", "latin-1", "utf-8-sig", "cp1252"]))
            .map(lambda t: t[0].encode(t[1], "replace")),
            st.tuples(json_docs, st.binary(min_size=1, max_size=4), st.integers(0, 400))
            .map(lambda t: t[0].encode("utf-8", "surrogatepass")[:t[2]] + t[1]
                 + t[0].encode("utf-8", "surrogatepass")[t[2]:]),
        ),
    }


def yaml_text(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: hypothesis-generated text loaded as a YAML spec file."""
    row = Row("fuzz-yaml-text", "hypothesis text decoded as YAML (token soup, random documents, mutations)",
              unit="inputs")
    check = _Judge(row, workdir / "fuzz-yaml")
    with row.timed():
        _run_hypothesis(_strategies()["yaml"], size, seed, lambda text: check(text, ".yaml"))
    return row


def json_text(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: hypothesis-generated text loaded as a JSON spec file."""
    row = Row("fuzz-json-text", "hypothesis text decoded as JSON (token soup, random documents, mutations)",
              unit="inputs")
    check = _Judge(row, workdir / "fuzz-json")
    with row.timed():
        _run_hypothesis(_strategies()["json"], size, seed, lambda text: check(text, ".json"))
    return row


def bytes_files(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: raw bytes (and documents in other encodings, with stray bytes) as spec files."""
    row = Row("fuzz-bytes", "hypothesis bytes as .yaml/.json files (binary, UTF-16/32, Latin-1, BOMs, stray bytes)",
              unit="inputs")
    check = _Judge(row, workdir / "fuzz-bytes")
    with row.timed():
        _run_hypothesis(_strategies()["bytes"], size, seed,
                        lambda data: check(data, ".json" if check.n % 2 else ".yaml"))
    return row


# -- structure-aware mutations of the example specs ----------------------------------------------

def example_specs() -> dict[str, Any]:
    """The example specs as plain data (they hold no tags or aliases, so safe_load is exact)."""
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "specs").glob("*.yaml"))}


def _nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


#: values that replace a random node: wrong types, extremes, unicode, names of Python objects
WEIRD: list[Callable[[random.Random], Any]] = [
    lambda r: None, lambda r: True, lambda r: False, lambda r: 0, lambda r: -1, lambda r: 1, lambda r: 2 ** 63,
    lambda r: -(2 ** 63), lambda r: 10 ** 60, lambda r: 1e308, lambda r: -1e308, lambda r: float("nan"),
    lambda r: float("inf"), lambda r: 0.5, lambda r: -0.0, lambda r: "", lambda r: " ",
    lambda r: "x" * r.choice([1_000, 100_000, 1_000_000]), lambda r: "ß🙂\u202e\u0301\ufeff",
    lambda r: [], lambda r: {}, lambda r: [[[]]], lambda r: _nested(r.choice([20, 60, 70, 200])),
    lambda r: {"a": 1}, lambda r: "${vars.x}", lambda r: "${vars.missing}", lambda r: "$${vars.x}",
    lambda r: "os.system", lambda r: "builtins:eval", lambda r: "../../etc/passwd", lambda r: "/dev/null",
    lambda r: "!!python/object:os.system", lambda r: "__import__('os').system('true')", lambda r: "conv2d",
    lambda r: {"conv2d": {"out_channels": 1, "kernel_size": 1}}, lambda r: "same", lambda r: [3, "H", "W"],
    lambda r: r.randint(-5, 300), lambda r: r.uniform(-10, 10), lambda r: "1e-3", lambda r: "0x10",
]

_KEYS = ["input", "model", "data", "train", "callbacks", "name", "seed", "extends", "vars", "description",
         "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias", "in_channels",
         "in_features", "out_features", "num_features", "layers", "times", "shortcut", "branches", "dim",
         "dataset", "batch_size", "epochs", "optimizer", "loss", "scheduler", "lr", "~model", "~train", "<<"]


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _nodes(v, (*path, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return doc


def mutate(doc: Any, rnd: random.Random) -> Any:
    """One random structural edit of ``doc`` (which is modified and returned)."""
    nodes = list(_nodes(doc))
    path, node = rnd.choice(nodes)
    op = rnd.randrange(9)
    if op <= 2:  # replace with a weird value
        return _set(doc, path, rnd.choice(WEIRD)(rnd))
    if op == 3 and isinstance(node, dict) and node:  # drop a key
        del node[rnd.choice(list(node))]
        return doc
    if op == 4 and isinstance(node, dict):  # add a key
        node[rnd.choice([*_KEYS, "Kernel_Size", "outchannels", "x" * 50])] = rnd.choice(WEIRD)(rnd)
        return doc
    if op == 5 and isinstance(node, list) and node:  # duplicate, drop or shuffle list items
        choice = rnd.randrange(3)
        if choice == 0:
            node.insert(rnd.randrange(len(node) + 1), copy.deepcopy(rnd.choice(node)))
        elif choice == 1:
            node.pop(rnd.randrange(len(node)))
        else:
            rnd.shuffle(node)
        return doc
    if op == 6:  # wrap in a list or a mapping
        return _set(doc, path, rnd.choice([[node], {"wrapped": node}]))
    if op == 7 and isinstance(node, dict) and node:  # rename a key (case, typo)
        key = rnd.choice(list(node))
        new = rnd.choice([str(key).upper(), str(key)[:-1], f"{key}_", str(key).replace("_", "")])
        node[new] = node.pop(key)
        return doc
    _, other = rnd.choice(nodes)  # swap in another subtree (a copy)
    return _set(doc, path, copy.deepcopy(other))


_DANGEROUS_TAGS = [
    "!!python/object/apply:os.system", "!!python/object/new:subprocess.Popen", "!!python/name:builtins.eval",
    "!!python/module:os", "!!python/tuple", "!!python/object:__main__.X", "!!binary", "!!timestamp", "!!set",
    "!!omap", "!!pairs", "!custom", "!<tag:yaml.org,2002:python/object:os.system>", "!!float", "!!bool",
]


def _text_mutation(text: str, rnd: random.Random) -> str:
    """A textual edit: a tag, an anchor/alias pair, a duplicated line, a stray character, other line ends."""
    lines = text.splitlines(keepends=True)
    op = rnd.randrange(6)
    if op == 0 and lines:
        i = rnd.randrange(len(lines))
        lines.insert(i, lines[i])  # a duplicate key, usually
    elif op == 1 and lines:
        i = rnd.randrange(len(lines))
        line = lines[i]
        at = line.find(": ")
        if at >= 0:
            lines[i] = line[:at + 2] + rnd.choice(_DANGEROUS_TAGS) + " " + line[at + 2:]
    elif op == 2 and len(lines) > 2:
        i, j = sorted(rnd.sample(range(len(lines)), 2))
        a, b = lines[i], lines[j]
        if ": " in a and ": " in b:
            lines[i] = a.replace(": ", ": &anchor ", 1)
            lines[j] = b[:b.find(": ") + 2] + "*anchor\n"
    elif op == 3 and text:
        i = rnd.randrange(len(text))
        return text[:i] + rnd.choice(["\t", "\x00", "\ufeff", "{", "]", "'", '"', "\\", "&", "*", "!"]) + text[i:]
    elif op == 4:
        return text.replace("\n", rnd.choice(["\r\n", "\r", "\u2028", "\x85"]))
    else:
        return "\ufeff" + text
    return "".join(lines)


def mutations(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: structure-aware mutations of every example spec, written as YAML or JSON."""
    row = Row("fuzz-mutations", "mutated example specs (types, keys, extremes, nesting, unicode, huge strings, "
              "aliases, tags, duplicate keys, line ends), YAML and JSON", unit="inputs")
    rnd = random.Random(seed)
    bases = example_specs()
    check = _Judge(row, workdir / "fuzz-mutations")
    names = sorted(bases)
    with row.timed():
        for i in range(size):
            name = names[i % len(names)]
            doc = copy.deepcopy(bases[name])
            for _ in range(rnd.randint(1, 3)):
                doc = mutate(doc, rnd)
            if rnd.random() < 0.3:
                text = json.dumps(doc, indent=1)
                check(text, ".json")
            else:
                text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=rnd.choice([80, 10_000]))
                if rnd.random() < 0.4:
                    text = _text_mutation(text, rnd)
                check(text, ".yaml")
    return row


# -- targeted oracles: tags are refused where they are; aliases load as their expansion --------------

def _tag_sites(text: str) -> list[tuple[yaml.Node, bool]]:
    """Nodes where a tag can be written, and whether each is a mapping key: scalars (not block
    scalars) and flow collections. The text is composed by PyYAML, never constructed."""
    sites: list[tuple[yaml.Node, bool]] = []

    def walk(node: yaml.Node, key: bool = False) -> None:
        if isinstance(node, yaml.ScalarNode):
            if node.style in (None, "'", '"'):
                sites.append((node, key))
            return
        if node.flow_style:
            sites.append((node, key))
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                walk(k, True)
                walk(v)
        else:
            for child in node.value:
                walk(child)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root)
    return sites


def tags(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: a tag written before a random node of an example spec is refused at that line."""
    row = Row("fuzz-tags", "a non-core tag (!!python/object/apply:os.system, !!binary, !custom...) before a random "
              "node (value or key) of an example spec: refused, located at the tag's line", unit="inputs")
    rnd = random.Random(seed)
    texts = {p.name: p.read_text() for p in sorted((ROOT / "specs").glob("*.yaml"))}
    sites = {name: _tag_sites(text) for name, text in texts.items()}
    check = _Judge(row, workdir / "fuzz-tags")
    names = sorted(texts)
    with row.timed():
        for i in range(size):
            name = names[i % len(names)]
            node, is_key = rnd.choice(sites[name])
            tag = rnd.choice([t for t in _DANGEROUS_TAGS if t not in ("!!float", "!!bool")])
            at = node.start_mark.index
            text = texts[name][:at] + tag + " " + texts[name][at:]
            line = node.start_mark.line + 1
            row.count("on_keys" if is_key else "on_values")

            def expect(verdict: Verdict, path: Path, line: int = line, tag: str = tag,
                       is_key: bool = is_key) -> str | None:
                if verdict.outcome != "refused" or "tag" not in verdict.message:
                    return f"{tag} at line {line} was not refused as a tag: {verdict.outcome} {verdict.message}"
                return _located_at(path, line)

            check(text, ".yaml", expect)
    return row


def _located_at(path: Path, line: int) -> str | None:
    from cnnspec.exceptions import SpecError
    from cnnspec.spec import load_spec

    try:
        load_spec(path)
    except SpecError as exc:
        if exc.line != line:
            return f"refused at line {exc.line}, the tag is on line {line}"
        return None
    return "loaded"


def aliases(size: int, seed: int, workdir: Path) -> Row:
    """Scenario: a spec using anchors and aliases loads exactly as its expansion does."""
    from cnnspec.exceptions import SpecError
    from cnnspec.spec import load_spec

    row = Row("fuzz-aliases", "example specs with a random subtree shared through an anchor and aliases: same "
              "result as the alias-free expansion (valid and equal, or refused with the same message)", unit="inputs")
    rnd = random.Random(seed)
    bases = example_specs()
    names = sorted(bases)
    folder = workdir / "fuzz-aliases"
    folder.mkdir(parents=True, exist_ok=True)

    def outcome(text: str, file: str) -> tuple[str, Any]:
        path = folder / file
        path.unlink(missing_ok=True)
        path.write_text(text)
        try:
            with deadline(CPU_LIMIT, WALL_LIMIT):
                return "valid", load_spec(path).to_dict()
        except SpecError as exc:
            return "refused", exc.message
        except (Exception, Deadline) as exc:
            return "loss", f"{type(exc).__name__}: {exc}"

    with row.timed():
        for i in range(size):
            row.size += 1
            doc = copy.deepcopy(bases[names[i % len(names)]])
            shared = [(p, v) for p, v in _nodes(doc) if p and isinstance(v, (dict, list))]
            targets = [p for p, _ in _nodes(doc) if p]
            source_path, source = rnd.choice(shared)
            for _ in range(rnd.randint(1, 3)):
                target = rnd.choice(targets)
                if target[:len(source_path)] == source_path or source_path[:len(target)] == target:
                    continue  # not inside itself (that would be a cycle, which YAML aliases cannot express)
                try:
                    _set(doc, target, source)  # the same object twice: safe_dump writes &id001 / *id001
                except (KeyError, IndexError, TypeError):
                    continue
            with_aliases = yaml.safe_dump(doc, sort_keys=False)
            expanded = yaml.safe_dump(copy.deepcopy(doc), sort_keys=False)
            if "*id" not in with_aliases:
                row.count("no_alias_written")
            a, b = outcome(with_aliases, "aliased.yaml"), outcome(expanded, "expanded.yaml")
            row.check(a == b and a[0] != "loss", f"aliases {a[0]} vs expansion {b[0]}: {str(a[1])[:200]} | "
                                                 f"{str(b[1])[:200]}")
    return row
