"""Where on the image a feature's weight lies: its spread and whether it is one blob.

:func:`autoencoder.experiments.measures.effective_area` counts the pixels a
feature uses but not where they are: a feature spread over 40 scattered pixels
and one that covers a 40-pixel stroke get the same area.  Two measures here
look at the layout, for features that are images of ``shape`` pixels (one per
row of ``W``), each weighing pixel ``i`` by its energy ``w_i²``:

=======================  ==============================================================
measure                  definition
=======================  ==============================================================
radius of gyration       ``r_g = sqrt(Σ_i e_i ‖r_i − c‖²)``, ``e_i = w_i² / Σ w²``,
                         ``c = Σ_i e_i r_i`` (``r_i`` the pixel's row and column): how far,
                         in pixels, the energy lies from its centre
largest region share     of the *core*, the fewest pixels that hold ``mass`` (half) of
                         the energy, the share held by its largest 8-connected region:
                         1 when the strong pixels form one blob, ½ for two equal blobs,
                         small for scattered ones
=======================  ==============================================================

Reference values (checked by the test suite): a round Gaussian feature
``w ∝ exp(−‖r − c‖² / 2s²)`` has ``r_g = s`` (its energy is a Gaussian of
standard deviation ``s / √2`` along each axis) and a largest-region share of
1 (its core is a disc); two equal blobs apart have ½; white noise over a
28 × 28 image, Gaussian or uniform, has ``r_g`` near
``√((28² − 1)/6) ≈ 11.4`` pixels, the value of an even spread
(:func:`even_spread_radius`), and a share below 0.3: its core is about a
sixth (Gaussian) or a fifth (uniform) of the pixels, too few to join up.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..core._validation import check_real

__all__ = ["CORE_MASS", "radius_of_gyration", "largest_region_share", "even_spread_radius"]

CORE_MASS = 0.5
"""The share of a feature's energy its core holds: the fewest, strongest pixels that reach it."""


def _features(W, shape: tuple[int, int]) -> np.ndarray:
    """``W`` as a float64 array of shape (k, rows, cols), checked."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D array with one feature per row; got shape {W.shape}")
    if len(shape) != 2 or shape[0] * shape[1] != W.shape[1] or min(shape) < 1:
        raise ValueError(f"shape must be (rows, cols) with rows * cols = {W.shape[1]} (the pixels); got {shape!r}")
    if not np.isfinite(W).all():
        raise ValueError("W must be finite")
    return W.reshape(W.shape[0], *shape)


def even_spread_radius(shape: tuple[int, int]) -> float:
    """The radius of gyration of a feature whose energy is spread evenly over the whole image.

    ``sqrt((rows² − 1)/12 + (cols² − 1)/12)``: the variance of a uniform
    distribution over ``rows`` integer positions is ``(rows² − 1)/12``.
    """
    rows, cols = shape
    return float(np.sqrt((rows**2 - 1) / 12 + (cols**2 - 1) / 12))


def radius_of_gyration(W, shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """How far each feature's energy lies from its centre, in pixels.

    Parameters
    ----------
    W : array_like of shape (k, rows * cols)
        One feature per row, an image of ``shape`` in row-major order.
    shape : (int, int), default (28, 28)

    Returns
    -------
    ndarray of shape (k,)
        ``r_g ≥ 0``; :func:`even_spread_radius` for an even spread over the
        image; 0 for a feature on one pixel and for a row of zeros.
    """
    F = _features(W, shape)
    energy = F**2
    total = energy.sum(axis=(1, 2))
    safe = np.where(total > 0, total, 1.0)
    rows = np.arange(shape[0], dtype=np.float64)
    cols = np.arange(shape[1], dtype=np.float64)
    p_rows = energy.sum(axis=2) / safe[:, None]  # (k, rows)
    p_cols = energy.sum(axis=1) / safe[:, None]  # (k, cols)
    centre_r = p_rows @ rows
    centre_c = p_cols @ cols
    spread = p_rows @ rows**2 - centre_r**2 + p_cols @ cols**2 - centre_c**2
    return np.where(total > 0, np.sqrt(np.maximum(spread, 0.0)), 0.0)


_EIGHT = np.ones((3, 3), dtype=bool)


def largest_region_share(W, shape: tuple[int, int] = (28, 28), mass: float = CORE_MASS) -> np.ndarray:
    """The share of each feature's core that lies in its largest connected region.

    The core is the fewest pixels that hold ``mass`` of the feature's energy
    ``Σ w_i²`` (the strongest pixels first; every pixel tied with the last
    one joins); its regions are 8-connected (diagonal neighbours touch).  A
    threshold on the energy share, rather than on ``|w|`` against its
    maximum, keeps the measure meaningful for noise of any distribution:
    uniform noise has half of its pixels above half its maximum, enough to
    join up, but its core is a fifth of them.

    Parameters
    ----------
    W : array_like of shape (k, rows * cols)
        One feature per row, an image of ``shape`` in row-major order.
    shape : (int, int), default (28, 28)
    mass : float, default CORE_MASS
        In (0, 1].

    Returns
    -------
    ndarray of shape (k,)
        In ``(0, 1]``: the energy of the core's region with the most energy,
        over the core's energy; 0 for a row of zeros.
    """
    mass = check_real("mass", mass, low=0.0, high=1.0, low_open=True)
    F = _features(W, shape)
    out = np.zeros(F.shape[0])
    for index, feature in enumerate(F):
        energy = feature**2
        total = energy.sum()
        if total == 0:
            continue
        ranked = np.sort(energy.ravel())[::-1]
        last = min(int(np.searchsorted(np.cumsum(ranked), mass * total)), ranked.size - 1)
        core = energy >= ranked[last]
        labels, count = ndimage.label(core, structure=_EIGHT)
        per_region = ndimage.sum_labels(energy, labels, index=np.arange(1, count + 1))
        out[index] = float(np.max(per_region) / energy[core].sum())
    return out
