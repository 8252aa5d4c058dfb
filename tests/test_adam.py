"""Minibatch Adam and the sparse-autoencoder recipe of ``autoencoder.core.adam``.

The pieces of the recipe (AuxK, the pre-encoder-bias chain rule) are checked
against central finite differences, the Adam update against the textbook
formula, the unit-norm constraint after every step, and the whole training
for its stopping rules and for the same bits on any number of workers.
"""

import json

import numpy as np
import pytest

from autoencoder import Autoencoder, Params
from autoencoder.core import _fast
from autoencoder.core import adam as adam_module
from autoencoder.core.adam import (
    Adam,
    _starting_point,
    _Trainer,
    adam_update,
    aux_k_loss_and_grad,
    pre_encoder_bias_grad,
)
from autoencoder.core.gradcheck import numerical_gradient

TOPK = Autoencoder(10, activation="relu", output_activation="linear", sparsity="none", weight_decay=1e-3, top_k=3)
SIGMOID = Autoencoder(6, rho=0.1, beta=3.0, weight_decay=3e-3)
RECIPE = Adam(
    learning_rate=1e-2,
    batch_size=64,
    max_epochs=4,
    unit_norm_decoder=True,
    tied_init=True,
    pre_encoder_bias=True,
    aux_k=4,
    dead_after=64,
    warmup_steps=3,
)


@pytest.fixture
def data(rng):
    """300 examples of 12 features: a few directions plus noise."""
    codes = np.maximum(rng.normal(size=(300, 5)), 0)
    return codes @ rng.normal(size=(5, 12)) + 0.05 * rng.normal(size=(300, 12))


# -- configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("learning_rate", 0.0),
        ("learning_rate", -1e-3),
        ("learning_rate", float("nan")),
        ("batch_size", 0),
        ("batch_size", 2.5),
        ("max_epochs", 0),
        ("plateau", -0.1),
        ("decays", -1),
        ("decay", 0.0),
        ("decay", 1.0),
        ("warmup_steps", -1),
        ("beta1", 1.0),
        ("beta1", -0.1),
        ("beta2", 1.0),
        ("eps", 0.0),
        ("unit_norm_decoder", 1),
        ("tied_init", "yes"),
        ("pre_encoder_bias", None),
        ("aux_k", 0),
        ("aux_k", True),
        ("aux_coefficient", -1.0),
        ("dead_after", 0),
    ],
)
def test_every_invalid_field_is_refused_with_its_name(field, value):
    with pytest.raises(ValueError, match=field):
        Adam(**{field: value})


@pytest.mark.parametrize(
    "model, adam, field",
    [
        (SIGMOID, Adam(batch_size=8, pre_encoder_bias=True), "pre_encoder_bias"),
        (Autoencoder(10, activation="relu", output_activation="linear", sparsity="none"), Adam(aux_k=2), "aux_k"),
        (TOPK, Adam(batch_size=8, aux_k=11), "aux_k"),
        (TOPK, Adam(batch_size=301), "batch_size"),
    ],
)
def test_a_model_or_data_the_configuration_cannot_train_is_refused_before_any_work(model, adam, field, rng):
    X = rng.uniform(0.05, 0.95, size=(300, 12))
    calls = []
    with pytest.raises(ValueError, match=field):
        adam.fit(model, X, callback=lambda *args: calls.append(args))
    assert calls == []


def test_to_dict_holds_every_field_and_is_json():
    config = Adam(aux_k=3, dead_after=100, learning_rate=np.float64(1e-2))
    out = config.to_dict()
    assert set(out) == {f for f in Adam.__dataclass_fields__}
    assert json.loads(json.dumps(out)) == out
    assert Adam(**out) == config


# -- the pieces -------------------------------------------------------------------------------------


def test_adam_update_is_the_textbook_step_in_every_chunk(monkeypatch, rng):
    monkeypatch.setattr(adam_module, "CHUNK", 7)  # several chunks and a short last one
    theta, first, second = rng.normal(size=30), rng.normal(size=30) * 0.1, rng.uniform(size=30) * 0.01
    grad = rng.normal(size=30)
    expected_first = 0.9 * first + 0.1 * grad
    expected_second = 0.999 * second + 0.001 * grad**2
    t = 5
    hat_first, hat_second = expected_first / (1 - 0.9**t), expected_second / (1 - 0.999**t)
    expected = theta - 0.01 * hat_first / (np.sqrt(hat_second) + 1e-8)
    adam_update(theta, grad, first, second, t, 0.01, 0.9, 0.999, 1e-8)
    np.testing.assert_allclose(first, expected_first, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(second, expected_second, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-16)


def _aux_problem(rng, mb=9, n=5, p=8):
    params = Params.from_arrays(
        rng.normal(size=(p, n)), rng.normal(size=p) * 0.3, rng.normal(size=(n, p)), rng.normal(size=n), dtype=np.float64
    )
    return params, rng.normal(size=(mb, n)), rng.normal(size=(mb, n))


@pytest.mark.parametrize("dead_units", [[1, 4, 5, 7], list(range(8))], ids=["some-dead", "all-dead"])
def test_aux_k_gradient_matches_central_differences(rng, dead_units):
    params, X, residual = _aux_problem(rng)
    dead = np.zeros(8, bool)
    dead[dead_units] = True
    loss, grad = aux_k_loss_and_grad(params, X, residual, dead, 2, 0.5)
    assert loss > 0

    def fun(theta):
        return aux_k_loss_and_grad(Params.from_flat(theta, 5, 8), X, residual, dead, 2, 0.5)[0]

    numeric = numerical_gradient(fun, params.flat, eps=1e-6)
    np.testing.assert_allclose(grad.flat, numeric, rtol=1e-6, atol=1e-8)
    live = ~dead
    assert not grad.W1[live].any() and not grad.b1[live].any() and not grad.W2[:, live].any() and not grad.b2.any()
    assert np.abs(grad.W1[dead]).max() > 0  # the check above compares something


def test_aux_k_loss_is_the_weighted_half_squared_error_of_the_top_dead_latents(rng):
    params, X, residual = _aux_problem(rng)
    dead = np.zeros(8, bool)
    dead[[2, 3, 6]] = True
    loss, _ = aux_k_loss_and_grad(params, X, residual, dead, 5, 0.25)  # k above the dead count: all of them
    z = X @ params.W1[dead].T + params.b1[dead]
    e_hat = np.maximum(z, 0) @ params.W2[:, dead].T
    assert loss == pytest.approx(0.25 * 0.5 * np.sum((residual - e_hat) ** 2) / 9, rel=1e-12)


def test_aux_k_without_dead_latents_is_zero(rng):
    params, X, residual = _aux_problem(rng)
    loss, grad = aux_k_loss_and_grad(params, X, residual, np.zeros(8, bool), 2, 1.0)
    assert loss == 0.0
    assert not grad.flat.any()


def test_aux_k_refuses_a_mask_of_the_wrong_shape(rng):
    params, X, residual = _aux_problem(rng)
    with pytest.raises(ValueError, match="dead"):
        aux_k_loss_and_grad(params, X, residual, np.zeros(7, bool), 2, 1.0)


def test_pre_encoder_bias_chain_rule_matches_central_differences(rng):
    model = Autoencoder(4, activation="sigmoid", output_activation="linear", sparsity="l2", rho=0.2, beta=0.5)
    n, p = 5, 4
    X = rng.normal(size=(11, n))
    theta = model.init_params(n, seed=3)  # (W1, c, W2, b2), c in the b1 slot
    theta.b1[...] = rng.normal(size=p)
    theta.b2[...] = rng.normal(size=n)

    def standard(point: Params) -> Params:
        net = point.copy()
        net.b1[...] = point.b1 - point.W1 @ point.b2  # b1 = c − W1 b2
        return net

    net = standard(theta)
    _, grad = model.loss_and_grad(net, X)
    pre_encoder_bias_grad(grad, net)

    def fun(flat):
        return model.loss_and_grad(standard(Params.from_flat(flat, n, p)), X)[0]

    numeric = numerical_gradient(fun, theta.flat, eps=1e-6)
    np.testing.assert_allclose(grad.flat, numeric, rtol=1e-6, atol=1e-9)
    _, plain = model.loss_and_grad(net, X)
    assert np.abs(plain.b2 - grad.b2).max() > 1e-3  # the chain rule changes something


def test_tied_init_starts_from_the_transposed_unit_norm_decoder(data):
    start = _starting_point(Adam(unit_norm_decoder=True, tied_init=True), TOPK, data, 0, None)
    np.testing.assert_array_equal(start.W1, start.W2.T)
    np.testing.assert_allclose(np.linalg.norm(start.W2, axis=0), 1, rtol=1e-14)
    untied = _starting_point(Adam(unit_norm_decoder=True), TOPK, data, 0, None)
    assert not np.array_equal(untied.W1, untied.W2.T)
    np.testing.assert_array_equal(untied.W2, start.W2)


def test_every_step_keeps_unit_decoder_columns_and_the_pre_encoder_form(data):
    start = _starting_point(RECIPE, TOPK, data, 0, None)
    trainer = _Trainer(RECIPE, TOPK, start, RECIPE.batch_size, 256)
    order = np.random.default_rng(1).permutation(len(data))
    aux = []
    with _fast.single_threaded_blas():
        for step in range(12):
            rows = order[(step % 4) * 64 : (step % 4 + 1) * 64]
            trainer.batch[...] = data[rows]
            before = trainer.net.W2.copy()
            aux.append(trainer.step()["aux"])
            net = trainer.net
            assert not np.array_equal(net.W2, before), step
            np.testing.assert_allclose(np.linalg.norm(net.W2, axis=0), 1, rtol=1e-14, err_msg=f"step {step}")
            np.testing.assert_allclose(net.b1, trainer.c - net.W1 @ net.b2, rtol=1e-12, atol=1e-15)
    assert trainer.steps == 12
    assert max(aux) > 0  # with dead_after=64 some latents die and AuxK acts


def test_dead_latents_are_counted_in_examples_since_they_last_fired(data):
    config = Adam(batch_size=64, aux_k=2, dead_after=128)
    start = TOPK.init_params(12, seed=0)
    start.W1[3] = 0
    start.b1[3] = -1.0  # unit 3 never fires, and gets no gradient to revive it
    trainer = _Trainer(config, TOPK, start, 64, 256)
    aux = []
    with _fast.single_threaded_blas():
        for step in range(4):
            trainer.batch[...] = data[step * 64 : (step + 1) * 64]
            fired = TOPK.encode(trainer.net, trainer.batch).max(axis=0) > 0
            aux.append(trainer.step()["aux"])
            assert trainer.since_fired[3] == 64 * (step + 1)
            np.testing.assert_array_equal(trainer.since_fired == 0, fired, err_msg=f"step {step}")
    assert aux[:2] == [0.0, 0.0]  # nothing dead before 128 examples have passed
    assert aux[2] > 0 and aux[3] > 0


def test_warmup_scales_the_first_step(data):
    config = Adam(learning_rate=0.1, batch_size=64, warmup_steps=4)
    start = TOPK.init_params(12, seed=0)
    trainer = _Trainer(config, TOPK, start.copy(), 64, 256)
    trainer.batch[...] = data[:64]
    with _fast.single_threaded_blas():
        trainer.step()
    # Adam's first step moves each coordinate with a gradient well above ε by the learning rate.
    moved = np.abs(trainer.net.flat - start.flat)
    assert moved.max() == pytest.approx(0.1 / 4, rel=1e-6)


# -- training ---------------------------------------------------------------------------------------


def test_adam_lowers_the_objective_and_reports_every_term(data):
    result = Adam(learning_rate=1e-2, batch_size=32, max_epochs=15).fit(TOPK, data, seed=2)
    history = result.history
    assert set(history) == {"reconstruction", "weight_decay", "sparsity", "total"}
    for values in history.values():
        assert values.dtype == np.float64 and values.shape == (result.n_iter + 1,)
    assert history["total"][-1] < 0.5 * history["total"][0]
    assert TOPK.loss_terms(result.params, data)["total"] < 0.5 * history["total"][0]
    assert result.n_evals == result.n_iter * (300 // 32)
    assert result.grad_norm == pytest.approx(TOPK.gradient_norm(result.params, data), rel=0)
    assert result.objective_time < result.wall_time


def test_the_recipe_trains_and_returns_the_standard_network(data):
    result = RECIPE.fit(TOPK, data, seed=0)
    assert "aux" in result.history and result.history["aux"][0] == 0
    assert result.history["total"][-1] < result.history["total"][0]
    np.testing.assert_allclose(np.linalg.norm(result.params.W2, axis=0), 1, rtol=1e-14)
    assert TOPK.loss_terms(result.params, data)["total"] == pytest.approx(result.history["total"][-1], rel=0.5)


def test_the_final_plateau_stops_with_success(data):
    result = Adam(plateau=1.0, decays=2, batch_size=64).fit(TOPK, data)  # every epoch plateaus
    assert result.n_iter == 3
    assert result.success
    assert "plateau 3" in result.message


def test_each_plateau_decays_the_learning_rate(data, monkeypatch):
    trainers = []

    class Spy(_Trainer):
        def __init__(self, *args):
            super().__init__(*args)
            trainers.append(self)

    monkeypatch.setattr(adam_module, "_Trainer", Spy)
    rates = []
    config = Adam(learning_rate=0.5, plateau=1.0, decays=2, decay=0.1, batch_size=64)
    config.fit(TOPK, data, callback=lambda epoch, params, terms: rates.append(trainers[-1].learning_rate))
    assert rates == pytest.approx([0.05, 0.005, 0.005])


def test_max_epochs_stops_without_success(data):
    result = Adam(plateau=0.0, decays=50, max_epochs=3, batch_size=64).fit(TOPK, data)
    assert result.n_iter == 3
    assert not result.success
    assert "max_epochs" in result.message


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_run_stops_at_the_first_epoch_whose_mean_is_not_finite(data):
    result = Adam(learning_rate=1e25, batch_size=64).fit(TOPK, data.astype(np.float32))
    assert result.n_iter == 1 and not result.success
    assert "not finite" in result.message


def test_the_callback_sees_each_epoch_and_can_stop(data):
    seen = []

    def callback(epoch, params, terms):
        seen.append((epoch, params, terms))
        return epoch == 2

    result = Adam(batch_size=64, plateau=0.0, decays=50).fit(TOPK, data, callback=callback)
    assert [epoch for epoch, _, _ in seen] == [1, 2]
    assert result.n_iter == 2 and not result.success
    assert "callback" in result.message
    np.testing.assert_array_equal(seen[-1][1].flat, result.params.flat)
    assert seen[-1][2]["total"] == result.history["total"][-1]


def test_the_start_is_not_modified(data):
    start = TOPK.init_params(12, seed=4)
    before = start.flat.copy()
    result = RECIPE.fit(TOPK, data, params=start)
    np.testing.assert_array_equal(start.flat, before)
    assert not np.array_equal(result.params.flat, before)


def test_float32_data_trains_in_float32(data):
    result = RECIPE.fit(TOPK, data.astype(np.float32))
    assert result.params.dtype == np.float32
    assert result.history["total"].dtype == np.float64
    assert np.isfinite(result.params.flat).all()


# -- reproducibility --------------------------------------------------------------------------------


def _recipe_run(X, monkeypatch, workers, seed=0, block_rows=None):
    monkeypatch.setenv(_fast.WORKERS_VARIABLE, str(workers))
    if block_rows is not None:
        monkeypatch.setattr(_fast, "default_block_rows", lambda m: block_rows)
    return RECIPE.fit(TOPK, X, seed=seed)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_same_bits_on_any_number_of_workers_and_on_every_run(data, monkeypatch, dtype):
    X = data.astype(dtype)
    monkeypatch.setattr(_fast, "default_block_rows", lambda m: 16)  # 4 blocks per minibatch of 64
    one = _recipe_run(X, monkeypatch, 1)
    assert one.workers == 1
    for workers in (1, 2, 3):
        other = _recipe_run(X, monkeypatch, workers)
        assert other.workers == workers
        np.testing.assert_array_equal(other.params.flat, one.params.flat, err_msg=f"{workers} workers")
        for term, values in one.history.items():
            np.testing.assert_array_equal(other.history[term], values, err_msg=term)


def test_a_regrouped_sum_or_another_seed_changes_the_bits(data, monkeypatch):
    # Without this sensitivity the test above would prove nothing.
    default = _recipe_run(data, monkeypatch, 2, block_rows=16)
    regrouped = _recipe_run(data, monkeypatch, 2, block_rows=7)
    assert not np.array_equal(regrouped.params.flat, default.params.flat)
    reseeded = _recipe_run(data, monkeypatch, 2, seed=1, block_rows=16)
    assert not np.array_equal(reseeded.params.flat, default.params.flat)
