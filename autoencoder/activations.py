"""Transfer functions ``f`` and their derivatives, side by side.

Each transfer function is an :class:`Activation`: its value ``f(z)`` and its
derivative ``f'(z)``.  The derivative takes both the pre-activation ``z`` and
the already computed activation ``a = f(z)``, because for the sigmoid the
cheapest form is ``f'(z) = a (1 - a)`` while the Taylor polynomials need ``z``.

The Taylor approximations of the sigmoid around 0 are those the paper plans to
study:

.. math::

    \\sigma(z) \\approx \\tfrac12 + \\tfrac{z}{4} - \\tfrac{z^3}{48} + \\tfrac{z^5}{480}.

Order 1 keeps the first two terms, order 3 the first three, order 5 all four.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]


@dataclass(frozen=True)
class Activation:
    """A transfer function and its derivative.

    Parameters
    ----------
    name : str
        The name used in :class:`autoencoder.Autoencoder`.
    forward : callable
        ``forward(z) -> a``, elementwise.
    derivative : callable
        ``derivative(z, a) -> f'(z)``, elementwise; ``a`` is ``forward(z)``.
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
        its objective (:mod:`autoencoder.covariance`).
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray | None, np.ndarray], np.ndarray]
    unit_range: bool
    needs_input: bool = True
    affine: tuple[float, float] | None = None


def _sigmoid(z):
    return expit(z)


def _sigmoid_derivative(z, a):
    # sigma'(z) = sigma(z) (1 - sigma(z))
    return a * (1 - a)


def _linear(z):
    return z


def _linear_derivative(z, a):
    return np.ones_like(a)


def _taylor1(z):
    return 0.5 + z / 4


def _taylor1_derivative(z, a):
    return np.full_like(a, 0.25)


def _taylor3(z):
    return 0.5 + z / 4 - z**3 / 48


def _taylor3_derivative(z, a):
    return 0.25 - z**2 / 16


def _taylor5(z):
    z2 = z * z
    return 0.5 + z * (0.25 + z2 * (-1 / 48 + z2 / 480))


def _taylor5_derivative(z, a):
    z2 = z * z
    return 0.25 + z2 * (-1 / 16 + z2 / 96)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_derivative, True, needs_input=False),
    "linear": Activation("linear", _linear, _linear_derivative, False, needs_input=False, affine=(0.0, 1.0)),
    "taylor1": Activation("taylor1", _taylor1, _taylor1_derivative, False, needs_input=False, affine=(0.5, 0.25)),
    "taylor3": Activation("taylor3", _taylor3, _taylor3_derivative, False),
    "taylor5": Activation("taylor5", _taylor5, _taylor5_derivative, False),
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
