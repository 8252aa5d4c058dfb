"""The package's layers import one way: core <- datasets <- experiments <- book."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "autoencoder"
LAYERS = ["core", "datasets", "experiments", "book"]
CORE_LIBRARIES = {"numpy", "scipy", "threadpoolctl"}


def _imports(path: Path, package_dir: Path = PACKAGE) -> set[str]:
    """Absolute names of everything ``path`` imports, at the top or inside functions."""
    module = ".".join(path.relative_to(package_dir.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # the names may be modules
    return found


def _layer_files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).glob("*.py"))


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
