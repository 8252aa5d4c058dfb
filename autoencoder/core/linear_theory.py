"""What theory predicts for a linear autoencoder at its minimum, and the measures that test it.

With identity transfer functions, ``h(x) = W2 (W1 x + b1) + b2``, and the
objective of this book,

.. math::

    J = \\frac1m \\sum_i \\tfrac12 \\lVert h(x_i) - x_i \\rVert^2
      + \\frac\\lambda2 \\bigl(\\lVert W_1 \\rVert_F^2 + \\lVert W_2 \\rVert_F^2\\bigr),

the minima are known in closed form (``ℓ_1 ≥ ℓ_2 ≥ …`` are the eigenvalues
of the data's covariance, divisor ``m``, and ``u_i`` its eigenvectors):

* ``λ = 0`` (Eckart–Young; Bourlard & Kamp 1988; Baldi & Hornik 1989): the
  reconstruction error per example is ``Σ_{i > p} ℓ_i`` and ``W2`` spans the
  top ``p`` principal directions; ``W1`` and ``W2`` are otherwise free up to
  an invertible ``p × p`` mixing.
* ``λ > 0`` (Kunin, Bloom, Goeva & Seed 2019): ``W1 = W2ᵀ``, the singular
  values of ``W2`` are ``sqrt(max(0, 1 − λ/ℓ_i))`` for ``i ≤ p``, its left
  singular vectors are the individual principal directions ``u_i`` (not just
  a basis of their span), and exactly ``#{i ≤ p : ℓ_i > λ}`` singular values
  are non-zero.  Only the rotation of the hidden units is left free.

How firmly the minimum holds each direction: turning the ``i``-th singular
vector towards the ``j``-th by ``θ`` (in ``W1`` and ``W2`` alike) raises ``J`` by
``κ_ij sin²θ`` (:func:`rotation_curvature`), which is zero without weight
decay and of order ``λ²`` with it, so the individual directions are the last
thing an optimizer finds.

The biases are not decayed, so they centre the data; a sparsity penalty on
the mean activations ``ρ̂ = W1 μ + b1`` is absorbed by them and changes none
of this (chapter 3).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_int, check_real
from .params import Params

__all__ = [
    "eigenvalue_gaps",
    "kunin_reconstruction_error",
    "kunin_singular_values",
    "neighbour_curvature",
    "rotation_curvature",
    "singular_directions",
    "transpose_gap",
]


def _eigenvalues(eigenvalues) -> np.ndarray:
    values = np.asarray(eigenvalues, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
        raise ValueError(f"eigenvalues must be a non-empty 1-D array of finite numbers; got shape {values.shape}")
    return np.sort(values)[::-1]


def kunin_singular_values(eigenvalues, weight_decay: float, n_hidden: int, slope: float = 1.0) -> np.ndarray:
    """The singular values of ``W2`` at the minimum with weight decay: ``sqrt(max(0, 1 − λ/ℓ_i))``.

    Parameters
    ----------
    eigenvalues : array_like of shape (k,)
        Eigenvalues ``ℓ_i`` of the data's covariance (divisor ``m``), any
        order, at least ``n_hidden`` of them.
    weight_decay : float
        ``λ ≥ 0``.
    n_hidden : int
        ``p``.
    slope : float, default 1
        ``s > 0`` of an affine transfer function ``f(z) = c + s z`` used in
        both layers (1 for the identity, ¼ for the Taylor polynomial of
        order 1).  With ``U_k = s W_k`` such a network is a linear one with
        weight decay ``λ / s²``, so the singular values of ``W2`` are
        ``sqrt(max(0, 1 − λ / (s² ℓ_i))) / s``.

    Returns
    -------
    ndarray of shape (n_hidden,)
        In decreasing order; 0 where ``s² ℓ_i ≤ λ``.
    """
    lam = check_real("weight_decay", weight_decay, low=0)
    s = check_real("slope", slope, low=0, low_open=True)
    values = _eigenvalues(eigenvalues)
    p = check_int("n_hidden", n_hidden, 1, values.size)
    top = values[:p]
    with np.errstate(divide="ignore"):
        ratio = np.where(top > 0, lam / (s * s * np.where(top > 0, top, 1.0)), np.inf)
    return np.sqrt(np.maximum(0.0, 1.0 - ratio)) / s


def kunin_reconstruction_error(eigenvalues, weight_decay: float, n_hidden: int, slope: float = 1.0) -> float:
    """The mean squared reconstruction error per example at the minimum with weight decay.

    At the minimum of :func:`kunin_singular_values` the reconstruction keeps
    the fraction ``σ_i² = 1 − λ'/ℓ_i`` (``λ' = λ / s²``) of each of the top
    ``p`` principal directions with ``ℓ_i > λ'``, leaving the variance
    ``ℓ_i (λ'/ℓ_i)² = λ'²/ℓ_i`` there, and all of ``ℓ_i`` elsewhere.

    Parameters
    ----------
    eigenvalues : array_like of shape (n,)
        *All* eigenvalues ``ℓ_i`` of the data's covariance (divisor ``m``), any order.
    weight_decay : float
        ``λ ≥ 0``.
    n_hidden : int
        ``p``, at most the number of eigenvalues.
    slope : float, default 1
        As for :func:`kunin_singular_values`.

    Returns
    -------
    float
        ``Σ_{i ≤ p, ℓ_i > λ'} λ'²/ℓ_i + Σ_{other i} ℓ_i``: at ``λ = 0`` the
        Eckart–Young error.
    """
    lam = check_real("weight_decay", weight_decay, low=0)
    s = check_real("slope", slope, low=0, low_open=True)
    values = _eigenvalues(eigenvalues)
    p = check_int("n_hidden", n_hidden, 1, values.size)
    shrunk = lam / (s * s)
    top = values[:p]
    kept = top > shrunk
    return float(np.sum(shrunk**2 / top[kept]) + np.sum(top[~kept]) + np.sum(values[p:]))


def eigenvalue_gaps(eigenvalues, n_hidden: int) -> np.ndarray:
    """``ℓ_i − ℓ_{i+1}`` for ``i = 1, …, p``: how well each of the top ``p`` directions is determined.

    Parameters
    ----------
    eigenvalues : array_like of shape (k,)
        At least ``n_hidden + 1`` eigenvalues, any order.
    n_hidden : int
        ``p``.

    Returns
    -------
    ndarray of shape (n_hidden,)
        The last entry is the gap at the cut, ``ℓ_p − ℓ_{p+1}``.
    """
    values = _eigenvalues(eigenvalues)
    p = check_int("n_hidden", n_hidden, 1, values.size - 1)
    return values[:p] - values[1 : p + 1]


def rotation_curvature(ell_i, ell_j, weight_decay: float):
    """``κ_ij = λ² (ℓ_i − ℓ_j)² (ℓ_i + ℓ_j) / (2 ℓ_i² ℓ_j²)``: the rise of ``J`` per ``sin²θ`` of a rotation.

    At a minimum with weight decay ``λ``, turning the ``i``-th singular
    vector of ``W2`` (and the ``i``-th row of ``W1 = W2ᵀ``) towards the
    ``j``-th by an angle ``θ`` leaves the weight decay unchanged and raises the
    reconstruction term, and ``J``, by exactly ``κ_ij sin²θ``, for two
    directions ``i, j ≤ p`` both kept by the network.

    Parameters
    ----------
    ell_i, ell_j : float or ndarray
        Positive eigenvalues of the covariance (broadcast together).
    weight_decay : float
        ``λ ≥ 0``.

    Returns
    -------
    float or ndarray
    """
    lam = check_real("weight_decay", weight_decay, low=0)
    ell_i, ell_j = np.asarray(ell_i, dtype=np.float64), np.asarray(ell_j, dtype=np.float64)
    if np.any(ell_i <= 0) or np.any(ell_j <= 0):
        raise ValueError("ell_i and ell_j must be positive eigenvalues")
    return lam**2 * (ell_i - ell_j) ** 2 * (ell_i + ell_j) / (2 * ell_i**2 * ell_j**2)


def neighbour_curvature(eigenvalues, weight_decay: float, n_hidden: int) -> np.ndarray:
    """``min(κ_{i,i−1}, κ_{i,i+1})`` for ``i = 1, …, p``: how firmly each kept direction is held.

    Parameters
    ----------
    eigenvalues : array_like of shape (k,)
        At least ``n_hidden`` positive eigenvalues, any order.
    weight_decay : float
    n_hidden : int

    Returns
    -------
    ndarray of shape (n_hidden,)
        The smaller :func:`rotation_curvature` towards the neighbouring kept
        directions (the one neighbour for ``i = 1`` and ``i = p``; inf for
        ``p = 1``).
    """
    values = _eigenvalues(eigenvalues)
    p = check_int("n_hidden", n_hidden, 1, values.size)
    pair = rotation_curvature(values[: p - 1], values[1:p], weight_decay)
    return np.minimum(np.r_[np.inf, pair], np.r_[pair, np.inf])


def transpose_gap(params: Params) -> float:
    """``‖W1 − W2ᵀ‖_F / ‖W2‖_F``: zero at a minimum with weight decay."""
    return float(np.linalg.norm(params.W1 - params.W2.T) / np.linalg.norm(params.W2))


def singular_directions(params: Params, components) -> tuple[np.ndarray, np.ndarray]:
    """The singular values of ``W2`` and the angle of each left singular vector to its principal direction.

    Parameters
    ----------
    params : Params
    components : array_like of shape (k, n)
        Orthonormal principal directions in rows, by decreasing variance,
        ``k ≥ n_hidden`` (:attr:`autoencoder.PCAResult.components`).

    Returns
    -------
    singular_values : ndarray of shape (n_hidden,)
        Decreasing.
    angles : ndarray of shape (n_hidden,)
        ``arccos |u_i · c_i|`` in radians, between the ``i``-th left singular
        vector of ``W2`` and the ``i``-th component (signs do not count).
    """
    components = np.asarray(components, dtype=np.float64)
    p = params.n_hidden
    if components.ndim != 2 or components.shape[0] < p or components.shape[1] != params.n_visible:
        raise ValueError(
            f"components must have shape (k, {params.n_visible}) with k >= n_hidden = {p}; got {components.shape}"
        )
    U, s, _ = np.linalg.svd(np.asarray(params.W2, dtype=np.float64), full_matrices=False)
    cosines = np.abs(np.sum(U * components[:p].T, axis=0))
    return s, np.arccos(np.minimum(cosines, 1.0))
