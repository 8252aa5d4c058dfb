"""Progress reports: off for kept outputs, a bar where a reader looks, parseable lines in the progress file."""

import io
import json

import numpy as np
import pytest

from autoencoder import Autoencoder
from autoencoder.experiments import progress
from autoencoder.experiments.progress import ENV_FILE, ENV_MODE, describe, fit_progress, read_record, task_progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def quiet_env(monkeypatch):
    """No progress variable set, bars drawn at once and on every update."""
    monkeypatch.delenv(ENV_MODE, raising=False)
    monkeypatch.delenv(ENV_FILE, raising=False)
    monkeypatch.setattr(progress, "BAR_DELAY", 0)
    monkeypatch.setattr(progress, "BAR_INTERVAL", 0)
    return monkeypatch


def fake_terminal(monkeypatch):
    """Make sys.stderr a terminal; called in the test itself (pytest's capture resets it between phases)."""
    stderr = FakeTerminal()
    monkeypatch.setattr("sys.stderr", stderr)
    return stderr


def train(unit_data, callback, max_iter=6):
    model = Autoencoder(3, rho=0.1, beta=3.0, weight_decay=1e-3)
    return model.fit(unit_data, max_iter=max_iter, seed=0, callback=callback, tol=0.0)


def test_off_under_the_variable_even_in_a_terminal(quiet_env, unit_data):
    terminal = fake_terminal(quiet_env)
    for value in ("0", "off", "False", " no "):
        assert progress.show_bar({ENV_MODE: value}) is False
    quiet_env.setenv(ENV_MODE, "0")
    with fit_progress("sigmoid + KL", 6) as callback:
        assert callback is None
        train(unit_data, callback)
    with task_progress("grid", 4) as advance:
        advance(2)
    assert terminal.getvalue() == ""


def test_auto_in_a_terminal_shows_iterations_and_j(quiet_env, unit_data):
    terminal = fake_terminal(quiet_env)
    with fit_progress("sigmoid + KL", 6) as callback:
        assert callback is not None
        result = train(unit_data, callback)
    shown = terminal.getvalue()
    assert "sigmoid + KL" in shown
    assert f"{result.n_iter}/6" in shown and "1/6" in shown
    assert f"J={result.history['total'][-1]:.4g}" in shown


def test_auto_without_a_terminal_or_jupyter_is_off(quiet_env, unit_data, capsys):
    with fit_progress(None, 6) as callback:
        assert callback is None
    assert capsys.readouterr().err == ""


def test_forced_on_without_a_terminal(quiet_env, unit_data, capsys):
    quiet_env.setenv(ENV_MODE, "1")
    with fit_progress(None, 6) as callback:
        result = train(unit_data, callback)
    err = capsys.readouterr().err
    assert f"{result.n_iter}/6" in err


def test_an_unknown_mode_is_refused_by_name(quiet_env):
    quiet_env.setenv(ENV_MODE, "sometimes")
    with pytest.raises(ValueError, match=r"AUTOENCODER_PROGRESS must be one of auto, 0 or 1.*'sometimes'"):
        with fit_progress("x", 5):
            pass


def test_max_iter_is_checked_by_name(quiet_env):
    with pytest.raises(ValueError, match="max_iter must be an integer >= 0"):
        with fit_progress("x", "abc"):
            pass


def lines_of(path):
    return [read_record(line) for line in path.read_text().splitlines()]


def test_the_file_gets_one_parseable_line_per_update(quiet_env, tmp_path, unit_data, capsys):
    path = tmp_path / "progress.jsonl"
    quiet_env.setenv(ENV_MODE, "0")
    quiet_env.setenv(ENV_FILE, str(path))
    quiet_env.setattr(progress, "FILE_INTERVAL", 0)
    with fit_progress("sigmoid + KL", 6) as callback:
        result = train(unit_data, callback)
    records = lines_of(path)
    assert [r["done"] for r in records] == list(range(1, result.n_iter + 1))
    assert all(r["description"] == "sigmoid + KL" and r["unit"] == "iteration" and r["total"] == 6 for r in records)
    np.testing.assert_allclose([r["J"] for r in records], result.history["total"][1:])
    assert capsys.readouterr().err == ""  # the file is the only channel


def test_file_lines_are_throttled_but_the_last_is_written(quiet_env, tmp_path, unit_data):
    path = tmp_path / "progress.jsonl"
    quiet_env.setenv(ENV_MODE, "0")
    quiet_env.setenv(ENV_FILE, str(path))
    quiet_env.setattr(progress, "FILE_INTERVAL", 3600)
    with fit_progress(None, 6) as callback:
        result = train(unit_data, callback)
    records = lines_of(path)
    assert [r["done"] for r in records] == [1, result.n_iter]
    assert records[0]["description"] == ""


def test_task_progress_counts_into_the_file(quiet_env, tmp_path):
    path = tmp_path / "progress.jsonl"
    quiet_env.setenv(ENV_FILE, str(path))
    quiet_env.setattr(progress, "FILE_INTERVAL", 0)
    with task_progress("grid of 2 x 2 (ρ, β)", 3, unit="trainings") as advance:
        for done in (1, 3):
            advance(done)
    records = lines_of(path)
    assert [(r["done"], r["total"], r["unit"], r["J"]) for r in records] == [
        (1, 3, "trainings", None),
        (3, 3, "trainings", None),
    ]
    assert describe(records[-1]) == "grid of 2 x 2 (ρ, β) trainings 3/3"


@pytest.mark.parametrize(
    "line",
    [
        '{"description": "a", "unit": "iteration", "done": 3',
        "",
        "[1, 2]",
        '{"description": "a", "done": 1}',
        '{"description": "a", "unit": "iteration", "done": "3", "total": 4, "J": null}',
        '{"description": "a", "unit": "iteration", "done": 3, "total": 4, "J": "big"}',
    ],
)
def test_read_record_refuses_what_is_not_a_report(line):
    assert read_record(line) is None


def test_describe_words_a_report():
    record = {"description": "sigmoid + KL", "unit": "iteration", "done": 40, "total": 400, "J": 12.8123}
    assert read_record(json.dumps(record)) == record
    assert describe(record) == "sigmoid + KL iteration 40/400 J=12.81"
    assert describe({**record, "description": "", "J": None}) == "training iteration 40/400"
