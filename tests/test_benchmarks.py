"""The benchmark package runs on small shapes and measures what it says (no timings are asserted)."""

import numpy as np
import pytest

from autoencoder.core import _fast
from autoencoder.core.covariance import CovarianceObjective
from benchmarks import breakdown, covariance, objective
from benchmarks.__main__ import main


def test_output_layer_work_computes_the_evaluations_delta3():
    # The timed tiles must be the evaluation's own: after work(), the output block holds
    # δ3 = (h - x) h (1 - h) of the first worker's share (times 8 in the float32 tanh form).
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-4)):
        model, params, X = objective.problem(300, 9, dtype)
        ws = _fast.Workspace(X, 9, workers=2)
        work, _, out = breakdown.output_layer_work(model, params, X, ws)
        work()
        x = np.concatenate([X[lo:hi] for lo, hi in ws.blocks_of(0)]).astype(np.float64)
        h = model.reconstruct(params.astype(np.float64), x)
        expected = (h - x) * h * (1 - h) * (8 if ws.tanh else 1)
        np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_breakdown_times_every_part():
    r = breakdown.bench_breakdown(64, 5, np.float64, repeat=1, calls=1)
    assert set(r.times) == {"products", "split", "module", "output work"}
    assert all(t >= 0 for t in r.times.values()) and r.times["products"] > 0
    assert r.ratio("module") == pytest.approx(r.times["module"] / r.times["products"])


def test_numpy_call_cost_is_per_call():
    c = breakdown.numpy_call_cost(1_000, np.float32, calls=10, repeat=1)
    assert c.elements == 1_000 and c.dtype == "float32"
    assert 0 < c.alone < 1e4 and 0 < c.contended < 1e4


def test_split_products_match_the_whole(monkeypatch):
    # Splitting the examples between workers must do the same products, row block by row block.
    model, params, X = objective.problem(50, 4, np.float64)
    calls = []
    real = objective.five_products

    def recording(params_, X_):
        calls.append(X_.shape[0])
        return real(params_, X_)

    monkeypatch.setattr(breakdown, "five_products", recording)
    breakdown.split_products(params, X, _fast.Workspace(X, 4, workers=3, block_rows=8))()
    assert sorted(calls) == [2] + [8] * 6


def test_quick_benchmark_writes_its_tables(tmp_path, monkeypatch):
    import benchmarks.__main__ as bench

    monkeypatch.setattr(bench, "SIZES", (200, 400))
    monkeypatch.setattr(bench, "HIDDEN", (5,))
    monkeypatch.setattr(bench, "REPEAT", {200: 1, 400: 1})
    monkeypatch.setattr(bench, "CALLS", {200: 1, 400: 1})
    monkeypatch.setattr(bench, "COMPARE_AT", 400)
    tiny_covariance(monkeypatch)
    quick = objective.time_interleaved

    def unsettled(functions, repeat, **options):
        return quick(functions, repeat, **{**options, "settle": 0.0})

    monkeypatch.setattr(objective, "time_interleaved", unsettled)
    monkeypatch.setattr(breakdown, "time_interleaved", unsettled)
    calls = breakdown.numpy_call_cost
    monkeypatch.setattr(bench, "numpy_call_cost", lambda n, dtype: calls(n, dtype, calls=5, repeat=1))
    out = tmp_path / "bench.md"
    assert main(["--quick", "--markdown", str(out)]) == 0
    text = out.read_text()
    for heading in (
        "## Machine",
        "against its five matrix products",
        "## Where the time goes at m = 200",
        "## Against straightforward implementations",
    ):
        assert heading in text
    lines = text.splitlines()
    assert any(line.startswith("| 200 | 5 | float64 |") for line in lines)  # the ratio table
    assert any(line.startswith("| 400 | 5 | float32 |") for line in lines)
    assert any(line.startswith("| 5 | float64 |") for line in lines)  # the breakdown at m = 200
    assert "µs alone" in text


def tiny_covariance(monkeypatch):
    """The covariance section on tiny shapes, without settling time."""
    import benchmarks.__main__ as bench

    monkeypatch.setattr(bench, "COVARIANCE_SIZES", (150, 300))
    monkeypatch.setattr(bench, "COVARIANCE_HIDDEN", 4)
    monkeypatch.setattr(bench, "COVARIANCE_REPEAT", {})
    monkeypatch.setattr(bench, "OPTIMIZER_AT", 100)
    monkeypatch.setattr(bench, "OPTIMIZER_ITERATIONS", 5)
    evaluations = covariance.bench_evaluations
    monkeypatch.setattr(bench, "bench_evaluations", lambda m, p, repeat: evaluations(m, p, 1, settle=0.0))


def test_covariance_evaluations_time_both_forms_on_the_same_problem():
    r = covariance.bench_evaluations(200, 5, repeat=1, settle=0.0)
    assert (r.m, r.n_hidden) == (200, 5)
    assert r.data_form > 0 and r.covariance_form > 0 and r.moments > 0
    assert r.speedup == pytest.approx(r.data_form / r.covariance_form)


def test_the_benchmarked_forms_agree():
    # What is timed must be the same objective in both forms.
    model, params, X = covariance.linear_problem(120, 3)
    loss_data, grad_data = model.loss_and_grad(params, X)
    loss_cov, grad_cov = CovarianceObjective(model).loss_and_grad(params, X)
    assert loss_cov == pytest.approx(loss_data, rel=1e-12)
    np.testing.assert_allclose(grad_cov.flat, grad_data.flat, rtol=1e-10, atol=1e-12)


def test_optimizer_share_splits_the_training_time():
    r = covariance.bench_optimizer(100, 3, max_iter=5)
    assert 1 <= r.n_iter <= 5 and r.n_evals >= r.n_iter
    assert r.n_params == 2 * 784 * 3 + 3 + 784
    assert r.wall_time >= r.objective_time > 0
    assert r.optimizer_per_iteration == pytest.approx((r.wall_time - r.objective_time - r.moments_time) / r.n_iter)
    assert r.lbfgs_alone > 0


def test_covariance_section_runs_on_a_tiny_shape(tmp_path, monkeypatch):
    tiny_covariance(monkeypatch)
    out = tmp_path / "bench.md"
    assert main(["--covariance-only", "--markdown", str(out)]) == 0
    text = out.read_text()
    assert "## The covariance form of a linear network against its data form" in text
    assert "One objective-and-gradient evaluation" not in text  # only the covariance section ran
    lines = text.splitlines()
    assert any(line.startswith("| 150 | 4 |") and "≥ 20×" in line for line in lines)
    assert any(line.startswith("| 300 | 4 |") for line in lines)
    assert "Covariance form at m = 300 ÷ at m = 150" in text
    assert "| L-BFGS-B alone, same number of parameters, per iteration |" in text
    assert "| optimizer and bookkeeping, per iteration |" in text


def test_adam_section_times_every_setting_on_small_shapes(monkeypatch):
    import benchmarks.__main__ as bench
    from benchmarks import minibatch

    source, results = minibatch.bench_adam(m=64, n_hidden=16, k=3, epochs=2, batch_size=16)
    assert [r.setting for r in results] == list(minibatch.SETTINGS)
    for r in results:
        assert (r.epochs, r.steps) == (2, 8)
        assert 0 < r.objective_time <= r.wall_time and r.ratio >= 1 and r.outside_per_step >= 0
    monkeypatch.setattr(bench, "bench_adam", lambda **_: (source, results))
    lines = bench.adam_section()
    assert lines[0].startswith("## Minibatch Adam") and len([x for x in lines if x.startswith("| recipe")]) == 2
