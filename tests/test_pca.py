"""PCA, principal angles, and the paper's §3 claim: an unregularized linear autoencoder spans the PCA subspace."""

import numpy as np
import pytest

from autoencoder import Autoencoder, pca, principal_angles
from autoencoder.core.pca import eckart_young_error
from autoencoder.datasets.synthetic import spectrum_basis, spectrum_data

SPECTRUM = np.array([10.0, 7.0, 5.0, 3.0, 2.0, 1.5, 1.0, 0.7, 0.5, 0.3])


def exact_spectrum_data(spectrum, m, seed):
    """Data whose sample covariance (divisor m) has exactly ``spectrum``, its basis and its mean."""
    mean = np.random.default_rng(seed + 1000).uniform(-1, 1, size=len(spectrum))
    X = spectrum_data(m, spectrum, mean=mean, seed=seed, exact=True)
    return X, spectrum_basis(len(spectrum), seed=seed), mean


def test_pca_recovers_a_known_spectrum_and_basis():
    X, basis, mean = exact_spectrum_data(SPECTRUM, 500, seed=0)
    result = pca(X, 4)
    np.testing.assert_allclose(result.explained_variance, SPECTRUM[:4], rtol=1e-10)
    np.testing.assert_allclose(result.total_variance, SPECTRUM.sum(), rtol=1e-10)
    np.testing.assert_allclose(result.mean, mean, atol=1e-12)
    np.testing.assert_allclose(np.abs(result.components @ basis[:, :4]), np.eye(4), atol=1e-9)
    np.testing.assert_allclose(result.components @ result.components.T, np.eye(4), atol=1e-12)


def test_pca_reconstruction_error_is_the_eckart_young_optimum():
    X, _, _ = exact_spectrum_data(SPECTRUM, 400, seed=1)
    for k in (1, 3, 9):
        result = pca(X, k)
        mse = np.mean(np.sum((X - result.reconstruct(X)) ** 2, axis=1))
        assert mse == pytest.approx(eckart_young_error(SPECTRUM, k), rel=1e-10)
        assert result.reconstruction_error() == pytest.approx(mse, rel=1e-10)


def test_pca_is_exact_on_low_rank_data(rng):
    X = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 8)) + 2.0
    result = pca(X, 3)
    np.testing.assert_allclose(result.reconstruct(X), X, atol=1e-10)


def test_pca_validates_n_components(rng):
    with pytest.raises(ValueError, match=r"n_components must be an integer in \[1, 4\]"):
        pca(rng.normal(size=(10, 4)), 5)


def test_principal_angles_between_known_subspaces():
    e = np.eye(3)
    assert principal_angles(e[:1], e[:1])[0] == pytest.approx(0.0, abs=1e-12)
    assert principal_angles(e[:1], e[1:2])[0] == pytest.approx(np.pi / 2)
    tilted = np.array([[np.cos(0.3), np.sin(0.3), 0.0]])
    assert principal_angles(e[:1], tilted)[0] == pytest.approx(0.3)
    # Row spaces: scaling and mixing the rows changes nothing.
    A = np.array([[1.0, 2, 0], [0, 1, 1]])
    np.testing.assert_allclose(principal_angles(A, [[1, 3, 1], [2, 5, 1]]), [0, 0], atol=1e-7)


@pytest.mark.slow
def test_unregularized_linear_autoencoder_spans_the_principal_subspace():
    """Section 3: with λ = β = 0 a linear autoencoder trained to convergence is PCA.

    Its decoder's columns and its encoder's rows span the top-p principal
    subspace, and its mean squared error is the sum of the trailing
    eigenvalues (Eckart–Young; Baldi and Hornik 1989).
    """
    p = 3
    X, _, _ = exact_spectrum_data(SPECTRUM, 1000, seed=2)
    model = Autoencoder(p, activation="linear", sparsity="none", beta=0.0, weight_decay=0.0)
    result = model.fit(X, max_iter=5000, seed=0)
    components = pca(X, p).components
    assert principal_angles(result.params.W2.T, components).max() < 1e-3
    assert principal_angles(result.params.W1, components).max() < 1e-3
    mse = 2 * result.history["reconstruction"][-1]  # the loss is ½ the squared error
    assert mse == pytest.approx(eckart_young_error(SPECTRUM, p), rel=1e-4)
