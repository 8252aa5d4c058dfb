"""The covariance form of affine networks: agreement with the data form, its gradient, its moments, fit's use of it."""

import itertools

import numpy as np
import pytest

from autoencoder import Autoencoder, Params, check_gradient, pca
from autoencoder.core import covariance
from autoencoder.core.activations import ACTIVATIONS
from autoencoder.core.sparsity import PENALTIES
from autoencoder.datasets.synthetic import spectrum_data
from autoencoder.experiments.studies import GRADIENT_TOLERANCE

AFFINE = [name for name, act in ACTIVATIONS.items() if act.affine is not None]


def affine_models(n_hidden=4, rho=0.2):
    """Every configuration the model accepts with affine transfer functions in both layers."""
    for f, g, s, lam, beta in itertools.product(AFFINE, AFFINE, PENALTIES, (0.0, 3e-3), (0.0, 3.0)):
        try:
            yield Autoencoder(
                n_hidden, activation=f, output_activation=g, sparsity=s, rho=rho, beta=beta, weight_decay=lam
            )
        except ValueError:
            continue


def model_id(model):
    return f"{model.activation}-{model.output_activation}-{model.sparsity}-l{model.weight_decay:g}-b{model.beta:g}"


MODELS = list(affine_models())


def random_point(model, n, rng):
    params = model.init_params(n, seed=5)
    params.b1[...] = rng.normal(scale=0.3, size=model.n_hidden)
    params.b2[...] = rng.normal(scale=0.3, size=n)
    return params


def assert_agrees(loss, grad, loss_ref, grad_ref, rtol=1e-12):
    assert abs(loss - loss_ref) <= rtol * abs(loss_ref)
    assert np.abs(grad.flat - grad_ref.flat).max() <= rtol * np.abs(grad_ref.flat).max()


def test_the_affine_configurations_are_the_ones_expected():
    assert AFFINE == ["linear", "taylor1"]
    # 4 pairs of transfer functions x (l2, l1: 4 values of (lambda, beta); none: 4 as well); kl is refused
    assert len(MODELS) == 4 * 3 * 4
    assert all(m.affine for m in MODELS)
    assert not Autoencoder(3).affine
    assert not Autoencoder(3, activation="linear", output_activation="sigmoid", sparsity="l2").affine
    assert not Autoencoder(3, activation="taylor3", output_activation="linear", sparsity="l2").affine


@pytest.mark.parametrize("model", MODELS, ids=model_id)
def test_agrees_with_the_data_form_to_1e12(model, rng):
    X = rng.uniform(0.02, 0.98, size=(301, 9))
    params = random_point(model, 9, rng)
    objective = covariance.CovarianceObjective(model)
    loss, grad = objective.loss_and_grad(params, X)
    loss_ref, grad_ref = model.objective.reference(params, X)
    assert_agrees(loss, grad, loss_ref, grad_ref)
    loss_fast, grad_fast = model.loss_and_grad(params, X)
    assert_agrees(loss, grad, loss_fast, grad_fast)


@pytest.mark.parametrize("activation", AFFINE)
def test_agrees_near_the_minimum_where_the_error_is_a_small_difference(activation, rng):
    # A network at the principal subspace of pixel-like data (mean 0.5): the reconstruction term is the
    # trailing variance, 1/130 of tr C (MNIST's optimum is 1/60 of it), and J must still agree to 1e-12.
    # The gradient is there a small difference too, in both forms: it must agree to 1e-12 of the size
    # of its terms (tr C times the largest weight).
    spectrum = np.r_[np.ones(4), np.full(6, 1e-2)]
    X = spectrum_data(2_000, spectrum, mean=np.full(10, 0.5), seed=3, exact=True)
    model = Autoencoder(4, activation=activation, output_activation=activation, sparsity="l2", rho=0.1, beta=3.0)
    _, slope = ACTIVATIONS[activation].affine
    U = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)[2][:4]
    params = Params.from_arrays(U / slope, np.zeros(4), U.T / slope, np.zeros(10))
    params.b1[...] += (0.1 - model.mean_activation(params, X)) / slope
    params.b2[...] += (X.mean(axis=0) - model.reconstruct(params, X).mean(axis=0)) / slope
    params.W1[...] += rng.normal(scale=1e-6, size=params.W1.shape)
    loss, grad = covariance.CovarianceObjective(model).loss_and_grad(params, X)
    loss_ref, grad_ref = model.objective.reference(params, X)
    terms = model.loss_terms(params, X)
    assert terms["reconstruction"] == pytest.approx(0.5 * 6e-2, rel=1e-6)
    assert abs(loss - loss_ref) <= 1e-12 * loss_ref
    scale = np.trace(np.cov(X.T, bias=True)) * np.abs(params.flat).max()
    assert np.abs(grad.flat - grad_ref.flat).max() <= 1e-12 * scale


@pytest.mark.parametrize("model", MODELS, ids=model_id)
def test_gradient_matches_finite_differences(model, rng):
    X = rng.uniform(0.05, 0.95, size=(10, 6))
    params = random_point(model, 6, rng)
    assert check_gradient(covariance.CovarianceObjective(model), params, X) < GRADIENT_TOLERANCE


def test_gradient_check_catches_a_wrong_term(monkeypatch, rng):
    # The check must be able to fail: drop the penalty's slope from ∂J/∂ρ̂ and it does.
    model = Autoencoder(4, activation="linear", sparsity="l2", rho=0.2, beta=3.0)
    X = rng.uniform(0.05, 0.95, size=(10, 6))
    params = random_point(model, 6, rng)
    broken = PENALTIES["l2"].__class__("l2", PENALTIES["l2"].value, lambda rho_hat, rho: 0 * rho_hat, False)
    monkeypatch.setattr(Autoencoder, "penalty", property(lambda self: broken))
    assert check_gradient(covariance.CovarianceObjective(model), params, X) > 1e-3


def test_terms_add_up_and_match_the_data_form(rng):
    model = Autoencoder(3, activation="taylor1", output_activation="linear", sparsity="l1", rho=0.3, beta=2.0)
    X = rng.normal(size=(50, 7))
    params = random_point(model, 7, rng)
    grad = Params.zeros(7, 3)
    loss, terms = model.objective.covariance(params, covariance.moments(X), grad, terms=True)
    expected = model.loss_terms(params, X)
    for key in ("reconstruction", "weight_decay", "sparsity", "total"):
        assert terms[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-15)
    assert loss == terms["total"]


# -- the moments ------------------------------------------------------------------------------------


def test_moments_are_the_mean_and_the_centred_covariance(rng):
    X = rng.normal(loc=5.0, size=(5_000, 6))
    mom = covariance.moments(X)
    np.testing.assert_allclose(mom.mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(mom.covariance, np.cov(X.T, bias=True), rtol=1e-12, atol=1e-14)
    assert mom.n_samples == 5_000 and mom.n_features == 6
    assert mom.trace == pytest.approx(np.trace(np.cov(X.T, bias=True)), rel=1e-13)
    np.testing.assert_array_equal(mom.covariance, mom.covariance.T)
    np.testing.assert_allclose(mom.eigenvalues(), np.linalg.eigvalsh(np.cov(X.T, bias=True))[::-1], rtol=1e-12)


def test_principal_components_of_the_moments_are_those_of_the_data(rng):
    spectrum = 2.0 ** -np.arange(8)
    X = spectrum_data(3_000, spectrum, mean=np.linspace(0, 3, 8), seed=4)
    by_svd, by_moments = pca(X, 5), covariance.moments(X).principal_components(5)
    np.testing.assert_allclose(by_moments.explained_variance, by_svd.explained_variance, rtol=1e-12)
    np.testing.assert_allclose(by_moments.components, by_svd.components, atol=1e-9)
    np.testing.assert_allclose(by_moments.mean, by_svd.mean, rtol=1e-14)
    assert by_moments.total_variance == pytest.approx(by_svd.total_variance, rel=1e-13)
    assert by_moments.reconstruction_error() == pytest.approx(by_svd.reconstruction_error(), rel=1e-11)
    with pytest.raises(ValueError, match="n_components must be an integer in \\[1, 8\\]"):
        covariance.moments(X).principal_components(9)


def test_moments_of_float32_data_are_float64_and_exact(rng):
    X = rng.uniform(size=(4_500, 5)).astype(np.float32)
    mom32, mom64 = covariance.moments(X), covariance.moments(X.astype(np.float64))
    assert mom32.mean.dtype == mom32.covariance.dtype == np.float64
    np.testing.assert_array_equal(mom32.mean, mom64.mean)
    np.testing.assert_array_equal(mom32.covariance, mom64.covariance)


@pytest.mark.parametrize("workers", ["1", "2", "3"])
def test_moments_and_evaluations_are_the_same_bits_for_any_worker_count(workers, monkeypatch, rng):
    X = rng.uniform(size=(9_000, 8))  # five blocks, split between two parts
    model = Autoencoder(3, activation="linear", sparsity="l2", rho=0.1, beta=3.0)
    params = random_point(model, 8, rng)

    def evaluate():
        mom = covariance.moments(X)
        grad = Params.zeros(8, 3)
        ws = covariance.Workspace(mom, 3)
        return mom, model.objective.covariance(params, mom, grad, workspace=ws), grad, ws

    monkeypatch.setenv("AUTOENCODER_WORKERS", "1")
    mom1, loss1, grad1, _ = evaluate()
    monkeypatch.setenv("AUTOENCODER_WORKERS", workers)
    mom, loss, grad, ws = evaluate()
    assert ws.workers == min(int(workers), 2)
    np.testing.assert_array_equal(mom.covariance, mom1.covariance)
    np.testing.assert_array_equal(mom.mean, mom1.mean)
    assert loss == loss1
    np.testing.assert_array_equal(grad.flat, grad1.flat)


def test_a_workspace_serves_only_its_own_moments(rng):
    X = rng.uniform(size=(20, 4))
    mom = covariance.moments(X)
    ws = covariance.Workspace(mom, 2, workers=1)
    assert ws.fits(mom, 2) and not ws.fits(mom, 3) and not ws.fits(covariance.moments(X), 2)


# -- bad input --------------------------------------------------------------------------------------


BAD_DATA = [
    np.zeros(5),
    np.zeros((0, 4)),
    np.array([[0.1, np.nan]]),
    np.array([[0.1, -np.inf]]),
    np.array([["a", "b"]]),
    np.zeros((3, 5)),  # the wrong width for the parameters
]


@pytest.mark.parametrize("X", BAD_DATA, ids=["1-D", "empty", "nan", "inf", "text", "width"])
def test_refuses_what_the_data_form_refuses_with_the_same_message(X):
    model = Autoencoder(2, activation="linear", sparsity="l2")
    params = model.init_params(2)

    def message(call):
        with pytest.raises(ValueError) as err:
            call()
        return str(err.value)

    expected = message(lambda: model.loss_and_grad(params, X))
    assert message(lambda: covariance.CovarianceObjective(model).loss_and_grad(params, X)) == expected
    if X.ndim != 2 or X.shape[1] != 5:  # the data itself is bad, not its fit to the parameters
        assert message(lambda: covariance.moments(X)) == expected


def test_fit_refuses_bad_data_like_the_data_path():
    data_path = Autoencoder(2, activation="sigmoid", output_activation="linear", sparsity="l2")
    affine = Autoencoder(2, activation="linear", sparsity="l2")
    for X in BAD_DATA[:5]:
        messages = []
        for model in (data_path, affine):
            with pytest.raises(ValueError) as err:
                model.fit(X, max_iter=1)
            messages.append(str(err.value))
        assert messages[0] == messages[1]
    # Data outside [0, 1] and integers are accepted by both (neither output is a sigmoid).
    X = np.array([[-3, 4], [5, 6], [7, -8]])
    for model in (data_path, affine):
        assert model.fit(X, max_iter=2).params.dtype == np.float64


def test_refuses_networks_that_are_not_affine():
    for model in (Autoencoder(3), Autoencoder(3, activation="linear", output_activation="taylor3", sparsity="l2")):
        with pytest.raises(ValueError, match="affine transfer functions") as err:
            covariance.CovarianceObjective(model)
        assert model.output_activation in str(err.value)
    mom = covariance.moments(np.ones((3, 2)))
    model = Autoencoder(1)
    with pytest.raises(ValueError, match="activation='sigmoid'"):
        model.objective.covariance(model.init_params(2), mom, Params.zeros(2, 1))


def test_refuses_float32_or_misshapen_parameters():
    model = Autoencoder(2, activation="linear", sparsity="none")
    mom = covariance.moments(np.ones((3, 4)))
    for params, grad in (
        (model.init_params(4, dtype=np.float32), Params.zeros(4, 2)),
        (model.init_params(4), Params.zeros(5, 2)),
    ):
        with pytest.raises(ValueError, match="float64 with n_visible = 4"):
            model.objective.covariance(params, mom, grad)


# -- fit takes it by itself -------------------------------------------------------------------------


def test_fit_evaluates_affine_networks_on_the_covariance_form_only(monkeypatch, rng):
    from autoencoder.core import _fast

    calls = {"covariance": 0, "data": 0}
    real_cov, real_fast = covariance.loss_and_grad, _fast.loss_and_grad

    def counting(name, real):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(covariance, "loss_and_grad", counting("covariance", real_cov))
    monkeypatch.setattr(_fast, "loss_and_grad", counting("data", real_fast))
    X = rng.uniform(size=(40, 6))
    result = Autoencoder(2, activation="taylor1", output_activation="linear", sparsity="l2").fit(X, max_iter=5)
    # The optimizer's evaluations and the one of grad_norm at the returned parameters.
    assert calls == {"covariance": result.n_evals + 1, "data": 0}
    Autoencoder(2, sparsity="l2").fit(X, max_iter=2)
    assert calls["data"] > 0 and calls["covariance"] == result.n_evals + 1


def test_fit_history_is_the_objective_on_the_data(rng):
    X = rng.uniform(size=(200, 8))
    model = Autoencoder(3, activation="linear", sparsity="l2", rho=0.1, beta=3.0, weight_decay=1e-3)
    seen = []
    result = model.fit(X, max_iter=30, callback=lambda i, params, terms: seen.append(i) or i == 20)
    assert seen == list(range(1, 21)) and result.n_iter == 20
    assert len(result.history["total"]) == 21
    terms = model.loss_terms(result.params, X)
    for key, value in terms.items():
        assert result.history[key][-1] == pytest.approx(value, rel=1e-12, abs=1e-15)
    assert result.objective_time > 0 and result.workers in (1, 2)


def test_float32_data_trains_in_float64_and_returns_float32(rng):
    X = rng.uniform(size=(300, 8)).astype(np.float32)
    model = Autoencoder(3, activation="linear", sparsity="none", weight_decay=1e-3)
    result32 = model.fit(X, max_iter=40)
    result64 = model.fit(X.astype(np.float64), max_iter=40)
    assert result32.params.dtype == np.float32
    np.testing.assert_array_equal(result32.params.flat, result64.params.flat.astype(np.float32))
    np.testing.assert_array_equal(result32.history["total"], result64.history["total"])
