"""The package's modules import one another without a cycle: each can be read, and changed,
knowing only the modules below it. Every import counts, also one inside a function or under
TYPE_CHECKING, since a deferred import hides a cycle rather than removing it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dqn_ref"


def imported_modules(path: Path) -> set[str]:
    """The dqn_ref modules `path` imports, by module name (dqn_ref.x)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if (PACKAGE.parent / f"{name.replace('.', '/')}.py").is_file()}


def import_graph() -> dict[str, set[str]]:
    return {f"dqn_ref.{path.stem}": imported_modules(path) for path in PACKAGE.glob("*.py")}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None; depth-first search with an explicit path."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            cycle = visit(imported, [*path, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle_and_nothing_else() -> None:
    """The check itself: a two-module cycle is found, a diamond is not a cycle."""
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}) is None


def test_the_graph_sees_deferred_imports() -> None:
    """run.py imports train.py inside functions only; the graph still holds that edge."""
    assert "dqn_ref.train" in import_graph()["dqn_ref.run"]
