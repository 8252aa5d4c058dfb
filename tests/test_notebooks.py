"""Every chapter runs under papermill with small parameters (the committed outputs are checked by nbval)."""

import ast
import html
import json
import os
import re
from pathlib import Path

import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPLORER = ROOT / "notebooks" / "07_explore_rho_beta.ipynb"
FEATURES_WORTH = ROOT / "notebooks" / "08_features_worth.ipynb"
THEN_AND_NOW = ROOT / "notebooks" / "09_then_and_now.ipynb"
STROKES = ROOT / "notebooks" / "11_what_makes_the_strokes.ipynb"
SHARED_KNOBS = ("n_train", "n_hidden", "rho", "beta", "weight_decay", "max_iter", "seed")
# What a reader types to run every chapter small: -p n_train 600 -p max_iter 12 -p rho 0.05 -p beta 1.0
# (beta = 1 is not a value of chapter 7's grid), and nothing else: the sizes of one chapter follow these
# unless given (chapters 2 and 3 train their converged networks on 6 x n_train images for up to
# max_iter^2 / 8 iterations, chapter 8 probes 3.06 x n_train labeled images).
SMALL = {"n_train": 600, "max_iter": 12, "rho": 0.05, "beta": 1.0}


def parameters_cell(path):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cell"
    return code[0]


def knob_names(path):
    tree = ast.parse("".join(parameters_cell(path)["source"]))
    return [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]


def run_chapter(path, output, parameters):
    """Execute ``path`` with papermill into ``output`` (models cached next to it, no progress bar); return its JSON."""
    env = {"AUTOENCODER_CACHE_DIR": str(output.parent / "models"), "MPLBACKEND": "Agg", "AUTOENCODER_PROGRESS": "0"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        papermill.execute_notebook(
            str(path),
            str(output),
            parameters=parameters,
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
    return json.loads(output.read_text())


def errors_of(nb):
    return [
        o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o["output_type"] == "error"
    ]


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_knob_is_checked_right_after_the_parameters(path):
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    tree = ast.parse("\n".join(line for line in "".join(cells[1]["source"]).splitlines() if not line.startswith("%")))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check_knobs"
    ]
    assert len(calls) == 1, f"{path.name}: the cell after the parameters does not call check_knobs once"
    passed = {k.arg: k.value.id for k in calls[0].keywords if k.arg not in ("relations", "follow")}
    assert passed == {name: name for name in knob_names(path)}, f"{path.name}: check_knobs does not get every knob"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_runs_with_small_parameters(path, tmp_path):
    params = {k: v for k, v in SMALL.items() if k in knob_names(path)}
    out = run_chapter(path, tmp_path / path.name, params)
    assert not errors_of(out)


def explorer_shown(nb):
    """``(data-rho, data-beta, rho labels, beta labels)`` of the first slider explorer in the outputs."""
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            page = "".join(output.get("data", {}).get("text/html", ""))
            if 'class="rho-beta-explorer"' in page:
                shown = re.search(r'data-rho="([^"]*)" data-beta="([^"]*)"', page).groups()
                data = re.search(r'<script type="application/json" class="explorer-data"[^>]*>(.*?)</script>', page)
                payload = json.loads(html.unescape(data.group(1)))
                return (*shown, payload["rho_labels"], payload["beta_labels"])
    raise AssertionError("no slider explorer in the outputs")


def widget_sliders(nb):
    """``{description: label of its value}`` of the SelectionSliders in the stored widget state."""
    state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    sliders = [m["state"] for m in state.values() if m["model_name"] == "SelectionSliderModel"]
    return {s["description"]: s["_options_labels"][s["index"]] for s in sliders}


@pytest.mark.slow
def test_explorer_opens_at_a_point_outside_the_grid(tmp_path):
    # A valid rho and beta are never refused: the point is trained and the explorer opens there.
    params = {"n_train": 600, "max_iter": 12, "rho": 0.07, "beta": 1.0}
    params |= {"rho_values": "[0.05, 0.2]", "beta_values": [0.0, 3.0]}  # text, as papermill -p passes a list
    out = run_chapter(EXPLORER, tmp_path / EXPLORER.name, params)
    assert not errors_of(out)
    rho, beta, rho_labels, beta_labels = explorer_shown(out)
    assert (rho, beta) == ("0.07", "1")
    assert (rho_labels, beta_labels) == (["0.05", "0.07", "0.2"], ["0", "1", "3"])
    assert widget_sliders(out) == {"ρ": "0.07", "β": "1"}


def bad_knob(path):
    """One bad value of a knob the chapter has, and the start of the message expected."""
    names = knob_names(path)
    if "max_iter" in names:
        return {"max_iter": "abc"}, "max_iter must be an integer >= 1; got 'abc'"
    return {"n_hidden": 0}, "n_hidden must be an integer >= 1; got 0"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_bad_knob_is_refused_under_its_name(path, tmp_path):
    params, message = bad_knob(path)
    with pytest.raises(PapermillExecutionError) as error:
        run_chapter(path, tmp_path / path.name, params)
    assert error.value.ename == "ValueError"
    assert message in error.value.evalue
    # Refused in the check right after the parameters, before any work.
    assert "check_knobs" in error.value.source


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        (NOTEBOOKS[0], {"n_train": 0}, "n_train must be an integer in [1, 60000]; got 0"),
        (NOTEBOOKS[0], {"n_show": 20, "n_test": 10}, "n_show must be at most n_test = 10"),
        (EXPLORER, {"rho": 1.5}, "rho must lie in (0, 1); got 1.5"),
        (EXPLORER, {"beta_values": "[0, -3]"}, "beta_values[1] must lie in [0, inf]; got -3.0"),
        (FEATURES_WORTH, {"n_train": 29_405}, "n_train must be at most 29404 in this chapter"),
        (FEATURES_WORTH, {"probe_weight_decay": -1}, "probe_weight_decay must lie in [0, inf]; got -1"),
        (FEATURES_WORTH, {"labels_per_class": "[100, 2.5]"}, "labels_per_class[1] must be an integer >= 1; got '2.5'"),
        (FEATURES_WORTH, {"labels_per_class": "[100, 5000]"}, "labels_per_class[1] must be at most 2336"),
        (FEATURES_WORTH, {"untrained_scale": 0}, "untrained_scale must lie in (0, inf]; got 0"),
        (THEN_AND_NOW, {"k_values": "[5, 2000]"}, "k_values[1] must be an integer in [1, 1024]; got 2000"),
        (THEN_AND_NOW, {"l0_values": "[0, 10]"}, "l0_values[0] must lie in (0, inf]; got 0.0"),
        (STROKES, {"seeds": "[0]"}, "seeds and published_seeds need at least 2 seeds each"),
        (STROKES, {"published_seeds": "[0, 0]"}, "published_seeds must hold distinct numbers"),
    ],
    ids=[
        "n_train",
        "n_show",
        "rho",
        "beta_values",
        "n_unlabeled",
        "probe_weight_decay",
        "labels_int",
        "labels_max",
        "untrained_scale",
        "k_values",
        "l0_values",
        "seeds",
        "published_seeds",
    ],
)
def test_chapter_specific_refusals(path, params, message, tmp_path):
    with pytest.raises(PapermillExecutionError) as error:
        run_chapter(path, tmp_path / path.name, params)
    assert message in error.value.evalue
