"""The layout measures of a feature, on images whose answer is known."""

import numpy as np
import pytest

from autoencoder.experiments.spatial import (
    CORE_MASS,
    even_spread_radius,
    largest_region_share,
    radius_of_gyration,
)

SHAPE = (28, 28)


def gaussian(centre, s, shape=SHAPE):
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * s**2)).ravel()


@pytest.mark.parametrize("s", [1.0, 2.0, 3.5])
def test_radius_of_a_round_gaussian_is_its_width(s):
    # w ∝ exp(-r²/2s²) has energy ∝ exp(-r²/s²): variance s²/2 on each axis, so r_g² = s².  Sampled on
    # integer pixels the variance is that of the continuum up to terms of order exp(-2π² s²) (Poisson
    # summation), below 1e-3 relative from s = 1 on.
    W = gaussian((13.4, 14.2), s)[None]
    assert radius_of_gyration(W, SHAPE)[0] == pytest.approx(s, rel=1e-3)


def test_radius_ignores_sign_and_scale():
    w = gaussian((10, 17), 2.0)
    W = np.stack([w, -3 * w])
    r = radius_of_gyration(W, SHAPE)
    assert r[0] == pytest.approx(r[1], rel=1e-12)


def test_radius_of_an_even_spread_is_the_formula():
    W = np.ones((1, 784))
    expected = np.sqrt(2 * (28**2 - 1) / 12)
    assert even_spread_radius(SHAPE) == pytest.approx(expected)
    assert radius_of_gyration(W, SHAPE)[0] == pytest.approx(expected)


def test_radius_of_noise_is_near_the_even_spread():
    W = np.random.default_rng(0).standard_normal((50, 784))
    r = radius_of_gyration(W, SHAPE)
    assert np.all(np.abs(r - even_spread_radius(SHAPE)) < 1.0)


def test_single_pixel_and_zero_rows():
    W = np.zeros((2, 784))
    W[0, 300] = 2.0
    assert radius_of_gyration(W, SHAPE).tolist() == [0.0, 0.0]
    assert largest_region_share(W, SHAPE).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("s", [1.0, 2.5, 3.5])
@pytest.mark.parametrize("centre", [(14, 14), (13.5, 13.5), (13.3, 14.6)])
def test_the_core_of_one_blob_is_one_region(s, centre):
    # The strongest pixels of a round Gaussian form a disc, which is connected.
    share = largest_region_share(gaussian(centre, s)[None], SHAPE, mass=CORE_MASS)[0]
    assert share == pytest.approx(1.0)


def test_two_separate_blobs_halve_the_share():
    one = gaussian((6, 6), 2.0)
    two = one + gaussian((21, 21), 2.0)
    share_one, share_two = largest_region_share(np.stack([one, two]), SHAPE)
    assert share_one == pytest.approx(1.0)
    assert share_two == pytest.approx(0.5, rel=1e-6)


def test_a_ring_is_one_region():
    rows, cols = np.mgrid[:28, :28]
    radius = np.hypot(rows - 13.5, cols - 13.5)
    ring = np.exp(-((radius - 8) ** 2) / 2.0).ravel()
    assert largest_region_share(ring[None], SHAPE)[0] > 0.6


@pytest.mark.parametrize("kind", ["normal", "uniform"])
def test_noise_has_no_large_region(kind):
    # The core of Gaussian noise is about 16 % of the pixels, of uniform noise about 21 %
    # (1 - (1 - q)^3 = 1/2), both well below the 8-neighbour site-percolation threshold (about 41 %).
    rng = np.random.default_rng(1)
    W = rng.standard_normal((100, 784)) if kind == "normal" else rng.uniform(-1, 1, (100, 784))
    share = largest_region_share(W, SHAPE)
    assert share.max() < 0.3


def test_a_measure_that_must_fail_noise_added_to_a_blob():
    blob = gaussian((14, 14), 2.0)
    noisy = blob + 0.3 * np.random.default_rng(2).standard_normal(784)
    share_blob, share_noisy = largest_region_share(np.stack([blob, noisy]), SHAPE)
    assert share_blob == pytest.approx(1.0)
    assert share_noisy < 0.5


def test_diagonal_neighbours_connect():
    W = np.zeros((1, 784))
    image = W.reshape(28, 28)
    for k in range(5):
        image[5 + k, 5 + k] = 1.0
    assert largest_region_share(W, SHAPE)[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("W", "shape", "mass", "match"),
    [
        (np.zeros(784), SHAPE, 0.5, "2-D"),
        (np.zeros((2, 784)), (28, 27), 0.5, "shape"),
        (np.full((1, 784), np.nan), SHAPE, 0.5, "finite"),
        (np.zeros((1, 784)), SHAPE, 0.0, "mass"),
        (np.zeros((1, 784)), SHAPE, 1.5, "mass"),
    ],
)
def test_bad_input_is_refused(W, shape, mass, match):
    with pytest.raises(ValueError, match=match):
        largest_region_share(W, shape, mass)
    if match != "mass":
        with pytest.raises(ValueError, match=match):
            radius_of_gyration(W, shape)
