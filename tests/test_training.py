"""One training path: L-BFGS or Adam, through the model cache and the sweep engine's chains."""

import numpy as np
import pytest

from autoencoder.core.adam import Adam
from autoencoder.core.model import Autoencoder
from autoencoder.experiments import cache, model_store
from autoencoder.experiments.runs import Run
from autoencoder.experiments.sweep import Chain, Engine, run_chains
from autoencoder.experiments.training import check_optimizer, optimizer_description, train_run

ADAM = Adam(learning_rate=1e-2, batch_size=20, max_epochs=3, aux_k=2, dead_after=20)
TOPK = Autoencoder(6, activation="relu", output_activation="linear", sparsity="none", top_k=2, weight_decay=0.0)


@pytest.fixture
def X():
    rng = np.random.default_rng(3)
    return rng.uniform(0, 1, size=(100, 12)) * (rng.uniform(size=(100, 12)) < 0.5)


def test_train_run_dispatches_on_the_optimizer(X):
    lbfgs = train_run(TOPK, X, max_iter=4, seed=1)
    np.testing.assert_array_equal(lbfgs.params.flat, TOPK.fit(X, max_iter=4, seed=1).params.flat)
    adam = train_run(TOPK, X, max_iter=3, seed=1, optimizer=ADAM)
    np.testing.assert_array_equal(adam.params.flat, ADAM.fit(TOPK, X, seed=1).params.flat)
    assert (adam.n_iter, adam.n_evals) == (3, 15)


def test_an_optimizer_must_be_adam_with_max_iter_epochs():
    assert check_optimizer(None, 7) is None
    with pytest.raises(ValueError, match=r"max_iter=4 but optimizer.max_epochs=3"):
        check_optimizer(ADAM, 4)
    with pytest.raises(ValueError, match="optimizer must be None"):
        check_optimizer("adam", 3)
    with pytest.raises(ValueError, match=r"max_iter=400 but optimizer.max_epochs=3"):
        Chain((TOPK,), "train", 400, 0, optimizer=ADAM)
    assert optimizer_description(ADAM) == {"name": "adam", **ADAM.to_dict()}


def test_the_optimizer_joins_the_key_and_lbfgs_keys_do_not_change(X):
    plain = cache.cache_key(TOPK, X, max_iter=3, seed=0, tol=1e-12)
    assert cache.cache_key(TOPK, X, max_iter=3, seed=0, tol=1e-12, optimizer=None) == plain
    description = model_store._run_description(Run(TOPK, 3, 0), model_store.array_digest(X))
    assert "optimizer" not in description  # the keys of every L-BFGS run stay what they were
    with_adam = cache.cache_key(TOPK, X, max_iter=3, seed=0, tol=1e-12, optimizer=ADAM)
    other = cache.cache_key(TOPK, X, max_iter=3, seed=0, tol=1e-12, optimizer=Adam(batch_size=20, max_epochs=3))
    assert len({plain, with_adam, other}) == 3


def test_an_adam_run_is_cached_with_its_whole_history(X, tmp_path):
    first = cache.fit_cached(TOPK, X, max_iter=3, seed=2, optimizer=ADAM, directory=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    assert set(first.history) == {"reconstruction", "weight_decay", "sparsity", "total", "aux"}
    again = cache.fit_cached(TOPK, X, max_iter=3, seed=2, optimizer=ADAM, directory=tmp_path)
    np.testing.assert_array_equal(again.params.flat, first.params.flat)
    for name, values in first.history.items():
        np.testing.assert_array_equal(again.history[name], values)
    assert (again.n_iter, again.n_evals, again.message) == (first.n_iter, first.n_evals, first.message)
    assert cache.lookup(TOPK, X, max_iter=3, seed=2, directory=tmp_path) is None  # L-BFGS is another run


def test_chains_train_with_their_optimizer_and_read_back_from_the_cache(X, tmp_path):
    chains = [Chain((TOPK,), "train", 3, seed, optimizer=ADAM) for seed in (0, 1)]
    with Engine(n_workers=1) as engine:
        results = run_chains(chains, {"train": X}, engine=engine, directory=tmp_path)
    for chain, (result,) in zip(chains, results, strict=True):
        np.testing.assert_array_equal(result.params.flat, ADAM.fit(TOPK, X, seed=chain.seed).params.flat)
    found = cache.lookup(TOPK, X, max_iter=3, seed=1, optimizer=ADAM, directory=tmp_path)
    np.testing.assert_array_equal(found.params.flat, results[1][0].params.flat)
    rest = chains[0].rest(0, None)
    assert rest.optimizer is ADAM


def test_every_training_path_trains_through_train_run(X, tmp_path, monkeypatch):
    import inspect

    from autoencoder.experiments.estimator import SparseAutoencoder

    callers = []
    real_fit, real_adam = Autoencoder._fit, Adam._fit

    def fit(self, *args, **kwargs):
        callers.append(inspect.stack()[1].function)
        return real_fit(self, *args, **kwargs)

    def adam_fit(self, *args, **kwargs):
        callers.append(inspect.stack()[1].function)
        return real_adam(self, *args, **kwargs)

    monkeypatch.setattr(Autoencoder, "_fit", fit)
    monkeypatch.setattr(Adam, "_fit", adam_fit)
    cache.fit_cached(TOPK, X, max_iter=2, seed=5, directory=tmp_path)
    cache.fit_cached(TOPK, X, max_iter=3, seed=5, optimizer=ADAM, directory=tmp_path)
    with Engine(n_workers=1) as engine:
        run_chains([Chain((TOPK,), "train", 3, 6, optimizer=ADAM)], {"train": X}, engine=engine, directory=tmp_path)
    SparseAutoencoder(4, max_iter=2).fit(X)
    SparseAutoencoder(4, max_iter=2, cache=str(tmp_path)).fit(X)
    assert callers == ["train_run"] * 5
