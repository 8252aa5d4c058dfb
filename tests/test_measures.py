"""The measures on small hand-computed cases, their refusals, and L1 at ρ = 0."""

import numpy as np
import pytest
from scipy import integrate, optimize

from autoencoder import Autoencoder, pca, principal_angles
from autoencoder.core.sparsity import L1_SMOOTHING
from autoencoder.experiments import measures
from autoencoder.experiments.measures import (
    SIGMOID_THRESHOLD,
    activation_frequency,
    activity_threshold,
    dead_units,
    dense_units,
    effective_area,
    fraction_of_variance_unexplained,
    l0,
    localized_fraction,
    mean_l1_norm,
    near_silent_fraction,
    reconstruction_mse,
    sae_measures,
)

# Four examples of three units: unit 0 active on 3 of 4, unit 1 on 1, unit 2 never.
CODE = np.array(
    [
        [0.5, 0.0, 0.0],
        [2.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [1.5, 0.0, 0.0],
    ]
)


def test_frequency_l0_dead_and_dense_by_hand():
    np.testing.assert_array_equal(activation_frequency(CODE), [0.75, 0.25, 0.0])
    assert l0(CODE) == (1 + 1 + 1 + 1) / 4
    np.testing.assert_array_equal(dead_units(CODE), [False, False, True])
    np.testing.assert_array_equal(dense_units(CODE), [True, True, False])  # ν > 0.1
    np.testing.assert_array_equal(dense_units(CODE, fraction=0.5), [True, False, False])
    np.testing.assert_array_equal(dense_units(CODE, fraction=0.25), [True, False, False])  # strictly more
    assert mean_l1_norm(CODE) == (0.5 + 2.0 + 1.0 + 1.5) / 4


def test_threshold_is_strict():
    # τ = 1: only 2.0 and 1.5 exceed it; the 1.0 of unit 1 is not active.
    np.testing.assert_array_equal(activation_frequency(CODE, threshold=1.0), [0.5, 0.0, 0.0])
    assert l0(CODE, threshold=1.0) == 0.5
    np.testing.assert_array_equal(dead_units(CODE, threshold=1.0), [False, True, True])


def test_sigmoid_units_use_the_half_threshold():
    assert activity_threshold("sigmoid") == SIGMOID_THRESHOLD == 0.5
    assert activity_threshold("relu") == activity_threshold("top_k") == 0.0
    sigmoid_code = np.array([[0.4, 0.6], [0.51, 0.5], [0.9, 0.1]])
    np.testing.assert_array_equal(activation_frequency(sigmoid_code, SIGMOID_THRESHOLD), [2 / 3, 1 / 3])
    assert l0(sigmoid_code, SIGMOID_THRESHOLD) == 1.0


def test_fvu_by_hand():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])  # mean (1, 1): Σ ‖x − μ‖² = 8
    H = X.copy()
    H[0] = [1.0, 0.0]  # one squared error of 1
    assert fraction_of_variance_unexplained(X, H) == 1 / 8
    assert fraction_of_variance_unexplained(X, X) == 0.0
    assert fraction_of_variance_unexplained(X, np.ones_like(X)) == 1.0  # always the mean
    # A constant offset counts here (dictionary_learning's centred residual would not count it).
    assert fraction_of_variance_unexplained(X, X + 0.5) == 4 * 2 * 0.25 / 8


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda: l0(CODE, threshold=-0.1), ["threshold", "[0, inf]"]),
        (lambda: activation_frequency(CODE, threshold=float("nan")), ["threshold", "finite"]),
        (lambda: dense_units(CODE, fraction=1.0), ["fraction", "[0, 1)"]),
        (lambda: dense_units(CODE, fraction=-0.5), ["fraction", "[0, 1)"]),
        (lambda: l0(np.zeros(3)), ["A", "2-D"]),
        (lambda: l0(np.array([[np.inf]])), ["A", "finite"]),
        (lambda: fraction_of_variance_unexplained(np.ones((3, 2)), np.ones((3, 2))), ["X", "zero variance"]),
        (lambda: fraction_of_variance_unexplained(np.eye(3), np.eye(2)), ["same shape"]),
        (lambda: activity_threshold("linear"), ["activation='linear'", "'relu'", "'sigmoid'"]),
    ],
)
def test_bad_arguments_are_refused_with_their_names(call, names):
    with pytest.raises(ValueError) as err:
        call()
    for name in names:
        assert name in str(err.value)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_l1_at_zero_target_is_the_mean_l1_norm_of_the_code(activation, unit_data):
    beta = 0.7
    model = Autoencoder(5, activation=activation, sparsity="l1", rho=0.0, beta=beta)
    params = model.init_params(unit_data.shape[1], seed=2)
    params.b1[...] = [0.3, -0.2, 0.1, 0.5, -0.4]
    A = model.encode(params, unit_data)
    assert np.all(A >= 0) and np.count_nonzero(A) > 0
    penalty = model.loss_terms(params, unit_data)["sparsity"] / beta  # Σ_j φ(ρ̂_j) at ρ = 0
    norm = mean_l1_norm(A)
    # sqrt(ρ̂² + ε²) − ε lies in [ρ̂ − ε, ρ̂]: within ε of the norm per unit, and below it.
    assert 0 <= norm - penalty <= model.n_hidden * L1_SMOOTHING
    assert norm - penalty == pytest.approx(np.count_nonzero(A.mean(axis=0)) * L1_SMOOTHING, rel=1e-3)


def test_sae_measures_of_a_top_k_model(unit_data):
    model = Autoencoder(5, activation="relu", output_activation="linear", sparsity="none", top_k=2)
    params = model.init_params(unit_data.shape[1], seed=2)
    params.b1[...] = [0.3, 0.2, 0.1, -5.0, 0.4]  # unit 3 is never kept
    out = sae_measures(model, params, unit_data)
    A = model.encode(params, unit_data)
    assert out["threshold"] == 0.0 and out["l0"] <= 2
    assert out["l0"] == pytest.approx(out["frequency"].sum())
    assert out["dead"] >= 1 and out["frequency"][3] == 0
    assert out["mean_l1_norm"] == pytest.approx(A.mean(axis=0).sum())
    H = model.reconstruct(params, unit_data)
    assert out["fvu"] == fraction_of_variance_unexplained(unit_data, H)


def test_metrics():
    X = np.zeros((4, 3))
    H = np.ones((4, 3))
    assert reconstruction_mse(X, H) == 3.0
    A = np.array([[0.0, 0.5, -0.001], [0.0, 0.3, 0.001]])
    assert near_silent_fraction(A, threshold=0.01) == pytest.approx(2 / 3)


def test_effective_area_counts_the_pixels_of_an_even_feature_with_any_signs():
    W = np.zeros((3, 10))
    W[0, :4] = [1, -1, 1, -1]  # four pixels, equal magnitude
    W[1, :] = 2.5  # all ten
    W[2, 7] = -3  # one
    np.testing.assert_allclose(effective_area(W), [4, 10, 1])


def test_effective_area_is_scale_invariant_and_bounded(rng):
    W = rng.normal(size=(5, 30))
    area = effective_area(W)
    np.testing.assert_allclose(effective_area(7.0 * W), area)
    assert np.all((area >= 1) & (area <= 30))


def test_effective_area_of_a_zero_row_is_zero():
    assert effective_area(np.zeros((1, 5)))[0] == 0
    with pytest.raises(ValueError, match="2-D"):
        effective_area(np.ones(5))


def test_localized_fraction_separates_strokes_from_global_patterns(rng):
    strokes = np.zeros((4, 100))
    for i in range(4):
        strokes[i, 10 * i : 10 * i + 5] = rng.uniform(0.5, 1.0, size=5)
    spread = rng.normal(size=(4, 100))
    W = np.vstack([strokes, spread])
    assert localized_fraction(W, threshold=0.1) == pytest.approx(0.5)
    assert localized_fraction(strokes) == 1.0
    with pytest.raises(ValueError, match="threshold"):
        localized_fraction(W, threshold=0)


def test_span_reconstruction_of_the_principal_components_is_pcas_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    reference = pca(X, 3)
    assert measures.span_reconstruction_mse(X, reference.components) == pytest.approx(reference.reconstruction_error())
    # Any other basis of the same span gives the same error; another span a larger one.
    mixed = rng.normal(size=(3, 3)) @ reference.components
    assert measures.span_reconstruction_mse(X, mixed) == pytest.approx(reference.reconstruction_error())
    assert measures.span_reconstruction_mse(X, np.eye(6)[3:]) > 3 * reference.reconstruction_error()


def test_random_digit_span_is_near_pca_only_where_the_data_are():
    rng = np.random.default_rng(1)
    # Rank-3 data: any 3 random centred examples span its principal subspace exactly.
    X = rng.normal(size=(100, 3)) @ rng.normal(size=(3, 8)) + 0.5
    rows = measures.random_digit_span(X, 3, seed=2)
    assert rows.shape == (3, 8)
    assert np.degrees(principal_angles(rows, pca(X, 3).components)).max() < 1e-6
    # Isotropic noise: random examples are no closer to the top components than chance.
    noise = rng.normal(size=(400, 8))
    far = np.degrees(principal_angles(measures.random_digit_span(noise, 3, seed=2), pca(noise, 3).components))
    assert far.max() > 30
    np.testing.assert_array_equal(rows, measures.random_digit_span(X, 3, seed=2))
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 100\]"):
        measures.random_digit_span(X, 101)


def wachter_median_cos2(ratio):
    """Median of ``cos² θ`` for two random subspaces of dimension ``ratio · n`` in ``Rⁿ``, ``n`` large.

    Wachter's law (1980) for two subspaces of the same dimension, ``ratio ≤ ½``:
    density ``√((x − λ₋)(λ₊ − x)) / (2π · ratio · x(1 − x))`` on ``[λ₋, λ₊]``,
    ``λ± = (√(ratio(1 − ratio)) ± √(ratio(1 − ratio)))²``, so ``λ₋ = 0``.
    """
    low, high = 0.0, 4 * ratio * (1 - ratio)

    def density(x):
        return np.sqrt(x * (high - x)) / (2 * np.pi * ratio * x * (1 - x))

    assert integrate.quad(density, low, high)[0] == pytest.approx(1.0)  # a probability density
    assert integrate.quad(lambda x: x * density(x), low, high)[0] == pytest.approx(ratio)  # its mean is k/n
    return optimize.brentq(lambda t: integrate.quad(density, low, t)[0] - 0.5, 1e-9, high - 1e-9)


def test_random_subspace_is_orthonormal_seeded_and_as_far_from_a_fixed_one_as_theory_says():
    n, k = 784, 196
    rows = measures.random_subspace(n, k, seed=3)
    assert rows.shape == (k, n)
    np.testing.assert_allclose(rows @ rows.T, np.eye(k), atol=1e-12)
    np.testing.assert_array_equal(rows, measures.random_subspace(n, k, seed=3))
    assert np.abs(rows - measures.random_subspace(n, k, seed=4)).max() > 0.1
    # A fixed subspace: the first k coordinate axes.  E[Σ cos² θ] = tr(P_fixed E[P_random]) = k · k/n exactly,
    # and a sum of k such eigenvalues fluctuates by O(1), so the mean cos² lies within O(1/k) of k/n.
    angles = principal_angles(rows, np.eye(n)[:k])
    assert np.mean(np.cos(angles) ** 2) == pytest.approx(k / n, abs=0.01)
    # Markov: at least half the angles are at most the median, so mean cos² ≥ cos²(median) / 2 and
    # cos²(median) ≤ 2 · 0.25: the median angle is above 45°.  Wachter's law puts it at 63.7°.
    assert np.degrees(np.median(angles)) > 45
    expected = np.degrees(np.arccos(np.sqrt(wachter_median_cos2(k / n))))
    assert 63 < expected < 64.5
    assert np.degrees(np.median(angles)) == pytest.approx(expected, abs=1.5)
    # The law's support ends at cos² = 4 (k/n)(1 − k/n) = 3/4: no angle much below 30°.
    assert np.degrees(angles.min()) > 25
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 784\]"):
        measures.random_subspace(n, 785)


def test_the_threshold_is_read_from_the_transfer_function_itself():
    from autoencoder import ACTIVATIONS, Autoencoder

    defined = {name: a.active_above for name, a in ACTIVATIONS.items() if a.active_above is not None}
    assert defined == {"sigmoid": 0.5, "relu": 0.0}
    for name, threshold in defined.items():
        assert activity_threshold(ACTIVATIONS[name]) == activity_threshold(name) == threshold
    topk = Autoencoder(5, activation="relu", output_activation="linear", sparsity="none", top_k=2)
    assert activity_threshold(topk.f) == 0.0
    with pytest.raises(ValueError, match="'tanh' is not a transfer function"):
        activity_threshold("tanh")
    with pytest.raises(ValueError, match="'taylor3' has no activity threshold"):
        activity_threshold(ACTIVATIONS["taylor3"])


def test_every_summary_is_built_from_one_forward_pass_with_the_libraries_bits(monkeypatch):
    from autoencoder import Autoencoder
    from autoencoder.core.pca import pca
    from autoencoder.experiments import grid, measures

    rng = np.random.default_rng(4)
    X = rng.uniform(0.05, 0.95, size=(30, 9))
    model = Autoencoder(4, weight_decay=1e-3)
    params = model.init_params(9, seed=2)
    run = measures.evaluate(model, params, X)
    np.testing.assert_array_equal(run.A, model.encode(params, X))
    np.testing.assert_array_equal(run.H, model.reconstruct(params, X))
    assert run.terms == model.loss_terms(params, X)
    np.testing.assert_array_equal(run.rho_hat, model.mean_activation(params, X))
    passes = []
    real = measures.hidden

    def counting_hidden(*args):
        passes.append(1)
        return real(*args)

    monkeypatch.setattr(measures, "hidden", counting_hidden)
    for summary in (
        lambda: measures.summarize(model, params, X),
        lambda: measures.network_metrics(model, params, X, pca(X, 4)),
        lambda: measures.sae_measures(model, params, X),
        lambda: grid.point_summary(model, params, X),
    ):
        passes.clear()
        summary()
        assert len(passes) == 1


def test_sparsity_term_means_beta_times_the_penalty_sum():
    from autoencoder import Autoencoder
    from autoencoder.experiments import measures

    X = np.random.default_rng(5).uniform(0.05, 0.95, size=(30, 9))
    model = Autoencoder(4, beta=2.5, weight_decay=1e-3)
    params = model.init_params(9, seed=1)
    metrics = measures.network_metrics(model, params, X)
    assert metrics["sparsity_term"] == pytest.approx(model.loss_terms(params, X)["sparsity"], rel=1e-12)
