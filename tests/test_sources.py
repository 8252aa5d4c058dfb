"""The book's text sources hold no control characters.

A backslash sequence written through a string that interprets escapes turns
``\\rho`` into a carriage return and ``\\beta`` into a backspace; the page
then breaks a formula (and a table row) where nobody sees it in the source.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
TEXTS = sorted(
    [*ROOT.glob("book/*.md"), *ROOT.glob("notebooks/*.ipynb"), ROOT / "README.md", ROOT / "BENCHMARKS.md"]
)


def control_characters(text: str) -> list[str]:
    """``repr`` of each control character in ``text`` but the newline and the tab, with its context."""
    return [repr(text[max(0, m.start() - 20) : m.end() + 20]) for m in CONTROL.finditer(text)]


def test_the_check_finds_an_interpreted_escape():
    assert control_characters("a $\rho$ and $\beta$") != []
    assert control_characters("a $\\rho$ and $\\beta$\n\tok") == []


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: p.name)
def test_no_control_characters(path):
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(cell["source"]) for cell in cells)
    else:
        text = path.read_text(encoding="utf-8")
    assert control_characters(text) == [], f"{path.relative_to(ROOT)}: control characters"
