"""Where the time of an evaluation goes when the examples are few.

At m = 1,000 the five products of one evaluation take a few milliseconds,
and what an evaluation does besides them weighs more than at m = 10,000.
Three measurements, interleaved with the evaluation and its products in one
run, show where:

* the five products **split between the workers** as the evaluation runs
  them (each worker's share of the examples, in its own thread, with
  single-threaded BLAS): whether splitting the examples costs anything;
* the **output layer's elementwise work** of one worker's blocks, in one
  thread alone: the sigmoid, the error and ``δ3`` on the (rows, 784)
  output, tile by tile, exactly as the evaluation does it;
* the **cost of a NumPy call** on a tile-sized array, alone and while a
  second thread makes the same calls: each call takes and releases Python's
  GIL, and with two threads busy the hand-overs cost time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from autoencoder import Params
from autoencoder.core import _fast, objective

from .objective import N_VISIBLE, five_products, problem, time_interleaved

__all__ = ["Breakdown", "CallCost", "bench_breakdown", "numpy_call_cost", "split_products", "output_layer_work"]


def split_products(params: Params, X: np.ndarray, workspace: _fast.Workspace) -> Callable[[], None]:
    """The five products of one evaluation, block by block, each worker's blocks in its own thread.

    Worker ``k`` takes the blocks :meth:`Workspace.blocks_of` gives it; the
    first runs in the calling thread, the others on the workspace's own
    threads, as in the evaluation.  Call it with every BLAS pool at one
    thread (:func:`autoencoder.core._fast.single_threaded_blas`), as the
    evaluation's workers run.
    """
    shares = [[five_products(params, X[lo:hi]) for lo, hi in workspace.blocks_of(k)] for k in range(workspace.workers)]

    def share(products):
        for product in products:
            product()

    def run():
        futures = [workspace.executor.submit(share, products) for products in shares[1:]]
        share(shares[0])
        for future in futures:
            future.result()

    return run


def output_layer_work(model, params: Params, X: np.ndarray, workspace: _fast.Workspace):
    """One worker's share of the output layer's elementwise work, and the copy that refills its input.

    Returns ``(work, refill, out)``: ``work()`` refills the output block
    ``out`` with the product the evaluation would have computed (``-z3``,
    or ``z3 / 2`` for the float32 tanh form) and runs the evaluation's tiles
    over it, leaving ``δ3`` there (``8 δ3`` in the tanh form);
    ``refill()`` does only the copy, so that ``work - refill`` is the
    elementwise work.
    """
    blocks = workspace.blocks_of(0)
    x = np.concatenate([X[lo:hi] for lo, hi in blocks])
    offsets = np.cumsum([0] + [hi - lo for lo, hi in blocks])
    f, g = model.f, model.g
    z3, _ = objective.output(g, params, objective.hidden(f, params, x)[1])
    tanh = workspace.tanh and g.name == "sigmoid"
    start = (0.5 * z3 if tanh else -z3).astype(X.dtype)
    out = np.empty_like(start)
    tmp = np.empty((workspace.tile_rows, x.shape[1]), X.dtype)
    tile = workspace.tile_rows

    def refill():
        np.copyto(out, start)

    def work():
        np.copyto(out, start)
        for lo, hi in zip(offsets[:-1], offsets[1:], strict=True):
            for t in range(lo, hi, tile):
                u = min(t + tile, hi)
                _fast._output_tile(g, x[t:u], out[t:u], tmp[: u - t], None, tanh)

    return work, refill, out


@dataclass
class CallCost:
    """Microseconds per NumPy call on ``elements`` values, alone and with a second thread calling too."""

    elements: int
    dtype: str
    alone: float
    contended: float


def numpy_call_cost(elements: int, dtype, calls: int = 400, repeat: int = 15) -> CallCost:
    """Time an in-place ``multiply`` on ``elements`` values, in one thread and in two at once."""
    rng = np.random.default_rng(0)
    arrays = [rng.random(elements).astype(dtype) for _ in range(2)]

    def loop(a):
        for _ in range(calls):
            np.multiply(a, 1.0, out=a)

    with ThreadPoolExecutor(max_workers=1) as executor:

        def two():
            future = executor.submit(loop, arrays[1])
            loop(arrays[0])
            future.result()

        times = time_interleaved({"alone": lambda: loop(arrays[0]), "contended": two}, repeat, settle=0.05)
    per_call = {name: 1e6 * statistics.median(ts) / calls for name, ts in times.items()}
    return CallCost(elements, np.dtype(dtype).name, per_call["alone"], per_call["contended"])


@dataclass
class Breakdown:
    """Median times (seconds) of one shape: products, products split, output work, evaluation."""

    m: int
    n_hidden: int
    dtype: str
    workers: int
    times: dict[str, float]

    def ratio(self, name: str) -> float:
        return self.times[name] / self.times["products"]


def bench_breakdown(m: int, n_hidden: int, dtype, repeat: int, *, calls: int = 10) -> Breakdown:
    """Time the evaluation, its five products, the products split between workers and one worker's output work."""
    model, params, X = problem(m, n_hidden, dtype)
    workspace = _fast.Workspace(X, n_hidden)
    grad = Params.zeros(N_VISIBLE, n_hidden, X.dtype)
    objective_ = model.objective
    work, refill, _ = output_layer_work(model, params, X, workspace)
    functions = {
        "products": five_products(params, X),
        "split": split_products(params, X, workspace),
        "module": lambda: objective_.fast(params, X, grad, workspace=workspace),
        "output work": work,
        "refill": refill,
    }
    single = _fast.single_threaded_blas
    contexts = {name: single for name in ("split", "module", "output work", "refill")}
    times = time_interleaved(functions, repeat, calls=calls, contexts=contexts)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    medians["output work"] = max(0.0, medians["output work"] - medians.pop("refill"))
    return Breakdown(m, n_hidden, np.dtype(dtype).name, workspace.workers, medians)


def _main():  # pragma: no cover - a manual check: python -m benchmarks.breakdown
    start = time.perf_counter()
    for p in (25, 196):
        for dtype in (np.float64, np.float32):
            r = bench_breakdown(1_000, p, dtype, 5)
            print(r.m, r.n_hidden, r.dtype, {k: f"{1e3 * v:.2f} ms" for k, v in r.times.items()})
    print(numpy_call_cost(32_768, np.float64))
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    _main()
