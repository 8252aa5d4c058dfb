"""Gradient checking by central finite differences."""

from __future__ import annotations

import numpy as np

from .params import Params

__all__ = ["check_gradient", "numerical_gradient"]


def numerical_gradient(fun, theta: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central differences ``(J(θ + ε e_i) - J(θ - ε e_i)) / 2ε`` for every coordinate.

    Parameters
    ----------
    fun : callable
        ``fun(theta) -> float``.
    theta : ndarray of shape (d,)
    eps : float, default 1e-5

    Returns
    -------
    ndarray of shape (d,)
    """
    theta = np.array(theta, dtype=np.float64)
    out = np.empty_like(theta)
    for i in range(theta.size):
        old = theta[i]
        theta[i] = old + eps
        plus = fun(theta)
        theta[i] = old - eps
        minus = fun(theta)
        theta[i] = old
        out[i] = (plus - minus) / (2 * eps)
    return out


def check_gradient(model, params: Params, X, eps: float = 1e-5) -> float:
    """Compare ``model.loss_and_grad`` with central finite differences.

    Parameters
    ----------
    model : Autoencoder
    params : Params
        The point of the check (use a small problem: this costs two objective
        evaluations per parameter).
    X : array_like of shape (m, n)
    eps : float, default 1e-5
        Step of the differences.

    Returns
    -------
    float
        UFLDL's measure ``‖g_num − g‖ / ‖g_num + g‖``; below 1e-9 or so in
        float64 for a correct gradient.
    """
    if not eps > 0:
        raise ValueError(f"eps must be > 0; got {eps!r}")
    X = np.asarray(X, dtype=np.float64)
    params = params.astype(np.float64)
    _, grad = model.loss_and_grad(params, X)
    n, p = params.n_visible, params.n_hidden

    def fun(theta):
        return model.loss_and_grad(Params.from_flat(theta, n, p), X)[0]

    numeric = numerical_gradient(fun, params.flat, eps)
    denom = np.linalg.norm(numeric + grad.flat)
    if denom == 0:
        return 0.0
    return float(np.linalg.norm(numeric - grad.flat) / denom)
