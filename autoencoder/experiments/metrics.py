"""Summary numbers of a trained autoencoder: reconstruction error and sparsity."""

from __future__ import annotations

import numpy as np

__all__ = ["reconstruction_mse", "near_silent_fraction", "summarize"]

SILENT_THRESHOLD = 0.01
"""A unit whose mean absolute activation is below this is called near-silent."""


def reconstruction_mse(X, H) -> float:
    """Mean over examples of the squared reconstruction error ``‖x − h‖²``.

    Parameters
    ----------
    X, H : ndarray of shape (m, n)
        Data and reconstructions.
    """
    X, H = np.asarray(X), np.asarray(H)
    if X.shape != H.shape:
        raise ValueError(f"X and H must have the same shape; got {X.shape} and {H.shape}")
    return float(np.mean(np.sum((X - H) ** 2, axis=1)))


def near_silent_fraction(A, threshold: float = SILENT_THRESHOLD) -> float:
    """Fraction of hidden units whose mean absolute activation is below ``threshold``.

    Parameters
    ----------
    A : ndarray of shape (m, p)
        Hidden activations.
    threshold : float, default SILENT_THRESHOLD
    """
    A = np.asarray(A)
    return float(np.mean(np.abs(A).mean(axis=0) < threshold))


def summarize(model, params, X) -> dict[str, float]:
    """The numbers the chapters compare across configurations.

    Returns
    -------
    dict
        ``mean_activation`` (mean of ``ρ̂``), ``near_silent`` (fraction of
        near-silent units), ``reconstruction_mse`` (mean ``‖x − h‖²``) and
        ``objective`` (``J`` on ``X``).
    """
    A = model.encode(params, X)
    H = model.reconstruct(params, X)
    return {
        "mean_activation": float(A.mean()),
        "near_silent": near_silent_fraction(A),
        "reconstruction_mse": reconstruction_mse(X, H),
        "objective": model.loss_terms(params, X)["total"],
    }
