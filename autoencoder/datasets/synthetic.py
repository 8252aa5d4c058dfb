"""Gaussian data with a prescribed covariance spectrum, for PCA and autoencoder tests.

:func:`spectrum_data` draws ``X = mean + Z diag(sqrt(spectrum)) B^T`` with
``Z`` standard normal and ``B`` a random orthonormal basis (Haar
distributed), so the population covariance is ``B diag(spectrum) B^T``: its
eigenvalues are ``spectrum`` and its eigenvectors the columns of ``B``.
:func:`spectrum_basis` returns that ``B`` for the same ``seed``, so tests can
compare recovered directions with the true ones.  With ``exact=True`` the
*sample* covariance (centred, divided by ``n_samples``) is exactly
``B diag(spectrum) B^T`` and the sample mean exactly ``mean``, up to rounding.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..core._validation import check_int

__all__ = ["spectrum_basis", "spectrum_data"]


def _validate_spectrum(spectrum: ArrayLike) -> np.ndarray:
    values = np.asarray(spectrum, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"spectrum must be a non-empty 1-D sequence, got shape {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("spectrum must hold finite, non-negative variances")
    return values


def _random_orthonormal(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthogonal matrix of shape (dim, dim): QR with the signs fixed."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def spectrum_basis(dim: int, *, seed: int = 0) -> np.ndarray:
    """The orthonormal basis :func:`spectrum_data` uses for ``dim`` features and ``seed``.

    Parameters
    ----------
    dim : int
        Number of features, ``len(spectrum)``.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    ndarray of shape (dim, dim)
        Orthogonal matrix whose column ``i`` is the eigenvector of variance
        ``spectrum[i]``.
    """
    dim = check_int("dim", dim, 1)
    return _random_orthonormal(dim, np.random.default_rng(seed))


def spectrum_data(
    n_samples: int,
    spectrum: ArrayLike,
    *,
    mean: ArrayLike | None = None,
    seed: int = 0,
    exact: bool = False,
    dtype: DTypeLike = np.float64,
) -> np.ndarray:
    """Samples whose covariance has eigenvalues ``spectrum`` in a random orthonormal basis.

    Parameters
    ----------
    n_samples : int
        Number of rows, at least 1 (at least ``len(spectrum) + 1`` when
        ``exact``).
    spectrum : array-like of shape (n_features,)
        Variances along the basis directions, finite and non-negative, in
        any order.
    mean : array-like of shape (n_features,), optional
        Mean of the distribution; zero if None.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; the basis is
        ``spectrum_basis(n_features, seed=seed)``.
    exact : bool, default False
        Make the sample statistics exact: the rows are whitened (centred,
        rotated so that ``Z^T Z / n_samples = I``) before scaling, so that
        ``np.cov(X.T, bias=True)`` equals ``B diag(spectrum) B^T`` and
        ``X.mean(axis=0)`` equals ``mean``, up to rounding.
    dtype : floating dtype, default numpy.float64
        Type of the result (computed in float64, then cast).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        One sample per row.
    """
    variances = _validate_spectrum(spectrum)
    dim = variances.size
    n_samples = check_int("n_samples", n_samples, dim + 1 if exact else 1)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {dtype}")
    if mean is None:
        offset = np.zeros(dim)
    else:
        offset = np.asarray(mean, dtype=np.float64)
        if offset.shape != (dim,):
            raise ValueError(f"mean must have shape ({dim},), got {offset.shape}")
    rng = np.random.default_rng(seed)
    basis = _random_orthonormal(dim, rng)
    Z = rng.standard_normal((n_samples, dim))
    if exact:
        Z -= Z.mean(axis=0)
        u, _, vt = np.linalg.svd(Z, full_matrices=False)
        Z = np.sqrt(n_samples) * (u @ vt)
    X = (Z * np.sqrt(variances)) @ basis.T + offset
    return X.astype(dtype, copy=False)
