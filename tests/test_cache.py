"""The trained-model cache: hits, keys, atomic writes and damaged entries."""

import numpy as np
import pytest

from autoencoder import Autoencoder
from autoencoder import cache as cache_mod
from autoencoder.cache import cache_key, fit_cached


def test_second_call_reads_the_stored_result(unit_data, tmp_path, monkeypatch):
    model = Autoencoder(3)
    first = fit_cached(model, unit_data, max_iter=5, directory=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(Autoencoder, "fit", no_training)
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
