"""The objective and gradient used for training: in place, blocked over examples.

Same mathematics as :func:`autoencoder.objective.loss_and_grad_reference`,
organised for speed and memory:

* the hidden layer ``a2 = f(X W1ᵀ + b1)`` is computed once for all ``m``
  examples into a preallocated (m, p) buffer, because ``ρ̂`` (its column
  means) is needed before any ``δ2`` can be formed;
* everything of shape (rows, n) — the output layer, the residual, ``δ3`` — is
  computed block by block of ``block_rows`` examples into buffers that are
  reused, so the extra memory is ``m p`` plus a few ``block_rows × n``
  blocks instead of several (m, n) temporaries, and the elementwise passes
  run on data that sits in cache;
* the gradient blocks are accumulated into the caller's ``grad``.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from scipy.special import expit

from .params import Params

__all__ = ["Workspace", "loss_and_grad", "single_threaded_optimizer", "DEFAULT_BLOCK_ROWS"]

DEFAULT_BLOCK_ROWS = 512


class Workspace:
    """Preallocated buffers for one data matrix and hidden size.

    Parameters
    ----------
    X : ndarray of shape (m, n)
    n_hidden : int
    block_rows : int, default DEFAULT_BLOCK_ROWS
        Examples per block of the output-layer work.
    """

    def __init__(self, X: np.ndarray, n_hidden: int, block_rows: int = DEFAULT_BLOCK_ROWS):
        m, n = X.shape
        dtype = X.dtype
        self.shape = (m, n, n_hidden)
        self.dtype = dtype
        self.block_rows = max(1, min(block_rows, m))
        b = self.block_rows
        self.z2 = np.empty((m, n_hidden), dtype)  # hidden pre-activation
        self.a2 = np.empty((m, n_hidden), dtype)  # hidden activation
        self.out = np.empty((b, n), dtype)  # z3, then h, then h - x, then δ3
        self.tmp = np.empty((b, n), dtype)  # g'(z3)
        self.d2 = np.empty((b, n_hidden), dtype)  # δ2 block
        self.d2tmp = np.empty((b, n_hidden), dtype)  # f'(z2) block
        self.gw1 = np.empty((n_hidden, n), dtype)  # per-block gradient products
        self.gw2 = np.empty((n, n_hidden), dtype)

    def fits(self, X: np.ndarray, n_hidden: int) -> bool:
        """Whether these buffers serve ``X`` and ``n_hidden``."""
        return self.shape == (X.shape[0], X.shape[1], n_hidden) and self.dtype == X.dtype


def _activate(act, z, out):
    """``out = act.forward(z)`` without temporaries for the common cases."""
    if act.name == "sigmoid":
        expit(z, out=out)
    elif act.name == "linear":
        if out is not z:
            out[...] = z
    else:
        out[...] = act.forward(z)
    return out


def _times_derivative(act, z, a, target, scratch):
    """``target *= act.derivative(z, a)`` in place, using ``scratch`` for sigmoid."""
    if act.name == "sigmoid":
        np.subtract(1, a, out=scratch)
        scratch *= a
        target *= scratch
    elif act.name == "linear":
        pass
    elif act.name == "taylor1":
        target *= 0.25
    else:
        target *= act.derivative(z, a)
    return target


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

    # Hidden layer for all examples: z2 = X W1ᵀ + b1, a2 = f(z2).
    z2, a2 = ws.z2, ws.a2
    np.matmul(X, W1.T, out=z2)
    z2 += b1
    _activate(f, z2, a2)
    rho_hat = a2.mean(axis=0)
    if beta:
        sparsity = beta * float(np.sum(penalty.value(rho_hat, rho)))
        sparse_grad = (beta * penalty.derivative(rho_hat, rho)).astype(X.dtype)
    else:
        sparsity = 0.0
        sparse_grad = None

    gW1, gb1, gW2, gb2 = grad.W1, grad.b1, grad.W2, grad.b2
    grad.flat[...] = 0
    sq_error = 0.0
    for start in range(0, m, ws.block_rows):
        stop = min(start + ws.block_rows, m)
        rows = stop - start
        xb, a2b, z2b = X[start:stop], a2[start:stop], z2[start:stop]
        out, tmp, d2 = ws.out[:rows], ws.tmp[:rows], ws.d2[:rows]
        # Output layer: z3 = a2 W2ᵀ + b2, h = g(z3), δ3 = (h - x) ⊙ g'(z3).
        np.matmul(a2b, W2.T, out=out)
        out += b2
        if g.needs_input:
            z3 = out.copy()
            _activate(g, z3, out)
        else:
            z3 = None
            _activate(g, out, out)
        if g.name == "sigmoid":
            np.subtract(1, out, out=tmp)
            tmp *= out
        out -= xb
        flat = out.reshape(-1)
        sq_error += float(np.dot(flat, flat))
        if g.name == "sigmoid":
            out *= tmp
        else:
            _times_derivative(g, z3, out, out, tmp)
        # ∇W2 += δ3ᵀ a2, ∇b2 += Σ δ3.
        np.matmul(out.T, a2b, out=ws.gw2)
        gW2 += ws.gw2
        gb2 += out.sum(axis=0)
        # δ2 = (δ3 W2 + β φ'(ρ̂)) ⊙ f'(z2).
        np.matmul(out, W2, out=d2)
        if sparse_grad is not None:
            d2 += sparse_grad
        _times_derivative(f, z2b, a2b, d2, ws.d2tmp[:rows])
        # ∇W1 += δ2ᵀ x, ∇b1 += Σ δ2.
        np.matmul(d2.T, xb, out=ws.gw1)
        gW1 += ws.gw1
        gb1 += d2.sum(axis=0)

    inv_m = 1.0 / m
    gflat = grad.flat
    gflat *= inv_m
    if weight_decay:
        gW1 += weight_decay * W1
        gW2 += weight_decay * W2
    reconstruction = 0.5 * sq_error * inv_m
    decay = 0.5 * weight_decay * (float(np.vdot(W1, W1)) + float(np.vdot(W2, W2))) if weight_decay else 0.0
    loss = reconstruction + decay + sparsity
    if terms:
        return loss, {"reconstruction": reconstruction, "weight_decay": decay, "sparsity": sparsity, "total": loss}
    return loss


@contextmanager
def single_threaded_optimizer():
    """Limit SciPy's own OpenBLAS to one thread while the optimizer runs.

    NumPy and SciPy wheels each bundle an OpenBLAS with its own thread pool;
    L-BFGS-B's vector work runs on SciPy's while the objective's products run
    on NumPy's, and two pools of two threads oversubscribe a 2-core machine.
    NumPy's pool, which does the heavy products, keeps its threads.
    """
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    scipy_libs = [c for c in controller.lib_controllers if "scipy" in c.filepath and "numpy" not in c.filepath]
    saved = [c.num_threads for c in scipy_libs]
    try:
        for c in scipy_libs:
            c.set_num_threads(1)
        yield
    finally:
        for c, k in zip(scipy_libs, saved, strict=True):
            c.set_num_threads(k)
