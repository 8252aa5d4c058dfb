"""Tests of the synthetic data with a prescribed covariance spectrum."""

import numpy as np
import pytest

from autoencoder.datasets.synthetic import spectrum_basis, spectrum_data

SPECTRUM = np.array([5.0, 3.0, 1.0, 0.5, 0.1])


def test_basis_is_orthonormal_and_seeded():
    basis = spectrum_basis(5, seed=3)
    np.testing.assert_allclose(basis.T @ basis, np.eye(5), atol=1e-12)
    np.testing.assert_array_equal(basis, spectrum_basis(5, seed=3))
    assert not np.allclose(basis, spectrum_basis(5, seed=4))


def test_exact_sample_covariance_has_the_spectrum_in_the_basis():
    mean = np.arange(5.0)
    X = spectrum_data(40, SPECTRUM, mean=mean, seed=7, exact=True)
    basis = spectrum_basis(5, seed=7)
    covariance = np.cov(X.T, bias=True)
    np.testing.assert_allclose(covariance, basis @ np.diag(SPECTRUM) @ basis.T, atol=1e-12)
    np.testing.assert_allclose(covariance @ basis, basis * SPECTRUM, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(covariance)[::-1], SPECTRUM, atol=1e-12)
    np.testing.assert_allclose(X.mean(axis=0), mean, atol=1e-12)


def test_population_covariance_is_approached_by_a_large_sample():
    X = spectrum_data(200_000, SPECTRUM, seed=1)
    basis = spectrum_basis(5, seed=1)
    variances_along_basis = np.var(X @ basis, axis=0)
    np.testing.assert_allclose(variances_along_basis, SPECTRUM, rtol=0.02)
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=0.02)
    exact = spectrum_data(200_000, SPECTRUM, seed=1, exact=True)
    assert not np.allclose(np.cov(X.T, bias=True), np.cov(exact.T, bias=True), atol=1e-6)


def test_zero_variances_give_a_low_rank_sample():
    X = spectrum_data(50, [2.0, 1.0, 0.0, 0.0], seed=2, exact=True)
    assert np.linalg.matrix_rank(X - X.mean(axis=0), tol=1e-9) == 2


def test_seed_and_dtype():
    a = spectrum_data(10, SPECTRUM, seed=5, dtype=np.float32)
    assert a.shape == (10, 5)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, spectrum_data(10, SPECTRUM, seed=5, dtype=np.float32))
    assert not np.array_equal(a, spectrum_data(10, SPECTRUM, seed=6, dtype=np.float32))


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"n_samples": 0, "spectrum": SPECTRUM}, "n_samples"),
        ({"n_samples": 2.5, "spectrum": SPECTRUM}, "n_samples"),
        ({"n_samples": True, "spectrum": SPECTRUM}, "n_samples"),
        ({"n_samples": 5, "spectrum": SPECTRUM, "exact": True}, "n_samples"),
        ({"n_samples": 10, "spectrum": []}, "spectrum"),
        ({"n_samples": 10, "spectrum": [[1.0, 2.0]]}, "spectrum"),
        ({"n_samples": 10, "spectrum": [1.0, -1.0]}, "spectrum"),
        ({"n_samples": 10, "spectrum": [1.0, np.nan]}, "spectrum"),
        ({"n_samples": 10, "spectrum": SPECTRUM, "mean": [0.0, 1.0]}, "mean"),
        ({"n_samples": 10, "spectrum": SPECTRUM, "dtype": np.int64}, "dtype"),
    ],
)
def test_invalid_arguments_name_the_parameter(kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        spectrum_data(**kwargs)


def test_basis_rejects_a_bad_dimension():
    with pytest.raises(ValueError, match="dim"):
        spectrum_basis(0)
