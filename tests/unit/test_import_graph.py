"""The package's import graph has no circle: no cycle among top-level imports at all, no
cycle that crosses packages even through imports inside functions, and the layers point one
way (commands -> lifecycle -> stages -> runner/workspace; nothing below imports commands)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

SRC = REPO / "src"
PACKAGE = "hybridburst"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_package(module: str) -> bool:
    return MODULES.get(module, Path()).name == "__init__.py"


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The project's modules an import statement of ``module`` loads."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    if node.level:
        base = module.split(".") if _is_package(module) else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        origin = ".".join([*base, *([node.module] if node.module else [])])
    else:
        origin = node.module or ""
    if not origin.startswith(PACKAGE):
        return set()
    found = set()
    for alias in node.names:
        sub = f"{origin}.{alias.name}"
        found.add(sub if sub in MODULES else origin)
    return {m for m in found if m in MODULES}


def _top_level(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module loads (``if TYPE_CHECKING:`` blocks do not)."""
    out: list[ast.Import | ast.ImportFrom] = []

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                out.append(stmt)
            elif isinstance(stmt, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(stmt.test):
                    visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, ast.Try):
                visit(stmt.body)
                for handler in stmt.handlers:
                    visit(handler.body)
                visit(stmt.orelse)
                visit(stmt.finalbody)
    visit(tree.body)
    return out


def graph(top_level_only: bool) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        nodes = _top_level(tree) if top_level_only else [
            n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        edges[module] = set().union(*(_targets(module, n) for n in nodes)) - {module}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _package(module: str) -> str:
    return module if _is_package(module) else module.rpartition(".")[0]


def test_the_graph_sees_the_imports_it_must() -> None:
    """The graph is built from the real imports (a broken parser would find no cycle)."""
    edges = graph(top_level_only=False)
    assert "hybridburst.stages.access" in edges["hybridburst.lifecycle"]
    assert "hybridburst.runner" in edges["hybridburst.stages.deploy"]
    assert "hybridburst.lifecycle" in edges["hybridburst.commands.lifecycle"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_top_level_imports() -> None:
    assert cycles(graph(top_level_only=True)) == []


def test_no_import_cycle_across_packages_even_inside_functions() -> None:
    crossing = [c for c in cycles(graph(top_level_only=False))
                if len({_package(m) for m in c}) > 1]
    assert crossing == []


def test_nothing_below_the_commands_imports_them() -> None:
    """commands/ and cli parse and print; the lifecycle, the stages and everything else are
    called by them, never the other way round."""
    upper = ("hybridburst.commands", "hybridburst.cli")
    wrong = {m: sorted(t for t in targets if t.startswith(upper))
             for m, targets in graph(top_level_only=False).items()
             if not m.startswith(upper) and not m.endswith(".commands")}
    assert {m: t for m, t in wrong.items() if t} == {}
