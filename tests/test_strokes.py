"""The controls of the strokes chapter: settings, seeds, spreads and the template measure."""

import math

import numpy as np
import pytest

from autoencoder.experiments import strokes
from autoencoder.experiments.cache import entries


def test_template_similarity_by_hand():
    T = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    W = np.array([[2.0, 0.0, 0.0], [0.0, -1.0, -1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    # |cos| with the best template: 1, 1 (sign ignored), max(1/√2, 1/2) = 1/√2, and 0 for a zero row.
    expected = [1.0, 1.0, 1 / math.sqrt(2), 0.0]
    assert strokes.template_similarity(W, T) == pytest.approx(expected)


def test_template_similarity_separates_templates_from_noise():
    rng = np.random.default_rng(0)
    T = rng.random((20, 784))
    near = T[:5] + 0.05 * rng.standard_normal((5, 784))
    noise = rng.standard_normal((5, 784))
    similarity = strokes.template_similarity(np.vstack([near, noise]), T)
    assert similarity[:5].min() > 0.95
    # A random direction in 784 dimensions has |cos| of order 1/√784 with each of 20 fixed vectors.
    assert similarity[5:].max() < 5 / math.sqrt(784)


def test_template_similarity_refuses_bad_shapes():
    with pytest.raises(ValueError, match="same number of columns"):
        strokes.template_similarity(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="zero row"):
        strokes.template_similarity(np.ones((2, 3)), np.zeros((1, 3)))


def test_seed_statistics_and_separation():
    rows = [{"a": 1.0}, {"a": 2.0}, {"a": 3.0}]
    (mean, sd) = strokes.seed_statistics(rows, ["a"])["a"]
    assert (mean, sd) == pytest.approx((2.0, 1.0))
    assert strokes.separation((2.0, 1.0), (5.0, 1.0)) == pytest.approx(3 / math.sqrt(2))
    assert strokes.separation((0.0, 0.0), (0.5, 0.0)) == math.inf
    assert strokes.separation((0.3, 0.1), (0.3, 0.2)) == 0.0
    with pytest.raises(ValueError, match="at least two"):
        strokes.seed_statistics(rows[:1], ["a"])


def test_control_model_drops_rho_without_sparsity():
    plain = strokes.control_model(10, (3e-3, 0.0, 0.1))
    assert plain.to_dict() == strokes.control_model(10, (3e-3, 0.0, 0.3)).to_dict()
    assert plain.to_dict()["sparsity"] == "none" and plain.weight_decay == 3e-3
    sparse = strokes.control_model(10, (3e-3, 3.0, 0.1))
    assert sparse.beta == 3.0 and sparse.rho == 0.1 and sparse.weight_decay == 3e-3


@pytest.mark.parametrize(
    ("settings", "seeds", "match"),
    [
        ([(3e-3, 3.0, 0.0)], [0], "rho in"),
        ([(-1.0, 3.0, 0.1)], [0], "weight_decay >= 0"),
        ([(3e-3, 3.0)], [0], "triples"),
        ([(3e-3, 3.0, 0.1), (3e-3, 3.0, 0.1)], [0], "distinct"),
        ([], [0], "non-empty"),
        ([(3e-3, 3.0, 0.1)], [0, 0], "repeated"),
        ([(3e-3, 3.0, 0.1)], [-1], "seeds"),
    ],
)
def test_train_controls_refuses_bad_input_before_training(tmp_path, settings, seeds, match):
    X = np.random.default_rng(0).random((20, 16))
    with pytest.raises(ValueError, match=match):
        strokes.train_controls(X, settings, seeds, n_hidden=3, max_iter=2, n_jobs=1, directory=tmp_path)
    assert entries(tmp_path) == []


def test_train_controls_shares_the_unpenalized_network_and_is_cached(tmp_path):
    X = np.random.default_rng(1).random((30, 16))
    settings = [(1e-3, 0.0, 0.1), (1e-3, 0.0, 0.3), (1e-3, 3.0, 0.1)]
    results = strokes.train_controls(X, settings, [0, 1], n_hidden=4, max_iter=5, n_jobs=1, directory=tmp_path)
    assert list(results) == [(s, seed) for s in settings for seed in (0, 1)]
    # Two settings without sparsity are one network per seed: 2 + 2 trainings, not 6.
    assert len(entries(tmp_path)) == 4
    assert results[settings[0], 0] is results[settings[1], 0]
    assert not np.array_equal(results[settings[0], 0].params.flat, results[settings[0], 1].params.flat)
    again = strokes.train_controls(X, settings, [0, 1], n_hidden=4, max_iter=5, n_jobs=1, directory=tmp_path)
    for key, result in results.items():
        assert np.array_equal(again[key].params.flat, result.params.flat)


def test_network_measures_on_a_small_network(tmp_path):
    rng = np.random.default_rng(2)
    X, X_test = rng.random((40, 16)), rng.random((10, 16))
    setting = (1e-3, 3.0, 0.1)
    model = strokes.control_model(5, setting)
    fit = strokes.train_controls(X, [setting], [0], n_hidden=5, max_iter=10, n_jobs=1, directory=tmp_path)[setting, 0]
    templates = rng.random((3, 16))
    measured = strokes.network_measures(model, fit.params, X, X_test, templates, shape=(4, 4))
    A = model.encode(fit.params, X)
    assert measured["rho_hat_min"] == pytest.approx(A.mean(axis=0).min())
    assert measured["saturated"] == pytest.approx(np.mean((A < 0.05) | (A > 0.95)))
    H = model.reconstruct(fit.params, X_test)
    assert measured["test_mse"] == pytest.approx(np.mean(np.sum((X_test - H) ** 2, axis=1)))
    assert measured["median_norm"] == pytest.approx(np.median(np.linalg.norm(fit.params.W1, axis=1)))
    assert set(strokes.MEASURE_LABELS) <= set(measured)
    assert measured["features"]["area"].shape == (5,)
    reference = strokes.reference_measures(fit.params.W1, templates, shape=(4, 4))
    for key in ("localized_fraction", "median_area", "median_radius", "median_region_share", "median_template"):
        assert reference[key] == pytest.approx(measured[key])
