"""How far a training ends from a stationary point: ‖∇J‖∞, J's recent fall, and the criterion for converged."""

import dataclasses
import io
import json
import math
import pickle

import numpy as np
import pytest

from autoencoder import Autoencoder, FitResult
from autoencoder.core import model as model_mod
from autoencoder.core.model import GRAD_TOL
from autoencoder.core.params import Params
from autoencoder.experiments import cache as cache_mod
from autoencoder.experiments import model_store, sweep
from autoencoder.experiments.configurations import sparse_sigmoid
from autoencoder.experiments.runs import Run

LIMIT = "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"
AFFINE = {"activation": "linear", "output_activation": "linear", "sparsity": "none"}


def inf_norm(grad: Params) -> float:
    return float(np.max(np.abs(grad.flat)))


def hand_made(total, **fields) -> FitResult:
    """A FitResult with the loss history ``total`` (the other terms zero) and ``fields``."""
    total = np.asarray(total, dtype=float)
    history = {term: np.zeros_like(total) for term in model_mod.TERMS}
    history["total"] = total
    defaults = {"n_iter": total.size - 1, "n_evals": total.size, "message": LIMIT, "success": False, "wall_time": 0.0}
    return FitResult(params=Params.zeros(2, 1), history=history, **{**defaults, **fields})


# -- grad_norm ----------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"sparsity": "l1", "rho": 0.05}], ids=["kl", "l1"])
def test_grad_norm_is_the_gradient_at_the_returned_parameters(unit_data, options):
    model = Autoencoder(3, **options)
    result = model.fit(unit_data, max_iter=5)
    loss, grad = model.loss_and_grad(result.params, unit_data)
    assert result.grad_norm == pytest.approx(inf_norm(grad), rel=1e-12)
    # An outside oracle: a central difference of J along the largest component of the gradient.
    i, h = int(np.argmax(np.abs(grad.flat))), 1e-6
    shifted = [result.params.copy() for _ in range(2)]
    shifted[0].flat[i] += h
    shifted[1].flat[i] -= h
    up, down = (model.loss_terms(p, unit_data)["total"] for p in shifted)
    assert abs(up - down) / (2 * h) == pytest.approx(result.grad_norm, rel=1e-6)
    assert loss == result.loss


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grad_norm_of_an_affine_network_is_that_of_its_covariance_form(unit_data, dtype):
    model = Autoencoder(3, **AFFINE)
    X = unit_data.astype(dtype)
    result = model.fit(X, max_iter=5)
    # The covariance form and the data form differ by rounding only; float32 data is evaluated in float64.
    _, grad = model.loss_and_grad(result.params.astype(np.float64), X.astype(np.float64))
    assert result.grad_norm == pytest.approx(inf_norm(grad), rel=1e-9)
    assert model.gradient_norm(result.params, X) == result.grad_norm


def test_computing_grad_norm_moves_no_bit_of_the_training(unit_data, monkeypatch):
    model = Autoencoder(3)
    X = unit_data.astype(np.float32)
    with_norm = model.fit(X, max_iter=20)
    monkeypatch.setattr(model_mod._TrainingObjective, "gradient_norm", lambda self, flat: math.nan)
    without = model.fit(X, max_iter=20)
    assert math.isnan(without.grad_norm) and np.isfinite(with_norm.grad_norm)
    assert with_norm.params.flat.dtype == without.params.flat.dtype == np.float32
    np.testing.assert_array_equal(with_norm.params.flat, without.params.flat)
    for term in with_norm.history:
        np.testing.assert_array_equal(with_norm.history[term], without.history[term])
    assert (with_norm.n_iter, with_norm.n_evals) == (without.n_iter, without.n_evals)


# -- the criterion --------------------------------------------------------------------------------


def test_a_training_to_its_own_tolerance_is_converged_and_one_stopped_at_three_iterations_is_not(unit_data):
    model = Autoencoder(3)
    done = model.fit(unit_data, max_iter=10_000)
    assert done.success and done.n_iter < 10_000
    assert done.converged
    assert done.grad_norm <= done.gradient_tolerance
    stopped = model.fit(unit_data, max_iter=3)
    assert not stopped.success
    assert not stopped.converged
    assert stopped.grad_norm > 100 * stopped.gradient_tolerance


def test_the_gradient_test_is_relative_to_j_above_one():
    small, large = hand_made([2.0, 0.5]), hand_made([200.0, 50.0])
    assert small.gradient_tolerance == GRAD_TOL
    assert large.gradient_tolerance == pytest.approx(50 * GRAD_TOL)
    assert dataclasses.replace(large, grad_norm=40 * GRAD_TOL).converged
    assert not dataclasses.replace(small, grad_norm=2 * GRAD_TOL).converged
    assert dataclasses.replace(small, grad_norm=GRAD_TOL).converged
    assert not small.converged, "an unknown gradient (NaN) must not pass"
    assert dataclasses.replace(small, success=True).converged


# -- relative_fall --------------------------------------------------------------------------------


def test_relative_fall_over_a_hand_made_history():
    result = hand_made([10.0, 9.0, 8.0, 7.5, 7.2, 7.0])
    assert result.relative_fall(1) == pytest.approx(0.2 / 7.0)
    assert result.relative_fall(2) == pytest.approx(0.5 / 7.0)
    assert result.relative_fall(5) == pytest.approx(3.0 / 7.0)
    # Fewer iterations than the window: the fall since the start.
    assert result.relative_fall() == result.relative_fall(5)
    assert math.isnan(hand_made([3.0]).relative_fall())
    assert hand_made([1.0, 0.0]).relative_fall() == math.inf
    assert hand_made([0.0, 0.0]).relative_fall() == 0.0
    assert hand_made([1.0, 1.5]).relative_fall(1) == pytest.approx(-1 / 3)
    with pytest.raises(ValueError, match="window"):
        result.relative_fall(0)


def test_the_report_names_the_stop_the_gradient_the_fall_and_the_verdict(unit_data):
    report = hand_made([2.0, 1.5, 1.2, 1.0], grad_norm=3.1e-4).convergence_report()
    assert report == (
        "after 3 iterations (the limit): ‖∇J‖∞ = 3.1e-04, J fell 100 % over the last 3 iterations; "
        "not converged by the criterion ‖∇J‖∞ ≤ 1e-05 · max(1, |J|) = 1.0e-05"
    )
    criterion = "‖∇J‖∞ ≤ 1e-05 · max(1, |J|) = 1.2e-04"
    total = 12 + 0.001 * np.arange(20.0)[::-1]
    report = hand_made(total, grad_norm=1e-4).convergence_report()
    assert report.endswith("J fell 0.083 % over the last 10 iterations; converged by the criterion " + criterion)
    done = Autoencoder(3).fit(unit_data, max_iter=10_000).convergence_report()
    assert done.startswith("after ") and "(the optimizer's tolerance)" in done
    assert done.endswith("; converged (the optimizer stopped on its own tolerance)")
    assert "‖∇J‖∞ unknown" in hand_made([1.0, 0.5]).convergence_report()


# -- the cache ------------------------------------------------------------------------------------


def write_old_entry(path, result: FitResult, description: dict) -> None:
    """An entry as the cache wrote it before results had ``grad_norm``: its metadata lacks the field."""
    cache_mod.save_result(path, result, description)
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays["meta"]))
    del meta["grad_norm"]
    buffer = io.BytesIO()
    np.savez(buffer, **{**arrays, "meta": np.array(json.dumps(meta))})
    path.write_bytes(buffer.getvalue())


@pytest.fixture
def old_entry(unit_data, tmp_path):
    """A trained model and the path of its cache entry, written in the format without ``grad_norm``."""
    model, run = Autoencoder(3), {"max_iter": 7, "seed": 2, "tol": 1e-12}
    result = model.fit(unit_data, **run)
    description, _, path = model_store._location(
        Run(model, **run), model_store.checked_data(unit_data, [model]), tmp_path
    )
    write_old_entry(path, result, description)
    return model, run, result, path


def test_a_new_entry_records_grad_norm(unit_data, tmp_path):
    result = cache_mod.fit_cached(Autoencoder(3), unit_data, max_iter=7, directory=tmp_path)
    (path,) = tmp_path.glob("*.npz")
    assert cache_mod.read_meta(path)["grad_norm"] == result.grad_norm
    assert cache_mod.load_result(path).grad_norm == result.grad_norm


def test_an_old_entry_gets_its_grad_norm_on_look_up_without_training(unit_data, old_entry, monkeypatch):
    model, run, trained, path = old_entry
    assert math.isnan(cache_mod.load_result(path).grad_norm)
    mtime = path.stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(Autoencoder, "_fit", no_training)
    found = cache_mod.lookup(model, unit_data, directory=path.parent, **run)
    assert found.grad_norm == trained.grad_norm
    # Written back into the entry, with the same parameters, history, key and modification time.
    again = cache_mod.load_result(path)
    assert again.grad_norm == trained.grad_norm
    np.testing.assert_array_equal(again.params.flat, trained.params.flat)
    np.testing.assert_array_equal(again.history["total"], trained.history["total"])
    assert cache_mod.read_meta(path)["key"] == cache_mod.cache_key(model, unit_data, **run)
    assert path.stat().st_mtime_ns == mtime
    assert cache_mod.fit_cached(model, unit_data, directory=path.parent, **run).grad_norm == trained.grad_norm


def test_an_old_entry_in_a_cache_that_cannot_be_written_keeps_grad_norm_in_memory(unit_data, old_entry, monkeypatch):
    model, run, trained, path = old_entry
    before = path.read_bytes()

    def read_only(*args, **kwargs):
        raise PermissionError("read-only cache")

    monkeypatch.setattr(model_store, "write_atomic", read_only)
    found = cache_mod.fit_cached(model, unit_data, directory=path.parent, **run)
    assert found.grad_norm == trained.grad_norm
    assert path.read_bytes() == before


# -- sweeps ---------------------------------------------------------------------------------------


def test_grad_norm_survives_the_trip_from_a_worker():
    result = hand_made([2.0, 1.0], grad_norm=1.5e-3)
    assert pickle.loads(pickle.dumps(result)).grad_norm == 1.5e-3


@pytest.mark.parametrize(
    "n_workers", [1, pytest.param(2, marks=pytest.mark.slow)], ids=["in process", "embedded cluster"]
)
def test_a_sweep_stores_grad_norm(n_workers, tmp_path):
    X = np.random.default_rng(7).uniform(size=(30, 8))
    chain = sweep.Chain([sparse_sigmoid(3, 0.1, beta, 1e-3) for beta in (0.5, 3.0)], "X", 6, 0, warm_start=True)
    with sweep.Engine(n_workers=n_workers) as engine:
        (results,) = sweep.run_chains([chain], {"X": X}, engine=engine, directory=tmp_path)
    stored = sorted(cache_mod.read_meta(path)["grad_norm"] for path in tmp_path.glob("*.npz"))
    assert stored == sorted(result.grad_norm for result in results)
    for model, result in zip(chain.models, results, strict=True):
        assert np.isfinite(result.grad_norm)
        assert result.grad_norm == model.gradient_norm(result.params, X)
