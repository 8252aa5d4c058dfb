"""The scikit-learn estimator: scikit-learn's own checks, pipelines, grid search, pickling, pandas output."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from autoencoder import Autoencoder
from autoencoder.experiments import cache
from autoencoder.experiments.measures import reconstruction_mse
from autoencoder.sklearn import SparseAutoencoder, expected_failed_checks

# Tiny trainings, so that the fifty checks of each take about a second.
LINEAR_OUTPUT = SparseAutoencoder(5, output_activation="linear", max_iter=5)
SIGMOID_OUTPUT = SparseAutoencoder(5, max_iter=5)


def _check_name(check) -> str:
    return getattr(check, "func", check).__name__


def _array_api_check_in_a_fresh_process(estimator):
    """``check_array_api_input`` with ``$SCIPY_ARRAY_API`` set, which SciPy reads once, at import."""
    code = (
        "import json, sys\n"
        "from sklearn.utils.estimator_checks import check_array_api_input\n"
        "from autoencoder.sklearn import SparseAutoencoder\n"
        "estimator = SparseAutoencoder(**json.loads(sys.argv[1]))\n"
        "check_array_api_input('SparseAutoencoder', estimator, array_namespace='numpy', "
        "expect_only_array_outputs=False)\n"
    )
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    run = subprocess.run(
        [sys.executable, "-c", code, json.dumps(estimator.get_params())], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]


@parametrize_with_checks(
    [LINEAR_OUTPUT, SIGMOID_OUTPUT], expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_scikit_learn_estimator_checks(estimator, check):
    if _check_name(check) == "check_array_api_input":
        _array_api_check_in_a_fresh_process(estimator)
    else:
        check(estimator)


@pytest.mark.filterwarnings("ignore:Skipping check check_array_api_input")
def test_the_checks_a_sigmoid_output_fails_fail_because_it_refuses_data_outside_the_unit_interval():
    declared = expected_failed_checks(SIGMOID_OUTPUT)
    results = check_estimator(SIGMOID_OUTPUT, on_fail=None)
    failed = {r["check_name"]: str(r["exception"]) for r in results if r["status"] == "failed"}
    # The array API check is skipped here (no $SCIPY_ARRAY_API); the test above runs it in a fresh process.
    assert set(failed) == set(declared) - {"check_array_api_input"}
    negative = failed.pop("check_positive_only_tag_during_fit")
    assert "raised ValueError unexpectedly. This happens when passing negative input values" in negative
    for name, message in failed.items():
        assert "a sigmoid output reconstructs values in [0, 1] only" in message, name
    assert {r["status"] for r in results} <= {"passed", "failed", "skipped"}
    assert expected_failed_checks(LINEAR_OUTPUT) == {}


# -- what fit, transform, inverse_transform and score compute ---------------------------------------


@pytest.fixture
def digits():
    """scikit-learn's 8x8 digits scaled to [0, 1], split in halves with every class in both."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16, y, test_size=0.5, random_state=0, stratify=y)


def test_the_estimator_trains_the_library_model_and_reads_it(unit_data):
    estimator = SparseAutoencoder(4, rho=0.2, beta=1.0, max_iter=30, random_state=7).fit(unit_data)
    model = Autoencoder(4, rho=0.2, beta=1.0)
    result = model.fit(unit_data, max_iter=30, seed=7)
    assert estimator.model_ == model
    np.testing.assert_array_equal(estimator.params_.flat, result.params.flat)
    np.testing.assert_array_equal(estimator.components_, result.params.W1)
    np.testing.assert_array_equal(estimator.history_["total"], result.history["total"])
    assert (estimator.n_iter_, estimator.stop_reason_, estimator.converged_, estimator.grad_norm_) == (
        result.n_iter,
        result.message,
        result.converged,
        result.grad_norm,
    )
    assert estimator.loss_ == result.loss
    assert estimator.n_features_in_ == 6 and not hasattr(estimator, "feature_names_in_")
    A = estimator.transform(unit_data)
    np.testing.assert_array_equal(A, model.encode(result.params, unit_data))
    np.testing.assert_array_equal(estimator.inverse_transform(A), model.reconstruct(result.params, unit_data))
    assert estimator.score(unit_data) == -reconstruction_mse(unit_data, model.reconstruct(result.params, unit_data))


def test_score_is_higher_for_the_better_reconstruction(digits):
    X_train, X_test, _, _ = digits
    short = SparseAutoencoder(16, max_iter=2, random_state=0).fit(X_train)
    longer = clone(short).set_params(max_iter=100).fit(X_train)
    assert short.score(X_test) < longer.score(X_test) < 0


def test_random_state_none_is_seed_zero_and_float32_stays_float32(unit_data):
    X32 = unit_data.astype(np.float32)
    default = SparseAutoencoder(3, max_iter=10).fit(X32)
    zero = SparseAutoencoder(3, max_iter=10, random_state=0).fit(X32)
    other = SparseAutoencoder(3, max_iter=10, random_state=1).fit(X32)
    np.testing.assert_array_equal(default.params_.flat, zero.params_.flat)
    assert not np.array_equal(default.params_.flat, other.params_.flat)
    assert default.params_.dtype == np.float32
    assert default.transform(X32).dtype == np.float32
    assert default.transform(unit_data).dtype == np.float64
    assert default.inverse_transform(default.transform(X32)).dtype == np.float32


def test_inverse_transform_refuses_what_is_not_a_hidden_layer(unit_data):
    estimator = SparseAutoencoder(3, max_iter=2).fit(unit_data)
    with pytest.raises(ValueError, match="X has 6 columns, but inverse_transform takes the 3 hidden activations"):
        estimator.inverse_transform(unit_data)


def test_a_network_trained_elsewhere_becomes_a_fitted_estimator(unit_data):
    model = Autoencoder(4, activation="linear", sparsity="l2")
    result = model.fit(unit_data, max_iter=20, seed=3)
    from_result = SparseAutoencoder.from_fit(model, result)
    from_params = SparseAutoencoder.from_fit(model, result.params, n_features_in=6)
    for estimator in (from_result, from_params):
        np.testing.assert_array_equal(estimator.transform(unit_data), model.encode(result.params, unit_data))
        assert estimator.get_params()["activation"] == "linear" and estimator.n_features_in_ == 6
    assert from_result.n_iter_ == result.n_iter
    assert from_params.n_iter_ == 0 and np.isnan(from_params.loss_)
    with pytest.raises(ValueError, match="n_features_in=5, but params takes 6 features"):
        SparseAutoencoder.from_fit(model, result, n_features_in=5)
    with pytest.raises(ValueError, match="params has 4 hidden units, but model has n_hidden=3"):
        SparseAutoencoder.from_fit(Autoencoder(3), result)


# -- options: stored unchanged, checked at fit --------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_hidden": 0}, r"n_hidden must be an integer >= 1; got 0"),
        ({"n_hidden": 2.5}, r"n_hidden must be an integer >= 1; got 2.5"),
        ({"activation": "tanh"}, r"activation"),
        ({"output_activation": "softmax"}, r"output_activation"),
        ({"sparsity": "l0"}, r"sparsity"),
        ({"rho": 1.5}, r"rho must lie in \(0, 1\); got 1.5"),
        ({"beta": -1}, r"beta must lie in \[0, inf\]; got -1"),
        ({"weight_decay": np.nan}, r"weight_decay must be a finite real number; got nan"),
        ({"top_k": 2}, r"top_k=2 keeps the largest ReLU activations, but activation='sigmoid'"),
        ({"l1_smoothing": 0.1}, r"l1_smoothing=0.1 is the width of the 'l1' penalty, but sparsity='kl'"),
        ({"max_iter": -1}, r"max_iter must be an integer >= 0; got -1"),
        ({"tol": -1e-3}, r"tol must lie in \[0, inf\]; got -0.001"),
        ({"random_state": -1}, r"random_state must be an integer >= 0; got -1"),
        ({"random_state": np.random.RandomState(0)}, r"random_state must be None or an integer >= 0 .* RandomState"),
        ({"cache": 3}, r"cache must be True, False or a directory; got 3"),
    ],
)
def test_bad_options_are_stored_and_refused_at_fit_by_name(unit_data, options, message):
    estimator = SparseAutoencoder(**{"n_hidden": 3, **options})
    assert {k: estimator.get_params()[k] for k in options} == options
    with pytest.raises(ValueError, match=message):
        estimator.fit(unit_data)
    assert not hasattr(estimator, "fit_result_")


def test_a_sigmoid_output_refuses_data_outside_the_unit_interval_and_says_what_to_do(unit_data):
    with pytest.raises(ValueError, match=r"rescale the data to \[0, 1\] or use output_activation='linear'"):
        SparseAutoencoder(3).fit(unit_data - 0.5)
    SparseAutoencoder(3, output_activation="linear", max_iter=2).fit(unit_data - 0.5)


def test_the_options_added_since_the_paper_train(rng):
    X = rng.uniform(0, 1, size=(40, 8))
    topk = SparseAutoencoder(6, activation="relu", output_activation="linear", sparsity="none", top_k=2, max_iter=20)
    A = topk.fit(X).transform(X)
    assert np.all(np.count_nonzero(A, axis=1) <= 2)
    l1 = SparseAutoencoder(6, sparsity="l1", rho=0.0, l1_smoothing=1e-2, max_iter=20).fit(X)
    assert l1.model_.l1_smoothing == 1e-2


# -- reproducibility ---------------------------------------------------------------------------------


def test_refit_clone_and_pickle_keep_the_bits(unit_data):
    estimator = SparseAutoencoder(4, max_iter=40, random_state=3).fit(unit_data)
    first = estimator.transform(unit_data)
    np.testing.assert_array_equal(estimator.fit(unit_data).transform(unit_data), first)
    np.testing.assert_array_equal(clone(estimator).fit(unit_data).transform(unit_data), first)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.params_.flat, estimator.params_.flat)
    np.testing.assert_array_equal(restored.transform(unit_data), first)
    np.testing.assert_array_equal(restored.history_["total"], estimator.history_["total"])
    assert restored.get_params() == estimator.get_params()
    # The restored parameters are views of one vector again.
    assert np.shares_memory(restored.params_.W1, restored.params_.flat)


def test_fit_through_the_cache_trains_once_and_gives_the_same_bits(unit_data, tmp_path):
    direct = SparseAutoencoder(4, max_iter=30, random_state=2).fit(unit_data)
    cached = SparseAutoencoder(4, max_iter=30, random_state=2, cache=tmp_path).fit(unit_data)
    assert len(cache.entries(tmp_path)) == 1
    again = clone(cached).fit(unit_data)
    assert len(cache.entries(tmp_path)) == 1
    for estimator in (cached, again):
        np.testing.assert_array_equal(estimator.params_.flat, direct.params_.flat)
    # The key is fit_cached's: the library's own call finds the entry.
    assert cache.lookup(direct.model_, unit_data, max_iter=30, seed=2, directory=tmp_path) is not None


def test_cache_true_uses_the_cache_directory(unit_data, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOENCODER_CACHE_DIR", str(tmp_path))
    SparseAutoencoder(3, max_iter=5, cache=True).fit(unit_data)
    assert len(cache.entries(tmp_path)) == 1


# -- in scikit-learn's machinery ------------------------------------------------------------------------


def test_a_pipeline_with_logistic_regression_classifies_the_8x8_digits(digits):
    """64 features learned in 200 iterations: 95.6 % of the test half (the raw pixels: 96.1 %)."""
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(
        SparseAutoencoder(64, weight_decay=1e-4, max_iter=200, random_state=0), LogisticRegression(max_iter=2000)
    )
    assert pipe.fit(X_train, y_train).score(X_test, y_test) > 0.94


def test_a_grid_search_over_beta_on_two_processes(digits, monkeypatch):
    """Two joblib processes give the bits of one, and each fit runs on its share of the cores."""
    monkeypatch.delenv("AUTOENCODER_WORKERS", raising=False)  # it would set every process's count
    X_train = digits[0][:400]
    search_options = {
        "param_grid": {"beta": [0.0, 3.0]},
        "cv": 2,
        "scoring": {"score": None, "workers": lambda estimator, X, y=None: estimator.n_workers_},
        "refit": "score",
    }
    estimator = SparseAutoencoder(16, max_iter=15, random_state=0)
    parallel = GridSearchCV(estimator, n_jobs=2, **search_options).fit(X_train)
    serial = GridSearchCV(estimator, n_jobs=1, **search_options).fit(X_train)
    np.testing.assert_array_equal(parallel.cv_results_["split0_test_score"], serial.cv_results_["split0_test_score"])
    assert parallel.best_params_ == serial.best_params_
    assert parallel.best_params_["beta"] in (0.0, 3.0)
    share = max(1, len(os.sched_getaffinity(0)) // 2)
    assert parallel.cv_results_["mean_test_workers"].max() <= share
    np.testing.assert_array_equal(
        parallel.best_estimator_.params_.flat, clone(parallel.best_estimator_).fit(X_train).params_.flat
    )


def test_set_output_pandas_names_the_hidden_units(unit_data):
    import pandas as pd

    frame = pd.DataFrame(unit_data, columns=[f"pixel{j}" for j in range(6)], index=range(100, 120))
    estimator = SparseAutoencoder(3, max_iter=5).set_output(transform="pandas").fit(frame)
    out = estimator.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["sparseautoencoder0", "sparseautoencoder1", "sparseautoencoder2"]
    assert list(out.index) == list(frame.index)
    np.testing.assert_array_equal(out.to_numpy(), SparseAutoencoder(3, max_iter=5).fit(unit_data).transform(unit_data))
    assert list(estimator.feature_names_in_) == list(frame.columns)
    assert list(estimator.get_feature_names_out()) == list(out.columns)


def test_a_threadpool_limit_bounds_the_evaluation_threads_of_a_fit(digits, monkeypatch):
    """Under joblib's threading backend the processes' budget does not apply; threadpoolctl's limit does."""
    from threadpoolctl import threadpool_limits

    monkeypatch.delenv("AUTOENCODER_WORKERS", raising=False)
    X_train = digits[0][:300]
    with threadpool_limits(limits=1):
        limited = SparseAutoencoder(8, max_iter=5).fit(X_train)
    assert limited.n_workers_ == 1
    np.testing.assert_array_equal(limited.params_.flat, SparseAutoencoder(8, max_iter=5).fit(X_train).params_.flat)
