"""The covariance form of the objective: ``J`` of an affine network from the data's mean and covariance.

When both transfer functions are affine, ``f(z) = α_f + s_f z`` and
``g(z) = α_g + s_g z`` (``"linear"``: ``α = 0, s = 1``; ``"taylor1"``:
``α = ½, s = ¼``), every reconstruction is an affine function of its input:

.. math::

    h(x) - x = A (x - \\mu) + d, \\qquad A = k W_2 W_1 - I, \\quad k = s_f s_g, \\qquad
    d = \\bar h - \\mu = s_g (W_2 \\hat\\rho + b_2) + \\alpha_g - \\mu,

where ``μ`` is the mean example and ``ρ̂ = α_f + s_f (W1 μ + b1)`` the mean
hidden activation, which is exactly the ``ρ̂`` of the data form because the
hidden layer is affine in ``x``.  The centred examples sum to zero, so the
cross terms leave the mean squared error, and with the centred covariance
``C = (1/m) Σ (x_i − μ)(x_i − μ)ᵀ``

.. math::

    \\frac1m \\sum_i \\tfrac12 \\lVert h(x_i) - x_i \\rVert^2
    = \\tfrac12 \\operatorname{tr}(A C A^\\top) + \\tfrac12 \\lVert d \\rVert^2
    = \\tfrac12 \\bigl(k^2 \\langle G, K \\rangle - 2 k \\langle W_2^\\top, M \\rangle
      + \\operatorname{tr} C\\bigr) + \\tfrac12 \\lVert d \\rVert^2,

    M = W_1 C, \\quad K = M W_1^\\top = W_1 C W_1^\\top, \\quad G = W_2^\\top W_2 .

The weight decay is that of the data form and the sparsity term is
``β Σ φ(ρ̂)`` with the ``ρ̂`` above, for every penalty the model accepts
(the KL penalty is refused for affine units).  Each term's derivative,
beside the term (``N = W2ᵀ C``; ``r`` is the derivative with respect to ``ρ̂``):

=====================================  ==========================================================
term                                   derivative
=====================================  ==========================================================
``½ tr(A C Aᵀ)``                       ``∇W2 = k (k W2 K − Mᵀ)``, ``∇W1 = k (k G M − N)``
``½ ‖d‖²``                             ``∇W2 = s_g d ρ̂ᵀ``, ``∇b2 = s_g d``, ``r = s_g W2ᵀ d``
``β Σ φ(ρ̂)``                           ``r += β φ'(ρ̂)``
through ``ρ̂ = α_f + s_f (W1 μ + b1)``  ``∇W1 += s_f r μᵀ``, ``∇b1 = s_f r``
``(λ/2)(‖W1‖² + ‖W2‖²)``               ``∇W1 += λ W1``, ``∇W2 += λ W2``
=====================================  ==========================================================

So ``J`` and its gradient depend on the data only through ``μ`` and ``C``,
which :func:`moments` forms once; an evaluation then costs two
``(p, n) × (n, n)`` products (``M`` and ``N``) and four of size ``p² n``,
``4 p n² + 8 p² n`` flops (0.72 GFLOP at ``n = 784, p = 196``) whatever the
number of examples, against ``6 m n p`` (9.2 GFLOP at ``m = 10,000``) for
the data form.  :meth:`autoencoder.Autoencoder.fit` trains every affine
network on it.

Numerics.  Everything is float64, whatever the dtype of ``X``: a float32
data matrix is converted block by block while the moments are formed.  At a
minimum the reconstruction term is a small difference of large numbers
(``tr C`` is about 30 times the error of the optimum on MNIST), which is
why the mean and the *centred* covariance are kept apart rather than the
second moment ``(1/m) XᵀX``: the rounding error is then about
``ε tr C``, some ``10⁻¹⁴`` of the term.  The mean enters ``ρ̂`` and ``d``
through one product each, whose rounding grows with ``‖W1‖ ‖μ‖``: for data
far from the origin compared with its spread (``‖μ‖`` in the tens where
the variances are near one) the gradient is then less accurate than the
data form's, whose ``m`` roundings average out, and centring the data
first restores it; pixel data is not such a case (tests compare the two
forms at ``10⁻¹²`` on it, near a minimum too).  The result does not depend on the
number of workers: the moments are summed over fixed blocks of rows, in two
fixed parts (the even and the odd blocks) added in order, and every product
of an evaluation is computed by one thread with single-threaded BLAS
(:func:`autoencoder.core._fast.single_threaded_blas`); two workers only run the
two halves of an evaluation at the same time.
"""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ._fast import default_workers, single_threaded_blas
from ._validation import check_int, check_params, validate_data
from .activations import Activation
from .params import Params
from .pca import PCAResult

__all__ = [
    "MOMENT_BLOCK_ROWS",
    "CovarianceObjective",
    "Moments",
    "Workspace",
    "applies",
    "compute_moments",
    "loss_and_grad",
    "moments",
]

MOMENT_BLOCK_ROWS = 2048
"""Rows per block when the moments are formed (a (2048, n) float64 block at a time)."""

LANES = 2
"""Independent halves of an evaluation, and parts of the moments' sums: the most workers that help."""


def applies(f: Activation, g: Activation) -> bool:
    """Whether the covariance form computes the objective of a network with transfer functions ``f`` and ``g``.

    True when both are affine (:attr:`autoencoder.core.activations.Activation.affine`).
    """
    return f.affine is not None and g.affine is not None


# -- the moments ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Moments:
    """The mean and the centred covariance of a data matrix, in float64.

    Attributes
    ----------
    mean : ndarray of shape (n,)
        ``μ = (1/m) Σ x_i``.
    covariance : ndarray of shape (n, n)
        ``C = (1/m) Σ (x_i − μ)(x_i − μ)ᵀ``, symmetric.
    n_samples : int
        ``m``.
    trace : float
        ``tr C``, the total variance.
    """

    mean: np.ndarray
    covariance: np.ndarray
    n_samples: int
    trace: float

    @property
    def n_features(self) -> int:
        """``n``."""
        return self.mean.shape[0]

    def eigenvalues(self) -> np.ndarray:
        """The eigenvalues of ``C`` in decreasing order, shape (n,)."""
        return np.linalg.eigvalsh(self.covariance)[::-1]

    def principal_components(self, n_components: int) -> PCAResult:
        """PCA from the eigendecomposition of ``C``: what :func:`autoencoder.pca` finds from the data's SVD.

        An ``n × n`` eigendecomposition instead of the SVD of an ``m × n``
        matrix (a second against half a minute for all of MNIST's training
        images on 2 cores).  The variances agree with the SVD's to rounding
        (``ε ‖C‖`` absolute), the components, with the same sign convention,
        wherever the eigenvalues are distinct.

        Parameters
        ----------
        n_components : int
            ``k``, between 1 and ``n``.

        Returns
        -------
        PCAResult
            Variances below zero by rounding are set to zero.
        """
        k = check_int("n_components", n_components, 1, self.n_features)
        values, vectors = np.linalg.eigh(self.covariance)
        values, components = np.maximum(values[::-1][:k], 0.0), vectors[:, ::-1][:, :k].T
        signs = np.sign(components[np.arange(k), np.argmax(np.abs(components), axis=1)])
        return PCAResult(components * signs[:, None], self.mean.copy(), values, self.trace)


def moments(X) -> Moments:
    """The mean and centred covariance of ``X``, formed once for the covariance form.

    Parameters
    ----------
    X : array_like of shape (m, n)
        Examples in rows; float32 or float64 (other numbers are converted).

    Returns
    -------
    Moments
        In float64; the same bits for any number of workers.

    Raises
    ------
    ValueError
        If ``X`` is not a non-empty, finite 2-D array of numbers (the checks
        and messages of :meth:`autoencoder.Autoencoder.fit`).
    """
    return compute_moments(validate_data(X))


def compute_moments(X: np.ndarray) -> Moments:
    """:func:`moments` of an already validated C-contiguous float32 or float64 array.

    The mean is the sum of the blocks' column sums divided by ``m``; the
    covariance is the sum over blocks of ``(X_b − μ₀)ᵀ (X_b − μ₀)``, formed
    in float64 in two parts (even and odd blocks) added in that order, then
    corrected for the rounding of ``μ₀``: with ``δ`` the mean of ``X − μ₀``,
    ``μ = μ₀ + δ`` and ``C = (1/m) Σ (x − μ₀)(x − μ₀)ᵀ − δ δᵀ``, exactly.
    """
    m, n = X.shape
    bounds = [(start, min(start + MOMENT_BLOCK_ROWS, m)) for start in range(0, m, MOMENT_BLOCK_ROWS)]
    total = np.zeros(n)
    for lo, hi in bounds:
        total += X[lo:hi].sum(axis=0, dtype=np.float64)
    first_mean = total / m
    parts = [bounds[lane::LANES] for lane in range(LANES)]
    grams, shifts = [np.zeros((n, n)) for _ in parts], [np.zeros(n) for _ in parts]

    def accumulate(lane):
        block, gram = np.empty((min(MOMENT_BLOCK_ROWS, m), n)), np.empty((n, n))
        for lo, hi in parts[lane]:
            b = block[: hi - lo]
            np.subtract(X[lo:hi], first_mean, out=b)
            shifts[lane] += b.sum(axis=0)
            np.matmul(b.T, b, out=gram)
            grams[lane] += gram

    with single_threaded_blas():
        workers = min(default_workers(), LANES, len(bounds))
        if workers > 1:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="autoencoder-moments") as pool:
                future = pool.submit(accumulate, 1)
                accumulate(0)
                future.result()
        else:
            for lane in range(LANES):
                accumulate(lane)
    shift = (shifts[0] + shifts[1]) / m
    gram = grams[0] + grams[1]
    gram /= m
    gram -= np.outer(shift, shift)
    covariance = 0.5 * (gram + gram.T)
    return Moments(first_mean + shift, covariance, m, float(np.trace(covariance)))


# -- buffers ----------------------------------------------------------------------------------------


class Workspace:
    """The moments of one data matrix, the buffers of an evaluation and its second worker.

    Parameters
    ----------
    moments : Moments
    n_hidden : int
    workers : int, optional
        1 runs both halves of an evaluation in the calling thread, 2 runs
        the second on a thread of its own; more do not help.  Default:
        :func:`autoencoder.core._fast.default_workers`, at most 2.  The count
        changes the speed, never the result.

    Raises
    ------
    ValueError
        If ``workers`` is not a positive integer.
    """

    def __init__(self, moments: Moments, n_hidden: int, workers: int | None = None):
        n, p = moments.n_features, check_int("n_hidden", n_hidden, 1)
        workers = default_workers() if workers is None else check_int("workers", workers, 1)
        self.moments = moments
        self.n_hidden = p
        self.workers = min(workers, LANES)
        self.M = np.empty((p, n))  # W1 C
        self.N = np.empty((p, n))  # W2ᵀ C
        self.K = np.empty((p, p))  # W1 C W1ᵀ
        self.G = np.empty((p, p))  # W2ᵀ W2
        self.scratch_np = np.empty((n, p))  # the decoder lane's terms
        self.scratch_pn = np.empty((p, n))  # the encoder lane's terms
        self.lock = threading.Lock()  # one evaluation at a time on these buffers
        self._executor = None

    def fits(self, moments: Moments, n_hidden: int) -> bool:
        """Whether this workspace serves ``moments`` and ``n_hidden``."""
        return self.moments is moments and self.n_hidden == n_hidden

    def both(self, first, second) -> None:
        """Run ``first()`` in the calling thread and ``second()`` on the second worker (or after, alone)."""
        if self.workers == 1:
            first()
            second()
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autoencoder-covariance")
            weakref.finalize(self, self._executor.shutdown, wait=False)
        future = self._executor.submit(second)
        try:
            first()
        finally:
            future.result()


# -- one evaluation ---------------------------------------------------------------------------------


def loss_and_grad(
    objective,
    params: Params,
    moments: Moments,
    grad: Params,
    *,
    workspace: Workspace | None = None,
    terms: bool = False,
):
    """``J`` of an affine network at ``params``, from the data's moments, with its gradient written into ``grad``.

    Parameters
    ----------
    objective : Objective
        The transfer functions, both affine (:func:`applies`), the penalty,
        ``ρ``, ``β`` (0 disables the sparsity term) and ``λ``
        (:class:`autoencoder.core.objective.Objective`).
    params : Params
        float64.
    moments : Moments
        Of the training data (:func:`moments`).
    grad : Params
        float64, same shapes; overwritten.
    workspace : Workspace, optional
        Buffers and the second worker to reuse across calls (allocated when
        absent or unfit).
    terms : bool, default False
        Also return the loss terms as a dict.

    Returns
    -------
    loss : float
    terms : dict, only when ``terms`` is True
        ``reconstruction``, ``weight_decay``, ``sparsity``, ``total``.

    Raises
    ------
    ValueError
        If a transfer function is not affine, or ``params`` or ``grad`` is
        not float64 of the moments' width.
    """
    f, g, penalty = objective.f, objective.g, objective.penalty
    rho, beta, weight_decay = objective.rho, objective.beta, objective.weight_decay
    if not applies(f, g):
        raise ValueError(
            f"the covariance form needs affine transfer functions in both layers ('linear' or 'taylor1'); "
            f"got activation={f.name!r}, output_activation={g.name!r}"
        )
    for name, arr in (("params", params), ("grad", grad)):
        if arr.dtype != np.float64 or arr.n_visible != moments.n_features:
            raise ValueError(
                f"{name} must be float64 with n_visible = {moments.n_features}; "
                f"got {arr.dtype} with n_visible = {arr.n_visible}"
            )
    p = params.n_hidden
    ws = workspace if workspace is not None and workspace.fits(moments, p) else Workspace(moments, p)
    (alpha_f, s_f), (alpha_g, s_g) = f.affine, g.affine
    k = s_f * s_g
    mu, C = moments.mean, moments.covariance
    W1, b1, W2, b2 = params.W1, params.b1, params.W2, params.b2
    M, N, K, G = ws.M, ws.N, ws.K, ws.G
    with ws.lock, single_threaded_blas():
        rho_hat = alpha_f + s_f * (W1 @ mu + b1)  # mean hidden activation
        d = s_g * (W2 @ rho_hat + b2) + alpha_g - mu  # mean reconstruction error

        def encoder_products():
            np.matmul(W1, C, out=M)
            np.matmul(M, W1.T, out=K)

        def decoder_products():
            np.matmul(W2.T, C, out=N)
            np.matmul(W2.T, W2, out=G)

        ws.both(encoder_products, decoder_products)
        trace_W2_M = float(np.einsum("ij,ji->", W2, M))
        reconstruction = 0.5 * (k * k * float(np.vdot(G, K)) - 2 * k * trace_W2_M + moments.trace) + 0.5 * float(d @ d)
        r = s_g * (W2.T @ d)  # ∂J/∂ρ̂ of the mean error ...
        sparsity = 0.0
        if beta:
            sparsity = beta * float(np.sum(penalty.value(rho_hat, rho)))
            r += beta * penalty.derivative(rho_hat, rho)  # ... and of the penalty

        ws.both(
            # ∇W2 = k (k W2 K − Mᵀ) + s_g d ρ̂ᵀ + λ W2
            lambda: _weight_gradient(grad.W2, ws.scratch_np, W2, K, k, M.T, s_g * d, rho_hat, W2, weight_decay),
            # ∇W1 = k (k G M − N) + s_f r μᵀ + λ W1
            lambda: _weight_gradient(grad.W1, ws.scratch_pn, G, M, k, N, s_f * r, mu, W1, weight_decay),
        )
        np.multiply(d, s_g, out=grad.b2)
        np.multiply(r, s_f, out=grad.b1)
        decay = 0.5 * weight_decay * float(np.vdot(W1, W1) + np.vdot(W2, W2)) if weight_decay else 0.0
    loss = reconstruction + decay + sparsity
    if terms:
        return loss, {"reconstruction": reconstruction, "weight_decay": decay, "sparsity": sparsity, "total": loss}
    return loss


def _weight_gradient(out, scratch, left, right, k, cross, outer_a, outer_b, weights, weight_decay) -> None:
    """``out = k (k left @ right − cross) + outer_a outer_bᵀ + λ weights``, through ``scratch`` of ``out``'s shape."""
    np.matmul(left, right, out=out)
    out *= k * k
    np.multiply(cross, k, out=scratch)
    out -= scratch
    np.multiply.outer(outer_a, outer_b, out=scratch)
    out += scratch
    if weight_decay:
        np.multiply(weights, weight_decay, out=scratch)
        out += scratch


class CovarianceObjective:
    """An affine model's objective in covariance form, evaluated from data like the model's own.

    :func:`autoencoder.check_gradient` accepts it in place of an
    :class:`autoencoder.Autoencoder`, which checks the covariance form's
    gradient against finite differences of its own value.

    Parameters
    ----------
    model : Autoencoder
        With affine transfer functions in both layers.

    Raises
    ------
    ValueError
        If a transfer function of ``model`` is not affine.
    """

    def __init__(self, model):
        if not applies(model.f, model.g):
            raise ValueError(
                f"the covariance form needs affine transfer functions in both layers ('linear' or 'taylor1'); "
                f"got activation={model.activation!r}, output_activation={model.output_activation!r}"
            )
        self.model = model

    def loss_and_grad(self, params: Params, X) -> tuple[float, Params]:
        """``J`` and its gradient at ``params``, through :func:`moments` of ``X``.

        Parameters
        ----------
        params : Params
        X : array_like of shape (m, n)
            Checked as :meth:`autoencoder.Autoencoder.loss_and_grad` checks it.

        Returns
        -------
        loss : float
        grad : Params
            float64, whatever the dtype of ``X``.
        """
        X = validate_data(X, unit_interval=self.model.g.unit_range)
        params = check_params(params, self.model.n_hidden, X).astype(np.float64)
        grad = Params.zeros(params.n_visible, params.n_hidden, np.float64)
        loss = loss_and_grad(self.model.objective, params, compute_moments(X), grad)
        return loss, grad
