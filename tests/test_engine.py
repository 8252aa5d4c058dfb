"""One engine for every training: runs as values, data checked and hashed once, the whole book on a cluster.

The cluster test starts its own ``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1 (``conftest.cluster``) and is marked ``slow``.
"""

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from autoencoder import Adam, Autoencoder, Params
from autoencoder.experiments import (
    continuation,
    engine,
    grid,
    model_store,
    natural_images,
    replicates,
    strokes,
    studies,
    then_and_now,
    variants,
)
from autoencoder.experiments.cache import fit_cached
from autoencoder.experiments.runs import Chain, Run

EXPERIMENTS = Path(engine.__file__).parent
SIGMOID = Autoencoder(4, weight_decay=1e-3)
LINEAR = Autoencoder(4, activation="linear", sparsity="l2", weight_decay=1e-3)
L1 = Autoencoder(4, sparsity="l1", rho=0.0, beta=0.1, weight_decay=1e-3)


@pytest.fixture
def data():
    """Two data sets of 50 examples in [0.05, 0.95]: 16 features, and 64 (8 x 8 patches)."""
    rng = np.random.default_rng(11)
    return rng.uniform(0.05, 0.95, size=(50, 16)), rng.uniform(0.05, 0.95, size=(50, 64))


# -- runs and chains as values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ((SIGMOID, -1, 0), "max_iter"),
        ((SIGMOID, 5, -2), "seed"),
        ((SIGMOID, 5, 0, -1.0), "tol"),
        (("sigmoid", 5, 0), "model"),
        ((SIGMOID, 5, 0, 1e-12, np.zeros(3)), "start"),
    ],
)
def test_a_bad_run_is_refused_naming_the_attribute(arguments, parameter):
    with pytest.raises(ValueError, match=parameter):
        Run(*arguments)


def test_a_run_is_frozen():
    run = Run(SIGMOID, 5, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.max_iter = 6


def test_a_chain_has_iterations_per_stage_and_gives_its_stages_as_runs():
    chain = Chain((SIGMOID, LINEAR, L1), "X", (3, 4, 5), 2, 1e-9, warm_start=True)
    assert chain.iterations == (3, 4, 5)
    start = SIGMOID.init_params(16, seed=0)
    run = chain.run(1, start)
    assert (run.model, run.max_iter, run.seed, run.tol, run.start) == (LINEAR, 4, 2, 1e-9, start)
    rest = chain.rest(1, start)
    assert (rest.models, rest.iterations, rest.start) == ((LINEAR, L1), (4, 5), start)
    assert Chain((SIGMOID, LINEAR), "X", 7, 0).iterations == (7, 7)
    with pytest.raises(ValueError, match=r"max_iter must be an int or one int per model \(2\)"):
        Chain((SIGMOID, LINEAR), "X", (3, 4, 5), 0)
    with pytest.raises(ValueError, match=r"max_iter\[1\]"):
        Chain((SIGMOID, LINEAR), "X", (3, -4), 0)


def test_train_refuses_what_is_not_a_run_or_a_chain(data):
    with pytest.raises(ValueError, match="Chain or Run"):
        engine.train([SIGMOID], data[0])


def test_the_cache_keys_a_run_as_it_keyed_a_call(data, tmp_path):
    X, _ = data
    start = SIGMOID.init_params(16, seed=4)
    run = Run(SIGMOID, 6, 1, 1e-10, start)
    key = model_store.run_key(run, model_store.checked_data(X, [SIGMOID]))
    assert key == model_store.cache_key(SIGMOID, X, max_iter=6, seed=1, tol=1e-10, params=start)
    ((result,),) = engine.train([run], X, directory=tmp_path)
    assert [p.stem for p in tmp_path.glob("*.npz")] == [key]
    np.testing.assert_array_equal(
        result.params.flat, fit_cached(SIGMOID, X, max_iter=6, seed=1, tol=1e-10, params=start).params.flat
    )


# -- data checked and hashed once per call ------------------------------------------------------


def test_each_data_set_is_checked_once_and_hashed_once_per_call(data, tmp_path, monkeypatch):
    X, Y = data
    checked, hashed = [], []
    validate, digest = model_store.validate_data, model_store.array_digest

    def counting_validate(A, **kwargs):
        checked.append(np.asarray(A).shape)
        return validate(A, **kwargs)

    def counting_digest(A):
        hashed.append(np.asarray(A).shape)
        return digest(A)

    for module in (model_store, Autoencoder.__module__):
        module = __import__(module, fromlist=["x"]) if isinstance(module, str) else module
        monkeypatch.setattr(module, "validate_data", counting_validate)
    monkeypatch.setattr(model_store, "array_digest", counting_digest)
    chains = [
        Chain((SIGMOID,), "X", 4, 0),
        Chain((L1, L1), "X", (3, 2), 1, warm_start=True),
        Chain((LINEAR,), "X", 30, 2),
        Chain((SIGMOID,), "Y", 4, 0),
    ]
    for attempt in ("trained", "read from the cache"):
        checked.clear()
        hashed.clear()
        with engine.Engine(n_workers=1) as here:
            engine.train(chains, {"X": X, "Y": Y}, engine=here, directory=tmp_path)
        assert sorted(checked) == [(50, 16), (50, 64)], attempt
        assert sorted(shape for shape in hashed if shape[0] == 50) == [(50, 16), (50, 64)], attempt
    assert len(list(tmp_path.glob("*.npz"))) == 5


def test_one_function_of_the_experiments_calls_fit():
    callers = set()
    for path in sorted(EXPERIMENTS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    if node.func.attr == "_fit" or (node.func.attr == "fit" and _names_a_network(node.func.value)):
                        callers.add(f"{path.stem}.{function.name}")
    assert callers == {"training.train_run"}


def _names_a_network(receiver: ast.expr) -> bool:
    """Whether the receiver of a ``.fit`` looks like an Autoencoder or an Adam (not a scikit-learn estimator)."""
    name = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", "")
    return name in {"model", "network", "autoencoder", "optimizer", "adam", "member", "stage"}


# -- the whole book on a cluster --------------------------------------------------------------------


def every_training(X, Y, scheduler, directory):
    """One call of each way a chapter trains, small; the trained parameters by name."""
    adam = Adam(learning_rate=1e-2, batch_size=25, max_epochs=2)
    relu = Autoencoder(5, activation="relu", output_activation="linear", sparsity="l1", rho=0.0, beta=0.1)
    out = {
        "fit_cached": fit_cached(SIGMOID, X, max_iter=5, seed=1, directory=directory),
        "fit_cached adam": fit_cached(relu, X, max_iter=2, seed=0, optimizer=adam, directory=directory),
    }
    widths = (1e-2, L1.l1_smoothing)
    out |= {
        f"continuation {i}": stage
        for i, stage in enumerate(
            continuation.fit_l1_continuation(L1, X, widths=widths, max_iter=(3, 2), directory=directory).stages
        )
    }
    trained = variants.train_variants(
        {"kl": SIGMOID, "linear": LINEAR, "l1": L1},
        X,
        [0, 1],
        max_iter=4,
        widths=widths,
        stage_iter=2,
        converged_max_iter=50,
        scheduler=scheduler,
        directory=directory,
    )
    out |= {f"variants {key}": variants.final_fit(result) for key, result in trained.items()}
    more = variants.continue_variants(
        {"kl": SIGMOID}, X, {("kl", 0): trained["kl", 0].params}, max_iter=3, scheduler=scheduler, directory=directory
    )
    out |= {f"continued {key}": result for key, result in more.items()}
    seeds = replicates.train_replicates(
        SIGMOID, X, [0, 1], max_iter=3, doubled=[0], scheduler=scheduler, directory=directory
    )
    out |= {f"replicate {s}": r for s, r in seeds.fits.items()} | {"doubled": seeds.doubled[0]}
    points = grid.train_grid(
        X,
        [0.05, 0.2],
        [0.0, 1.0],
        n_hidden=3,
        weight_decay=1e-3,
        max_iter=3,
        seed=0,
        scheduler=scheduler,
        directory=directory,
    )
    out |= {f"grid {key}": result for key, result in points.items()}
    controls = strokes.train_controls(
        X, [(0.1, 3.0, 1e-3), (0.2, 1.0, 1e-3)], [0], n_hidden=3, max_iter=3, scheduler=scheduler, directory=directory
    )
    out |= {f"controls {key}": result for key, result in controls.items()}
    members = then_and_now.configurations(
        5, rho_values=[0.1], kl_beta=3.0, weight_decay=1e-3, l1_betas=[0.1], k_values=[2], aux_k=2, adam=adam
    )
    with engine.Engine(scheduler) as cluster:
        trained_members = then_and_now.train_members(members, X, [0], engine=cluster, directory=directory)
    out |= {f"member {key}": result for key, result in trained_members.items()}
    # These train through the default cache directory ($AUTOENCODER_CACHE_DIR, set by the test).
    rows = studies.beta_sweep(
        lambda b: dataclasses.replace(LINEAR, beta=b), Y, [0.0, 1.0], max_iter=4, scheduler=scheduler
    )
    out |= {
        f"beta sweep {i}": np.array([v for v in row.values() if isinstance(v, float)]) for i, row in enumerate(rows)
    }
    _, compared = studies.compare_variants({"kl": SIGMOID, "linear": LINEAR}, Y, max_iter=4, scheduler=scheduler)
    out |= {f"compared {key}": params for key, params in compared.items()}
    out["natural"] = natural_images.train_network(Y, 3, 0.05, 3.0, 1e-4, max_iter=4, seed=0)[1]
    for i, row in enumerate(natural_images.sweep_rho(Y, [0.05, 0.1], 3, 3.0, 1e-4, max_iter=4, seed=0)):
        out[f"rho sweep {i}"] = row["fit"]
    return {key: _flat(value) for key, value in out.items()}


def _flat(value) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    return (value if isinstance(value, Params) else value.params).flat.copy()


@pytest.mark.slow
def test_with_a_scheduler_configured_every_chapter_trains_on_the_cluster_and_nothing_here(
    data, tmp_path, cluster, monkeypatch
):
    import dask

    client, _ = cluster
    X, Y = data
    monkeypatch.setenv("AUTOENCODER_CACHE_DIR", str(tmp_path / "here"))
    here = every_training(X, Y, None, None)  # in this process and on embedded clusters

    def trained_here(*args, **kwargs):
        raise AssertionError("trained in the client process")

    monkeypatch.setenv("AUTOENCODER_CACHE_DIR", str(tmp_path / "remote"))
    monkeypatch.setattr(Autoencoder, "_fit", trained_here)
    monkeypatch.setattr(Adam, "_fit", trained_here)
    with dask.config.set({"scheduler-address": client.scheduler.address}):
        remote = every_training(X, Y, None, None)
    assert list(remote) == list(here)
    for key in here:
        np.testing.assert_array_equal(remote[key], here[key], err_msg=key)
    assert sorted(p.name for p in (tmp_path / "remote").glob("*.npz")) == sorted(
        p.name for p in (tmp_path / "here").glob("*.npz")
    )
