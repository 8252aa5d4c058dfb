"""Choosing how exactly nbval compares the committed outputs: exact numbers on the same numerics only."""

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

from autoencoder.book.tables import text_table
from autoencoder.experiments import cache

ROOT = Path(__file__).resolve().parents[1]


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def notebooks(tmp_path):
    paths = []
    for name in ("01_a.ipynb", "02_b.ipynb"):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("print(1.25)")]
        nbformat.write(nb, tmp_path / name)
        paths.append(tmp_path / name)
    return paths


def test_recorded_numerics_select_exact_or_portable_comparison(notebooks):
    choose, record = _script("nbval_sanitize"), _script("record_environment")
    here = cache.numerics()
    chosen, reason = choose.choose(notebooks, here)
    assert chosen == choose.PORTABLE and "record no numerics" in reason
    for path in notebooks:
        record.record(path, here, {"kernel": here["kernel"]})
    assert nbformat.read(notebooks[0], as_version=4).metadata["autoencoder"]["numerics"] == here
    assert choose.choose(notebooks, here)[0] == choose.EXACT
    elsewhere = {**here, "kernel": "Haswell" if here["kernel"] != "Haswell" else "SkylakeX"}
    chosen, reason = choose.choose(notebooks, elsewhere)
    assert chosen == choose.PORTABLE and elsewhere["kernel"] in reason and here["kernel"] in reason
    record.record(notebooks[1], {**here, "version": here["version"] - 1}, {})
    assert choose.choose(notebooks, here)[0] == choose.PORTABLE  # one stale notebook is enough


def _sanitize(config: Path, text: str) -> str:
    for regex, replace in get_sanitize_patterns(config.read_text()):
        text = re.sub(regex, replace, text)
    return text


def test_portable_rules_mask_every_number_and_exact_rules_only_timings():
    choose = _script("nbval_sanitize")
    line = "total: 12.1105  (start 316.1305), 417 evaluations, took 84.2 s, +2.8%, 1e-05, rho = 0.1"
    assert _sanitize(choose.EXACT, line) == line.replace("84.2 s", "<TIME>")
    assert _sanitize(choose.PORTABLE, line) == (
        "total: <N> (start <N>), <N> evaluations, took <TIME>, <N>, <N>, rho = <N>"
    )
    other = line.replace("12.1105", "12.1133").replace("417", "420")
    assert _sanitize(choose.PORTABLE, other) == _sanitize(choose.PORTABLE, line)
    assert _sanitize(choose.EXACT, other) != _sanitize(choose.EXACT, line)


def test_portable_rules_ignore_a_column_that_a_wider_number_shifts():
    choose = _script("nbval_sanitize")
    here = text_table([["β", "J", "angle"], ["0", "3.611", "5.3°"], ["300", "12.719", "89.7°"]])
    there = text_table([["β", "J", "angle"], ["0", "3.611", "5.3°"], ["300", "9.719", "89.7°"]])
    indented = "\n".join("  " + line for line in there.splitlines())
    assert here != there
    assert _sanitize(choose.PORTABLE, there) == _sanitize(choose.PORTABLE, here)
    assert _sanitize(choose.PORTABLE, indented) == _sanitize(choose.PORTABLE, here)
    # Words still count: a changed header is a difference.
    renamed = here.replace("angle", "angles")
    assert _sanitize(choose.PORTABLE, renamed) != _sanitize(choose.PORTABLE, here)
    assert _sanitize(choose.EXACT, there) != _sanitize(choose.EXACT, here)


@pytest.mark.parametrize("kind", ["png", "jpeg", "svg+xml"])
def test_both_rules_ignore_embedded_images_whatever_their_bytes(kind):
    choose = _script("nbval_sanitize")
    # Base64 text can hold what the timing and number rules match ("12s", "0x9f"); the image
    # rule runs first, so no later rule cuts an image in two.
    page = '<img src="data:image/{kind};base64,{data}" alt="mosaic"><td>0.92</td>'
    one = page.format(kind=kind, data="iVBORw0KGgo12s3min4AAAAN0x9fSUhE+/ab==")
    other = page.format(kind=kind, data="iVBORw0KGgoAAA7ms9QQ+/Zz1e5Rr")
    for rules in (choose.EXACT, choose.PORTABLE):
        assert _sanitize(rules, one) == _sanitize(rules, other)
        assert "base64" not in _sanitize(rules, one)
    # The text around the image is still compared.
    assert _sanitize(choose.PORTABLE, one) != _sanitize(choose.PORTABLE, one.replace("mosaic", "grid"))
    assert _sanitize(choose.EXACT, one) != _sanitize(choose.EXACT, one.replace("0.92", "0.93"))
