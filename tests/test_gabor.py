"""The Gabor fit: it recovers a Gabor function, fails on noise, and does not call a grating localized."""

import numpy as np
import pytest

from autoencoder.experiments.gabor import (
    GOOD_FIT,
    fit_gabor,
    fit_gabors,
    gabor,
    gabor_r2,
    orientation_bins,
)
from autoencoder.experiments.measures import effective_area
from autoencoder.experiments.natural_images import feature_measures


def angle_difference(a, b):
    """Distance between two orientations modulo π."""
    d = (a - b) % np.pi
    return min(d, np.pi - d)


@pytest.mark.parametrize(
    ("x0", "y0", "theta", "frequency", "sigma_u", "sigma_v", "phase"),
    [
        (3.2, 4.1, 0.7, 0.18, 1.3, 2.0, 0.4),  # an even-ish bar detector, oblique
        (4.5, 3.0, 2.4, 0.12, 1.6, 2.5, np.pi / 2),  # an odd edge detector
        (3.5, 3.5, 0.0, 0.25, 1.2, 1.8, -1.0),  # stripes running vertically
    ],
)
def test_the_fit_recovers_a_synthetic_gabor(x0, y0, theta, frequency, sigma_u, sigma_v, phase):
    feature = gabor((8, 8), x0, y0, theta, frequency, sigma_u, sigma_v, amplitude=2.0, phase=phase, offset=0.3)
    fit = fit_gabor(feature)
    assert fit.r2 > 0.999
    assert angle_difference(fit.theta, theta) < 0.02
    assert fit.frequency == pytest.approx(frequency, abs=0.005)
    assert (fit.x0, fit.y0) == pytest.approx((x0, y0), abs=0.05)
    assert (fit.sigma_u, fit.sigma_v) == pytest.approx((sigma_u, sigma_v), rel=0.03)
    np.testing.assert_allclose(fit.fitted, feature, atol=1e-3)


def test_the_fit_survives_noise_on_a_gabor():
    rng = np.random.default_rng(0)
    clean = gabor((8, 8), 3.0, 4.0, 1.2, 0.15, 1.5, 2.2, phase=0.3)
    fit = fit_gabor(clean + 0.1 * clean.std() * rng.standard_normal((8, 8)))
    assert fit.r2 > 0.95
    assert angle_difference(fit.theta, 1.2) < 0.1


def test_noise_gets_a_low_fraction():
    noise = np.random.default_rng(1).standard_normal((40, 64))
    r2 = gabor_r2(fit_gabors(noise))
    # Nine parameters fit part of 64 random values, never most of them.
    assert np.median(r2) < 0.4
    assert np.count_nonzero(r2 >= GOOD_FIT) == 0


def test_a_grating_fits_well_but_is_not_localized():
    # R² alone does not separate edges from gratings: the envelope and the effective area do.
    grating = gabor((8, 8), 3.5, 3.5, 0.5, 0.25, 1e3, 1e3)
    edge = gabor((8, 8), 3.5, 3.5, 0.5, 0.1, 1.2, 2.0, phase=np.pi / 2)
    grating_fit, edge_fit = fit_gabor(grating), fit_gabor(edge)
    assert grating_fit.r2 > 0.99 and edge_fit.r2 > 0.99
    assert min(grating_fit.sigma_u, grating_fit.sigma_v) > 10
    assert max(edge_fit.sigma_u, edge_fit.sigma_v) < 3
    area = effective_area(np.stack([grating.ravel(), edge.ravel()]))
    assert area[0] > 2 * area[1]


def test_orientation_bins_are_centred_on_zero_and_wrap_at_pi():
    step = np.pi / 8
    bins = orientation_bins([0.0, 0.49 * step, 0.51 * step, np.pi - 0.01, 4 * step, np.pi + 4 * step])
    np.testing.assert_array_equal(bins, [0, 0, 1, 0, 4, 4])


def test_feature_measures_count_well_fitted_features_and_their_bins():
    thetas = [0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    edges = [gabor((8, 8), 3.5, 3.5, t, 0.15, 1.5, 2.0, phase=1.0).ravel() for t in thetas]
    noise = np.random.default_rng(2).standard_normal((2, 64))
    measured = feature_measures(np.vstack([edges, noise]))
    assert measured["n_well"] == 4
    np.testing.assert_array_equal(measured["well"], [True] * 4 + [False] * 2)
    assert measured["n_bins"] == 4
    np.testing.assert_array_equal(measured["bin_counts"], [1, 0, 1, 0, 1, 0, 1, 0])


@pytest.mark.parametrize(
    ("feature", "kwargs", "message"),
    [
        (np.ones(64), {}, "constant"),
        (np.arange(9.0), {}, "at least 10 pixels"),
        (np.arange(60.0), {}, "not square"),
        (np.arange(60.0), {"shape": (7, 7)}, "does not hold"),
        (np.full(64, np.nan), {}, "finite"),
    ],
)
def test_bad_features_are_refused(feature, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_gabor(feature, **kwargs)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="W must be a non-empty 2-D array"):
        fit_gabors(np.zeros((0, 64)))
    with pytest.raises(ValueError, match=r"n_bins must be an integer >= 1; got 0"):
        orientation_bins([0.1], n_bins=0)
    with pytest.raises(ValueError, match=r"sigma_u must lie in \(0, inf\]"):
        gabor((8, 8), 3, 3, 0, 0.1, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"good_fit must lie in \[0, 1\]"):
        feature_measures(np.eye(64)[:2], good_fit=1.5)


def test_the_methods_learn_features_of_the_patches_shape():
    from autoencoder.datasets.natural import natural_patches
    from autoencoder.experiments.natural_images import initial_features, method_features

    X = natural_patches(600, 8, seed=0)
    features = method_features(X, 9, seed=0, alpha=3.0)
    assert {label: F.shape for label, F in features.items()} == {label: (9, 64) for label in features}
    np.testing.assert_allclose(features["PCA"] @ features["PCA"].T, np.eye(9), atol=1e-10)
    assert initial_features(X, 9, seed=0).shape == (9, 64)
    with pytest.raises(ValueError, match=r"n_components must be an integer in \[1, 64\]; got 65"):
        method_features(X, 65, seed=0, alpha=3.0)
