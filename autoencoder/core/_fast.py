"""The objective and gradient used for training: in place, blocked, on every core, the same bits on any.

Same mathematics as :meth:`autoencoder.core.objective.Objective.reference`
(Appendix A), organised so that the five matrix products do nearly all the
work, and so that the result does not depend on how many workers share it:

* **Fixed blocks of examples.**  The examples are cut into blocks of
  ``block_rows`` rows (:func:`default_block_rows`, a function of ``m``
  alone); every product and every elementwise pass runs on one block, or on
  a tile of one block, whose bounds never depend on the number of workers.
* **Sums in block order.**  Every floating-point reduction over examples
  (``ρ̂``, the squared error, the gradient sums) is formed per block and the
  block partial sums are added in block order, whichever worker computed
  them (:class:`_OrderedSum`).  So 1, 2, 3 or 8 workers, and any timing,
  give the same bits; only the BLAS kernel (the CPU) can change them.
  BLAS itself always runs single-threaded inside an evaluation
  (:func:`single_threaded_blas`), so its own threading cannot either.
* **Two passes over the examples.**  The hidden layer ``a2 = f(X W1ᵀ + b1)``
  is computed for all ``m`` examples first, because ``ρ̂`` (its column means)
  enters every ``δ2``; the output layer, ``δ3``, ``δ2`` and the gradient
  products follow in a second pass.  Nothing of shape (m, n) is ever
  allocated: the extra memory is the (m, p) hidden layer plus a few blocks.
* **Biases inside the products.**  ``a2`` is stored with a column of ones, so
  ``[a2 1] [W2 b2]ᵀ`` gives ``z3`` with its bias and ``δ3ᵀ [a2 1]`` gives
  ``[∇W2 ∇b2]`` in one product each.
* **The sigmoid from ``exp``.**  ``σ(z) = 1 / (1 + exp(-z))``, where ``-z``
  comes for free: ``-z2 = -b1 - X W1ᵀ`` is the bias pass itself, and ``-z3``
  is the product with ``-[W2 b2]``; ``σ'(z) = σ(z) (1 - σ(z))``, so ``z2`` and
  ``z3`` are not kept.  In float32 the output layer uses
  ``σ(z) = (1 + tanh(z/2)) / 2`` instead (``z/2`` from the product with
  halved weights) and carries ``8 δ3`` and ``8 δ2``; the sums are then
  divided by ``8 m``.
* **Workers.**  Blocks are dealt to ``workers`` threads in turn (block ``b``
  to worker ``b mod workers``), each running its own elementwise work and
  single-threaded products.  Worker 0 runs in the calling thread, the others
  on threads that belong to the :class:`Workspace`, so evaluations on
  different workspaces never wait for each other's threads; calls on one
  workspace from several threads take turns.  The default count is
  :func:`default_workers`; ``$AUTOENCODER_WORKERS`` sets it for the process.

The measurements behind these choices are in ``BENCHMARKS.md``.
"""

from __future__ import annotations

import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from ._validation import check_int
from .params import Params

__all__ = [
    "MAX_BLOCK_ROWS",
    "MAX_WORKERS",
    "TILE_BYTES",
    "WORKERS_VARIABLE",
    "Workspace",
    "blas_threads",
    "default_block_rows",
    "default_workers",
    "loss_and_grad",
    "reusable_workspace",
    "single_threaded_blas",
    "single_worker",
]

MAX_BLOCK_ROWS = 1024
"""The largest default block: the inner dimension of the per-block gradient products."""

MIN_BLOCK_ROWS = 64
"""The smallest default block."""

TILE_BYTES = 512 * 1024
"""Target size of one (rows, n) tile of the elementwise work (``BENCHMARKS.md`` says why this size)."""

WORKERS_VARIABLE = "AUTOENCODER_WORKERS"
"""Environment variable that sets the number of evaluation workers for the whole process."""

MAX_WORKERS = 1024
"""The largest worker count accepted."""

SLOTS_PER_WORKER = 2
"""Block gradient sums a worker may hold while earlier blocks are still being added."""


def loss_and_grad(
    objective,
    params: Params,
    X,
    grad: Params,
    *,
    workspace: Workspace | None = None,
    terms: bool = False,
):
    """``J`` at ``params``, with its gradient written into ``grad``.

    Parameters
    ----------
    objective : Objective
        The transfer functions, the penalty, ``ρ``, ``β`` (0 disables the
        sparsity term) and ``λ`` (:class:`autoencoder.core.objective.Objective`).
    params : Params
        Same dtype as ``X``.
    X : ndarray of shape (m, n)
        C-contiguous, float32 or float64.
    grad : Params
        Output; overwritten.
    workspace : Workspace, optional
        Buffers and threads to reuse across calls (allocated when absent or
        unfit).
    terms : bool, default False
        Also return the loss terms as a dict.

    Returns
    -------
    loss : float
    terms : dict, only when ``terms`` is True
    """
    m, n = X.shape
    p = params.n_hidden
    f, g, weight_decay = objective.f, objective.g, objective.weight_decay
    ws = workspace if workspace is not None and workspace.fits(X, p) else Workspace(X, p)
    with ws.lock, single_threaded_blas():
        if f.needs_input and ws.z2 is None:
            ws.z2 = np.empty((m, p), X.dtype)
        W1, b1, W2, b2 = params.W1, params.b1, params.W2, params.b2
        tanh_output = ws.tanh and g.logistic
        ev = _Evaluation(objective, X, W1, b1, -b1, W2, b2, ws, grad, tanh_output)
        _run(ev)
        sparsity = ev.results["sparsity"]
        reconstruction = 0.5 * sum(ws.block_sq_errors) / m
        decay = 0.5 * weight_decay * ev.results["w_squared"] if weight_decay else 0.0
    loss = reconstruction + decay + sparsity
    if terms:
        return loss, {"reconstruction": reconstruction, "weight_decay": decay, "sparsity": sparsity, "total": loss}
    return loss


# -- threads ----------------------------------------------------------------------------------------


@cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def blas_threads() -> int:
    """Threads of the BLAS that NumPy's products run on (the largest pool loaded).

    While :func:`single_threaded_blas` holds the pools at one thread, the
    count they had before.
    """
    return _BLAS_POLICY.threads_before or max((c.num_threads for c in _blas_controller().lib_controllers), default=1)


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _BlasPolicy:
    """One process-wide BLAS thread limit, shared by every evaluation running at once.

    The first evaluation to start limits every BLAS pool to one thread; the
    last to end restores what was there.  In between nothing changes, so an
    evaluation never sees the limit move under it, whatever other threads do.
    The first and the last may run in different threads, neither of them the
    main one (a sweep's in-process workers, a user's executor): the setting
    is made from whichever thread gets there (:func:`_set_blas_threads`).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._depth = 0
        self._restore = None  # the thread count of each pool, to restore
        self.threads_before = 0  # 0: not active

    @contextmanager
    def single_threaded(self):
        with self._lock:
            if self._depth == 0:
                pools = _blas_controller().lib_controllers
                counts = [pool.num_threads for pool in pools]
                self.threads_before = max(counts, default=1)
                if self.threads_before > 1:
                    _set_blas_threads(pools, [1] * len(pools))
                    self._restore = (pools, counts)
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    if self._restore is not None:
                        _set_blas_threads(*self._restore)
                    self._restore = None
                    self.threads_before = 0


def _set_blas_threads(pools, counts):
    """Set each BLAS pool's thread count from this thread, whichever thread set one before.

    OpenBLAS's pthreads pool is process-wide: a count set in any thread
    holds in all.  threadpoolctl (3.8) therefore lets one thread at a time
    set it: the first live thread to call ``set_num_threads``, until it
    clears that claim; a call from any other thread is silently dropped.
    Only ``with threadpool_limits(...)`` clears it, on leaving; a thread
    that set a count another way holds the claim for as long as it lives,
    so the limit would never reach the other threads' evaluations.  Here
    the policy's lock already keeps its own settings apart, so the claim is
    taken for each pool and given up after, leaving none behind; a claim
    another thread holds inside ``threadpool_limits`` is retaken by that
    thread when it restores its counts.
    """
    import threadpoolctl

    release = getattr(getattr(threadpoolctl, "OpenBLASController", None), "clear_controlling_thread", None)
    for pool, count in zip(pools, counts, strict=True):
        if release is not None:
            release(force=True)
        pool.set_num_threads(count)
    if release is not None:
        release()


_BLAS_POLICY = _BlasPolicy()


def single_threaded_blas():
    """Context manager: every BLAS pool, NumPy's and SciPy's, at one thread while any evaluation runs.

    Every evaluation runs inside it, and so does :meth:`Autoencoder.fit`
    around the whole optimization: the objective runs its own workers, each
    with single-threaded BLAS, and the optimizer's vector work needs no
    pool (``BENCHMARKS.md``).  Nested and
    concurrent uses share one limit, set when the first starts and restored
    when the last ends, so the process-wide thread setting never changes
    while an evaluation is running.
    """
    return _BLAS_POLICY.single_threaded()


_THIS_THREAD = threading.local()


@contextmanager
def single_worker():
    """Context manager: evaluations started in this thread run one worker, every BLAS pool at one thread.

    For engines that give each training one core and run several in threads
    of one process (a sweep's tasks on a threaded Dask worker).  The worker
    count is this thread's alone, and the BLAS limit is
    :func:`single_threaded_blas`, shared by every thread; a process-wide
    ``threadpool_limits(1)`` per thread instead would restore the count
    when the first thread leaves, under the others' evaluations.
    """
    previous = getattr(_THIS_THREAD, "single_worker", False)
    _THIS_THREAD.single_worker = True
    try:
        with single_threaded_blas():
            yield
    finally:
        _THIS_THREAD.single_worker = previous


def default_workers() -> int:
    """The worker count used when none is given.

    ``$AUTOENCODER_WORKERS`` when set (an integer in [1, :data:`MAX_WORKERS`]),
    else 1 inside :func:`single_worker` in this thread, else the number of
    cores available to the process, at most the number of BLAS threads
    NumPy was given (so a process limited to one BLAS thread, such as a
    worker of a sweep, runs one).  The count changes only the speed, never
    the result.

    Raises
    ------
    ValueError
        If ``$AUTOENCODER_WORKERS`` is not an integer in the allowed range.
    """
    env = os.environ.get(WORKERS_VARIABLE, "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            value = env
        return check_int(WORKERS_VARIABLE, value, 1, MAX_WORKERS)
    if getattr(_THIS_THREAD, "single_worker", False):
        return 1
    return max(1, min(blas_threads(), _available_cores()))


def default_block_rows(m: int) -> int:
    """Examples per block for ``m`` examples: a quarter of them, rounded up to 64, within [64, 1024].

    A function of ``m`` alone, never of the worker count, so that the
    blocks, and with them every bit of the result, are the same on any
    machine; four blocks or more let two or four workers share small
    problems.
    """
    quarter = -(-m // 4)
    rounded = -(-quarter // MIN_BLOCK_ROWS) * MIN_BLOCK_ROWS
    return max(MIN_BLOCK_ROWS, min(MAX_BLOCK_ROWS, rounded))


# -- buffers ----------------------------------------------------------------------------------------


class _Sums:
    """The gradient sums of one block (or of all of them): ``[Σ δ2ᵀ x, Σ δ2, Σ δ3ᵀ [a2 1]]`` in one array."""

    def __init__(self, n: int, p: int, dtype):
        self.flat = np.empty(p * n + p + n * (p + 1), dtype)
        self.W1 = self.flat[: p * n].reshape(p, n)  # Σ δ2ᵀ x
        self.b1 = self.flat[p * n : p * n + p]  # Σ δ2
        self.W2b2 = self.flat[p * n + p :].reshape(n, p + 1)  # Σ δ3ᵀ [a2 1] = [Σ δ3ᵀ a2, Σ δ3]


class _WorkerBuffers:
    """One worker's block buffers and the block sums it may hold at once."""

    def __init__(self, block_rows: int, tile_rows: int, n: int, p: int, dtype):
        self.out = np.empty((block_rows, n), dtype)  # z3, then h, then h - x, then δ3
        self.tmp = np.empty((tile_rows, n), dtype)  # g'(z3) of one tile
        self.z3 = None  # z3 of one tile, for output transfers whose derivative needs it
        self.d2 = np.empty((block_rows, p), dtype)  # δ2
        self.fprime = np.empty((block_rows, p), dtype)  # f'(z2)
        self.slots = [_Sums(n, p, dtype) for _ in range(SLOTS_PER_WORKER)]
        self.free = []  # slots not waiting to be added, refilled for each evaluation


class Workspace:
    """Preallocated buffers and worker threads for one data matrix and hidden size.

    Parameters
    ----------
    X : ndarray of shape (m, n)
    n_hidden : int
    block_rows : int, optional
        Examples per block.  Default: :func:`default_block_rows` of ``m``.
        The blocks fix the order of every sum, so the result depends on
        ``block_rows`` (within rounding) but not on ``workers``.
    workers : int, optional
        Threads that share the blocks.  Default: :func:`default_workers`;
        never more than there are blocks.
    tile_rows : int, optional
        Examples per tile of the elementwise output-layer work.  Default:
        as many as fit in :data:`TILE_BYTES`.
    tanh : bool, optional
        Compute a sigmoid output layer as ``(1 + tanh(z/2)) / 2`` rather
        than ``1 / (1 + exp(-z))``.  Default: True for float32, False for
        float64 (``BENCHMARKS.md`` gives the timings).  Both agree with the
        reference objective to rounding.

    Raises
    ------
    ValueError
        If ``workers``, ``block_rows`` or ``tile_rows`` is not a positive
        integer (or ``$AUTOENCODER_WORKERS`` is invalid).

    Notes
    -----
    Memory: the hidden layer ``[a2 1]`` of shape (m, p + 1), ``z2`` of shape
    (m, p) only for a hidden transfer whose derivative needs it (the Taylor
    polynomials of order 3 and 5; not the sigmoid), the gradient sums, and
    per worker two (block_rows, n) blocks and two more sets of sums.
    """

    def __init__(
        self,
        X: np.ndarray,
        n_hidden: int,
        block_rows: int | None = None,
        workers: int | None = None,
        tile_rows: int | None = None,
        tanh: bool | None = None,
    ):
        m, n = X.shape
        p = n_hidden
        dtype = X.dtype
        block_rows = default_block_rows(m) if block_rows is None else check_int("block_rows", block_rows, 1)
        workers = default_workers() if workers is None else check_int("workers", workers, 1, MAX_WORKERS)
        tile_rows = TILE_BYTES // (n * dtype.itemsize) if tile_rows is None else check_int("tile_rows", tile_rows, 1)
        self.shape = (m, n, p)
        self.dtype = dtype
        self.block_rows = min(block_rows, m)
        self.block_bounds = [(s, min(s + self.block_rows, m)) for s in range(0, m, self.block_rows)]
        self.workers = min(workers, len(self.block_bounds))
        self.tile_rows = max(1, min(self.block_rows, tile_rows))
        self.tanh = dtype == np.float32 if tanh is None else bool(tanh)
        self.a2_ones = np.empty((m, p + 1), dtype)  # [a2 1]: hidden activations and a column of ones
        self.a2_ones[:, p] = 1
        self.a2 = self.a2_ones[:, :p]
        self.z2 = None  # hidden pre-activations, allocated for transfers that need them
        self.w2_b2 = np.empty((n, p + 1), dtype)  # [W2 b2], -[W2 b2] or [W2 b2] / 2 for a sigmoid output
        self.sparse_grad = np.empty(p, dtype)  # β φ'(ρ̂)
        self.block_a2_sums = np.empty((len(self.block_bounds), p), dtype)  # Σ a2 of each block
        self.block_sq_errors = [0.0] * len(self.block_bounds)  # Σ ‖h - x‖² of each block
        self.sums = _Sums(n, p, dtype)  # Σ over all blocks, in block order
        self.buffers = [_WorkerBuffers(self.block_rows, self.tile_rows, n, p, dtype) for _ in range(self.workers)]
        self.lock = threading.Lock()  # one evaluation at a time on these buffers
        self._executor = None

    def blocks_of(self, k: int) -> list[tuple[int, int]]:
        """The (start, stop) rows of worker ``k``'s blocks: every ``workers``-th block from block ``k``."""
        return self.block_bounds[k :: self.workers]

    @property
    def executor(self) -> ThreadPoolExecutor:
        """This workspace's own threads for workers 1, 2, …, started on first use, stopped with it."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers - 1, thread_name_prefix="autoencoder")
            weakref.finalize(self, self._executor.shutdown, wait=False)
        return self._executor

    def fits(self, X: np.ndarray, n_hidden: int) -> bool:
        """Whether these buffers serve ``X`` and ``n_hidden``."""
        return self.shape == (X.shape[0], X.shape[1], n_hidden) and self.dtype == X.dtype

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers."""
        arrays = [self.a2_ones, self.z2, self.w2_b2, self.block_a2_sums, self.sums.flat]
        for buf in self.buffers:
            arrays += [buf.out, buf.tmp, buf.z3, buf.d2, buf.fprime] + [s.flat for s in buf.slots]
        return sum(a.nbytes for a in arrays if a is not None)


_THREAD_LOCAL = threading.local()


def reusable_workspace(X: np.ndarray, n_hidden: int) -> Workspace:
    """A :class:`Workspace` for ``X`` and ``n_hidden`` that later calls from this thread reuse.

    Each thread keeps the workspace of its latest shape and dtype (with its
    worker threads); another shape replaces it, so memory does not grow with
    the number of shapes seen.
    """
    ws = getattr(_THREAD_LOCAL, "workspace", None)
    if ws is None or not ws.fits(X, n_hidden):
        _THREAD_LOCAL.workspace = None  # free the old buffers before allocating new ones
        ws = _THREAD_LOCAL.workspace = Workspace(X, n_hidden)
    return ws


# -- the transfer functions, in place ---------------------------------------------------------------


def _sigmoid_of_negated(q):
    """Overwrite ``q = -z`` with ``σ(z) = 1 / (1 + exp(-z))``."""
    np.exp(q, out=q)
    q += 1
    np.reciprocal(q, out=q)
    return q


# -- one evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Evaluation:
    """What every worker of one evaluation reads."""

    objective: object  # an autoencoder.core.objective.Objective
    X: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    minus_b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    ws: Workspace
    grad: Params
    tanh_output: bool  # σ(z3) through tanh: the deltas carried are c = 8 times δ3 and δ2
    results: dict = field(default_factory=dict)  # "sparsity" and "w_squared", set once ρ̂ is known

    @property
    def f(self):
        return self.objective.f

    @property
    def g(self):
        return self.objective.g

    @property
    def beta(self) -> float:
        return self.objective.beta

    @property
    def weight_decay(self) -> float:
        return self.objective.weight_decay

    @property
    def scale(self) -> int:
        """``c``: the deltas and gradient sums carried are ``c`` times the true ones."""
        return 8 if self.tanh_output else 1

    @property
    def sparse_grad(self) -> np.ndarray | None:
        """``c β φ'(ρ̂)``, once ρ̂ is known (None when ``β = 0``)."""
        return self.ws.sparse_grad if self.beta else None


def _hidden_block(ev: _Evaluation, b: int, buf: _WorkerBuffers):
    """``a2 = f(z2)``, ``z2 = X W1ᵀ + b1`` for block ``b``; its ``Σ a2`` into the workspace.

    For a logistic ``f`` the elementwise work runs on a contiguous scratch
    block (``buf.fprime``) and only the last step writes ``a2``.  An
    elementwise rectifier is applied in place; a transfer that is not
    elementwise (TopK) acts on each row of the block
    (:func:`autoencoder.core.activations.top_k_mask`), so its selection depends on
    the example alone, not on the blocks or the workers.
    """
    ws, f = ev.ws, ev.f
    start, stop = ws.block_bounds[b]
    xb, a2b = ev.X[start:stop], ws.a2[start:stop]
    if f.logistic:
        q = buf.fprime[: stop - start]
        np.matmul(xb, ev.W1.T, out=q)
        np.subtract(ev.minus_b1, q, out=q)  # -z2 = -b1 - X W1ᵀ
        np.exp(q, out=q)
        q += 1
        np.reciprocal(q, out=a2b)  # σ(z2) = 1 / (1 + exp(-z2))
    else:
        z2b = ws.z2[start:stop] if f.needs_input else a2b
        np.matmul(xb, ev.W1.T, out=z2b)
        z2b += ev.b1
        if f.rectified and f.elementwise:
            np.maximum(a2b, 0, out=a2b)
        elif not f.identity:
            a2b[...] = f.forward(z2b)
    np.sum(a2b, axis=0, out=ws.block_a2_sums[b])


def _output_tile(g, xt, out, tmp, z3, tanh=False):
    """``out``: ``z3`` (``-z3`` for a sigmoid) in, ``δ3 = (h - x) ⊙ g'(z3)`` out; returns ``Σ ‖h - x‖²``.

    One tile of examples: ``xt``, ``out`` and the scratch ``tmp`` (and
    ``z3``, kept for transfers whose derivative needs it) have ``tile_rows``
    rows or fewer.  With
    ``tanh`` (a sigmoid output only), ``out`` comes in as ``z3 / 2`` and goes
    out as ``8 δ3``.
    """
    if tanh:
        np.tanh(out, out=out)
        out += 1  # u = 1 + tanh(z3 / 2) = 2 h
        np.subtract(2, out, out=tmp)
        tmp *= out  # u (2 - u) = 4 h (1 - h) = 4 g'(z3)
        out -= xt
        out -= xt  # u - 2 x = 2 (h - x)
        flat = out.reshape(-1)
        sq_error = 0.25 * float(np.dot(flat, flat))
        out *= tmp  # 8 (h - x) g'(z3)
        return sq_error
    from_value = g.logistic or (g.rectified and g.elementwise)  # g'(z3) from h, before h - x overwrites it
    if g.logistic:
        _sigmoid_of_negated(out)  # h
    elif g.rectified and g.elementwise:
        np.maximum(out, 0, out=out)  # h
    elif g.needs_input:
        z3[...] = out
        out[...] = g.forward(z3)
    elif not g.identity:
        out[...] = g.forward(out)
    if from_value:
        g.derivative(None, out, out=tmp)  # g'(z3) from h
    out -= xt  # h - x
    flat = out.reshape(-1)
    sq_error = float(np.dot(flat, flat))
    if from_value:
        out *= tmp
    else:
        g.times_derivative(z3, None, out, tmp)
    return sq_error


def _backprop_block(ev: _Evaluation, b: int, buf: _WorkerBuffers, sums: _Sums):
    """``δ3``, ``δ2`` and the gradient sums of block ``b`` into ``sums``; its squared error into the workspace."""
    ws, f, g = ev.ws, ev.f, ev.g
    start, stop = ws.block_bounds[b]
    rows, tile = stop - start, ws.tile_rows
    xb, a2b, a2_ones_b = ev.X[start:stop], ws.a2[start:stop], ws.a2_ones[start:stop]
    out, d2, fprime = buf.out[:rows], buf.d2[:rows], buf.fprime[:rows]
    # Output layer: z3 = [a2 1] [W2 b2]ᵀ (negated for a sigmoid), then tile by tile
    # h = g(z3) and δ3 = (h - x) ⊙ g'(z3).
    np.matmul(a2_ones_b, ws.w2_b2.T, out=out)
    sq_error = 0.0
    for t in range(0, rows, tile):
        u = min(t + tile, rows)
        z3 = None if buf.z3 is None else buf.z3[: u - t]
        sq_error += _output_tile(g, xb[t:u], out[t:u], buf.tmp[: u - t], z3, ev.tanh_output)
    ws.block_sq_errors[b] = sq_error
    # [Σ δ3ᵀ a2, Σ δ3] = δ3ᵀ [a2 1].
    np.matmul(out.T, a2_ones_b, out=sums.W2b2)
    # δ2 = (δ3 W2 + β φ'(ρ̂)) ⊙ f'(z2) (times c).
    np.matmul(out, ev.W2, out=d2)
    if ev.sparse_grad is not None:
        d2 += ev.sparse_grad
    z2b = ws.z2[start:stop] if f.needs_input else None
    f.times_derivative(z2b, a2b, d2, fprime)
    # Σ δ2ᵀ x, Σ δ2.
    np.matmul(d2.T, xb, out=sums.W1)
    np.sum(d2, axis=0, out=sums.b1)


class _OrderedSum:
    """``Σ_b sums_b`` added in block order, whichever worker computed each ``sums_b`` and whenever.

    Block 0's sums are written straight into the total; a worker that
    finishes block ``b`` submits its sums, and whoever submits the block
    that is next in line adds it and every later one that is ready, one
    after the other.  A worker holds at most :data:`SLOTS_PER_WORKER` blocks'
    sums; it waits for a free one only when the blocks before its own are
    still being computed elsewhere.  The block that is next in line is
    always computable, so the waits end.
    """

    def __init__(self, ws: Workspace):
        self._ws = ws
        self._condition = threading.Condition()
        self._next = 0  # the first block not yet in the total
        self._ready = {}  # block -> (worker, slot) submitted, not yet added
        self._adding = False
        self._broken = False

    def slot(self, b: int, k: int) -> _Sums:
        """Where worker ``k`` writes block ``b``'s sums: the total itself for block 0, else a free slot."""
        if b == 0:
            return self._ws.sums
        buf = self._ws.buffers[k]
        with self._condition:
            while not buf.free:
                self._check()
                self._condition.wait()
            return buf.free.pop()

    def submit(self, b: int, k: int, sums: _Sums):
        """Block ``b``'s sums are complete; add them, and what follows, if ``b`` is next in line."""
        with self._condition:
            self._ready[b] = (k, sums)
            if self._adding or b != self._next:
                return
            self._adding = True
        total = self._ws.sums
        while True:
            with self._condition:
                item = self._ready.pop(self._next, None)
                if item is None or self._broken:
                    self._adding = False
                    return
            owner, part = item
            if part is not total:
                total.flat += part.flat
            with self._condition:
                self._next += 1
                if part is not total:
                    self._ws.buffers[owner].free.append(part)
                self._condition.notify_all()

    def abort(self):
        with self._condition:
            self._broken = True
            self._condition.notify_all()

    def _check(self):
        if self._broken:
            raise threading.BrokenBarrierError


class _Rendezvous:
    """A barrier split in two: :meth:`arrive` does not block, :meth:`wait` blocks until all have arrived.

    The last worker to arrive runs ``action`` first.  A worker that arrives
    early works on until it needs what the others bring, by when they have
    usually arrived and :meth:`wait` returns at once.
    """

    def __init__(self, parties: int, action=None):
        self._parties = parties
        self._action = action
        self._arrived = 0
        self._state = "waiting"  # then "open" or "broken"
        self._condition = threading.Condition()

    def arrive(self):
        with self._condition:
            self._arrived += 1
            if self._arrived < self._parties or self._state != "waiting":
                return
            try:
                if self._action is not None:
                    self._action()
            except BaseException:
                self._break()
                raise
            self._state = "open"
            self._condition.notify_all()

    def wait(self):
        with self._condition:
            while self._state == "waiting":
                self._condition.wait()
            if self._state == "broken":
                raise threading.BrokenBarrierError

    def abort(self):
        with self._condition:
            self._break()

    def _break(self):
        self._state = "broken"
        self._condition.notify_all()


@dataclass(frozen=True)
class _Sync:
    """The meeting points of one evaluation's workers, and the ordered gradient sum."""

    rho_hat: _Rendezvous  # every worker's rows of [W2 b2] and blocks' Σ a2 in, ρ̂ and β φ'(ρ̂) computed
    sums: _Rendezvous  # every block's gradient sums added
    total: _OrderedSum

    def abort(self):
        for point in (self.rho_hat, self.sums, self.total):
            point.abort()


def _worker(ev: _Evaluation, k: int, sync: _Sync):
    """Worker ``k``'s whole share of one evaluation.

    Its rows of ``[W2 b2]`` (:func:`_output_weights`) and the hidden layer of
    its blocks; the last worker to finish computes ``ρ̂`` and the sparsity
    term (:func:`_sparsity`); the output layer and backpropagation of its
    blocks, each block's sums added in block order (:class:`_OrderedSum`);
    then its rows of the gradient (:func:`_write_gradient`).  A worker that
    fails breaks the meeting points, so that the others stop too.
    """
    ws = ev.ws
    buf = ws.buffers[k]
    blocks = range(k, len(ws.block_bounds), ws.workers)
    try:
        # exp(-z) overflows to inf for z < -709 (float64), and 1 / (1 + inf) = 0 = σ(z) is right.
        with np.errstate(over="ignore"):
            _output_weights(ev, k)
            for b in blocks:
                _hidden_block(ev, b, buf)
            sync.rho_hat.arrive()
            sync.rho_hat.wait()
            for b in blocks:
                sums = sync.total.slot(b, k)
                _backprop_block(ev, b, buf, sums)
                sync.total.submit(b, k, sums)
            sync.sums.arrive()
            sync.sums.wait()
            _write_gradient(ev, k)
    except BaseException:
        sync.abort()
        raise


def _output_weights(ev: _Evaluation, k: int):
    """Worker ``k``'s rows of ``[W2 b2]``, scaled so that the product gives what the output tiles take.

    Negated for a sigmoid output (``-z3`` comes out of the product), halved
    for one through tanh (``z3 / 2``).
    """
    ws = ev.ws
    n, p = ws.shape[1:]
    rows = _slice(n, ws.workers, k)
    factor = 0.5 if ev.tanh_output else -1 if ev.g.logistic else 1
    np.multiply(ev.W2[rows], factor, out=ws.w2_b2[rows, :p])
    np.multiply(ev.b2[rows], factor, out=ws.w2_b2[rows, p])


def _sparsity(ev: _Evaluation):
    """``ρ̂`` from the blocks' ``Σ a2``; the sparsity term and ``‖W1‖² + ‖W2‖²`` into ``ev.results``.

    ``β φ'(ρ̂)`` (times ``c``) goes into the workspace for every ``δ2``.
    """
    ws = ev.ws
    rho_hat = ws.block_a2_sums.sum(axis=0) / ws.shape[0]
    if ev.beta:
        penalty, rho = ev.objective.penalty, ev.objective.rho
        ev.results["sparsity"] = ev.beta * float(np.sum(penalty.value(rho_hat, rho)))
        ws.sparse_grad[...] = ev.beta * penalty.derivative(rho_hat, rho)
        if ev.scale != 1:
            ws.sparse_grad *= ev.scale
    else:
        ev.results["sparsity"] = 0.0
    ev.results["w_squared"] = float(np.vdot(ev.W1, ev.W1)) + float(np.vdot(ev.W2, ev.W2)) if ev.weight_decay else 0.0


def _write_gradient(ev: _Evaluation, k: int):
    """Worker ``k``'s rows of ``grad = (λ m c W + Σ) / (m c)``: ``∇W = (1/m) Σ δᵀ a + λ W``, ``∇b = (1/m) Σ δ``."""
    ws, grad, total = ev.ws, ev.grad, ev.ws.sums
    m, n, p = ws.shape
    r1, r2 = _collect_rows(p, n, ws.workers, k)
    inv = 1.0 / (m * ev.scale)
    decay_times_m = ev.weight_decay * m * ev.scale
    parts = [
        (grad.W1[r1], total.W1[r1], ev.W1[r1]),
        (grad.b1[r1], total.b1[r1], None),
        (grad.W2[r2], total.W2b2[r2, :p], ev.W2[r2]),
        (grad.b2[r2], total.W2b2[r2, p], None),
    ]
    for out, part, W in parts:
        if W is not None and decay_times_m:
            np.multiply(W, decay_times_m, out=out)
            out += part
            out *= inv
        else:
            np.multiply(part, inv, out=out)


def _run(ev: _Evaluation):
    """Run every worker's :func:`_worker`: worker 0 in this thread, the others on the workspace's threads."""
    ws = ev.ws
    parties = ws.workers
    for buf in ws.buffers:
        buf.free = list(buf.slots)
        if ev.g.needs_input and buf.z3 is None:
            buf.z3 = np.empty_like(buf.tmp)
    sync = _Sync(
        _Rendezvous(parties, action=lambda: _sparsity(ev)),
        _Rendezvous(parties),
        _OrderedSum(ws),
    )
    if parties == 1:
        _worker(ev, 0, sync)
        return
    futures = [ws.executor.submit(_worker, ev, k, sync) for k in range(1, parties)]
    errors = []
    try:
        _worker(ev, 0, sync)
    except BaseException as error:
        errors.append(error)
    for future in futures:
        error = future.exception()
        if error is not None:
            errors.append(error)
    if errors:  # the first failure, not the meeting point it broke in the others
        raise next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0])


def _collect_rows(p: int, n: int, workers: int, k: int) -> tuple[slice, slice]:
    """Worker ``k``'s rows of ``W1`` (p rows of n) and of ``W2`` (n rows of p) when the gradient is written.

    ``W1`` and ``W2`` have ``p n`` entries each; worker ``k`` takes the rows
    that start in its ``1/workers`` of the ``2 p n`` entries of both, so
    with two workers one writes ``∇W1`` and ``∇b1``, the other ``∇W2`` and
    ``∇b2``.  The work is elementwise, so the split changes no bit.
    """
    lo, hi = 2 * p * n * k // workers, 2 * p * n * (k + 1) // workers

    def rows(offset, length, count):  # rows of ``length`` entries from ``offset`` that start in [lo, hi)
        first = min(max(-(-(lo - offset) // length), 0), count)
        last = min(max(-(-(hi - offset) // length), 0), count)
        return slice(first, last)

    return rows(0, n, p), rows(p * n, p, n)


def _slice(size: int, parts: int, k: int) -> slice:
    """The ``k``-th of ``parts`` nearly equal slices of ``range(size)``."""
    return slice(size * k // parts, size * (k + 1) // parts)
