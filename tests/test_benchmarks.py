"""The benchmark package runs on small shapes and measures what it says (no timings are asserted)."""

import numpy as np
import pytest

from autoencoder import _fast
from benchmarks import breakdown, objective
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
