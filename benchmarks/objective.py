"""One objective-and-gradient evaluation against its own five matrix products.

The five products of one evaluation are ``X W1ᵀ``, ``a2 W2ᵀ``, ``δ3ᵀ a2``,
``δ3 W2`` and ``δ2ᵀ X``; written with NumPy's ``matmul`` into preallocated
outputs, on the same shapes and dtype, they are what any implementation must
at least spend.  The figure is the ratio of the evaluation's time to theirs,
from interleaved repetitions in the same run.

The data is random, uniform in [0, 1], of MNIST's width ``n = 784``, so the
benchmark needs no data set.  The configuration is UFLDL's: sigmoid hidden
and output layers, KL sparsity, ``ρ = 0.1``, ``β = 3``, ``λ = 3e-3``.
"""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autoencoder import Autoencoder, Params
from autoencoder.core import _fast

from .straightforward import numpy_objective, torch_objective

__all__ = [
    "N_VISIBLE",
    "ShapeResult",
    "MemoryResult",
    "ratio_limit",
    "five_products",
    "time_interleaved",
    "bench_shape",
    "peak_memory",
]

N_VISIBLE = 784
"""MNIST's 28 × 28 pixels."""


def ratio_limit(n_hidden: int) -> float:
    """The goal for evaluation time / product time: 1.6 at p = 25 (elementwise work dominates), else 1.15."""
    return 1.6 if n_hidden <= 25 else 1.15


def problem(m: int, n_hidden: int, dtype, seed: int = 0):
    """The UFLDL model, its initial parameters and random data in [0, 1] of shape (m, 784)."""
    rng = np.random.default_rng(seed)
    X = rng.random((m, N_VISIBLE), dtype=np.dtype(dtype).type)
    model = Autoencoder(n_hidden, rho=0.1, beta=3.0, weight_decay=3e-3)
    params = model.init_params(N_VISIBLE, seed=seed, dtype=dtype)
    return model, params, X


def five_products(params: Params, X: np.ndarray) -> Callable[[], None]:
    """The five matrix products of one evaluation, into preallocated outputs.

    The operands hold values of the sizes an evaluation sees (a sigmoid
    hidden layer, deltas of order 0.1), so that no product runs on
    denormal numbers.
    """
    m, n = X.shape
    p = params.n_hidden
    rng = np.random.default_rng(1)
    W1, W2 = params.W1, params.W2
    a2 = (1 / (1 + np.exp(-(X @ W1.T)))).astype(X.dtype)
    delta3 = rng.normal(scale=0.1, size=(m, n)).astype(X.dtype)
    delta2 = rng.normal(scale=0.1, size=(m, p)).astype(X.dtype)
    z2, z3 = np.empty((m, p), X.dtype), np.empty((m, n), X.dtype)
    d2, gW2, gW1 = np.empty((m, p), X.dtype), np.empty((n, p), X.dtype), np.empty((p, n), X.dtype)

    def products():
        np.matmul(X, W1.T, out=z2)
        np.matmul(a2, W2.T, out=z3)
        np.matmul(delta3.T, a2, out=gW2)
        np.matmul(delta3, W2, out=d2)
        np.matmul(delta2.T, X, out=gW1)

    return products


def time_interleaved(
    functions: dict[str, Callable[[], object]],
    repeat: int,
    *,
    calls: int = 1,
    settle: float = 0.15,
    contexts: dict[str, Callable[[], AbstractContextManager]] | None = None,
) -> dict[str, list[float]]:
    """Wall times in seconds of each function, measured in ``repeat`` interleaved rounds.

    In each round every function in turn is called untimed for ``settle``
    seconds (at least once), so that thread pools woken or left spinning by
    the previous function reach their steady state, and then ``calls`` times,
    timed.  ``contexts`` gives a context (such as a BLAS thread limit) to run
    a function's calls in.
    """
    contexts = contexts or {}
    times = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            with contexts.get(name, nullcontext)():
                start = time.perf_counter()
                function()
                while time.perf_counter() - start < settle:
                    function()
                for _ in range(calls):
                    start = time.perf_counter()
                    function()
                    times[name].append(time.perf_counter() - start)
    return times


@dataclass
class ShapeResult:
    """Median times (seconds) and ratios for one shape and dtype."""

    m: int
    n_hidden: int
    dtype: str
    repeat: int
    times: dict[str, float]
    ratios: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """Evaluation time / time of its five products (median of the per-round ratios)."""
        return self.ratios["module"]

    @property
    def limit(self) -> float:
        return ratio_limit(self.n_hidden)

    @property
    def met(self) -> bool:
        return self.ratio <= self.limit


def _median_ratio(times: dict[str, list[float]], name: str, base: str) -> float:
    return statistics.median(times[name]) / statistics.median(times[base])


def bench_shape(m: int, n_hidden: int, dtype, repeat: int, *, calls: int = 1, compare: bool = False) -> ShapeResult:
    """Time the module's evaluation and its five products (and, with ``compare``, the straightforward ones).

    Returns
    -------
    ShapeResult
        ``times`` holds medians for ``products``, ``module`` (the
        evaluation as ``fit`` runs it), ``public`` (``Autoencoder.loss_and_grad``
        called in a loop, as a user would, validation included) and, with
        ``compare``, ``numpy`` and ``torch`` (when installed); ``ratios``
        holds ``module / products`` as ``module``, ``public / products`` as
        ``public``, and ``numpy / module``,
        ``torch / module`` (how many times the module is faster), each a
        ratio of medians.

    Notes
    -----
    The module runs as in training, with every BLAS pool limited to one
    thread (:func:`autoencoder.core._fast.single_threaded_blas`): its
    workers run single-threaded BLAS, one per core.  The products and the
    straightforward objectives run with the BLAS threads they have.
    """
    model, params, X = problem(m, n_hidden, dtype)
    workspace = _fast.Workspace(X, n_hidden)
    grad = Params.zeros(N_VISIBLE, n_hidden, X.dtype)
    objective = model.objective
    functions = {
        "products": five_products(params, X),
        "module": lambda: objective.fast(params, X, grad, workspace=workspace),
        "public": lambda: model.loss_and_grad(params, X),
    }
    if compare:
        functions["numpy"] = numpy_objective(model, params, X)
        torch_fn = torch_objective(model, params, X)
        if torch_fn is not None:
            functions["torch"] = torch_fn
    contexts = {"module": _fast.single_threaded_blas}
    times = time_interleaved(functions, repeat, calls=calls, contexts=contexts)
    del functions
    gc.collect()
    ratios = {name: _median_ratio(times, name, "products") for name in ("module", "public")}
    for other in ("numpy", "torch"):
        if other in times:
            ratios[other] = _median_ratio(times, other, "module")
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    return ShapeResult(m, n_hidden, np.dtype(dtype).name, repeat, medians, ratios)


@dataclass
class MemoryResult:
    """Peak memory of one evaluation beyond ``X`` (bytes), and its ratio to the size of ``X``."""

    m: int
    n_hidden: int
    dtype: str
    x_bytes: int
    traced: dict[str, int]
    rss: dict[str, int | None]

    def ratio(self, name: str, kind: str = "traced") -> float | None:
        value = getattr(self, kind).get(name)
        return None if value is None else value / self.x_bytes


def _traced_peak(function: Callable[[], object]) -> int:
    """Peak bytes allocated through Python's and NumPy's allocators while ``function`` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _rss_growth(which: str, m: int, n_hidden: int, dtype: str) -> int | None:
    """In this process: growth of the resident set's high-water mark during one evaluation (Linux only)."""
    status, clear = Path("/proc/self/status"), Path("/proc/self/clear_refs")
    if not status.is_file():
        return None

    def read(field_name):
        for line in status.read_text().splitlines():
            if line.startswith(field_name):
                return int(line.split()[1]) * 1024
        return None

    function = _evaluations(m, n_hidden, dtype)[which]
    gc.collect()
    try:
        clear.write_text("5")  # reset VmHWM to the current resident set
    except OSError:
        return None
    before = read("VmRSS:")
    function()
    return read("VmHWM:") - before


def _rss_peak(which: str, m: int, n_hidden: int, dtype: str) -> int | None:
    """:func:`_rss_growth` in a fresh Python process, so that no memory freed earlier is reused."""
    command = [sys.executable, "-m", "benchmarks.objective", "--rss", which, str(m), str(n_hidden), dtype]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        return int(done.stdout.strip())
    except ValueError:
        return None


def _evaluations(m: int, n_hidden: int, dtype) -> dict[str, Callable[[], object]]:
    """One evaluation each of the module (allocating its workspace and gradient) and of plain NumPy."""
    model, params, X = problem(m, n_hidden, dtype)
    objective = model.objective
    small = X[: min(m, 512)]
    objective.fast(params, small, Params.zeros(N_VISIBLE, n_hidden, X.dtype))  # start BLAS and threads

    def module():
        workspace = _fast.Workspace(X, n_hidden)
        grad = Params.zeros(N_VISIBLE, n_hidden, X.dtype)
        objective.fast(params, X, grad, workspace=workspace)

    return {"module": module, "numpy": numpy_objective(model, params, X)}


def peak_memory(m: int, n_hidden: int, dtype, *, compare: bool = True) -> MemoryResult:
    """Peak extra memory of one evaluation, its workspace and gradient included.

    Measured two ways: the peak of tracemalloc (which sees every NumPy array)
    and, in a fresh process, the growth of the resident set's high-water mark
    (which also sees BLAS's own buffers and thread stacks).  With
    ``compare``, the same for the straightforward NumPy objective.
    """
    dtype = np.dtype(dtype).name
    functions = _evaluations(m, n_hidden, dtype)
    if not compare:
        del functions["numpy"]
    traced = {name: _traced_peak(function) for name, function in functions.items()}
    del functions
    gc.collect()
    rss = {name: _rss_peak(name, m, n_hidden, dtype) for name in traced}
    x_bytes = m * N_VISIBLE * np.dtype(dtype).itemsize
    return MemoryResult(m, n_hidden, dtype, x_bytes, traced, rss)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--rss":
        print(_rss_growth(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
