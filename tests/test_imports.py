"""The package's imports: no cycle, and every import points down the layers (ARCHITECTURE.md).

The layers, bottom to top: the algorithm (the modules at the package's top, which spec/ specifies),
its speed-ups (dqn_ref/fast/), one training run around it (dqn_ref/training/), many runs
(dqn_ref/studies/), and the command line (dqn_ref/run/). A module may import its own layer and
those below, never one above, so that each layer can be read, and changed, knowing only the
layers under it. Every import counts, also one
inside a function or under TYPE_CHECKING, since a deferred import hides an edge rather than
removing it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dqn_ref"
# Bottom to top; the algorithm is every module at the package's top level.
LAYERS = ("algorithm", "fast", "training", "studies", "run")


def module_name(path: Path, package: Path) -> str:
    """dqn_ref/studies/study.py -> dqn_ref.studies.study; a package's __init__.py is the package."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str, package: Path) -> bool:
    path = package.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path, package: Path) -> set[str]:
    """The dqn_ref modules `path` imports, by module name (dqn_ref.x, dqn_ref.training.y)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("dqn_ref.") and is_module(name, package)}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    return {
        module_name(path, package): imported_modules(path, package)
        for path in sorted(package.rglob("*.py"))
    }


def layer_of(module: str) -> str:
    """dqn_ref.training.train -> training; dqn_ref.bellman (a top-level module) -> algorithm. The
    package itself (dqn_ref/__init__.py, the Python API users import) stands on top, with the
    command line."""
    parts = module.split(".")
    if len(parts) == 1:
        return LAYERS[-1]
    return parts[1] if len(parts) > 2 or parts[1] in LAYERS else "algorithm"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import from a module to one in a higher layer, as "importer -> imported"."""
    return [
        f"{module} ({layer_of(module)}) -> {imported} ({layer_of(imported)})"
        for module, imported_set in sorted(graph.items())
        for imported in sorted(imported_set)
        if LAYERS.index(layer_of(imported)) > LAYERS.index(layer_of(module))
    ]


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


def test_imports_point_down_the_layers_only() -> None:
    assert upward_imports(import_graph()) == []


def test_every_module_lies_in_a_layer() -> None:
    """A new folder is a new layer: it must be placed in LAYERS (and ARCHITECTURE.md) first."""
    folders = {path.parent.name for path in PACKAGE.rglob("*.py") if path.parent != PACKAGE}
    assert folders <= set(LAYERS)


def copy_of_the_package(folder: Path) -> Path:
    """The package's modules copied under `folder`, for a test to plant a line in."""
    planted = folder / "dqn_ref"
    for path in PACKAGE.rglob("*.py"):
        target = planted / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    return planted


def test_an_upward_import_planted_in_a_copy_of_the_package_is_found(tmp_path: Path) -> None:
    """The check itself: the algorithm's loop importing the run's checkpoints is reported; the
    real tree with one line added, not a hand-made graph."""
    planted = copy_of_the_package(tmp_path)
    loop = planted / "loop.py"
    planted_import = "    from dqn_ref.training.checkpoint import save_checkpoint\n"
    loop.write_text(loop.read_text() + "\n\ndef planted() -> None:\n" + planted_import)
    assert upward_imports(import_graph()) == []
    found = upward_imports(import_graph(planted))
    assert found == ["dqn_ref.loop (algorithm) -> dqn_ref.training.checkpoint (training)"]


def test_an_algorithm_module_importing_a_speed_up_is_found(tmp_path: Path) -> None:
    """The reference never leans on its speed-ups: the loop importing the overlapped loop, even
    inside a function, is reported."""
    planted = copy_of_the_package(tmp_path)
    agent = planted / "agent.py"
    planted_import = "    from dqn_ref.fast.graphed_update import capturable_optimizer\n"
    agent.write_text(agent.read_text() + "\n\ndef planted() -> None:\n" + planted_import)
    found = upward_imports(import_graph(planted))
    assert found == ["dqn_ref.agent (algorithm) -> dqn_ref.fast.graphed_update (fast)"]


# The speed-ups' words; the reference loop and agent a learner opens first hold none of them.
SPEED_UP_WORDS = ("overlap", "graphed", "capturable", "device_replay", "compile")


def test_the_loop_and_the_agent_hold_no_speed_up() -> None:
    """loop.py and agent.py read as the paper: no branch, name or comment of a speed-up."""
    for name in ("loop.py", "agent.py", "update.py"):
        text = (PACKAGE / name).read_text().lower()
        assert [word for word in SPEED_UP_WORDS if word in text] == [], name


def test_the_layer_of_a_module_is_its_folder() -> None:
    assert layer_of("dqn_ref.fast.graphed_update") == "fast"
    assert layer_of("dqn_ref.bellman") == "algorithm"
    assert layer_of("dqn_ref.training.train") == "training"
    assert layer_of("dqn_ref.studies") == "studies"
    assert layer_of("dqn_ref.run.main") == "run"
    assert layer_of("dqn_ref.run") == "run"
    assert layer_of("dqn_ref") == "run"


def test_the_cycle_finder_finds_a_cycle_and_nothing_else() -> None:
    """The check itself: a two-module cycle is found, a diamond is not a cycle."""
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}) is None


def test_the_graph_sees_deferred_imports() -> None:
    """train_command.py imports train.py inside functions only; the graph still holds that edge."""
    assert "dqn_ref.training.train" in import_graph()["dqn_ref.run.train_command"]


LONG_MODULE_LINES = 300
REASON = "Longer than 300 lines for a reason:"


def test_no_module_is_long_without_a_reason_at_its_top() -> None:
    """A module over LONG_MODULE_LINES lines says, in its docstring, why it is one concept."""
    unexplained = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > LONG_MODULE_LINES and REASON not in docstring:
            unexplained.append(path.relative_to(PACKAGE.parent).as_posix())
    assert unexplained == []
