"""Gradients against central finite differences, and the fast objective against the reference."""

import itertools

import numpy as np
import pytest

from autoencoder import ACTIVATIONS, PENALTIES, Autoencoder, Params, check_gradient
from autoencoder.core import _fast
from autoencoder.core.gradcheck import numerical_gradient

RHO = 0.2


def accepted_configurations():
    """Every transfer × output transfer × penalty × (λ = 0, λ > 0) × (β = 0, β > 0) the model accepts."""
    out = []
    for f, g, phi, lam, beta in itertools.product(ACTIVATIONS, ACTIVATIONS, PENALTIES, (0.0, 0.03), (0.0, 0.7)):
        try:
            model = Autoencoder(
                4, activation=f, output_activation=g, sparsity=phi, rho=RHO, beta=beta, weight_decay=lam
            )
        except ValueError:
            assert phi == "kl" and not ACTIVATIONS[f].unit_range
            continue
        out.append(model)
    return out


def new_configurations():
    """The target ρ = 0 of l1 and l2, and TopK (k = 1, 3 of 4 ReLU units) × outputs × penalties × λ × β."""
    out = [
        Autoencoder(4, activation=f, output_activation=g, sparsity=phi, rho=0.0, beta=0.7, weight_decay=0.03)
        for f, g, phi in itertools.product(("sigmoid", "relu"), ("sigmoid", "linear", "relu"), ("l1", "l2"))
    ]
    for k, g, phi, lam, beta in itertools.product(
        (1, 3), ("sigmoid", "linear", "relu"), ("none", "l1", "l2"), (0.0, 0.03), (0.0, 0.7)
    ):
        out.append(
            Autoencoder(
                4, activation="relu", output_activation=g, sparsity=phi, rho=0.0, beta=beta, weight_decay=lam, top_k=k
            )
        )
    return out


CONFIGS = accepted_configurations()
NEW_CONFIGS = new_configurations()
# The step of the central differences; a point is checked only where every kink (z = 0 of a ReLU,
# a tie at the k-th value of TopK) is many steps away, so that the difference quotient sees one piece.
STEP = 1e-5
KINK_MARGIN = 1e-3


def test_every_combination_is_covered():
    # 6 hidden transfers × 6 output transfers × 4 penalties × 2 × 2, less KL on the 5 unbounded transfers.
    assert len(CONFIGS) == 6 * 6 * 4 * 4 - 5 * 6 * 4
    assert sum(m.activation == "relu" or m.output_activation == "relu" for m in CONFIGS) == (6 + 5) * (3 * 4) + 4


def _point(model, n, rng):
    params = model.init_params(n, seed=3)
    params.b1[...] = rng.normal(scale=0.3, size=model.n_hidden)
    params.b2[...] = rng.normal(scale=0.3, size=n)
    return params


def kink_distance(model, params, X):
    """How far the pre-activations are from the kinks of the model's ReLU and TopK layers (inf: none)."""
    z2 = X @ params.W1.T + params.b1
    z3 = model.f.forward(z2) @ params.W2.T + params.b2
    gaps = [np.inf]
    if model.activation == "relu":
        gaps.append(np.abs(z2).min())
    if model.output_activation == "relu":
        gaps.append(np.abs(z3).min())
    if model.top_k is not None and model.top_k < model.n_hidden:
        ordered = -np.sort(-z2, axis=1)
        gaps.append((ordered[:, model.top_k - 1] - ordered[:, model.top_k]).min())
    return min(gaps)


def _ids(m):
    k = "" if m.top_k is None else f"-top{m.top_k}"
    return f"{m.activation}-{m.output_activation}-{m.sparsity}{m.rho:g}{k}-l{m.weight_decay}-b{m.beta}"


@pytest.mark.parametrize("model", CONFIGS + NEW_CONFIGS, ids=_ids)
def test_gradient_matches_finite_differences(model, unit_data, rng):
    params = _point(model, unit_data.shape[1], rng)
    # The relative change of a pre-activation over one step is about STEP · |x| ≤ STEP, so a margin of
    # 100 steps keeps every evaluation of the difference quotient on the same side of every kink.
    assert kink_distance(model, params, unit_data) > KINK_MARGIN
    assert check_gradient(model, params, unit_data, eps=STEP) < 1e-7


def test_top_k_configurations_keep_fewer_units_than_they_have(unit_data, rng):
    # The TopK checks above exercise the selection: some kept units, some zeroed ones per example.
    for model in NEW_CONFIGS:
        if model.top_k is not None:
            a2 = model.encode(_point(model, unit_data.shape[1], rng), unit_data)
            active = np.count_nonzero(a2, axis=1)
            assert active.max() <= model.top_k
            assert np.count_nonzero(a2) > 0


@pytest.mark.parametrize("model", CONFIGS[::7] + NEW_CONFIGS[::5], ids=_ids)
def test_fast_objective_agrees_with_reference(model, rng):
    X = rng.uniform(0.05, 0.95, size=(37, 9))
    params = _point(model, 9, rng)
    loss_ref, grad_ref = model.objective.reference(params, X)
    for block_rows in (1, 5, 37, 100):
        grad = Params.zeros(9, 4)
        ws = _fast.Workspace(X, 4, block_rows=block_rows)
        loss = model.objective.fast(params, X, grad, workspace=ws)
        assert loss == pytest.approx(loss_ref, rel=1e-12, abs=1e-300)
        np.testing.assert_allclose(grad.flat, grad_ref.flat, rtol=1e-12, atol=1e-14 * np.abs(grad_ref.flat).max())


def test_loss_terms_sum_to_loss(unit_data):
    model = Autoencoder(4, rho=0.1, beta=3.0, weight_decay=3e-3)
    params = model.init_params(6, seed=1)
    terms = model.loss_terms(params, unit_data)
    loss, _ = model.loss_and_grad(params, unit_data)
    assert terms["total"] == pytest.approx(loss, rel=1e-12)
    assert terms["total"] == pytest.approx(terms["reconstruction"] + terms["weight_decay"] + terms["sparsity"])
    assert min(terms.values()) > 0
    # The weight-decay term is λ ½ (‖W1‖² + ‖W2‖²), biases excluded.
    expected = 0.5 * 3e-3 * (np.sum(params.W1**2) + np.sum(params.W2**2))
    assert terms["weight_decay"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_penalty_derivative_in_isolation(name):
    penalty = PENALTIES[name]
    rho_hat = np.array([0.03, 0.15, 0.35, 0.6, 0.97])
    numeric = numerical_gradient(lambda q: float(np.sum(penalty.value(q, RHO))), rho_hat, 1e-7)
    np.testing.assert_allclose(penalty.derivative(rho_hat, RHO), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_transfer_derivative_in_isolation(name):
    act = ACTIVATIONS[name]
    z = np.linspace(-3, 3, 12)  # no point at the ReLU's kink z = 0
    numeric = numerical_gradient(lambda v: float(np.sum(act.forward(v))), z, 1e-6)
    np.testing.assert_allclose(act.derivative(z, act.forward(z)), numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_the_derivative_in_place_is_the_derivative(name, dtype):
    """What the training objective reads (into a buffer, or multiplied in) is the derivative itself, bit for bit."""
    act = ACTIVATIONS[name]
    z = np.linspace(-3, 3, 24, dtype=dtype).reshape(4, 6)
    a = act.forward(z)
    expected = act.derivative(z, a)
    assert expected.dtype == dtype and expected.shape == z.shape
    out = np.full_like(z, np.nan)
    assert act.derivative(z, a, out=out) is out
    np.testing.assert_array_equal(out, expected)
    target, scratch = np.linspace(-1, 2, 24, dtype=dtype).reshape(4, 6), np.empty_like(z)
    product = target * expected
    assert act.times_derivative(z, a, target, scratch) is target
    np.testing.assert_array_equal(target, product)


def test_taylor_polynomials_match_the_sigmoid_series():
    z = np.linspace(-0.5, 0.5, 11)
    sigmoid = ACTIVATIONS["sigmoid"].forward(z)
    # Remainders of the series ½ + z/4 − z³/48 + z⁵/480 − 17 z⁷/80640: each order is closer.
    errors = [np.abs(ACTIVATIONS[f"taylor{k}"].forward(z) - sigmoid).max() for k in (1, 3, 5)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] <= 17 * 0.5**7 / 80640 * 1.001
    np.testing.assert_allclose(ACTIVATIONS["taylor3"].forward(z), 0.5 + z / 4 - z**3 / 48, rtol=1e-15)


def test_relu_and_its_derivative_at_the_kink():
    relu = ACTIVATIONS["relu"]
    z = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0])
    a = relu.forward(z)
    np.testing.assert_array_equal(a, [0.0, 0.0, 0.0, 1e-300, 3.0])
    # relu'(0) is taken to be 0: a unit exactly at its kink passes no gradient.
    np.testing.assert_array_equal(relu.derivative(z, a), [0.0, 0.0, 0.0, 1.0, 1.0])
    assert not relu.unit_range and relu.affine is None and not relu.needs_input


def test_derivatives_take_a_scalar_as_they_take_an_array():
    from autoencoder.core.activations import ACTIVATIONS

    for name, f in ACTIVATIONS.items():
        for z in (0.3, -1.7):
            a = f.forward(np.float64(z))
            scalar = f.derivative(z, a)
            array = f.derivative(np.array([z]), np.array([a]))
            assert float(scalar) == float(array[0]), name
