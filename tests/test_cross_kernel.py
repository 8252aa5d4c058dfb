"""The cross-kernel measurement's own logic (the measurement itself runs by `make cross-kernel`, not here)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("cross_kernel", ROOT / "scripts" / "cross_kernel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("closing", "expected"),
    [
        ("12 passed in 40.1s", {"passed": 12, "failed": 0, "error": 0}),
        ("1 failed, 11 passed in 41.0s", {"passed": 11, "failed": 1, "error": 0}),
        ("2 failed, 9 passed, 1 error in 3.2s", {"passed": 9, "failed": 2, "error": 1}),
        ("no tests ran in 0.1s", {"passed": 0, "failed": 0, "error": 0}),
    ],
)
def test_counts_read_pytests_closing_line(closing, expected):
    assert _script().counts(f"....F.\n{closing}\n") == expected


def test_a_missing_notebook_is_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        _script().main([str(tmp_path / "99_nothing.ipynb")])
    assert stop.value.code == 2
    assert "no such notebook" in capsys.readouterr().err


def test_the_measurement_compares_with_the_portable_rules():
    script = _script()
    assert script.PORTABLE.is_file()
    assert "numbers" in script.PORTABLE.read_text()
