"""The parameters ``(W1, b1, W2, b2)`` as views of one flat vector."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Params", "n_params"]


def n_params(n_visible: int, n_hidden: int) -> int:
    """Number of scalars in ``(W1, b1, W2, b2)``: ``2 n p + p + n``."""
    return 2 * n_visible * n_hidden + n_hidden + n_visible


@dataclass(frozen=True, eq=False)
class Params:
    """Weights and biases of a single-hidden-layer autoencoder.

    All four arrays are views of one contiguous vector, :attr:`flat`, laid
    out as ``W1, W2, b1, b2`` (the UFLDL order), so that an optimizer can work
    on the vector while the objective reads the matrices without copying.

    Attributes
    ----------
    W1 : ndarray of shape (n_hidden, n_visible)
        Encoder weights.
    b1 : ndarray of shape (n_hidden,)
        Encoder bias.
    W2 : ndarray of shape (n_visible, n_hidden)
        Decoder weights.
    b2 : ndarray of shape (n_visible,)
        Decoder bias.
    flat : ndarray of shape (2 n p + p + n,)
        The vector all four are views of.
    """

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    flat: np.ndarray

    @property
    def n_visible(self) -> int:
        """Input dimension ``n``."""
        return self.W1.shape[1]

    @property
    def n_hidden(self) -> int:
        """Number of hidden units ``p``."""
        return self.W1.shape[0]

    @property
    def dtype(self) -> np.dtype:
        """Floating-point type of the parameters."""
        return self.flat.dtype

    @classmethod
    def from_flat(cls, theta: np.ndarray, n_visible: int, n_hidden: int) -> Params:
        """Wrap a flat vector without copying it.

        Parameters
        ----------
        theta : ndarray of shape (2 n p + p + n,)
            Contiguous vector laid out as ``W1, W2, b1, b2``.
        n_visible, n_hidden : int
            ``n`` and ``p``.

        Returns
        -------
        Params
            Views into ``theta``; writing to them writes to ``theta``.  A
            ``theta`` that is not contiguous and aligned is copied first.
        """
        theta = np.asarray(theta)
        expected = n_params(n_visible, n_hidden)
        if theta.ndim != 1 or theta.shape[0] != expected:
            raise ValueError(
                f"theta has shape {theta.shape}; for n_visible={n_visible}, "
                f"n_hidden={n_hidden} it must have shape ({expected},)"
            )
        if not (theta.flags.c_contiguous and theta.flags.aligned):
            theta = np.require(theta, requirements=("C", "A"))  # unpickled buffers may be unaligned
        n, p = n_visible, n_hidden
        w = n * p
        return cls(
            W1=theta[:w].reshape(p, n),
            W2=theta[w : 2 * w].reshape(n, p),
            b1=theta[2 * w : 2 * w + p],
            b2=theta[2 * w + p :],
            flat=theta,
        )

    @classmethod
    def from_arrays(cls, W1, b1, W2, b2, dtype=None) -> Params:
        """Copy four arrays into a fresh flat vector.

        Raises
        ------
        ValueError
            If the shapes do not fit one another.
        """
        W1, b1, W2, b2 = (np.asarray(a) for a in (W1, b1, W2, b2))
        if W1.ndim != 2:
            raise ValueError(f"W1 must be 2-D (n_hidden, n_visible); got shape {W1.shape}")
        p, n = W1.shape
        for name, arr, shape in (("b1", b1, (p,)), ("W2", W2, (n, p)), ("b2", b2, (n,))):
            if arr.shape != shape:
                raise ValueError(f"{name} has shape {arr.shape}; with W1 of shape {W1.shape} it must be {shape}")
        dtype = np.result_type(W1, b1, W2, b2, np.float32) if dtype is None else np.dtype(dtype)
        out = cls.zeros(n, p, dtype)
        out.W1[...] = W1
        out.b1[...] = b1
        out.W2[...] = W2
        out.b2[...] = b2
        return out

    @classmethod
    def zeros(cls, n_visible: int, n_hidden: int, dtype=np.float64) -> Params:
        """All-zero parameters in a fresh vector."""
        return cls.from_flat(np.zeros(n_params(n_visible, n_hidden), dtype=dtype), n_visible, n_hidden)

    def copy(self) -> Params:
        """A deep copy with its own flat vector."""
        return Params.from_flat(self.flat.copy(), self.n_visible, self.n_hidden)

    def astype(self, dtype) -> Params:
        """A copy in another floating-point type (no copy when it already matches)."""
        if np.dtype(dtype) == self.dtype:
            return self
        return Params.from_flat(self.flat.astype(dtype), self.n_visible, self.n_hidden)

    def as_dict(self) -> dict[str, np.ndarray]:
        """``{"W1": ..., "b1": ..., "W2": ..., "b2": ...}`` (views)."""
        return {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}

    def __reduce__(self):
        """Pickle the flat vector and the shape, so that the copy's matrices are views of its vector again.

        Parameters travel by pickle to and from the workers of a sweep
        (:mod:`autoencoder.experiments.sweep`); a field-by-field pickle would give five
        unrelated arrays.
        """
        return Params.from_flat, (self.flat, self.n_visible, self.n_hidden)

    def __repr__(self) -> str:
        return f"Params(n_visible={self.n_visible}, n_hidden={self.n_hidden}, dtype={self.dtype})"
