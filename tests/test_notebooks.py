"""Every chapter runs under papermill with small parameters (the committed outputs are checked by nbval)."""

import ast
import json
import os
from pathlib import Path

import papermill
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SHARED_KNOBS = ("n_train", "n_hidden", "rho", "beta", "weight_decay", "max_iter", "seed")
SMALL = {"n_train": 600, "max_iter": 12}


def parameters_cell(path):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cell"
    return code[0]


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_holds_the_parameters(path):
    cell = parameters_cell(path)
    assert "parameters" in cell.get("metadata", {}).get("tags", []), f"{path.name}: first code cell not tagged"
    tree = ast.parse("".join(cell["source"]))
    names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
    # Each knob is a plain literal assignment, so papermill can override it.
    for node in tree.body:
        assert isinstance(node, ast.Assign), f"{path.name}: parameters cell holds more than assignments"
        ast.literal_eval(node.value)
    assert {"n_train", "max_iter", "seed"} & names, f"{path.name}: no shared knob"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_shared_knobs_keep_their_names(path):
    source = "".join(parameters_cell(path)["source"])
    tree = ast.parse(source)
    names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
    near_misses = {"ntrain", "m_train", "hidden", "n_hid", "lam", "lambda_", "sparsity_weight", "iters", "maxiter"}
    assert not names & near_misses, f"{path.name} uses {names & near_misses}; use {SHARED_KNOBS}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_runs_with_small_parameters(path, tmp_path):
    cell = parameters_cell(path)
    tree = ast.parse("".join(cell["source"]))
    names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}
    params = {k: v for k, v in SMALL.items() if k in names}
    env = {"AUTOENCODER_CACHE_DIR": str(tmp_path / "models"), "MPLBACKEND": "Agg"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        papermill.execute_notebook(
            str(path),
            str(tmp_path / path.name),
            parameters=params,
            cwd=str(path.parent),
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=600,
        )
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out = json.loads((tmp_path / path.name).read_text())
    errors = [
        o for c in out["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert not errors
