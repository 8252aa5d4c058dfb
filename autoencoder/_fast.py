"""The objective and gradient used for training: in place, blocked, on every core.

Same mathematics as :func:`autoencoder.objective.loss_and_grad_reference`
(Appendix A), organised so that the five matrix products do nearly all the
work:

* **Two passes over the examples.**  The hidden layer ``a2 = f(X W1ᵀ + b1)``
  is computed for all ``m`` examples first, because ``ρ̂`` (its column means)
  enters every ``δ2``; the output layer, ``δ3``, ``δ2`` and the gradient
  products follow in a second pass.
* **Blocks of examples.**  Each pass walks over ``block_rows`` examples at a
  time (one *block*: the unit of the gradient products, whose results are
  added into per-worker accumulators); the elementwise work on the (rows, n)
  output arrays runs over smaller *tiles* that stay in the core's cache.
  Nothing of shape (m, n) is ever allocated: the extra memory is the (m, p)
  hidden layer plus a few blocks.
* **Biases inside the products.**  ``a2`` is stored with a column of ones, so
  ``[a2 1] [W2 b2]ᵀ`` gives ``z3`` with its bias and ``δ3ᵀ [a2 1]`` gives
  ``[∇W2 ∇b2]`` in one product each.
* **The sigmoid from ``exp``.**  ``σ(z) = 1 / (1 + exp(-z))``, where ``-z``
  comes for free: ``-z2 = -b1 - X W1ᵀ`` is the bias pass itself, and ``-z3``
  is the product with ``-[W2 b2]``.  NumPy's vectorized ``exp`` makes this
  several times faster than ``scipy.special.expit``; the derivative is
  ``σ'(z) = σ(z) (1 - σ(z))``, so ``z2`` and ``z3`` are not kept.  In
  float32, where NumPy's ``tanh`` costs less than ``exp`` and a division
  together, the output layer uses ``σ(z) = (1 + tanh(z/2)) / 2`` instead
  (``z/2`` from the product with halved weights) and carries ``8 δ3`` and
  ``8 δ2``, which saves passes; the sums are then divided by ``8 m``.
* **One worker per core.**  NumPy's elementwise loops run on one core while
  BLAS runs on all of them, so the examples are split between ``workers``
  threads, each running single-threaded BLAS and its own elementwise work.
  Each worker gets its whole share in one hand-off (worker 0 runs in the
  calling thread): its hidden layer; the last to finish one computes
  ``ρ̂``; its second pass; then its part of the gradient summed over all
  workers (in worker order, so the result is the same run to run).  The
  meeting points are split barriers (:class:`_Rendezvous`): a worker
  announces what it has finished and waits only where it needs the others'
  results, so an early worker works on rather than sleeping, and waking a
  sleeping thread, which costs tens of microseconds on a virtual machine, is
  rare.  ``workers=1`` runs the same code in the calling thread with BLAS's
  own threads.
* **Few NumPy calls.**  With two threads, every NumPy call hands the GIL
  over twice, several microseconds each; tiles of 512 KiB and whole-matrix
  gradient sums keep the calls per evaluation to about a hundred.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from .params import Params

__all__ = [
    "DEFAULT_BLOCK_ROWS",
    "TILE_BYTES",
    "Workspace",
    "blas_threads",
    "loss_and_grad",
    "single_threaded_optimizer",
]

DEFAULT_BLOCK_ROWS = 1024
"""Examples per block: the inner dimension of the per-block gradient products."""

TILE_BYTES = 512 * 1024
"""Target size of one (rows, n) tile of the elementwise work (a fraction of a core's L2 cache)."""

MIN_ROWS_PER_WORKER = 256
"""Below this many examples per worker, extra workers cost more than they save."""


# -- threads ----------------------------------------------------------------------------------------


@cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def blas_threads() -> int:
    """Threads of the BLAS that NumPy's products run on (the largest pool loaded)."""
    return max((c.num_threads for c in _blas_controller().lib_controllers), default=1)


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@cache
def _executor(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="autoencoder")


# -- buffers ----------------------------------------------------------------------------------------


class _WorkerBuffers:
    """One worker's block buffers and gradient accumulators."""

    def __init__(self, block_rows: int, tile_rows: int, n: int, p: int, dtype):
        self.out = np.empty((block_rows, n), dtype)  # z3, then h, then h - x, then δ3
        self.tmp = np.empty((tile_rows, n), dtype)  # g'(z3) of one tile
        self.z3 = None  # z3 of one tile, for output transfers whose derivative needs it
        self.d2 = np.empty((block_rows, p), dtype)  # δ2
        self.fprime = np.empty((block_rows, p), dtype)  # f'(z2)
        self.gW1 = np.empty((p, n), dtype)  # Σ δ2ᵀ x
        self.gW2b2 = np.empty((n, p + 1), dtype)  # Σ δ3ᵀ [a2 1] = [Σ δ3ᵀ a2, Σ δ3]
        self.gb1 = np.empty(p, dtype)  # Σ δ2
        product = np.empty(n * (p + 1), dtype)  # one block's gradient product, before it is added
        self.gW1_block = product[: p * n].reshape(p, n)
        self.gW2b2_block = product.reshape(n, p + 1)
        self.a2_sum = np.empty(p, dtype)  # Σ a2 over this worker's examples
        self.sq_error = 0.0  # Σ ‖h - x‖² over this worker's examples
        self.w_squared = 0.0  # this worker's rows' share of ‖W1‖² + ‖W2‖²


class Workspace:
    """Preallocated buffers for one data matrix and hidden size.

    Parameters
    ----------
    X : ndarray of shape (m, n)
    n_hidden : int
    block_rows : int, default DEFAULT_BLOCK_ROWS
        Examples per block of the gradient products.
    workers : int, optional
        Threads that share the examples.  Default: as many as NumPy's BLAS
        has threads (and cores are available), fewer when ``m`` is small.
    tile_rows : int, optional
        Examples per tile of the elementwise output-layer work.  Default:
        as many as fit in :data:`TILE_BYTES`.
    tanh : bool, optional
        Compute a sigmoid output layer as ``(1 + tanh(z/2)) / 2`` rather
        than ``1 / (1 + exp(-z))``.  Default: True for float32, where it is
        faster; False for float64.  Both agree with the reference objective
        to rounding.

    Notes
    -----
    Memory: the hidden layer ``[a2 1]`` of shape (m, p + 1), ``z2`` of shape
    (m, p) only for a hidden transfer whose derivative needs it (the Taylor
    polynomials of order 3 and 5; not the sigmoid), and per worker two
    (block_rows, n) blocks and four (n, p) gradient buffers.
    """

    def __init__(
        self,
        X: np.ndarray,
        n_hidden: int,
        block_rows: int = DEFAULT_BLOCK_ROWS,
        workers: int | None = None,
        tile_rows: int | None = None,
        tanh: bool | None = None,
    ):
        m, n = X.shape
        p = n_hidden
        dtype = X.dtype
        self.shape = (m, n, p)
        self.dtype = dtype
        if workers is None:
            workers = min(blas_threads(), _available_cores(), max(1, m // MIN_ROWS_PER_WORKER))
        self.workers = max(1, min(int(workers), m))
        self.block_rows = max(1, min(block_rows, -(-m // self.workers)))
        if tile_rows is None:
            tile_rows = TILE_BYTES // (n * dtype.itemsize)
        self.tile_rows = max(1, min(self.block_rows, tile_rows))
        self.tanh = dtype == np.float32 if tanh is None else bool(tanh)
        self.a2_ones = np.empty((m, p + 1), dtype)  # [a2 1]: hidden activations and a column of ones
        self.a2_ones[:, p] = 1
        self.a2 = self.a2_ones[:, :p]
        self.z2 = None  # hidden pre-activations, allocated for transfers that need them
        self.w2_b2 = np.empty((n, p + 1), dtype)  # [W2 b2], -[W2 b2] or [W2 b2] / 2 for a sigmoid output
        self.sparse_grad = np.empty(p, dtype)  # β φ'(ρ̂)
        bounds = np.linspace(0, m, self.workers + 1).round().astype(int)
        self.row_ranges = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
        self.buffers = [_WorkerBuffers(self.block_rows, self.tile_rows, n, p, dtype) for _ in range(self.workers)]

    def fits(self, X: np.ndarray, n_hidden: int) -> bool:
        """Whether these buffers serve ``X`` and ``n_hidden``."""
        return self.shape == (X.shape[0], X.shape[1], n_hidden) and self.dtype == X.dtype

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers."""
        arrays = [self.a2_ones, self.z2, self.w2_b2] + [a for b in self.buffers for a in vars(b).values()]
        owners = {id(a.base if a.base is not None else a): a for a in arrays if isinstance(a, np.ndarray)}
        return sum((a.base if a.base is not None else a).nbytes for a in owners.values())


# -- the transfer functions, in place ---------------------------------------------------------------


def _sigmoid_of_negated(q):
    """Overwrite ``q = -z`` with ``σ(z) = 1 / (1 + exp(-z))``."""
    np.exp(q, out=q)
    q += 1
    np.reciprocal(q, out=q)
    return q


def _times_sigmoid_derivative(a, target, scratch):
    """``target *= σ'(z) = a (1 - a)``, with ``a = σ(z)``."""
    np.subtract(1, a, out=scratch)
    scratch *= a
    target *= scratch
    return target


def _times_derivative(act, z, a, target, scratch):
    """``target *= act'(z)``, where ``a = act(z)`` (``z`` is unused when ``act.needs_input`` is False)."""
    if act.name == "sigmoid":
        _times_sigmoid_derivative(a, target, scratch)
    elif act.name == "taylor1":
        target *= 0.25
    elif act.name != "linear":
        target *= act.derivative(z, a)
    return target


# -- one evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Evaluation:
    """What every worker of one evaluation reads."""

    f: object
    g: object
    penalty: object
    rho: float
    beta: float
    X: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    minus_b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    ws: Workspace
    grad: Params
    weight_decay: float
    tanh_output: bool  # σ(z3) through tanh: the deltas carried are c = 8 times δ3 and δ2
    results: dict = field(default_factory=dict)  # "sparsity", set once ρ̂ is known

    def blocks(self, lo, hi):
        step = self.ws.block_rows
        return ((s, min(s + step, hi)) for s in range(lo, hi, step))

    @property
    def scale(self) -> int:
        """``c``: the deltas and gradient sums carried are ``c`` times the true ones."""
        return 8 if self.tanh_output else 1

    @property
    def decay_times_m(self) -> float:
        """``λ m c``: the gradient sums start from ``λ m c W``, so that they add up to ``m c ∇W``."""
        return self.weight_decay * self.ws.shape[0] * self.scale

    @property
    def sparse_grad(self) -> np.ndarray | None:
        """``c β φ'(ρ̂)``, once ρ̂ is known (None when ``β = 0``)."""
        return self.ws.sparse_grad if self.beta else None


def _hidden_rows(ev: _Evaluation, lo: int, hi: int, buf: _WorkerBuffers):
    """``a2 = f(z2)``, ``z2 = X W1ᵀ + b1`` for examples ``lo:hi``; their ``Σ a2`` into ``buf``.

    For a sigmoid the elementwise work runs on a contiguous scratch block
    (``buf.fprime``), faster than on the strided columns of ``[a2 1]``; only
    the last step writes ``a2``.
    """
    ws, f = ev.ws, ev.f
    for start, stop in ev.blocks(lo, hi):
        xb, a2b = ev.X[start:stop], ws.a2[start:stop]
        if f.name == "sigmoid":
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
            if f.name != "linear":
                a2b[...] = f.forward(z2b)
        if start == lo:
            np.sum(a2b, axis=0, out=buf.a2_sum)
        else:
            buf.a2_sum += a2b.sum(axis=0)


def _output_tile(g, xt, out, tmp, z3, tanh=False):
    """``out``: ``z3`` (``-z3`` for a sigmoid) in, ``δ3 = (h - x) ⊙ g'(z3)`` out; returns ``Σ ‖h - x‖²``.

    One tile of examples: ``xt``, ``out`` and the scratch ``tmp`` (and
    ``z3``, kept for transfers whose derivative needs it) have ``tile_rows``
    rows or fewer, small enough to stay in cache across the passes.  With
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
    if g.name == "sigmoid":
        _sigmoid_of_negated(out)  # h
        np.subtract(1, out, out=tmp)
        tmp *= out  # g'(z3) = h (1 - h)
    elif g.needs_input:
        z3[...] = out
        out[...] = g.forward(z3)
    elif g.name != "linear":
        out[...] = g.forward(out)
    out -= xt  # h - x
    flat = out.reshape(-1)
    sq_error = float(np.dot(flat, flat))
    if g.name == "sigmoid":
        out *= tmp
    else:
        _times_derivative(g, z3, None, out, tmp)
    return sq_error


def _backprop_rows(ev: _Evaluation, lo: int, hi: int, buf: _WorkerBuffers, sync: _Sync):
    """``δ3``, ``δ2`` and their gradient products for examples ``lo:hi``, accumulated into ``buf``.

    Waits for every worker's rows of ``[W2 b2]`` before its first product,
    and for ``ρ̂`` only where ``δ2`` first needs it: the output layer of the
    first block does not depend on ``ρ̂``, so a worker that finished its
    hidden layer early works on instead of waiting.
    """
    ws, f, g = ev.ws, ev.f, ev.g
    tile = ws.tile_rows
    fresh = True  # the first block's products overwrite the sums
    buf.sq_error = 0.0
    if g.needs_input and buf.z3 is None:
        buf.z3 = np.empty_like(buf.tmp)
    for start, stop in ev.blocks(lo, hi):
        rows = stop - start
        xb, a2b, a2_ones_b = ev.X[start:stop], ws.a2[start:stop], ws.a2_ones[start:stop]
        out, d2, fprime = buf.out[:rows], buf.d2[:rows], buf.fprime[:rows]
        # Output layer: z3 = [a2 1] [W2 b2]ᵀ (negated for a sigmoid), then tile by tile
        # h = g(z3) and δ3 = (h - x) ⊙ g'(z3).
        if fresh:
            sync.weights.wait()
        np.matmul(a2_ones_b, ws.w2_b2.T, out=out)
        for t in range(0, rows, tile):
            u = min(t + tile, rows)
            z3 = None if buf.z3 is None else buf.z3[: u - t]
            buf.sq_error += _output_tile(g, xb[t:u], out[t:u], buf.tmp[: u - t], z3, ev.tanh_output)
        # [∇W2 ∇b2] += δ3ᵀ [a2 1].
        _add_product(out.T, a2_ones_b, buf.gW2b2, buf.gW2b2_block, fresh)
        # δ2 = (δ3 W2 + β φ'(ρ̂)) ⊙ f'(z2) (times c).
        np.matmul(out, ev.W2, out=d2)
        if fresh:
            sync.rho_hat.wait()
        if ev.sparse_grad is not None:
            d2 += ev.sparse_grad
        z2b = ws.z2[start:stop] if f.needs_input else None
        _times_derivative(f, z2b, a2b, d2, fprime)
        # ∇W1 += δ2ᵀ x, ∇b1 += Σ δ2.
        _add_product(d2.T, xb, buf.gW1, buf.gW1_block, fresh)
        if fresh:
            np.sum(d2, axis=0, out=buf.gb1)
        else:
            buf.gb1 += d2.sum(axis=0)
        fresh = False


def _add_product(a, b, total, scratch, fresh: bool):
    """``total = a @ b`` when ``fresh``, else ``total += a @ b`` through ``scratch``."""
    if fresh:
        np.matmul(a, b, out=total)
    else:
        np.matmul(a, b, out=scratch)
        total += scratch


class _Rendezvous:
    """A barrier split in two: :meth:`arrive` does not block, :meth:`wait` blocks until all have arrived.

    The last worker to arrive runs ``action`` first.  Waking a sleeping
    thread costs tens of microseconds on a virtual machine, several per
    cent of an evaluation at m = 1,000; a worker that arrives early works on
    until it needs what the others bring, by when they have usually
    arrived and :meth:`wait` returns at once.
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
    """The three meeting points of one evaluation's workers."""

    weights: _Rendezvous  # every worker's rows of [W2 b2] written
    rho_hat: _Rendezvous  # every worker's Σ a2 in, ρ̂ and β φ'(ρ̂) computed
    sums: _Rendezvous  # every worker's gradient sums complete

    def abort(self):
        for point in (self.weights, self.rho_hat, self.sums):
            point.abort()


def _worker(ev: _Evaluation, k: int, sync: _Sync):
    """Worker ``k``'s whole share of one evaluation.

    Its rows of ``[W2 b2]`` (:func:`_output_weights`) and its hidden layer;
    the last worker to finish its hidden layer computes ``ρ̂`` and the
    sparsity term (:func:`_sparsity`); its output layer and backpropagation
    (:func:`_backprop_rows`, which waits for ``ρ̂`` where it needs it);
    then its slice of the gradient (:func:`_collect_slice`, which waits for
    every worker's sums).  A worker that fails breaks the meeting points,
    so that the others stop too.
    """
    ws = ev.ws
    (lo, hi), buf = ws.row_ranges[k], ws.buffers[k]
    try:
        # exp(-z) overflows to inf for z < -709 (float64), and 1 / (1 + inf) = 0 = σ(z) is right.
        with np.errstate(over="ignore"):
            _output_weights(ev, k)
            sync.weights.arrive()
            _hidden_rows(ev, lo, hi, buf)
            sync.rho_hat.arrive()
            _backprop_rows(ev, lo, hi, buf, sync)
            sync.sums.arrive()
            _collect_slice(ev, k, sync.sums.wait)
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
    factor = 0.5 if ev.tanh_output else -1 if ev.g.name == "sigmoid" else 1
    np.multiply(ev.W2[rows], factor, out=ws.w2_b2[rows, :p])
    np.multiply(ev.b2[rows], factor, out=ws.w2_b2[rows, p])


def _sparsity(ev: _Evaluation):
    """``ρ̂`` from the workers' ``Σ a2``; the sparsity term into ``ev.results``, ``β φ'(ρ̂)`` into the workspace."""
    ws = ev.ws
    rho_hat = sum(buf.a2_sum for buf in ws.buffers) / ws.shape[0]
    if ev.beta:
        ev.results["sparsity"] = ev.beta * float(np.sum(ev.penalty.value(rho_hat, ev.rho)))
        ws.sparse_grad[...] = ev.beta * ev.penalty.derivative(rho_hat, ev.rho)
        if ev.scale != 1:
            ws.sparse_grad *= ev.scale
    else:
        ev.results["sparsity"] = 0.0


def _run(ev: _Evaluation):
    """Run every worker's :func:`_worker`: worker 0 in this thread, the others handed off at once."""
    ws = ev.ws
    parties = ws.workers
    sync = _Sync(_Rendezvous(parties), _Rendezvous(parties, action=lambda: _sparsity(ev)), _Rendezvous(parties))
    if parties == 1:
        _worker(ev, 0, sync)
        return
    futures = [_executor(parties - 1).submit(_worker, ev, k, sync) for k in range(1, parties)]
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


def loss_and_grad(
    f,
    g,
    penalty,
    rho,
    beta,
    weight_decay,
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
    f, g : Activation
        Hidden and output transfer functions.
    penalty : SparsityPenalty
    rho, beta, weight_decay : float
        ``ρ``, ``β`` (0 disables the sparsity term) and ``λ``.
    params : Params
        Same dtype as ``X``.
    X : ndarray of shape (m, n)
        C-contiguous, float32 or float64.
    grad : Params
        Output; overwritten.
    workspace : Workspace, optional
        Buffers to reuse across calls (allocated when absent or unfit).
    terms : bool, default False
        Also return the loss terms as a dict.

    Returns
    -------
    loss : float
    terms : dict, only when ``terms`` is True
    """
    m, n = X.shape
    p = params.n_hidden
    ws = workspace if workspace is not None and workspace.fits(X, p) else Workspace(X, p)
    W1, b1, W2, b2 = params.W1, params.b1, params.W2, params.b2
    if f.needs_input and ws.z2 is None:
        ws.z2 = np.empty((m, p), X.dtype)
    tanh_output = ws.tanh and g.name == "sigmoid"
    ev = _Evaluation(f, g, penalty, rho, beta, X, W1, b1, -b1, W2, b2, ws, grad, weight_decay, tanh_output)

    with _blas_controller().limit(limits=1) if ws.workers > 1 and blas_threads() > 1 else nullcontext():
        _run(ev)

    sparsity = ev.results["sparsity"]
    inv_m = 1.0 / m
    reconstruction = 0.5 * sum(buf.sq_error for buf in ws.buffers) * inv_m
    decay = 0.5 * weight_decay * sum(buf.w_squared for buf in ws.buffers) if weight_decay else 0.0
    loss = reconstruction + decay + sparsity
    if terms:
        return loss, {"reconstruction": reconstruction, "weight_decay": decay, "sparsity": sparsity, "total": loss}
    return loss


def _collect_slice(ev: _Evaluation, k: int, wait):
    """Worker ``k``'s rows of ``grad = (1/(m c)) (λ m c W + Σ_workers sums)``.

    ``∇W = (1/m) Σ δᵀ a + λ W``, ``∇b = (1/m) Σ δ``.  Each worker sums its
    rows of ``∇W1`` (with those of ``∇b1``) and of ``[∇W2 ∇b2]``
    (:func:`_collect_rows`) over all workers, in worker order, so the result
    does not depend on timing.  The ``λ m c W`` and ``‖W‖²`` parts come
    first; ``wait()`` returns once every worker's sums are complete.
    """
    ws, grad = ev.ws, ev.grad
    m, n, p = ws.shape
    buffers = ws.buffers
    r1, r2 = _collect_rows(p, n, ws.workers, k)
    sums = []
    if r1.stop > r1.start:
        sums.append((grad.W1[r1], [buf.gW1[r1] for buf in buffers], ev.W1[r1]))
        sums.append((grad.b1[r1], [buf.gb1[r1] for buf in buffers], None))
    if r2.stop > r2.start:
        sums.append((grad.W2[r2], [buf.gW2b2[r2, :p] for buf in buffers], ev.W2[r2]))
        sums.append((grad.b2[r2], [buf.gW2b2[r2, p] for buf in buffers], None))
    w_squared = 0.0
    if ev.decay_times_m:  # this worker's share of ‖W1‖² + ‖W2‖², and λ m c W
        for total, _, W in sums:
            if W is not None:
                w_squared += float(np.vdot(W, W))
                np.multiply(W, ev.decay_times_m, out=total)
    buffers[k].w_squared = w_squared
    wait()
    for total, parts, W in sums:
        _add_parts(total, parts, started=W is not None and bool(ev.decay_times_m))
        total *= 1.0 / (m * ev.scale)


def _collect_rows(p: int, n: int, workers: int, k: int) -> tuple[slice, slice]:
    """Worker ``k``'s rows of ``W1`` (p rows of n) and of ``W2`` (n rows of p) when gradients are summed.

    ``W1`` and ``W2`` have ``p n`` entries each; worker ``k`` takes the rows
    that start in its ``1/workers`` of the ``2 p n`` entries of both, so
    with two workers one sums ``∇W1`` and ``∇b1``, the other ``∇W2`` and
    ``∇b2``: two sums of two big arrays rather than four of four halves.
    """
    lo, hi = 2 * p * n * k // workers, 2 * p * n * (k + 1) // workers

    def rows(offset, length, count):  # rows of ``length`` entries from ``offset`` that start in [lo, hi)
        first = min(max(-(-(lo - offset) // length), 0), count)
        last = min(max(-(-(hi - offset) // length), 0), count)
        return slice(first, last)

    return rows(0, n, p), rows(p * n, p, n)


def _add_parts(total, parts, started: bool):
    """``total += Σ parts`` when ``started``, else ``total = Σ parts``, added in order."""
    first, *rest = parts
    if started:
        total += first
    elif rest:
        np.add(first, rest.pop(0), out=total)
    else:
        total[...] = first
    for part in rest:
        total += part


@contextmanager
def single_threaded_optimizer():
    """Limit every BLAS thread pool, NumPy's and SciPy's, to one thread while the optimizer runs.

    NumPy and SciPy wheels each bundle an OpenBLAS with its own thread pool.
    L-BFGS-B's vector work runs on SciPy's; the objective runs its own
    workers, one per core, each with single-threaded BLAS.  Pools of idle
    threads only get in the way: two pools of two threads oversubscribe a
    2-core machine, and a pool given its threads back after each evaluation
    spins them up while the optimizer works.  The thread counts are restored
    on exit.
    """
    from threadpoolctl import ThreadpoolController

    with ThreadpoolController().limit(limits=1, user_api="blas"):
        yield


def _slice(size: int, parts: int, k: int) -> slice:
    """The ``k``-th of ``parts`` nearly equal slices of ``range(size)``."""
    return slice(size * k // parts, size * (k + 1) // parts)
