"""The BLAS thread limit holds in every thread, whichever thread set or restored it before.

OpenBLAS's pthreads pool is process-wide: its thread count, set from any
thread, is seen by all.  :func:`autoencoder.core._fast.single_threaded_blas`
sets it when the first evaluation starts and restores it when the last ends,
and these may be different threads, none of them the main one.
"""

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from autoencoder import Autoencoder
from autoencoder.core import _fast


def _blas_counts() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads():
    """Every BLAS pool at two threads for the test (so that one thread is a limit), as it was after."""
    with threadpool_limits(limits=2, user_api="blas"):
        if set(_blas_counts()) != {2}:
            pytest.skip(f"this BLAS will not run two threads: {_blas_counts()}")
        yield


def _in_thread(function):
    """``function()`` in a new thread; its result, or its exception raised here."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - raised in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _counts_inside():
    with _fast.single_threaded_blas():
        return _blas_counts()


def test_the_limit_holds_in_a_thread_after_the_main_thread_used_it(two_blas_threads):
    assert _counts_inside() == [1] * len(_blas_counts())
    assert set(_blas_counts()) == {2}
    assert _in_thread(_counts_inside) == [1] * len(_blas_counts())
    assert set(_blas_counts()) == {2}
    assert _counts_inside() == [1] * len(_blas_counts())
    assert set(_blas_counts()) == {2}


def test_the_last_thread_to_end_restores_what_the_first_to_start_limited(two_blas_threads):
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():  # starts first, ends first
        with _fast.single_threaded_blas():
            first_in.set()
            assert second_in.wait(30)
            seen["first"] = _blas_counts()
        first_out.set()

    def second():  # starts second, ends last: the restore happens here
        assert first_in.wait(30)
        with _fast.single_threaded_blas():
            second_in.set()
            assert first_out.wait(30)
            seen["second, after the first ended"] = _blas_counts()
        return _blas_counts()

    thread = threading.Thread(target=first)
    thread.start()
    after = _in_thread(second)
    thread.join(timeout=60)
    ones = [1] * len(_blas_counts())
    assert seen == {"first": ones, "second, after the first ended": ones}
    assert set(after) == {2}
    assert set(_blas_counts()) == {2}


def test_a_training_in_a_thread_gives_the_bits_of_one_in_the_main_thread(rng):
    X = rng.uniform(0.05, 0.95, size=(300, 16))
    model = Autoencoder(6, rho=0.1, beta=3.0, weight_decay=3e-3)
    here = model.fit(X, max_iter=20, seed=0)
    there = _in_thread(lambda: model.fit(X, max_iter=20, seed=0))
    np.testing.assert_array_equal(there.params.flat, here.params.flat)


def test_sweep_tasks_in_threads_hold_the_limit_and_restore_it(two_blas_threads, monkeypatch):
    # Two tasks of a sweep on one worker's threads (Client(processes=False), a threaded dask
    # worker): the first ends while the second is still training.
    from autoencoder.experiments import engine

    fit = Autoencoder._fit
    first_in, first_out = threading.Event(), threading.Event()
    counts = {}

    def ordered_fit(model, X, **options):
        name = threading.current_thread().name
        if name == "second":
            assert first_out.wait(30)
        counts[name] = _blas_counts()
        first_in.set()
        return fit(model, X, **options)

    monkeypatch.setattr(Autoencoder, "_fit", ordered_fit)
    X = np.random.default_rng(0).uniform(0.05, 0.95, size=(300, 16))
    chain = engine.Chain([Autoencoder(6, rho=0.1, beta=3.0)], "X", 10, 0)
    results = {}

    def task(name):
        results[name] = engine._train_chain(chain, X)

    first = threading.Thread(target=task, args=("first",), name="first")
    first.start()
    assert first_in.wait(30)
    second = threading.Thread(target=task, args=("second",), name="second")
    second.start()
    first.join(timeout=60)
    first_out.set()
    second.join(timeout=60)
    ones = [1] * len(_blas_counts())
    assert counts == {"first": ones, "second": ones}
    assert [results[name][0][0].workers for name in ("first", "second")] == [1, 1]
    assert set(_blas_counts()) == {2}
