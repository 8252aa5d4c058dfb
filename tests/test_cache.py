"""The trained-model cache: hits, keys, atomic writes and damaged entries."""

import numpy as np
import pytest

from autoencoder import Autoencoder
from autoencoder.experiments import cache as cache_mod
from autoencoder.experiments import model_store
from autoencoder.experiments.cache import cache_key, fit_cached


def test_second_call_reads_the_stored_result(unit_data, tmp_path, monkeypatch):
    model = Autoencoder(3)
    first = fit_cached(model, unit_data, max_iter=5, directory=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(Autoencoder, "_fit", no_training)
    second = fit_cached(model, unit_data, max_iter=5, directory=tmp_path)
    np.testing.assert_array_equal(first.params.flat, second.params.flat)
    for k in first.history:
        np.testing.assert_array_equal(first.history[k], second.history[k])
    assert (second.n_iter, second.n_evals, second.message) == (first.n_iter, first.n_evals, first.message)


def test_key_changes_with_every_ingredient(unit_data):
    base = {"max_iter": 5, "seed": 0, "tol": 1e-12}
    model = Autoencoder(3)
    key = cache_key(model, unit_data, **base)
    assert key == cache_key(Autoencoder(3), unit_data.copy(), **base)
    others = [
        cache_key(Autoencoder(3, beta=2.0), unit_data, **base),
        cache_key(Autoencoder(4), unit_data, **base),
        cache_key(model, unit_data[:-1], **base),
        cache_key(model, unit_data.astype(np.float32), **base),
        cache_key(model, unit_data, **{**base, "max_iter": 6}),
        cache_key(model, unit_data, **{**base, "seed": 1}),
        cache_key(model, unit_data, **base, params=model.init_params(6)),
    ]
    assert len({key, *others}) == len(others) + 1


def test_damaged_entry_is_dropped_and_retrained(unit_data, tmp_path):
    model = Autoencoder(3)
    first = fit_cached(model, unit_data, max_iter=5, directory=tmp_path)
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:100])
    with pytest.warns(UserWarning, match="dropping unreadable cache entry"):
        again = fit_cached(model, unit_data, max_iter=5, directory=tmp_path)
    np.testing.assert_array_equal(first.params.flat, again.params.flat)
    assert cache_mod.load_result(entry).n_iter == first.n_iter


def test_failed_write_leaves_nothing_behind(unit_data, tmp_path, monkeypatch):
    model = Autoencoder(3)
    result = model.fit(unit_data, max_iter=2)

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        cache_mod.save_result(tmp_path / "x.npz", result)
    assert list(tmp_path.iterdir()) == []


def test_cache_directory_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOENCODER_CACHE_DIR", str(tmp_path / "models"))
    assert cache_mod.cache_dir() == tmp_path / "models"


def test_key_changes_with_the_numerics(unit_data, monkeypatch):
    base = {"max_iter": 5, "seed": 0, "tol": 1e-12}
    key = cache_key(Autoencoder(3), unit_data, **base)
    monkeypatch.setattr(model_store, "NUMERICS_VERSION", model_store.NUMERICS_VERSION + 1)
    bumped = cache_key(Autoencoder(3), unit_data, **base)
    monkeypatch.undo()
    real = model_store.environment.describe
    other = "SkylakeX" if real()["kernel"] == "Haswell" else "Haswell"
    monkeypatch.setattr(model_store.environment, "describe", lambda: {**real(), "kernel": other})
    other_kernel = cache_key(Autoencoder(3), unit_data, **base)
    monkeypatch.setattr(model_store.environment, "describe", lambda: {**real(), "workers": 7, "cores": 9})
    other_cores = cache_key(Autoencoder(3), unit_data, **base)
    assert len({key, bumped, other_kernel}) == 3
    assert other_cores == key  # the worker count changes no bit, so entries are shared


def test_entry_records_what_it_was_trained_with(unit_data, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOENCODER_WORKERS", "1")
    fit_cached(Autoencoder(3), unit_data, max_iter=3, directory=tmp_path)
    (entry,) = tmp_path.glob("*.npz")
    meta = cache_mod.read_meta(entry)
    assert meta["key"] == entry.stem
    assert meta["description"]["numerics"]["version"] == cache_mod.NUMERICS_VERSION
    assert meta["workers"] == 1
    env = meta["environment"]
    assert env["numpy"] == np.__version__ and env["package"] and env["kernel"] and env["cores"] >= 1


def test_foreign_entry_is_dropped_and_retrained(unit_data, tmp_path):
    # An entry stored under another run's name (copied by hand, or left by another version)
    # is never served: its recorded key is checked.
    a = fit_cached(Autoencoder(3), unit_data, max_iter=3, directory=tmp_path)
    (entry_a,) = tmp_path.glob("*.npz")
    key_b = cache_key(Autoencoder(3, beta=1.0), unit_data, max_iter=3, seed=0, tol=1e-12)
    (tmp_path / f"{key_b}.npz").write_bytes(entry_a.read_bytes())
    with pytest.warns(UserWarning, match="stored for key"):
        b = fit_cached(Autoencoder(3, beta=1.0), unit_data, max_iter=3, directory=tmp_path)
    assert not np.array_equal(a.params.flat, b.params.flat)
    assert cache_mod.read_meta(tmp_path / f"{key_b}.npz")["key"] == key_b


def test_command_line_lists_sizes_and_clears(unit_data, tmp_path, capsys):
    fit_cached(Autoencoder(3), unit_data, max_iter=3, directory=tmp_path)
    fit_cached(Autoencoder(2, sparsity="l2"), unit_data, max_iter=3, directory=tmp_path)
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    assert cache_mod.main(["--dir", str(tmp_path), "list"]) == 0
    out = capsys.readouterr().out
    assert "sigmoid/sigmoid kl p=3" in out and "sigmoid/sigmoid l2 p=2" in out
    assert "broken" in out and "unreadable" in out and "3 entries" in out
    assert cache_mod.main(["--dir", str(tmp_path), "size"]) == 0
    assert capsys.readouterr().out.startswith("3 entries, ")
    assert cache_mod.main(["--dir", str(tmp_path), "clear"]) == 0
    assert "removed 3 entries" in capsys.readouterr().out
    assert list(tmp_path.glob("*.npz")) == []
    assert cache_mod.main(["--dir", str(tmp_path / "none"), "size"]) == 0
    assert capsys.readouterr().out.startswith("0 entries")


def test_training_reports_its_progress_and_a_hit_reports_none(unit_data, tmp_path, monkeypatch):
    from autoencoder.experiments import progress

    lines = tmp_path / "progress.jsonl"
    monkeypatch.setenv(progress.ENV_MODE, "0")
    monkeypatch.setenv(progress.ENV_FILE, str(lines))
    fit_cached(Autoencoder(3), unit_data, max_iter=4, directory=tmp_path / "models")
    records = [progress.read_record(line) for line in lines.read_text().splitlines()]
    assert records and records[-1]["done"] == 4 and records[-1]["total"] == 4
    assert records[-1]["description"] == "sigmoid + kl (rho 0.1, beta 3), p = 3, m = 20"
    lines.unlink()
    fit_cached(Autoencoder(3), unit_data, max_iter=4, directory=tmp_path / "models")
    assert not lines.exists()


def test_a_result_trained_elsewhere_is_stored_and_looked_up_by_its_key(unit_data, tmp_path):
    model = Autoencoder(3)
    run = {"max_iter": 4, "seed": 1, "directory": tmp_path}
    assert cache_mod.lookup(model, unit_data, **run) is None
    result = model.fit(unit_data, max_iter=4, seed=1)
    path = cache_mod.store(model, unit_data, result, **run)
    assert path.stem == cache_key(model, unit_data, max_iter=4, seed=1, tol=1e-12)
    np.testing.assert_array_equal(cache_mod.lookup(model, unit_data, **run).params.flat, result.params.flat)
    # Trained with other numerics: stored under their key, never served as this machine's.
    other = {**cache_mod.numerics(), "kernel": "another CPU"}
    elsewhere = cache_mod.store(Autoencoder(3, beta=1.0), unit_data, result, **run, trained_with=other)
    assert cache_mod.read_meta(elsewhere)["description"]["numerics"]["kernel"] == "another CPU"
    assert cache_mod.lookup(Autoencoder(3, beta=1.0), unit_data, **run) is None
