"""The blocked, multi-worker objective of ``autoencoder.core._fast``: its code paths, dtypes, buffers and memory.

``tests/test_gradients.py`` checks every configuration against the reference
objective; here each new code path (blocks, tiles, workers, the workspace
reused across calls and configurations, float32, saturated sigmoids) is
checked against it too, and the peak memory of one evaluation is bounded.
"""

import tracemalloc
import warnings
from dataclasses import replace

import numpy as np
import pytest

from autoencoder import Autoencoder, Params
from autoencoder.core import _fast
from autoencoder.core.activations import top_k_mask

UFLDL = Autoencoder(7, rho=0.1, beta=3.0, weight_decay=3e-3)
TAYLOR = Autoencoder(7, activation="taylor3", output_activation="taylor5", sparsity="l2", rho=0.4, beta=0.5)
LINEAR_DECODER = Autoencoder(7, output_activation="linear", sparsity="l1", rho=0.2, beta=1.0)
RELU = Autoencoder(7, activation="relu", output_activation="relu", sparsity="l1", rho=0.0, beta=0.5)
TOPK = Autoencoder(7, activation="relu", output_activation="linear", sparsity="none", top_k=3)
MODELS = [UFLDL, TAYLOR, LINEAR_DECODER, RELU, TOPK]
IDS = ["ufldl", "taylor", "linear-decoder", "relu", "top-k"]


def _problem(model, m, n, rng, dtype=np.float64):
    X = rng.uniform(0.02, 0.98, size=(m, n)).astype(dtype)
    params = model.init_params(n, seed=5, dtype=dtype)
    params.b1[...] = rng.normal(scale=0.3, size=model.n_hidden)
    params.b2[...] = rng.normal(scale=0.3, size=n)
    return X, params


def _fast_eval(model, params, X, **workspace_options):
    grad = Params.zeros(X.shape[1], model.n_hidden, X.dtype)
    ws = _fast.Workspace(X, model.n_hidden, **workspace_options)
    loss = model.objective.fast(params, X, grad, workspace=ws)
    return loss, grad


def _assert_agrees(loss, grad, loss_ref, grad_ref, rtol):
    assert loss == pytest.approx(loss_ref, rel=rtol)
    scale = np.abs(grad_ref.flat).max()
    np.testing.assert_allclose(grad.flat, grad_ref.flat, rtol=rtol, atol=rtol * 1e-2 * scale)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
@pytest.mark.parametrize(
    "options",
    [
        {"workers": 1},
        {"workers": 2},
        {"workers": 3, "block_rows": 4, "tile_rows": 3},
        {"workers": 2, "block_rows": 16, "tile_rows": 1},
        {"workers": 1, "block_rows": 1000, "tile_rows": 1000},
        {"workers": 1, "tanh": True},
        {"workers": 3, "block_rows": 4, "tile_rows": 3, "tanh": True},
    ],
    ids=lambda o: "-".join(f"{k}{v}" for k, v in o.items()),
)
def test_blocks_tiles_and_workers_agree_with_reference(model, options, rng):
    X, params = _problem(model, 53, 11, rng)
    loss_ref, grad_ref = model.objective.reference(params, X)
    loss, grad = _fast_eval(model, params, X, **options)
    _assert_agrees(loss, grad, loss_ref, grad_ref, rtol=1e-12)


def test_float32_defaults_to_the_tanh_output_and_float64_to_exp(rng):
    assert _fast.Workspace(np.zeros((4, 3), np.float32), 2).tanh
    assert not _fast.Workspace(np.zeros((4, 3)), 2).tanh


def test_tanh_output_is_used_only_for_a_sigmoid_output(rng):
    # A linear decoder through a tanh workspace must give the same numbers bit for bit as
    # through an exp one: neither touches the output layer's transfer.
    X, params = _problem(LINEAR_DECODER, 40, 9, rng)
    loss_exp, grad_exp = _fast_eval(LINEAR_DECODER, params, X, workers=2, block_rows=8, tanh=False)
    loss_tanh, grad_tanh = _fast_eval(LINEAR_DECODER, params, X, workers=2, block_rows=8, tanh=True)
    assert loss_tanh == loss_exp
    np.testing.assert_array_equal(grad_tanh.flat, grad_exp.flat)


def test_more_workers_than_examples(rng):
    X, params = _problem(UFLDL, 3, 5, rng)
    loss_ref, grad_ref = UFLDL.objective.reference(params, X)
    loss, grad = _fast_eval(UFLDL, params, X, workers=8)
    _assert_agrees(loss, grad, loss_ref, grad_ref, rtol=1e-12)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_float32_agrees_with_float64_reference(model, rng):
    X, params = _problem(model, 300, 20, rng)
    loss_ref, grad_ref = model.objective.reference(params, X)
    loss, grad = _fast_eval(model, params.astype(np.float32), X.astype(np.float32), workers=2, block_rows=64)
    assert grad.dtype == np.float32
    _assert_agrees(loss, grad, loss_ref, grad_ref, rtol=2e-5)


def test_workspace_is_reused_across_points_and_configurations(rng):
    X, params = _problem(UFLDL, 40, 9, rng)
    ws = _fast.Workspace(X, 7, block_rows=8, workers=2)
    buffers = (ws.a2_ones, ws.buffers[0].out, ws.buffers[1].slots[0], ws.sums)
    for model in (UFLDL, TAYLOR, UFLDL, LINEAR_DECODER):
        for step in range(2):
            point = params.copy()
            point.flat[...] += 0.05 * step * rng.normal(size=point.flat.shape)
            grad = Params.zeros(9, 7)
            grad.flat[...] = np.nan  # overwritten, never read
            loss = model.objective.fast(point, X, grad, workspace=ws)
            loss_ref, grad_ref = model.objective.reference(point, X)
            _assert_agrees(loss, grad, loss_ref, grad_ref, rtol=1e-12)
    assert (ws.a2_ones, ws.buffers[0].out, ws.buffers[1].slots[0], ws.sums) == buffers
    assert ws.z2 is not None  # allocated once the Taylor model needed it


def test_unfit_workspace_is_replaced(rng):
    X, params = _problem(UFLDL, 30, 9, rng)
    small = _fast.Workspace(X[:10], 7)
    grad = Params.zeros(9, 7)
    loss = UFLDL.objective.fast(params, X, grad, workspace=small)
    loss_ref, grad_ref = UFLDL.objective.reference(params, X)
    _assert_agrees(loss, grad, loss_ref, grad_ref, rtol=1e-12)
    assert not small.fits(X, 7) and small.fits(X[:10], 7)


def test_loss_terms_are_returned(rng):
    X, params = _problem(UFLDL, 30, 9, rng)
    grad = Params.zeros(9, 7)
    loss, terms = UFLDL.objective.fast(params, X, grad, terms=True)
    assert terms == pytest.approx(UFLDL.loss_terms(params, X), rel=1e-12)
    assert terms["total"] == loss


@pytest.mark.parametrize("tanh", [False, True], ids=["exp", "tanh"])
@pytest.mark.parametrize("workers", [1, 2])
def test_saturated_sigmoids_are_exact_and_silent(workers, tanh, rng):
    X, params = _problem(UFLDL, 40, 9, rng)
    params.b1[:3] = -1000.0  # exp(-z) overflows: σ = 0 exactly
    params.b1[3:5] = 1000.0  # σ = 1 exactly
    params.b2[:2] = -800.0
    loss_ref, grad_ref = UFLDL.objective.reference(params, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = _fast_eval(UFLDL, params, X, workers=workers, block_rows=8, tanh=tanh)
    assert np.isfinite(loss) and np.isfinite(grad.flat).all()
    _assert_agrees(loss, grad, loss_ref, grad_ref, rtol=1e-12)


def test_blas_threads_are_restored(rng):
    X, params = _problem(UFLDL, 600, 9, rng)
    before = _fast.blas_threads()
    _fast_eval(UFLDL, params, X, workers=2)
    assert _fast.blas_threads() == before


def test_workers_default_to_one_for_few_examples(rng):
    X, _ = _problem(UFLDL, 20, 9, rng)
    assert _fast.Workspace(X, 7).workers == 1


def test_workers_and_blocks_do_not_change_the_result_beyond_rounding(rng):
    X, params = _problem(UFLDL, 500, 30, rng)
    loss1, grad1 = _fast_eval(UFLDL, params, X, workers=1, block_rows=500)
    loss2, grad2 = _fast_eval(UFLDL, params, X, workers=2, block_rows=37, tile_rows=5)
    assert loss2 == pytest.approx(loss1, rel=1e-14)
    np.testing.assert_allclose(grad2.flat, grad1.flat, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_peak_extra_memory_is_the_hidden_layer_and_a_few_blocks(dtype):
    # m = 16,000 MNIST-shaped examples, p = 196: X is 100 MB in float64.  One evaluation,
    # its workspace and gradient included, must stay under half of that, and above the
    # workspace it may allocate only small temporaries (no array of shape (m, n) or (m, p)).
    m, n, p = 16_000, 784, 196
    model = Autoencoder(p)
    X = np.random.default_rng(0).random((m, n)).astype(dtype)
    params = model.init_params(n, dtype=dtype)
    tracemalloc.start()
    try:
        ws = _fast.Workspace(X, p, block_rows=256, workers=2)
        grad = Params.zeros(n, p, dtype)
        workspace_bytes = tracemalloc.get_traced_memory()[0]
        model.objective.fast(params, X, grad, workspace=ws)
        model.objective.fast(params, X, grad, workspace=ws)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert workspace_bytes >= ws.nbytes
    assert peak <= 0.5 * X.nbytes
    assert peak - workspace_bytes <= 0.01 * X.nbytes


@pytest.mark.parametrize("workers", [2, 3])
def test_repeated_evaluations_are_bit_identical(workers, rng):
    X, params = _problem(UFLDL, 90, 12, rng)
    grad = Params.zeros(12, 7, X.dtype)
    ws = _fast.Workspace(X, 7, workers=workers, block_rows=8, tile_rows=3)
    first = UFLDL.objective.fast(params, X, grad, workspace=ws), grad.flat.copy()
    for _ in range(5):
        loss = UFLDL.objective.fast(params, X, grad, workspace=ws)
        assert loss == first[0]
        np.testing.assert_array_equal(grad.flat, first[1])


class _FailingPenalty:
    def value(self, rho_hat, rho):
        raise ValueError("penalty failed")

    derivative = value


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_failing_worker_raises_its_error_and_stops_the_others(workers, rng):
    X, params = _problem(UFLDL, 60, 12, rng)
    failing = replace(UFLDL.objective, penalty=_FailingPenalty())
    ws = _fast.Workspace(X, 7, workers=workers, block_rows=8)
    with pytest.raises(ValueError, match="penalty failed"):
        failing.fast(params, X, Params.zeros(12, 7), workspace=ws)
    loss, _ = _fast_eval(UFLDL, params, X, workers=workers, block_rows=8)  # the executor still works
    assert np.isfinite(loss)


@pytest.mark.parametrize("p, n, workers", [(196, 784, 2), (7, 11, 3), (7, 11, 8), (3, 5, 1), (4, 4, 4), (1, 9, 5)])
def test_gradient_rows_are_summed_by_exactly_one_worker(p, n, workers):
    rows1, rows2 = [], []
    for k in range(workers):
        r1, r2 = _fast._collect_rows(p, n, workers, k)
        rows1 += range(p)[r1]
        rows2 += range(n)[r2]
    assert rows1 == list(range(p)) and rows2 == list(range(n))


def test_two_workers_sum_one_weight_matrix_each():
    assert _fast._collect_rows(196, 784, 2, 0) == (slice(0, 196), slice(0, 0))
    assert _fast._collect_rows(196, 784, 2, 1) == (slice(196, 196), slice(0, 784))


def _in_threads(functions, timeout=10):
    """Run each function in its own thread; return their exceptions (None for success), in order."""
    import threading

    errors = [None] * len(functions)

    def run(i):
        try:
            functions[i]()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
        assert not thread.is_alive()
    return errors


def test_rendezvous_runs_its_action_once_before_anyone_passes():
    import threading

    log = []
    point = _fast._Rendezvous(3, action=lambda: log.append("action"))
    passed = threading.Event()

    def party(name):
        def run():
            point.arrive()
            log.append(f"{name} arrived")
            point.wait()
            log.append(f"{name} passed")
            passed.set()

        return run

    def late():
        assert not passed.wait(0.2)  # nobody passes before the third has arrived
        party("c")()

    assert _in_threads([party("a"), party("b"), late]) == [None, None, None]
    assert log.count("action") == 1
    action = log.index("action")
    assert all(log.index(f"{x} arrived") < action or x == "c" for x in "abc")
    assert all(log.index(f"{x} passed") > action for x in "abc")
    point.wait()  # an open point lets everyone through at once


def test_rendezvous_abort_and_failing_action_break_it():
    import threading

    point = _fast._Rendezvous(2)
    point.arrive()
    errors = _in_threads([point.wait, point.abort])
    assert isinstance(errors[0], threading.BrokenBarrierError) and errors[1] is None

    def fail():
        raise ValueError("no")

    point = _fast._Rendezvous(1, action=fail)
    with pytest.raises(ValueError, match="no"):
        point.arrive()
    with pytest.raises(threading.BrokenBarrierError):
        point.wait()


@pytest.mark.parametrize("shared", [False, True], ids=["own-workspaces", "one-workspace"])
def test_evaluations_from_several_threads_at_once_finish_and_agree(shared, rng):
    # Six threads, four workers each, while BLAS keeps its own threads outside the evaluations:
    # each workspace runs workers 1-3 on threads of its own, so no call can wait for threads that
    # another call's workers hold; calls on one shared workspace take turns.
    X, params = _problem(UFLDL, 256, 12, rng)
    expected = _fast_eval(UFLDL, params, X, workers=1, block_rows=16)
    common = _fast.Workspace(X, 7, workers=4, block_rows=16)
    results = [[] for _ in range(6)]

    def caller(i):
        def run():
            ws = common if shared else _fast.Workspace(X, 7, workers=4, block_rows=16)
            for _ in range(20):
                grad = Params.zeros(12, 7)
                loss = UFLDL.objective.fast(params, X, grad, workspace=ws)
                results[i].append((loss, grad.flat.copy()))

        return run

    before = _fast.blas_threads()
    assert _in_threads([caller(i) for i in range(6)], timeout=60) == [None] * 6
    assert _fast.blas_threads() == before
    for runs in results:
        assert len(runs) == 20
        for loss, flat in runs:
            assert loss == expected[0]
            np.testing.assert_array_equal(flat, expected[1].flat)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("block_rows", [None, 7, 32])
def test_worker_count_changes_no_bit(model, dtype, block_rows, rng):
    X, params = _problem(model, 300, 20, rng, dtype)
    loss1, grad1 = _fast_eval(model, params, X, workers=1, block_rows=block_rows)
    for workers in (2, 3, 4, 8):
        loss, grad = _fast_eval(model, params, X, workers=workers, block_rows=block_rows)
        assert loss == loss1, workers
        np.testing.assert_array_equal(grad.flat, grad1.flat, err_msg=f"workers={workers}")


def test_block_rows_default_depends_on_m_alone(monkeypatch):
    X = np.zeros((10_000, 3))
    sizes = set()
    for workers in ("1", "2", "3", "8"):
        monkeypatch.setenv(_fast.WORKERS_VARIABLE, workers)
        ws = _fast.Workspace(X, 2)
        sizes.add(ws.block_rows)
        assert ws.workers == int(workers)
    assert sizes == {_fast.default_block_rows(10_000)} == {1024}
    assert [_fast.default_block_rows(m) for m in (1, 64, 300, 1000, 2000, 4097, 60_000)] == [
        64, 64, 128, 256, 512, 1024, 1024
    ]  # fmt: skip


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "2000"])
def test_invalid_worker_count_in_the_environment_is_refused(value, monkeypatch):
    monkeypatch.setenv(_fast.WORKERS_VARIABLE, value)
    with pytest.raises(ValueError, match=r"AUTOENCODER_WORKERS must be an integer in \[1, 1024\]"):
        _fast.Workspace(np.zeros((4, 3)), 2)


@pytest.mark.parametrize("value", [0, -1, 2.5, "3", True, 5000])
def test_invalid_worker_count_argument_is_refused(value):
    with pytest.raises(ValueError, match=r"workers must be an integer in \[1, 1024\]"):
        _fast.Workspace(np.zeros((4, 3)), 2, workers=value)


def test_ordered_sum_adds_blocks_in_block_order_whoever_submits_them():
    # Blocks submitted out of order (as workers finish them) are still added 0, 1, 2, ...: the
    # total is built by the same sequence of additions as one worker would make.
    X = np.zeros((40, 2))
    ws = _fast.Workspace(X, 1, block_rows=8, workers=2)
    for buf in ws.buffers:
        buf.free = list(buf.slots)
    total = _fast._OrderedSum(ws)
    added = []
    original = ws.sums.flat

    class Recording(np.ndarray):
        def __iadd__(self, other):
            added.append(float(other[0]))
            return np.ndarray.__iadd__(self, other)

    ws.sums.flat = original.view(Recording)
    order = [(1, 1), (3, 1), (0, 0), (2, 0), (4, 0)]  # (block, worker) in the order they finish
    for b, k in order:
        sums = total.slot(b, k)
        sums.flat[...] = b if b else 0
        total.submit(b, k, sums)
    assert added == [1.0, 2.0, 3.0, 4.0]
    assert all(len(buf.free) == _fast.SLOTS_PER_WORKER for buf in ws.buffers)


def test_public_loss_and_grad_reuses_its_workspace_per_thread_and_shape(rng):
    X, params = _problem(UFLDL, 50, 9, rng)
    first = UFLDL.loss_and_grad(params, X)
    ws = _fast.reusable_workspace(X, 7)
    second = UFLDL.loss_and_grad(params, X)
    assert _fast.reusable_workspace(X, 7) is ws
    assert second[0] == first[0]
    np.testing.assert_array_equal(second[1].flat, first[1].flat)
    loss_ref, grad_ref = UFLDL.objective.reference(params, X)
    _assert_agrees(*second, loss_ref, grad_ref, rtol=1e-12)
    UFLDL.loss_and_grad(params, X[:20])
    assert _fast.reusable_workspace(X[:20], 7) is not ws  # another shape replaced it
    errors = _in_threads([lambda: _fast.reusable_workspace(X, 7) is not ws or 1 / 0])
    assert errors == [None]  # another thread gets a workspace of its own


def _tied_problem():
    """Exact ties in every example: two equal rows of W1 and two equal biases, in exact binary arithmetic."""
    rng = np.random.default_rng(7)
    X = rng.integers(0, 2, size=(40, 6)).astype(float)
    params = TOPK.init_params(6, seed=1)
    params.W1[...] = rng.integers(-4, 5, size=(7, 6)) / 4
    params.W1[4] = params.W1[1]
    params.b1[...] = rng.integers(-4, 5, size=7) / 4
    params.b1[4] = params.b1[1]
    params.W1[2] = params.W1[1]  # a third unit equal to them in every example but one bias step apart
    params.b1[2] = params.b1[1] - 0.25
    return X, params


def test_top_k_selection_is_the_same_in_every_path_and_takes_the_lower_index_at_ties():
    X, params = _tied_problem()
    z2 = X @ params.W1.T + params.b1
    expected = top_k_mask(z2, 3)
    np.testing.assert_array_equal(z2[:, 1], z2[:, 4])
    tied = expected[:, 1] != expected[:, 4]  # examples where the tie decides between units 1 and 4
    assert tied.any()
    assert expected[tied, 1].all() and not expected[tied, 4].any()  # the lower index wins
    reference = TOPK.encode(params, X)
    np.testing.assert_array_equal(reference != 0, expected & (z2 > 0))
    for options in ({"workers": 1}, {"workers": 3, "block_rows": 4}, {"workers": 2, "block_rows": 1}):
        ws = _fast.Workspace(X, 7, **options)
        TOPK.objective.fast(params, X, Params.zeros(6, 7), workspace=ws)
        np.testing.assert_array_equal(ws.a2, reference)  # the same selection and the same bits


def test_top_k_passes_no_gradient_through_the_zeroed_units(rng):
    X, params = _problem(TOPK, 53, 11, rng)
    params.b1[5:] = -50.0  # units 5 and 6 are never among the 3 largest
    z2 = X @ params.W1.T + params.b1
    kept = top_k_mask(z2, 3)
    assert not kept[:, 5:].any() and kept[:, :5].any(axis=0).all()
    for grad in (TOPK.objective.reference(params, X)[1], _fast_eval(TOPK, params, X, workers=2)[1]):
        np.testing.assert_array_equal(grad.b1[5:], 0.0)
        np.testing.assert_allclose(grad.W1[5:], TOPK.weight_decay * params.W1[5:], rtol=1e-14)  # λ W1 alone
        assert np.all(grad.b1[:5] != 0)


def _generic(act):
    """``act`` without the properties the fast path has kernels for: its derivative from ``z`` alone."""

    def derivative(z, a, out=None):
        return act.derivative(z, act.forward(z), out=out)

    return replace(act, name="generic", derivative=derivative, logistic=False, rectified=False, needs_input=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("model", [UFLDL, RELU, TAYLOR], ids=["logistic", "rectified", "polynomial"])
def test_the_fast_path_dispatches_on_properties_not_names(model, dtype, rng):
    """A transfer function renamed keeps its in-place kernels (same bits); one without its properties takes
    the generic path through ``forward`` and ``derivative`` (same values to rounding)."""
    X, params = _problem(model, 40, 9, rng, dtype)
    objective = model.objective
    renamed = replace(objective, f=replace(objective.f, name="renamed f"), g=replace(objective.g, name="renamed g"))
    generic = replace(objective, f=_generic(objective.f), g=_generic(objective.g))
    results = {}
    for name, candidate in {"model": objective, "renamed": renamed, "generic": generic}.items():
        grad = Params.zeros(9, model.n_hidden, X.dtype)
        ws = _fast.Workspace(X, model.n_hidden, workers=2, block_rows=16, tanh=False)
        results[name] = candidate.fast(params, X, grad, workspace=ws), grad.flat.copy()
    assert results["renamed"][0] == results["model"][0]
    np.testing.assert_array_equal(results["renamed"][1], results["model"][1])
    rtol = 1e-12 if dtype == np.float64 else 1e-4
    assert results["generic"][0] == pytest.approx(results["model"][0], rel=rtol)
    np.testing.assert_allclose(results["generic"][1], results["model"][1], rtol=rtol, atol=rtol * 1e-2)
