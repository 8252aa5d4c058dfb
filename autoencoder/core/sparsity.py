"""Sparsity penalties ``φ(ρ̂)`` and their derivatives, side by side.

The objective adds ``β Σ_j φ(ρ̂_j)``, where ``ρ̂_j`` is the mean activation of
hidden unit ``j`` over the examples and ``ρ`` the target.  Each penalty is a
:class:`SparsityPenalty` whose ``value(rho_hat, rho)`` returns ``φ`` per unit
and whose ``derivative(rho_hat, rho)`` returns ``dφ/dρ̂`` per unit.

The targets accepted are ``0 < ρ < 1`` for every penalty, and also ``ρ = 0``
for ``l1`` and ``l2``.  For units that are never negative (sigmoid, ReLU,
TopK), ``l1`` at ``ρ = 0`` is the mean L1 norm of the code,

.. math::

    \\sum_j |0 - \\hat\\rho_j| = \\sum_j \\hat\\rho_j
        = \\frac1m \\sum_i \\sum_j |a_{ij}| = \\frac1m \\sum_i \\lVert a_i \\rVert_1,

the L1 sparsity penalty of the dictionary-learning literature, up to the
smoothing of :func:`l1_value` (it is smaller by at most ``ε`` per unit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validation import check_real

__all__ = ["SparsityPenalty", "PENALTIES", "L1_SMOOTHING", "get_penalty", "l1_penalty"]

L1_SMOOTHING = 1e-4
"""Width ``ε`` of the smoothed absolute value used by the ``l1`` penalty."""


@dataclass(frozen=True)
class SparsityPenalty:
    """A sparsity penalty and its derivative.

    Parameters
    ----------
    name : str
        The name used in :class:`autoencoder.Autoencoder`.
    value : callable
        ``value(rho_hat, rho) -> φ``, elementwise over hidden units.
    derivative : callable
        ``derivative(rho_hat, rho) -> dφ/dρ̂``, elementwise over hidden units.
    needs_unit_range : bool
        True when ``φ`` is defined only for ``ρ̂`` inside (0, 1).
    zero_target : bool, default False
        True when the target ``ρ = 0`` is accepted (``ρ`` in [0, 1) rather
        than (0, 1)).
    """

    name: str
    value: Callable[[np.ndarray, float], np.ndarray]
    derivative: Callable[[np.ndarray, float], np.ndarray]
    needs_unit_range: bool
    zero_target: bool = False

    @property
    def target_bounds(self) -> dict:
        """The targets ``ρ`` this penalty accepts, as bounds for :func:`~autoencoder.core._validation.check_real`.

        ``[0, 1)`` when :attr:`zero_target`, else ``(0, 1)``.
        """
        return {"low": 0.0, "high": 1.0, "low_open": not self.zero_target, "high_open": True}


def _clip_unit(rho_hat):
    # Keep ρ̂ strictly inside (0, 1) where a saturated sigmoid rounds it to 0 or 1.
    eps = np.finfo(rho_hat.dtype).eps
    return np.clip(rho_hat, eps, 1 - eps)


def kl_value(rho_hat, rho):
    """KL divergence ``ρ log(ρ/ρ̂) + (1-ρ) log((1-ρ)/(1-ρ̂))``.

    ``ρ̂`` is clipped to ``[eps, 1 - eps]`` (machine epsilon of its dtype) so
    that units saturated in floating point give a large finite penalty rather
    than inf; inside that interval the value is exact.
    """
    q = _clip_unit(rho_hat)
    return rho * np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q))


def kl_derivative(rho_hat, rho):
    """``dφ/dρ̂ = -ρ/ρ̂ + (1-ρ)/(1-ρ̂)``, with the clipping of :func:`kl_value`."""
    q = _clip_unit(rho_hat)
    return -rho / q + (1 - rho) / (1 - q)


def l2_value(rho_hat, rho):
    """Squared distance ``(ρ - ρ̂)²``."""
    return (rho - rho_hat) ** 2


def l2_derivative(rho_hat, rho):
    """``dφ/dρ̂ = 2 (ρ̂ - ρ)``."""
    return 2 * (rho_hat - rho)


def l1_value(rho_hat, rho, smoothing=L1_SMOOTHING):
    """Smoothed absolute distance ``sqrt((ρ - ρ̂)² + ε²) - ε``, ``ε = smoothing``.

    ``|ρ - ρ̂|`` has a kink at ``ρ̂ = ρ`` where its derivative jumps from -1 to
    1; L-BFGS builds curvature estimates from gradient differences and stalls
    or zig-zags at such a kink.  The penalty therefore replaces the absolute
    value by the smooth ``sqrt(d² + ε²) - ε``, by default with ``ε =``
    :data:`L1_SMOOTHING` (1e-4; ``Autoencoder(l1_smoothing=...)`` chooses
    another, see :func:`l1_penalty`): it is 0 with zero slope at ``ρ̂ = ρ``, differs
    from ``|d|`` by less than ``ε`` everywhere, and its slope is within
    ``ε²/(2 d²)`` of ``sign(d)`` once ``|d| ≫ ε``.
    """
    d = rho_hat - rho
    return np.sqrt(d * d + smoothing**2) - smoothing


def l1_derivative(rho_hat, rho, smoothing=L1_SMOOTHING):
    """``dφ/dρ̂ = d / sqrt(d² + ε²)`` with ``d = ρ̂ - ρ``, ``ε = smoothing``."""
    d = rho_hat - rho
    return d / np.sqrt(d * d + smoothing**2)


def l1_penalty(smoothing: float = L1_SMOOTHING) -> SparsityPenalty:
    """The ``l1`` penalty with smoothing width ``ε = smoothing`` (> 0).

    A wide ``ε`` makes the penalty close to quadratic near the target
    (``d²/(2ε)`` for ``|d| ≪ ε``), so L-BFGS meets no kink; a continuation
    trains with a decreasing ``ε``, each stage warm-started from the last.

    Raises
    ------
    ValueError
        If ``smoothing`` is not a finite number > 0.
    """
    check_real("l1_smoothing", smoothing, low=0, low_open=True)
    if smoothing == L1_SMOOTHING:
        return PENALTIES["l1"]
    eps = float(smoothing)
    return SparsityPenalty(
        "l1",
        lambda rho_hat, rho: l1_value(rho_hat, rho, eps),
        lambda rho_hat, rho: l1_derivative(rho_hat, rho, eps),
        False,
        zero_target=True,
    )


def none_value(rho_hat, rho):
    """No penalty: zero for every unit."""
    return np.zeros_like(rho_hat)


def none_derivative(rho_hat, rho):
    """Zero."""
    return np.zeros_like(rho_hat)


PENALTIES: dict[str, SparsityPenalty] = {
    "kl": SparsityPenalty("kl", kl_value, kl_derivative, True),
    "l2": SparsityPenalty("l2", l2_value, l2_derivative, False, zero_target=True),
    "l1": SparsityPenalty("l1", l1_value, l1_derivative, False, zero_target=True),
    "none": SparsityPenalty("none", none_value, none_derivative, False),
}
"""Every sparsity penalty the module supports, by name."""


def get_penalty(name: str) -> SparsityPenalty:
    """Look up a sparsity penalty by name.

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the valid names.
    """
    try:
        return PENALTIES[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(k) for k in PENALTIES)
        raise ValueError(f"sparsity={name!r} is not a sparsity penalty; use one of {valid}") from None
