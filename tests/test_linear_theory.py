"""The theorems about linear autoencoders, on synthetic data with a known spectrum, trained to convergence.

Each claim of chapters 2 and 3 is checked against its formula: Eckart–Young
(λ = 0), Kunin et al.'s singular values, W1 = W2ᵀ, the individual principal
directions and the exact zeros (λ > 0), and the absorption of the L2 sparsity
penalty by the biases (every β gives the same minimum).  ``tol=0`` lets
L-BFGS run until it can no longer decrease ``J`` (it then reports
convergence or a line search that found no lower point).
"""

import numpy as np
import pytest

from autoencoder import Autoencoder, Params, pca, principal_angles
from autoencoder.core.linear_theory import (
    eigenvalue_gaps,
    kunin_reconstruction_error,
    kunin_singular_values,
    neighbour_curvature,
    rotation_curvature,
    singular_directions,
    transpose_gap,
)
from autoencoder.core.pca import eckart_young_error
from autoencoder.datasets.synthetic import spectrum_basis, spectrum_data

SPECTRUM = 0.7 ** np.arange(20)  # ℓ_5 = 0.24, ℓ_4 = 0.343: distinct, with gaps of at least 0.1 ℓ
P = 5
RHO = 0.1
TIED = 1e-5
"""Bound on ‖W1 − W2ᵀ‖ / ‖W2‖ where L-BFGS stops.  The balance between encoder and decoder is pinned
only weakly, so where the line search stops finding lower points it holds to about 1e-6, depending on
how the BLAS kernel rounds (1.9e-6 at β = 30 with OpenBLAS's Haswell kernels, below 1e-6 with its
SkylakeX ones); without weight decay, where nothing ties them, the gap is over 1e3 times this bound."""


@pytest.fixture(scope="module")
def data():
    """500 examples whose sample covariance is exactly diag(SPECTRUM) in a random basis, mean not zero."""
    X = spectrum_data(500, SPECTRUM, mean=np.linspace(0.0, 1.0, SPECTRUM.size), seed=0, exact=True)
    return X, pca(X, SPECTRUM.size)


def converged(X, weight_decay, beta=0.0):
    sparsity = "none" if beta == 0 else "l2"
    model = Autoencoder(P, activation="linear", sparsity=sparsity, rho=RHO, beta=beta, weight_decay=weight_decay)
    result = model.fit(X, max_iter=20_000, tol=0.0)
    assert result.n_iter < 20_000  # L-BFGS stopped by itself: no step decreased J any more
    return model, result


def test_unregularized_network_reaches_eckart_young(data):
    X, reference = data
    _, result = converged(X, 0.0)
    error = 2 * result.history["reconstruction"][-1]  # J averages ½‖h − x‖²
    optimum = eckart_young_error(SPECTRUM, P)
    assert abs(error - optimum) <= 1e-8 * optimum
    assert principal_angles(result.params.W2.T, reference.components[:P]).max() < 1e-4
    assert transpose_gap(result.params) > 1e3 * TIED  # without weight decay nothing ties W1 to W2ᵀ


@pytest.mark.parametrize("beta", [0.0, 3.0, 30.0])
def test_weight_decay_gives_kunins_singular_values_and_tied_weights(data, beta):
    X, reference = data
    lam = 0.05
    _, result = converged(X, lam, beta)
    values, angles = singular_directions(result.params, reference.components)
    np.testing.assert_allclose(values, np.sqrt(1 - lam / SPECTRUM[:P]), rtol=0, atol=1e-6)
    assert transpose_gap(result.params) < TIED
    # The left singular vectors are the individual principal directions, not just a basis of their span.
    assert angles.max() < 1e-5


def test_exactly_the_eigenvalues_above_lambda_give_nonzero_singular_values(data):
    X, reference = data
    lam = 0.3  # between ℓ_5 = 0.24 and ℓ_4 = 0.343
    _, result = converged(X, lam)
    expected = kunin_singular_values(SPECTRUM, lam, P)
    assert np.count_nonzero(expected) == np.sum(SPECTRUM[:P] > lam) == 4
    values, angles = singular_directions(result.params, reference.components)
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-6)
    assert values[4] < 1e-6
    assert angles[:4].max() < 1e-4  # the fifth singular vector is arbitrary: its value is zero
    assert transpose_gap(result.params) < TIED


@pytest.mark.parametrize("lam", [0.05 / 16, 0.3 / 16])
def test_a_taylor_1_network_is_a_linear_one_with_sixteen_times_the_weight_decay(data, lam):
    # f(z) = ½ + z/4 in both layers: U = W/4 is a linear network with weight decay 16λ, so the singular
    # values of W2 are 4 sqrt(max(0, 1 − 16λ/ℓ_i)); at 16λ = 0.3 only four of the five are non-zero.
    X, reference = data
    model = Autoencoder(P, activation="taylor1", sparsity="l2", rho=RHO, beta=3.0, weight_decay=lam)
    result = model.fit(X, max_iter=20_000, tol=0.0)
    assert result.n_iter < 20_000
    expected = kunin_singular_values(SPECTRUM, lam, P, slope=0.25)
    np.testing.assert_allclose(expected, 4 * np.sqrt(np.maximum(0, 1 - 16 * lam / SPECTRUM[:P])), rtol=1e-15)
    assert np.count_nonzero(expected) == np.sum(SPECTRUM[:P] > 16 * lam)
    values, _ = singular_directions(result.params, reference.components)
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-5)
    assert transpose_gap(result.params) < 10 * TIED
    # The formula for slope 1 does not fit: the test can tell the two apart.
    assert np.abs(values - kunin_singular_values(SPECTRUM, lam, P)).max() > 0.1
    error = np.mean(np.sum((model.reconstruct(result.params, X) - X) ** 2, axis=1))
    expected_error = kunin_reconstruction_error(SPECTRUM, lam, P, slope=0.25)
    assert abs(error - expected_error) <= 1e-6 * expected_error
    assert abs(error - kunin_reconstruction_error(SPECTRUM, lam, P)) > 1e-3


def test_kunin_reconstruction_error_formula():
    spectrum = [4.0, 1.0, 0.5, 0.25]
    assert kunin_reconstruction_error(spectrum, 0.0, 2) == eckart_young_error(spectrum, 2) == 0.75
    # λ = 0.5 keeps ℓ = 4 and 1 (0.5²/ℓ left of each), drops ℓ = 0.5 of the top 3, and the tail 0.25.
    assert kunin_reconstruction_error(spectrum, 0.5, 3) == pytest.approx(0.0625 + 0.25 + 0.5 + 0.25)
    # slope ½ quadruples the effective weight decay: λ' = 2 keeps ℓ = 4 (2²/4 = 1 left) and drops ℓ = 1.
    assert kunin_reconstruction_error(spectrum, 0.5, 3, slope=0.5) == pytest.approx(1.0 + 1.0 + 0.5 + 0.25)


def test_the_biases_absorb_the_l2_penalty_for_every_beta(data):
    X, _ = data
    lam = 0.05
    _, free = converged(X, lam)
    for beta in (3.0, 30.0):
        model, result = converged(X, lam, beta)
        assert abs(result.loss - free.loss) <= 1e-10 * free.loss
        assert result.history["sparsity"][-1] <= 1e-10
        assert np.abs(model.mean_activation(result.params, X) - RHO).max() <= 1e-8


def test_rotating_two_directions_of_the_minimum_raises_j_by_the_curvature():
    # The exact minimum (W2 = U D, W1 = W2ᵀ, biases centring the data), then the same with the i-th and
    # j-th directions turned into each other by θ: J rises by κ_ij sin²θ.
    spectrum = np.array([3.0, 2.0, 1.2, 0.5, 0.2, 0.1])
    X = spectrum_data(400, spectrum, mean=np.full(6, 0.3), seed=1, exact=True)
    basis = spectrum_basis(6, seed=1)
    lam, p, theta = 0.05, 3, 0.2
    model = Autoencoder(p, activation="linear", sparsity="none", weight_decay=lam)

    def network(rotation):
        W2 = rotation @ basis[:, :p] * kunin_singular_values(spectrum, lam, p)
        mean = X.mean(axis=0)
        return Params.from_arrays(W2.T, -W2.T @ mean, W2, mean)

    at_minimum = model.loss_terms(network(np.eye(6)), X)["total"]
    for i, j in ((0, 1), (1, 2), (0, 2)):
        u, v = basis[:, i], basis[:, j]
        rotation = np.eye(6) + (np.cos(theta) - 1) * (np.outer(u, u) + np.outer(v, v))
        rotation += np.sin(theta) * (np.outer(v, u) - np.outer(u, v))
        rise = model.loss_terms(network(rotation), X)["total"] - at_minimum
        assert rise == pytest.approx(rotation_curvature(spectrum[i], spectrum[j], lam) * np.sin(theta) ** 2, rel=1e-9)
    np.testing.assert_allclose(
        neighbour_curvature(spectrum, lam, p),
        [rotation_curvature(3.0, 2.0, lam), rotation_curvature(3.0, 2.0, lam), rotation_curvature(2.0, 1.2, lam)],
    )
    assert rotation_curvature(2.0, 1.0, 0.0) == 0.0  # without weight decay the directions are free


# -- the formulas themselves ------------------------------------------------------------------------


def test_kunin_singular_values_formula():
    values = kunin_singular_values([0.5, 4.0, 1.0, 0.1], 0.5, 3)
    np.testing.assert_allclose(values, [np.sqrt(1 - 0.5 / 4), np.sqrt(0.5), 0.0])
    np.testing.assert_array_equal(kunin_singular_values([2.0, 1.0], 0.0, 2), [1.0, 1.0])
    np.testing.assert_array_equal(kunin_singular_values([2.0, 0.0], 0.1, 2), [np.sqrt(0.95), 0.0])


def test_eigenvalue_gaps_end_at_the_cut():
    np.testing.assert_allclose(eigenvalue_gaps([1.0, 4.0, 2.0, 1.5], 3), [2.0, 0.5, 0.5])


def test_singular_directions_of_a_known_decoder(rng):
    basis = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    mixing = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    s = np.array([0.9, 0.5, 0.2])
    W2 = basis[:, :3] * s @ mixing.T
    params = Params.from_arrays(W2.T, np.zeros(3), W2, np.zeros(6))
    values, angles = singular_directions(params, -basis.T)  # signs do not count
    np.testing.assert_allclose(values, s)
    np.testing.assert_allclose(angles, 0, atol=1e-7)
    assert transpose_gap(params) == 0.0
    swapped = basis.T[[1, 0, 2, 3, 4, 5]]
    _, angles = singular_directions(params, swapped)
    np.testing.assert_allclose(angles, [np.pi / 2, np.pi / 2, 0], atol=1e-7)


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: kunin_singular_values([1.0, 0.5], -0.1, 1), ["weight_decay"]),
        (lambda: kunin_singular_values([1.0, 0.5], 0.1, 3), ["n_hidden", "[1, 2]"]),
        (lambda: kunin_singular_values([1.0, 0.5], 0.1, 1, slope=0.0), ["slope"]),
        (lambda: kunin_reconstruction_error([1.0, 0.5], 0.1, 3), ["n_hidden", "[1, 2]"]),
        (lambda: kunin_reconstruction_error([1.0, 0.5], -1.0, 1), ["weight_decay"]),
        (lambda: kunin_singular_values([[1.0]], 0.1, 1), ["eigenvalues", "1-D"]),
        (lambda: kunin_singular_values([1.0, np.nan], 0.1, 1), ["eigenvalues", "finite"]),
        (lambda: eigenvalue_gaps([1.0, 0.5], 2), ["n_hidden", "[1, 1]"]),
        (lambda: singular_directions(Params.zeros(4, 2), np.eye(4)[:1]), ["components", "(k, 4)"]),
        (lambda: rotation_curvature(1.0, 0.0, 0.1), ["ell_i and ell_j", "positive"]),
        (lambda: neighbour_curvature([1.0, 0.5], 0.1, 3), ["n_hidden", "[1, 2]"]),
    ],
)
def test_bad_arguments_are_refused_by_name(call, names):
    with pytest.raises(ValueError) as err:
        call()
    for name in names:
        assert name in str(err.value)
