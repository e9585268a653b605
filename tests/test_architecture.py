"""The house rules of the package, read from the source: imports point down the pipeline.

Every import counts — at module level, inside functions, and under
``TYPE_CHECKING`` — because a deferred import is still a dependency and can
still hide a cycle. The stages, bottom to top:

    contract → load → plugins → spec → shapes → analysis, draw → checkpoint → build
             → data → explain → callbacks → engine, lsp → sweep, results → cli, builtin → testing

A module may import its own stage and the stages below it; nothing imports
``cnnspec.builtin`` (built-ins arrive through the plugin hooks), and nothing
inside the package imports the package root.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnnspec"

#: the contract: what plugin authors import; no stage below it
CONTRACT = {"_version", "names", "exceptions", "render", "symbolic", "argtypes", "component", "layer",
            "hookspec", "atomic"}
#: stage -> rank; a module may import ranks <= its own (same rank: only its own stage)
RANKS = {
    "contract": 0, "load": 1, "plugins": 2, "spec": 3, "shapes": 4, "analysis": 5, "draw": 5, "checkpoint": 6,
    "build": 7, "data": 8, "explain": 9, "callbacks": 10, "engine": 11, "lsp": 11, "sweep": 12, "results": 12,
    "cli": 13,
    "builtin": 13, "testing": 14, "root": 15,
}
MAX_TOP_LEVEL_MODULES = 15
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str:
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(module: str, path: Path) -> set[str]:
    """Every cnnspec module ``module`` imports, wherever the import statement is."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {_resolve(a.name) for a in node.names if a.name.split(".")[0] == "cnnspec"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.split(".")[0] != "cnnspec":
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in MODULES else _resolve(target))
    found.discard(module)
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__", "_moved"):
        return "root"
    if len(parts) == 2 and parts[1] in CONTRACT:
        return "contract"
    return parts[1]


def test_every_module_belongs_to_a_stage():
    unknown = sorted({stage(m) for m in MODULES} - set(RANKS))
    assert not unknown, f"modules outside the known stages: {unknown}; add the stage to RANKS and docs/architecture.md"


def test_imports_point_down_the_pipeline():
    wrong = []
    for module, targets in GRAPH.items():
        own = stage(module)
        for target in targets:
            other = stage(target)
            if other == own:
                continue
            if other == "builtin":
                wrong.append(f"{module} -> {target} (nothing imports built-in plugins; they come through hooks)")
            elif other == "root":
                wrong.append(f"{module} -> {target} (the package root is the public API, not a dependency)")
            elif RANKS[other] >= RANKS[own]:
                wrong.append(f"{module} ({own}) -> {target} ({other})")
    assert not wrong, "imports against the pipeline:\n" + "\n".join(sorted(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles_counting_deferred_imports():
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_few_modules_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by job (docs/architecture.md)"


def test_public_modules_declare_all():
    missing = [m for m, p in MODULES.items()
               if not m.split(".")[-1].startswith("_") and p.name != "__main__.py"
               and "__all__" not in p.read_text()]
    assert not missing, missing


def test_stage_graph_is_what_the_architecture_page_draws():
    """The stage-to-stage edges, for the record: a new edge is a design decision."""
    edges = defaultdict(set)
    for module, targets in GRAPH.items():
        for target in targets:
            if stage(target) != stage(module):
                edges[stage(module)].add(stage(target))
    for own, others in edges.items():
        assert all(RANKS[o] < RANKS[own] for o in others), (own, others)


#: exceptions that never leave cnnspec: control flow inside one module, not errors a caller sees
INTERNAL_SIGNALS = {"cnnspec.plugins.checks.Broken", "cnnspec.data.workers.WorkerDied",
                    "cnnspec.engine.step.StopTraining", "cnnspec.testing.draw.CannotDraw"}


def test_every_error_class_lives_in_the_one_tree():
    """Errors a caller can catch are defined in cnnspec/exceptions.py and drawn in its docstring."""
    import cnnspec.exceptions as exceptions

    stray = []
    for module, path in MODULES.items():
        if module == "cnnspec.exceptions":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
                continue
            bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
            name = f"{module}.{node.name}"
            if any(b.endswith(("Error", "Exception")) for b in bases) and name not in INTERNAL_SIGNALS:
                stray.append(name)
    assert not stray, f"define these in cnnspec/exceptions.py: {stray}"
    drawn = exceptions.__doc__
    for name in exceptions.__all__:
        obj = getattr(exceptions, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert f"── {name} " in drawn or f"    {name} " in drawn, f"{name} is not drawn in the tree"


def test_the_architecture_page_names_every_module():
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    missing = [m for m in MODULES if m.count(".") >= 1 and m.rsplit(".", 1)[1] not in page
               and not m.startswith(("cnnspec.builtin.", "cnnspec.cli.commands."))]
    assert not missing, f"docs/architecture.md does not mention: {missing}"
