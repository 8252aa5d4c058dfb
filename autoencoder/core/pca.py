"""Principal component analysis and principal angles between subspaces."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import subspace_angles

from ._validation import check_int

__all__ = ["PCAResult", "pca", "principal_angles", "eckart_young_error"]


@dataclass(frozen=True)
class PCAResult:
    """The principal components of a data matrix.

    Attributes
    ----------
    components : ndarray of shape (k, n)
        Orthonormal principal directions in rows, by decreasing variance.
    mean : ndarray of shape (n,)
        The mean that was subtracted.
    explained_variance : ndarray of shape (k,)
        Variance along each component (eigenvalues of the covariance with
        divisor ``m``).
    total_variance : float
        Sum of all eigenvalues (the trace of the covariance).
    """

    components: np.ndarray
    mean: np.ndarray
    explained_variance: np.ndarray
    total_variance: float

    @property
    def n_components(self) -> int:
        """``k``."""
        return self.components.shape[0]

    def transform(self, X) -> np.ndarray:
        """Coordinates of ``X`` on the components, shape (m, k)."""
        return (np.asarray(X) - self.mean) @ self.components.T

    def reconstruct(self, X) -> np.ndarray:
        """Projection of ``X`` onto the affine principal subspace, shape (m, n)."""
        return self.transform(X) @ self.components + self.mean

    def reconstruction_error(self) -> float:
        """Mean squared reconstruction error per example, ``(1/m) Σ ‖x − x̂‖²``.

        By Eckart–Young it equals the sum of the trailing eigenvalues.
        """
        return float(self.total_variance - self.explained_variance.sum())


def pca(X, n_components: int) -> PCAResult:
    """PCA from the SVD of the centred data.

    Parameters
    ----------
    X : array_like of shape (m, n)
    n_components : int
        ``k``, between 1 and ``min(m, n)``.

    Returns
    -------
    PCAResult
        Components with a deterministic sign (largest-magnitude entry of each
        component positive).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be a non-empty 2-D array; got shape {X.shape}")
    m, n = X.shape
    n_components = check_int("n_components", n_components, 1, min(m, n))
    mean = X.mean(axis=0)
    _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
    variance = s**2 / m
    components = vt[:n_components]
    signs = np.sign(components[np.arange(n_components), np.argmax(np.abs(components), axis=1)])
    components = components * signs[:, None]
    return PCAResult(components, mean, variance[:n_components], float(variance.sum()))


def principal_angles(A, B) -> np.ndarray:
    """Principal angles between the row spaces of ``A`` and ``B``, in radians.

    Parameters
    ----------
    A : array_like of shape (k, n)
    B : array_like of shape (l, n)

    Returns
    -------
    ndarray of shape (min(k, l),)
        Angles in increasing order; the last is the largest angle.
    """
    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError(f"A and B must be 2-D with the same number of columns; got {A.shape} and {B.shape}")
    return np.sort(subspace_angles(A.T, B.T))


def eckart_young_error(eigenvalues, k: int) -> float:
    """The smallest mean squared error of a rank-``k`` affine reconstruction.

    Parameters
    ----------
    eigenvalues : array_like
        All eigenvalues of the covariance (divisor ``m``).
    k : int

    Returns
    -------
    float
        The sum of all but the ``k`` largest eigenvalues.
    """
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    return float(lam[k:].sum())
