"""The package's layers import one way: core <- datasets <- experiments <- book; no module imports itself back."""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "autoencoder"
LAYERS = ["core", "datasets", "experiments", "book"]
CORE_LIBRARIES = {"numpy", "scipy", "threadpoolctl"}


def _module_name(path: Path, package_dir: Path = PACKAGE) -> str:
    """``autoencoder.core.model`` for ``autoencoder/core/model.py``, ``autoencoder.core`` for its ``__init__.py``."""
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_statements(path: Path, package_dir: Path = PACKAGE) -> Iterator[tuple[str | None, list[str]]]:
    """Each import of ``path``, at the top or inside functions, as ``(base, names)`` with absolute names.

    ``import a.b`` gives ``(None, ["a.b"])``; ``from a import b, c`` gives
    ``("a", ["a.b", "a.c"])`` (the names may be modules or anything else).
    """
    module = _module_name(path, package_dir)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield None, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module
            yield base, [f"{base}.{alias.name}" for alias in node.names]


def _imports(path: Path, package_dir: Path = PACKAGE) -> set[str]:
    """Absolute names of everything ``path`` imports, at the top or inside functions."""
    found = set()
    for base, names in _import_statements(path, package_dir):
        if base is not None:
            found.add(base)
        found.update(names)
    return found


def _layer_files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).glob("*.py"))


def _import_graph(package_dir: Path = PACKAGE) -> dict[str, set[str]]:
    """Which of the package's modules each of its modules imports, at the top or inside functions.

    ``from pkg import sub`` is an edge to the module ``pkg.sub`` alone, not
    to ``pkg/__init__.py``, and importing ``pkg.sub`` is not counted as
    importing its parent packages: a package's ``__init__`` that re-exports
    its submodules is then no cycle.  ``from pkg import name`` of anything
    that is not a module is an edge to ``pkg`` (its ``__init__``).
    """
    paths = {_module_name(path, package_dir): path for path in sorted(package_dir.rglob("*.py"))}

    def owner(name: str) -> str | None:  # the longest prefix of ``name`` that is one of the modules
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in paths:
                return ".".join(parts[:end])
        return None

    graph = {}
    for module, path in paths.items():
        targets = set()
        for base, names in _import_statements(path, package_dir):
            modules = [name for name in names if name in paths]
            targets.update(modules)
            if base is None:
                targets.update(owner(name) for name in names if name not in paths)
            elif len(modules) < len(names):
                targets.add(owner(base))
        graph[module] = targets - {None}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle ``[a, b, ..., a]`` through each strongly connected component of ``graph`` that has one."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []

    def visit(node):  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = []
    for component in components:
        start = min(component)
        if len(component) == 1 and start not in graph.get(start, ()):
            continue
        previous, frontier = {}, [start]  # the shortest way back to start, inside the component
        while start not in previous:
            following = []
            for node in frontier:
                for target in sorted(graph[node] & component):
                    if target not in previous:
                        previous[target] = node
                        following.append(target)
            frontier = following
        path = [start]
        while path[-1] != start or len(path) == 1:
            path.append(previous[path[-1]])
        cycles.append(path[::-1])
    return sorted(cycles)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_no_layer_above_it(layer):
    above = {f"autoencoder.{name}" for name in LAYERS[LAYERS.index(layer) + 1 :]}
    files = _layer_files(layer)
    assert files
    upward = [
        f"{path.name}: {name}"
        for path in files
        for name in _imports(path)
        if any(name == a or name.startswith(a + ".") for a in above)
    ]
    assert upward == []


def test_the_library_imports_numpy_and_scipy_only():
    outside = set()
    for path in _layer_files("core"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != "autoencoder" and top not in CORE_LIBRARIES:
                outside.add(f"{path.name}: {name}")
            if name.startswith("autoencoder.") and not name.startswith("autoencoder.core"):
                outside.add(f"{path.name}: {name}")
    assert outside == set()


def test_the_check_sees_an_upward_import(tmp_path):
    source = tmp_path / "autoencoder" / "core" / "bad.py"
    source.parent.mkdir(parents=True)
    source.write_text("import numpy\n\n\ndef f():\n    from ..book import plotting\n", encoding="utf-8")
    assert _imports(source, tmp_path / "autoencoder") == {"numpy", "autoencoder.book", "autoencoder.book.plotting"}


def test_no_module_of_the_package_imports_itself_back():
    graph = _import_graph()
    assert "autoencoder.core.model" in graph and graph["autoencoder.core.model"]
    cycles = [" -> ".join(cycle) for cycle in _cycles(graph)]
    assert cycles == [], "import cycles: " + "; ".join(cycles)


def test_the_check_sees_a_cycle_through_a_function_level_import(tmp_path):
    package = tmp_path / "autoencoder"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("from .core.a import f\n", encoding="utf-8")
    (package / "core" / "__init__.py").write_text("from . import a, b\n", encoding="utf-8")
    (package / "core" / "a.py").write_text("from . import b\n\n\ndef f():\n    return b\n", encoding="utf-8")
    (package / "core" / "b.py").write_text("import numpy\n", encoding="utf-8")
    graph = _import_graph(package)
    assert graph == {
        "autoencoder": {"autoencoder.core.a"},
        "autoencoder.core": {"autoencoder.core.a", "autoencoder.core.b"},
        "autoencoder.core.a": {"autoencoder.core.b"},
        "autoencoder.core.b": set(),
    }
    assert _cycles(graph) == []  # a package's __init__ importing its submodules is no cycle
    (package / "core" / "b.py").write_text("def g():\n    from .a import f\n\n    return f\n", encoding="utf-8")
    assert _cycles(_import_graph(package)) == [["autoencoder.core.a", "autoencoder.core.b", "autoencoder.core.a"]]
