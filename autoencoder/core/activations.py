"""Transfer functions ``f`` and their derivatives, side by side.

Each transfer function is an :class:`Activation`: its value ``f(z)`` and its
derivative ``f'(z)``, written once, beside each other.  The derivative takes
both the pre-activation ``z`` and the already computed activation
``a = f(z)``, because for the sigmoid the cheapest form is
``f'(z) = a (1 - a)`` while the Taylor polynomials need ``z``; it writes into
an ``out`` array when given one, which is how the training objective
(:mod:`autoencoder.core._fast`) reads it without allocating
(:meth:`Activation.times_derivative`).

The Taylor approximations of the sigmoid around 0 are those the paper plans to
study:

.. math::

    \\sigma(z) \\approx \\tfrac12 + \\tfrac{z}{4} - \\tfrac{z^3}{48} + \\tfrac{z^5}{480}.

Order 1 keeps the first two terms, order 3 the first three, order 5 all four.

The rectifier ``relu(z) = max(z, 0)`` is the transfer function of the sparse
autoencoders of the dictionary-learning literature; its derivative is taken
to be 0 at the kink ``z = 0``.  :func:`top_k` builds the TopK transfer: a
ReLU that keeps the ``k`` largest units of each example and zeroes the rest.
It is not elementwise, so it lies outside Appendix A's framework of an
elementwise ``f`` and a penalty ``φ``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

import numpy as np
from scipy.special import expit

__all__ = ["Activation", "ACTIVATIONS", "SIGMOID_AT_0", "SIGMOID_SLOPE_AT_0", "get_activation", "top_k", "top_k_mask"]

SIGMOID_AT_0 = 0.5
"""``σ(0)``: the constant term of every Taylor approximation, the offset of ``"taylor1"``."""

SIGMOID_SLOPE_AT_0 = 0.25
"""``σ'(0) = ¼``: the linear coefficient of every Taylor approximation, the slope of ``"taylor1"``."""


@dataclass(frozen=True)
class Activation:
    """A transfer function and its derivative.

    Parameters
    ----------
    name : str
        The name used in :class:`autoencoder.Autoencoder`.
    forward : callable
        ``forward(z) -> a``, elementwise (row by row for :func:`top_k`).
    derivative : callable
        ``derivative(z, a, out=None) -> f'(z)``, elementwise; ``a`` is
        ``forward(z)``.  With ``out`` (an array of ``a``'s shape and dtype)
        the result is written there and returned; the sigmoid, the rectifier
        and the affine functions then allocate nothing.
    unit_range : bool
        True when every value lies strictly inside (0, 1).  The KL sparsity
        penalty, which takes logarithms of the mean activation and of one
        minus it, is accepted only for such transfer functions.
    needs_input : bool
        False when ``derivative`` can be computed from ``a`` alone (``z`` may
        then be passed as ``None``), which lets the objective drop ``z``.
    affine : tuple of (float, float) or None
        ``(offset, slope)`` when the function is affine,
        ``f(z) = offset + slope z``; None otherwise.  A network whose two
        transfer functions are affine is trained on the covariance form of
        its objective (:mod:`autoencoder.core.covariance`).
    logistic : bool
        True for the logistic sigmoid ``σ(z) = 1 / (1 + exp(-z))``, whose
        value the fast objective forms from ``exp(-z)`` (or ``tanh(z/2)``).
    rectified : bool
        True when ``f'(z) = [a > 0]``: the derivative is 1 where the value is
        positive and 0 elsewhere (the ReLU and TopK).
    elementwise : bool
        False when a unit's value depends on the other units of its example
        (TopK), so that it cannot be computed in place unit by unit.
    active_above : float or None
        The threshold ``τ`` above which a unit's value counts as active (the
        measures of sparsity: L0, dead and dense units): 0 for the ReLU and
        TopK, whose inactive units are exactly 0, and ½ for the sigmoid,
        which is above ½ exactly when ``z > 0``, the ReLU's own criterion.
        None for transfer functions that can be negative (the affine ones and
        the Taylor polynomials), for which activity is not defined.
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray | None, np.ndarray], np.ndarray]
    unit_range: bool
    needs_input: bool = True
    affine: tuple[float, float] | None = None
    logistic: bool = False
    rectified: bool = False
    elementwise: bool = True
    active_above: float | None = None

    @property
    def identity(self) -> bool:
        """Whether ``f(z) = z``."""
        return self.affine == (0.0, 1.0)

    def times_derivative(self, z, a, target: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """``target *= f'(z)`` in place, where ``a = f(z)``; returns ``target``.

        Parameters
        ----------
        z : ndarray or None
            Pre-activations; unused (may be None) when :attr:`needs_input` is
            False.
        a : ndarray or None
            ``f(z)``; unused (may be None) for an affine function.
        target : ndarray
            Multiplied by ``f'(z)`` elementwise.
        scratch : ndarray
            Of ``target``'s shape and dtype; overwritten with ``f'(z)``
            (left alone by an affine function, which multiplies by its slope,
            and by nothing at all when the slope is 1).
        """
        if self.affine is not None:
            slope = self.affine[1]
            if slope != 1:
                target *= slope
            return target
        target *= self.derivative(z, a, out=scratch)
        return target


def _sigmoid(z):
    return expit(z)


def _sigmoid_derivative(z, a, out=None):
    # sigma'(z) = sigma(z) (1 - sigma(z)) = (1 - a) a
    out = np.subtract(1, a, out=out)
    out *= a
    return out


def _linear(z):
    return z


def _linear_derivative(z, a, out=None):
    return _constant(1, a, out)


def _taylor1(z):
    return SIGMOID_AT_0 + SIGMOID_SLOPE_AT_0 * z


def _taylor1_derivative(z, a, out=None):
    return _constant(SIGMOID_SLOPE_AT_0, a, out)


def _taylor3(z):
    return SIGMOID_AT_0 + SIGMOID_SLOPE_AT_0 * z - z**3 / 48


def _taylor3_derivative(z, a, out=None):
    # 1/4 - z^2 / 16
    out = np.multiply(z, z, out=out)
    out /= 16
    if not isinstance(out, np.ndarray):  # a scalar z: no array to write into
        return SIGMOID_SLOPE_AT_0 - out
    return np.subtract(SIGMOID_SLOPE_AT_0, out, out=out)


def _taylor5(z):
    z2 = z * z
    return SIGMOID_AT_0 + z * (SIGMOID_SLOPE_AT_0 + z2 * (-1 / 48 + z2 / 480))


def _taylor5_derivative(z, a, out=None):
    # 1/4 + z^2 (-1/16 + z^2 / 96)
    z2 = z * z
    out = np.divide(z2, 96, out=out)
    out += -1 / 16
    out *= z2
    out += SIGMOID_SLOPE_AT_0
    return out


def _relu(z):
    return np.maximum(z, 0)


def _relu_derivative(z, a, out=None):
    # relu'(z) = 1 for z > 0, and 0 for z <= 0 (the value at the kink z = 0 is taken to be 0).
    # a = max(z, 0) > 0 exactly when z > 0, so a alone gives it.
    return np.greater(a, 0, out=np.empty_like(a) if out is None else out)


def _constant(value, a, out):
    """The derivative ``value`` of an affine function, of ``a``'s shape and dtype (into ``out`` when given)."""
    if out is None:
        return np.full_like(a, value)
    out.fill(value)
    return out


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(
        "sigmoid", _sigmoid, _sigmoid_derivative, True, needs_input=False, logistic=True, active_above=0.5
    ),
    "linear": Activation("linear", _linear, _linear_derivative, False, needs_input=False, affine=(0.0, 1.0)),
    "taylor1": Activation(
        "taylor1", _taylor1, _taylor1_derivative, False, needs_input=False, affine=(SIGMOID_AT_0, SIGMOID_SLOPE_AT_0)
    ),
    "taylor3": Activation("taylor3", _taylor3, _taylor3_derivative, False),
    "taylor5": Activation("taylor5", _taylor5, _taylor5_derivative, False),
    "relu": Activation("relu", _relu, _relu_derivative, False, needs_input=False, rectified=True, active_above=0.0),
}
"""Every transfer function the module supports, by name."""


def get_activation(name: str, parameter: str = "activation") -> Activation:
    """Look up a transfer function by name.

    Parameters
    ----------
    name : str
        One of the keys of :data:`ACTIVATIONS`.
    parameter : str, default "activation"
        The parameter name to put in the error message.

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the valid names.
    """
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(k) for k in ACTIVATIONS)
        raise ValueError(f"{parameter}={name!r} is not a transfer function; use one of {valid}") from None


def top_k_mask(z: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` largest entries of each row of ``z``, ties broken by the lower column index.

    Parameters
    ----------
    z : ndarray of shape (m, p)
        Pre-activations, examples in rows.
    k : int
        Entries kept per row, ``1 <= k <= p``.

    Returns
    -------
    ndarray of bool, shape (m, p)
        True at the kept entries: exactly ``k`` per row.  An entry is kept
        when it is larger than the row's ``k``-th largest value ``t``, or
        equal to ``t`` and among the first ``k - #{z > t}`` such entries of
        the row from the left.  The result is a function of each row's values
        alone (``np.partition`` only finds ``t``; which equal entry it moves
        where does not matter), so it is the same whatever the blocks of rows
        it is applied to.
    """
    p = z.shape[-1]
    kth = np.partition(z, p - k, axis=-1)[..., p - k : p - k + 1]  # the k-th largest of each row
    above = z > kth
    tied = z == kth
    room = k - np.count_nonzero(above, axis=-1, keepdims=True)
    return above | (tied & (np.cumsum(tied, axis=-1) <= room))


def _top_k_relu(z, k):
    # a = relu(z) on the k largest z of the row, 0 elsewhere.
    return np.where(top_k_mask(z, k), np.maximum(z, 0), 0).astype(z.dtype, copy=False)


@cache
def top_k(k: int) -> Activation:
    """The TopK transfer: ``relu`` on the ``k`` largest pre-activations of each example, 0 on the rest.

    ``a_j = max(z_j, 0)`` when ``j`` is among the ``k`` largest ``z`` of the
    example (:func:`top_k_mask`: ties broken by the lower unit index) and
    ``a_j = 0`` otherwise, so at most ``k`` units are nonzero.  This is the
    TopK of SAELens (``relu`` of the ``k`` largest pre-activations) and of
    dictionary_learning (the ``k`` largest of ``relu(z)``): both give the
    same ``a``.

    Where the selection does not change under a small change of ``z`` (no
    tie at the ``k``-th value) the map is differentiable and
    ``∂a_j/∂z_j = mask_j · relu'(z_j)``, which is ``1`` exactly where
    ``a_j > 0``: the gradient flows through the kept units only.  That is
    the derivative used, also at ties and at ``z_j = 0``.

    TopK is not elementwise: it is outside the framework of Appendix A,
    whose hidden transfer ``f`` acts on each unit alone and whose sparsity
    comes from a penalty ``φ(ρ̂)``; here the sparsity is imposed by the
    selection, and there is no ``φ`` (a penalty may still be added).

    Parameters
    ----------
    k : int
        Units kept per example (validated by :class:`autoencoder.Autoencoder`).

    Returns
    -------
    Activation
        Named ``"top_k"``; ``forward`` acts on each row of a (m, p) array.
        The same object for the same ``k``.
    """
    forward = partial(_top_k_relu, k=k)
    return Activation(
        "top_k",
        forward,
        _relu_derivative,
        False,
        needs_input=False,
        rectified=True,
        elementwise=False,
        active_above=0.0,
    )
