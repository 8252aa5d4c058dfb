"""The book build script: parameter validation, failing cells named, reuse of unchanged runs, progress shown."""

import importlib.util
import json
import os
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def build(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "scripts" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    notebooks, generated = tmp_path / "notebooks", tmp_path / "generated"
    notebooks.mkdir()
    generated.mkdir()
    monkeypatch.setattr(module, "NOTEBOOKS", notebooks)
    monkeypatch.setattr(module, "GENERATED", generated)
    monkeypatch.setattr(module, "PARAMETERS_FILE", tmp_path / "parameters.yml")
    monkeypatch.setattr(module, "relative", str)
    return module


def write_notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("n_train = 10  # examples\nscale = 2.0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), params, *map(nbformat.v4.new_code_cell, cells)]
    nbformat.write(nb, path)


def test_unknown_parameter_is_refused_with_the_names(build):
    write_notebook(build.NOTEBOOKS / "01_a.ipynb", "print(n_train)")
    (build.PARAMETERS_FILE).write_text("01_a.ipynb:\n  n_trian: 5\n")
    runs = build.load_parameters(build.PARAMETERS_FILE)
    with pytest.raises(build.BuildError, match=r"sets \['n_trian'\] for 01_a.ipynb.*\['n_train', 'scale'\]"):
        build.parameters_of("01_a.ipynb", runs["01_a.ipynb"])


def test_missing_notebook_is_named(build):
    (build.PARAMETERS_FILE).write_text("02_missing.ipynb: {}\n")
    with pytest.raises(build.BuildError, match="notebooks/02_missing.ipynb"):
        build.load_parameters(build.PARAMETERS_FILE)


@pytest.mark.slow
def test_failing_cell_is_named_and_unchanged_runs_are_reused(build, capsys):
    write_notebook(build.NOTEBOOKS / "01_ok.ipynb", "print(n_train * scale)")
    write_notebook(build.NOTEBOOKS / "02_bad.ipynb", "x = n_train\n1 / 0  # breaks")
    build.execute("01_ok.ipynb", {"n_train": 3}, "[1/2]", force=False)
    executed = nbformat.read(build.GENERATED / "01_ok.ipynb", as_version=4)
    assert "6.0" in "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    # The parameters cells are hidden and a note lists the values the page ran with.
    assert any("n_train" in c.source and c.cell_type == "markdown" for c in executed.cells)
    build.execute("01_ok.ipynb", {"n_train": 3}, "[1/2]", force=False)
    assert "unchanged, reusing" in capsys.readouterr().out
    with pytest.raises(build.BuildError) as err:
        build.execute("02_bad.ipynb", {}, "[2/2]", force=False)
    message = str(err.value)
    assert "notebooks/02_bad.ipynb failed in cell 2" in message
    assert "'x = n_train'" in message and "ZeroDivisionError" in message
    assert not (build.GENERATED / "02_bad.ipynb.sha256").exists()


def test_note_and_environment_table_say_what_the_run_used(build, tmp_path):
    from autoencoder.experiments import environment

    note = build.parameters_note({"n_train": "3"}, set(), environment.summary())
    env = environment.describe()
    for value in (env["numpy"], env["scipy"], env["python"], env["kernel"], f"{env['cores']} cores"):
        assert str(value) in note
    build.write_environment(tmp_path / "environment.md")
    table = (tmp_path / "environment.md").read_text()
    assert table.startswith("| | this build |\n|---|---|\n")
    assert f"| NumPy | {env['numpy']} |" in table and f"| evaluation workers | {env['workers']} |" in table


def test_stamp_changes_with_the_blas_kernel(build, monkeypatch):
    write_notebook(build.NOTEBOOKS / "01_a.ipynb", "print(n_train)")
    before = build.stamp("01_a.ipynb", {})
    real = build.cache.numerics
    other = "SkylakeX" if real()["kernel"] == "Haswell" else "Haswell"
    monkeypatch.setattr(build.cache, "numerics", lambda: {**real(), "kernel": other})
    assert build.stamp("01_a.ipynb", {}) != before


def report(done, total=10, description="sigmoid + KL, p = 49", J=1.5):
    return json.dumps({"description": description, "unit": "iteration", "done": done, "total": total, "J": J}) + "\n"


def test_progress_tail_returns_the_latest_complete_report(build, tmp_path):
    path = tmp_path / "progress.jsonl"
    tail = build.ProgressTail(path)
    assert tail.latest() is None  # no file yet
    path.write_text(report(1) + report(2) + report(3)[:20])
    assert tail.latest()["done"] == 2  # the cut line is kept for the next look
    assert tail.latest() is None
    with path.open("a") as file:
        file.write(report(3)[20:] + "not a report\n")
    assert tail.latest()["done"] == 3


def test_status_line_names_the_chapter_and_the_training(build):
    record = json.loads(report(40, total=400, J=12.8123))
    line = build.status_line("chapter 1/7", "01_sparse_autoencoder.ipynb", record)
    assert line == "chapter 1/7 01_sparse_autoencoder — sigmoid + KL, p = 49 iteration 40/400 J=12.81"


def test_training_progress_switches_the_kernel_bar_off_and_shows_the_reports(build, monkeypatch, capsys):
    monkeypatch.setattr(build, "POLL_INTERVAL", 0.01)
    monkeypatch.setattr(build, "STATUS_PERIOD", 0)
    monkeypatch.setenv(build.ENV_MODE, "1")
    monkeypatch.delenv(build.ENV_FILE, raising=False)
    with build.training_progress("chapter 2/7", "02_pca_equivalence.ipynb"):
        assert os.environ[build.ENV_MODE] == "0"
        path = Path(os.environ[build.ENV_FILE])
        path.write_text(report(3))
        time.sleep(0.2)
    assert os.environ[build.ENV_MODE] == "1" and build.ENV_FILE not in os.environ
    assert not path.exists()
    shown = capsys.readouterr().out.splitlines()
    assert shown == ["chapter 2/7 02_pca_equivalence — sigmoid + KL, p = 49 iteration 3/10 J=1.5"]


def test_plain_status_lines_are_periodic(build, monkeypatch, capsys):
    monkeypatch.setattr(build, "STATUS_PERIOD", 3600)
    status = build.StatusLine(terminal=False)
    for text in ("first", "second", "third"):
        status.show(text)
    status.close()
    assert capsys.readouterr().out == "first\n"


@pytest.mark.slow
def test_a_chapter_training_is_shown_by_name_and_not_in_its_outputs(build, monkeypatch, capsys):
    monkeypatch.setattr(build, "POLL_INTERVAL", 0.05)
    monkeypatch.setattr(build, "STATUS_PERIOD", 0)
    monkeypatch.setenv(build.ENV_MODE, "1")  # what a reader's shell may hold; the build overrides it
    training = (
        "import time\n"
        "from autoencoder.experiments.progress import fit_progress\n"
        "with fit_progress('toy network', 4) as callback:\n"
        "    for i in range(1, 5):\n"
        "        callback(i, None, {'total': 1.0 / i})\n"
        "        time.sleep(0.4)\n"
        "print('trained')"
    )
    write_notebook(build.NOTEBOOKS / "01_toy.ipynb", training)
    build.execute("01_toy.ipynb", {}, "chapter 1/1", force=True)
    shown = capsys.readouterr().out
    assert "chapter 1/1 01_toy — toy network iteration 4/4 J=0.25" in shown
    executed = nbformat.read(build.GENERATED / "01_toy.ipynb", as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert [o.get("text") for o in outputs] == ["trained\n"]


def test_stamp_follows_the_cells_not_their_outputs(build):
    path = build.NOTEBOOKS / "01_a.ipynb"
    write_notebook(path, "print(n_train)")
    before = build.stamp("01_a.ipynb", {})
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="3\n")]
    nb.cells[-1].execution_count = 7
    nb.metadata["autoencoder"] = {"numerics": {"kernel": "Haswell"}}
    nbformat.write(nb, path)
    assert build.stamp("01_a.ipynb", {}) == before  # what `make notebooks` rewrites
    nb.cells[-1].source = "print(n_train + 1)"
    nbformat.write(nb, path)
    changed = build.stamp("01_a.ipynb", {})
    assert changed != before
    nb.cells[-1].metadata["tags"] = ["hide-input"]
    nbformat.write(nb, path)
    assert build.stamp("01_a.ipynb", {}) != changed


# -- how busy the cores were --------------------------------------------------------------------


def test_core_use_weighs_intervals_and_counts_those_with_every_core_busy(build):
    # Two cores, three intervals of 100, 100 and 200 jiffies: busy 200 (all), 100 (half), 190 (95 %).
    samples = [(0, 0, 2), (200, 200, 2), (300, 400, 2), (680, 800, 2)]
    mean, share = build.core_use(samples)
    assert mean == pytest.approx(2 * 680 / 800)
    assert share == pytest.approx((200 + 400) / 800)  # the first and the last interval
    assert build.core_use(samples[:1]) is None
    assert build.core_use([(5, 10, 2), (5, 10, 2)]) is None


def test_cpu_times_are_read_from_proc_stat_and_missing_ones_are_none(build, tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\ncpu1 50 3 25 400 10 2 1 0 0 0\nintr 1\n",
        encoding="ascii",
    )
    assert build.read_cpu_times(stat) == (100 + 5 + 50 + 3 + 2, 980, 2)
    assert build.read_cpu_times(tmp_path / "absent") is None


def test_a_chapter_line_says_how_busy_the_cores_were(build, capsys, monkeypatch):
    readings = iter([(0, 0, 2), (190, 200, 2)])
    monkeypatch.setattr(build, "read_cpu_times", lambda: next(readings))
    monkeypatch.setattr(build, "CORE_SAMPLE_PERIOD", 3600.0)  # only the readings at the start and at the end
    write_notebook(build.NOTEBOOKS / "01_ok.ipynb", "print(n_train)")
    build.execute("01_ok.ipynb", {}, "chapter 1/1", force=True)
    line = [x for x in capsys.readouterr().out.splitlines() if "done in" in x][0]
    assert line.endswith(", 1.9 cores busy on average, all 2 busy 100 % of the time"), line
