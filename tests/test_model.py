"""The configuration, its validation, training and the sparsity penalties' edge cases."""

import numpy as np
import pytest

from autoencoder import Autoencoder, FitResult, Params
from autoencoder.core.sparsity import L1_SMOOTHING, PENALTIES


# -- validation ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"n_hidden": 0}, ["n_hidden", ">= 1"]),
        ({"n_hidden": 2.5}, ["n_hidden"]),
        ({"n_hidden": 3, "rho": 0.0}, ["rho", "(0, 1)", "sparsity='kl'", "['l2', 'l1']"]),
        ({"n_hidden": 3, "rho": 1.0, "sparsity": "l2"}, ["rho", "[0, 1)"]),
        ({"n_hidden": 3, "rho": -0.1, "sparsity": "l1"}, ["rho", "[0, 1)", "sparsity='l1'"]),
        ({"n_hidden": 3, "beta": -1.0}, ["beta", "[0, inf]"]),
        ({"n_hidden": 3, "weight_decay": -1e-3}, ["weight_decay", "[0, inf]"]),
        ({"n_hidden": 3, "beta": float("nan")}, ["beta", "finite"]),
        ({"n_hidden": 3, "activation": "tanh"}, ["activation", "'sigmoid'", "'taylor5'", "'relu'"]),
        ({"n_hidden": 3, "activation": "relu"}, ["sparsity='kl'", "activation='relu'", "['sigmoid']"]),
        ({"n_hidden": 3, "activation": "relu", "sparsity": "none", "top_k": 0}, ["top_k", "[1, 3]"]),
        ({"n_hidden": 3, "activation": "relu", "sparsity": "none", "top_k": 4}, ["top_k", "[1, 3]"]),
        ({"n_hidden": 3, "activation": "relu", "sparsity": "none", "top_k": 1.5}, ["top_k", "integer"]),
        ({"n_hidden": 3, "activation": "relu", "sparsity": "none", "top_k": True}, ["top_k", "integer"]),
        ({"n_hidden": 3, "sparsity": "none", "top_k": 2}, ["top_k", "activation='sigmoid'", "'relu'"]),
        ({"n_hidden": 3, "output_activation": "tanh"}, ["output_activation", "'linear'"]),
        ({"n_hidden": 3, "sparsity": "entropy"}, ["sparsity", "'kl'", "'l1'", "'none'"]),
        ({"n_hidden": 3, "activation": "linear", "sparsity": "kl"}, ["sparsity='kl'", "(0, 1)", "activation='linear'"]),
        ({"n_hidden": 3, "activation": "taylor3", "sparsity": "kl"}, ["sparsity='kl'", "taylor3"]),
    ],
)
def test_bad_configuration_is_refused_with_its_name(kwargs, names):
    with pytest.raises(ValueError) as err:
        Autoencoder(**kwargs)
    for name in names:
        assert name in str(err.value)


def test_rho_is_not_checked_without_a_penalty():
    assert Autoencoder(3, sparsity="none", rho=5.0).effective_beta == 0.0


@pytest.mark.parametrize("sparsity", ["l1", "l2"])
@pytest.mark.parametrize("activation", ["sigmoid", "relu", "linear"])
def test_l1_and_l2_accept_a_zero_target(sparsity, activation):
    assert Autoencoder(3, activation=activation, sparsity=sparsity, rho=0).rho == 0.0


def test_top_k_appears_in_the_configuration_only_when_set():
    # Existing configurations keep their dict, and with it their cache key.
    assert "top_k" not in Autoencoder(196).to_dict()
    assert "top_k" not in Autoencoder(5, activation="relu", sparsity="none").to_dict()
    topk = Autoencoder(5, activation="relu", sparsity="none", top_k=np.int64(2))
    assert topk.to_dict()["top_k"] == 2 and type(topk.top_k) is int
    assert topk.f.name == "top_k" and Autoencoder(5, activation="relu", sparsity="none").f.name == "relu"
    assert not topk.affine


def test_configuration_is_immutable():
    model = Autoencoder(3)
    with pytest.raises(AttributeError):
        model.beta = 1.0


def test_objective_is_a_frozen_value_of_the_configuration(unit_data):
    model = Autoencoder(4, sparsity="none", beta=2.0, weight_decay=1e-3)
    objective = model.objective
    assert (objective.f, objective.g, objective.penalty) == (model.f, model.g, model.penalty)
    assert (objective.rho, objective.beta, objective.weight_decay) == (model.rho, 0.0, 1e-3)
    assert objective == model.objective
    with pytest.raises(AttributeError):
        objective.beta = 1.0
    params = model.init_params(unit_data.shape[1], seed=1)
    loss, grad = objective.reference(params, unit_data)
    assert objective.terms(params, unit_data)["total"] == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(model.loss_and_grad(params, unit_data)[1].flat, grad.flat, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.zeros(5), "2-D"),
        (np.zeros((0, 4)), "at least one row"),
        (np.array([[0.1, np.nan]]), "finite"),
        (np.array([[0.1, np.inf]]), "finite"),
        (np.array([[0.1, 1.5]]), "[0, 1]"),
        (np.array([["a", "b"]]), "numbers"),
    ],
)
def test_bad_data_is_refused_before_any_work(X, message):
    model = Autoencoder(2)
    for call in (lambda: model.fit(X, max_iter=1), lambda: model.loss_terms(model.init_params(2), X)):
        with pytest.raises(ValueError, match="X") as err:
            call()
        assert message in str(err.value)


def test_linear_output_accepts_data_outside_the_unit_interval(rng):
    X = rng.normal(size=(10, 4)) * 3
    model = Autoencoder(2, output_activation="linear")
    assert np.isfinite(model.loss_and_grad(model.init_params(4), X)[0])


def test_params_must_fit_the_data(unit_data):
    model = Autoencoder(4)
    wrong = Autoencoder(5).init_params(6)
    with pytest.raises(ValueError, match=r"W1 must have shape \(4, 6\)"):
        model.loss_and_grad(wrong, unit_data)
    with pytest.raises(ValueError, match="W1 must have shape"):
        model.fit(unit_data, params=model.init_params(7), max_iter=1)
    with pytest.raises(ValueError, match="max_iter"):
        model.fit(unit_data, max_iter=-1)


# -- parameters --------------------------------------------------------------------------
def test_params_are_views_of_one_vector():
    params = Autoencoder(3).init_params(5, seed=0)
    assert params.flat.size == 2 * 5 * 3 + 3 + 5
    for arr in (params.W1, params.b1, params.W2, params.b2):
        assert np.shares_memory(arr, params.flat)
    params.W2[1, 2] = 42.0
    assert 42.0 in params.flat
    round_trip = Params.from_arrays(params.W1, params.b1, params.W2, params.b2)
    np.testing.assert_array_equal(round_trip.flat, params.flat)
    with pytest.raises(ValueError, match="b2 has shape"):
        Params.from_arrays(params.W1, params.b1, params.W2, np.zeros(4))


def test_ufldl_initialisation():
    params = Autoencoder(196).init_params(784, seed=7)
    r = np.sqrt(6 / (784 + 196 + 1))
    for W in (params.W1, params.W2):
        assert np.abs(W).max() <= r
        assert np.abs(W).max() > 0.99 * r
    assert not params.b1.any() and not params.b2.any()
    np.testing.assert_array_equal(Autoencoder(196).init_params(784, seed=7).flat, params.flat)
    assert not np.array_equal(Autoencoder(196).init_params(784, seed=8).flat, params.flat)


# -- training ---------------------------------------------------------------------------
def test_fit_decreases_the_objective_and_records_every_term(unit_data):
    model = Autoencoder(4)
    result = model.fit(unit_data, max_iter=25, seed=1)
    assert isinstance(result, FitResult)
    assert result.n_iter == 25
    assert result.n_evals >= result.n_iter
    assert "ITERATIONS" in result.message.upper()
    for term in ("reconstruction", "weight_decay", "sparsity", "total"):
        assert result.history[term].shape == (result.n_iter + 1,)
    total = result.history["total"]
    assert np.all(np.diff(total) <= 1e-12)
    assert total[-1] < 0.5 * total[0]
    np.testing.assert_allclose(
        total, result.history["reconstruction"] + result.history["weight_decay"] + result.history["sparsity"]
    )
    assert result.loss == pytest.approx(model.loss_terms(result.params, unit_data)["total"], rel=1e-12)
    assert 0 < result.objective_time <= result.wall_time


def test_fit_is_deterministic(unit_data):
    model = Autoencoder(4)
    a = model.fit(unit_data, max_iter=30, seed=5)
    b = model.fit(unit_data, max_iter=30, seed=5)
    np.testing.assert_array_equal(a.params.flat, b.params.flat)
    np.testing.assert_array_equal(a.history["total"], b.history["total"])
    c = model.fit(unit_data, max_iter=30, seed=6)
    assert not np.array_equal(a.params.flat, c.params.flat)


def test_warm_start_continues_and_leaves_the_start_untouched(unit_data):
    model = Autoencoder(4)
    first = model.fit(unit_data, max_iter=10)
    start = first.params.flat.copy()
    second = model.fit(unit_data, max_iter=10, params=first.params)
    np.testing.assert_array_equal(first.params.flat, start)
    assert second.history["total"][0] == pytest.approx(first.history["total"][-1], rel=1e-12)
    assert second.loss < first.loss


def test_callback_sees_each_iteration_and_can_stop(unit_data):
    seen = []

    def callback(iteration, params, terms):
        seen.append((iteration, terms["total"]))
        return iteration == 4

    result = Autoencoder(4).fit(unit_data, max_iter=50, callback=callback)
    assert [i for i, _ in seen] == [1, 2, 3, 4]
    assert result.n_iter == 4
    np.testing.assert_allclose([t for _, t in seen], result.history["total"][1:])


def test_float32_works_end_to_end(unit_data):
    model = Autoencoder(4)
    X32 = unit_data.astype(np.float32)
    loss32, grad32 = model.loss_and_grad(model.init_params(6), X32)
    loss64, grad64 = model.loss_and_grad(model.init_params(6), unit_data)
    assert grad32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(grad32.flat, grad64.flat, rtol=1e-3, atol=1e-6)
    result = model.fit(X32, max_iter=20)
    assert result.params.dtype == np.float32
    assert model.encode(result.params, X32).dtype == np.float32
    assert result.loss < result.history["total"][0]


def test_encode_and_reconstruct_shapes(unit_data):
    model = Autoencoder(3)
    params = model.init_params(6)
    assert model.encode(params, unit_data).shape == (20, 3)
    assert model.reconstruct(params, unit_data).shape == (20, 6)
    np.testing.assert_allclose(model.mean_activation(params, unit_data), model.encode(params, unit_data).mean(0))


# -- sparsity penalties ------------------------------------------------------------------------
def test_kl_never_returns_nan_or_inf_for_saturated_units(unit_data):
    model = Autoencoder(3, rho=0.05, beta=3.0)
    params = model.init_params(6)
    params.b1[...] = [-800.0, 0.0, 800.0]  # ρ̂ rounds to exactly 0 and 1
    loss, grad = model.loss_and_grad(params, unit_data)
    assert np.isfinite(loss) and np.all(np.isfinite(grad.flat))


def test_kl_is_zero_at_the_target_and_positive_elsewhere():
    kl = PENALTIES["kl"]
    assert kl.value(np.array([0.1]), 0.1)[0] == pytest.approx(0.0, abs=1e-16)
    assert np.all(kl.value(np.array([0.01, 0.3, 0.9]), 0.1) > 0)


def test_l1_is_smoothed_at_the_kink():
    l1 = PENALTIES["l1"]
    rho = 0.1
    d = np.array([-0.5, -1e-3, -1e-6, 0.0, 1e-6, 1e-3, 0.5])
    value, slope = l1.value(rho + d, rho), l1.derivative(rho + d, rho)
    assert value[3] == 0.0 and slope[3] == 0.0
    assert np.all(np.abs(value - np.abs(d)) <= L1_SMOOTHING)
    # continuous slope through the kink, approaching sign(d) away from it
    assert abs(slope[4] - slope[2]) < 0.03
    np.testing.assert_allclose(slope[[0, 6]], [-1, 1], atol=1e-7)
    np.testing.assert_allclose(slope[[1, 5]], [-1, 1], atol=1e-2)


def test_l1_training_settles_on_the_target_without_stalling(rng):
    # Strong L1 sparsity drives every ρ̂ to ρ; with the smoothed kink L-BFGS gets there
    # and stops on its own tolerance, not on an abnormal line search.
    X = rng.uniform(0, 1, size=(200, 8))
    model = Autoencoder(5, sparsity="l1", rho=0.2, beta=5.0, weight_decay=1e-4)
    result = model.fit(X, max_iter=500, tol=1e-10)
    rho_hat = model.mean_activation(result.params, X)
    assert np.abs(rho_hat - 0.2).max() < 1e-3
    assert "ABNORMAL" not in result.message.upper()
    assert result.history["sparsity"][-1] < 1e-2 * result.history["sparsity"][0]


def test_pickled_params_are_views_of_their_flat_vector_again():
    import pickle

    params = Autoencoder(3).init_params(5, seed=1)
    copy = pickle.loads(pickle.dumps(params))
    np.testing.assert_array_equal(copy.flat, params.flat)
    for name, array in copy.as_dict().items():
        assert np.shares_memory(array, copy.flat), name
    copy.W1[0, 0] = 7.0
    assert copy.flat[0] == 7.0 and params.flat[0] != 7.0


def test_params_from_an_unaligned_buffer_are_aligned():
    flat = Autoencoder(3).init_params(5, seed=1).flat
    buffer = np.zeros(flat.nbytes + 1, dtype=np.uint8)
    unaligned = np.frombuffer(buffer[1:].data, dtype=flat.dtype)
    unaligned[...] = flat
    assert not unaligned.flags.aligned
    params = Params.from_flat(unaligned, 5, 3)
    assert params.flat.flags.aligned and params.W1.flags.aligned
    np.testing.assert_array_equal(params.flat, flat)


def test_l1_smoothing_sets_the_width_of_the_l1_penalty():
    rho_hat = np.array([0.05, 0.1, 0.3])
    wide = Autoencoder(n_hidden=3, sparsity="l1", rho=0.1, l1_smoothing=0.05)
    d = rho_hat - 0.1
    np.testing.assert_allclose(wide.penalty.value(rho_hat, 0.1), np.sqrt(d * d + 0.05**2) - 0.05, rtol=1e-15)
    np.testing.assert_allclose(wide.penalty.derivative(rho_hat, 0.1), d / np.sqrt(d * d + 0.05**2), rtol=1e-15)
    default = Autoencoder(n_hidden=3, sparsity="l1", rho=0.1)
    assert default.penalty is PENALTIES["l1"]
    assert "l1_smoothing" not in default.to_dict()
    assert wide.to_dict()["l1_smoothing"] == 0.05
    assert Autoencoder(**wide.to_dict()) == wide


@pytest.mark.parametrize("bad", [0.0, -1e-3, float("nan"), float("inf"), "wide"])
def test_l1_smoothing_must_be_a_positive_width(bad):
    with pytest.raises((ValueError, TypeError), match="l1_smoothing"):
        Autoencoder(n_hidden=3, sparsity="l1", l1_smoothing=bad)


def test_l1_smoothing_is_refused_for_other_penalties():
    with pytest.raises(ValueError, match="l1_smoothing.*sparsity='kl'"):
        Autoencoder(n_hidden=3, sparsity="kl", l1_smoothing=0.01)
