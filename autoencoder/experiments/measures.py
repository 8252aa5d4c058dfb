"""Measures of a sparse code, as the sparse-autoencoder literature reports them, with this study's conventions.

``X`` holds the examples in rows (shape (m, n)), ``H`` their reconstructions
and ``A`` the hidden activations (the code, shape (m, p)).  A unit is
*active* on an example when its activation exceeds a threshold ``τ``:
``a_ij > τ``.  For ReLU and TopK units ``τ = 0`` (the unit is not zero);
a sigmoid unit is never exactly zero, so it needs a threshold, and the one
used is :data:`SIGMOID_THRESHOLD` ``= ½``: ``σ(z) > ½`` exactly when
``z > 0``, which is a ReLU's own criterion (:func:`activity_threshold`).
The measures are meant for codes that are never negative (sigmoid, ReLU,
TopK); a negative activation is never active.

=========================  ==============================================================
measure                    definition
=========================  ==============================================================
FVU                        ``Σ_i ‖x_i − h_i‖² / Σ_i ‖x_i − μ‖²``, ``μ`` the mean example
activation frequency       ``ν_j = (1/m) #{i : a_ij > τ}``, per unit
L0                         ``(1/m) Σ_i #{j : a_ij > τ} = Σ_j ν_j``
dead unit                  ``ν_j = 0``: never active on the data
dense unit                 ``ν_j > δ``, with ``δ`` = :data:`DENSE_FRACTION` ``= 0.1`` by default
mean L1 norm               ``(1/m) Σ_i Σ_j |a_ij|`` (``= Σ_j ρ̂_j`` for a code that is never negative)
=========================  ==============================================================

How these relate to the two libraries most results are reported with:

* **FVU.**  Here the ratio of the two sums over the whole data set: the
  squared error divided by that of always predicting the mean example (the
  normalized MSE of Gao et al., *Scaling and evaluating sparse
  autoencoders*).  SAELens's current ``explained_variance`` is meant as the
  same ratio of sums (``1 −`` FVU), accumulated over its evaluation
  batches; its earlier one, kept as ``explained_variance_legacy``, is
  ``1 − ‖x_i − h_i‖² / ‖x_i − μ‖²`` per example, averaged over examples
  (``μ`` the batch mean): a mean of ratios, not a ratio of means, which
  weighs examples close to the mean more.  dictionary_learning reports a
  *fraction of variance explained* ``1 − Σ_j Var(x_j − h_j) / Σ_j Var(x_j)``
  with per-feature variances: its residual is centred, so a constant error
  in the reconstruction is not counted.  ``1 −`` FVU here equals
  dictionary_learning's number exactly when the mean residual is zero.
* **L0 and frequency.**  Both libraries count a unit active when it is
  nonzero (SAELens ``a > 0``, dictionary_learning ``a ≠ 0``), the same as
  ``τ = 0`` here for ReLU and TopK codes; SAELens calls ``ν_j`` the
  feature density (and plots ``log10 ν_j``).  Neither defines a threshold
  for sigmoid units: ``τ = ½`` is this study's choice.
* **Dead units.**  SAELens counts a feature dead when it has not fired for a
  window of training steps; dictionary_learning's evaluation reports the
  fraction of features *alive*, active on at least one example of its
  evaluation batch (its trainers also count the steps since each feature
  last fired); here a unit is dead when it is active on none of the
  examples given, so the number depends on the data set it is measured on.
* **Dense units.**  Neither library has a fixed definition; ``δ = 0.1`` (a
  unit active on more than a tenth of the examples) is this study's, stated
  with every number.
"""

from __future__ import annotations

import numpy as np

from ..core._validation import check_real

__all__ = [
    "DENSE_FRACTION",
    "SIGMOID_THRESHOLD",
    "activation_frequency",
    "activity_threshold",
    "dead_units",
    "dense_units",
    "fraction_of_variance_unexplained",
    "l0",
    "mean_l1_norm",
    "sae_measures",
]

SIGMOID_THRESHOLD = 0.5
"""``τ`` for sigmoid units: ``σ(z) > ½`` exactly when the pre-activation ``z > 0``."""

DENSE_FRACTION = 0.1
"""``δ``: a unit active on more than this fraction of the examples is called dense."""


def _codes(A, parameter: str = "A") -> np.ndarray:
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{parameter} must be a non-empty 2-D array (examples in rows); got shape {A.shape}")
    if not np.issubdtype(A.dtype, np.number) or not np.all(np.isfinite(A)):
        raise ValueError(f"{parameter} must hold finite numbers")
    return A


def _threshold(threshold) -> float:
    return check_real("threshold", threshold, low=0)


def activity_threshold(activation: str) -> float:
    """The threshold ``τ`` above which a unit of the given transfer function is active.

    Parameters
    ----------
    activation : str
        ``"relu"`` or ``"top_k"`` (``τ = 0``), or ``"sigmoid"``
        (``τ`` = :data:`SIGMOID_THRESHOLD`).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For a transfer function whose values can be negative (``"linear"``,
        the Taylor polynomials): activity is not defined for them here.
    """
    thresholds = {"relu": 0.0, "top_k": 0.0, "sigmoid": SIGMOID_THRESHOLD}
    try:
        return thresholds[activation]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation={activation!r} has no activity threshold: the measures are defined for "
            f"units that are never negative, one of {sorted(thresholds)}"
        ) from None


def fraction_of_variance_unexplained(X, H) -> float:
    """FVU ``= Σ_i ‖x_i − h_i‖² / Σ_i ‖x_i − μ‖²``, with ``μ`` the mean of the rows of ``X``.

    0 for a perfect reconstruction, 1 for one that always predicts ``μ``.

    Parameters
    ----------
    X, H : ndarray of shape (m, n)
        Data and reconstructions.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes differ, or ``X`` has no variance (every row the same).
    """
    X, H = _codes(X, "X"), _codes(H, "H")
    if X.shape != H.shape:
        raise ValueError(f"X and H must have the same shape; got {X.shape} and {H.shape}")
    total = float(np.sum((X - X.mean(axis=0)) ** 2))
    if total == 0:
        raise ValueError("X has zero variance (every example is the same): the FVU is undefined")
    return float(np.sum((X - H) ** 2)) / total


def activation_frequency(A, threshold: float = 0.0) -> np.ndarray:
    """``ν_j``: the fraction of examples on which unit ``j`` is active (``a_ij > threshold``).

    Parameters
    ----------
    A : ndarray of shape (m, p)
        Hidden activations.
    threshold : float, default 0.0
        ``τ ≥ 0``; see :func:`activity_threshold`.

    Returns
    -------
    ndarray of shape (p,)
    """
    A, threshold = _codes(A), _threshold(threshold)
    return np.count_nonzero(A > threshold, axis=0) / A.shape[0]


def l0(A, threshold: float = 0.0) -> float:
    """L0: the mean number of active units per example, ``(1/m) Σ_i #{j : a_ij > τ}``.

    Parameters
    ----------
    A : ndarray of shape (m, p)
    threshold : float, default 0.0

    Returns
    -------
    float
        Between 0 and ``p``; equal to ``Σ_j ν_j``.
    """
    A, threshold = _codes(A), _threshold(threshold)
    return np.count_nonzero(A > threshold) / A.shape[0]


def dead_units(A, threshold: float = 0.0) -> np.ndarray:
    """The units active on no example (``ν_j = 0``).

    Parameters
    ----------
    A : ndarray of shape (m, p)
    threshold : float, default 0.0

    Returns
    -------
    ndarray of bool, shape (p,)
    """
    return activation_frequency(A, threshold) == 0


def dense_units(A, threshold: float = 0.0, fraction: float = DENSE_FRACTION) -> np.ndarray:
    """The units active on more than ``fraction`` of the examples (``ν_j > δ``).

    Parameters
    ----------
    A : ndarray of shape (m, p)
    threshold : float, default 0.0
    fraction : float, default DENSE_FRACTION
        ``δ`` in [0, 1).

    Returns
    -------
    ndarray of bool, shape (p,)
    """
    fraction = check_real("fraction", fraction, low=0, high=1, high_open=True)
    return activation_frequency(A, threshold) > fraction


def mean_l1_norm(A) -> float:
    """``(1/m) Σ_i ‖a_i‖₁``, the L1 sparsity penalty of the dictionary-learning literature.

    For a code that is never negative it is ``Σ_j ρ̂_j``, which the ``l1``
    penalty at ``ρ = 0`` approximates within ``ε`` per unit
    (:mod:`autoencoder.core.sparsity`).

    Parameters
    ----------
    A : ndarray of shape (m, p)

    Returns
    -------
    float
    """
    A = _codes(A)
    return float(np.sum(np.abs(A))) / A.shape[0]


def sae_measures(model, params, X, *, threshold: float | None = None, fraction: float = DENSE_FRACTION) -> dict:
    """Every measure of this module for a trained model on ``X``.

    Parameters
    ----------
    model : Autoencoder
    params : Params
    X : array_like of shape (m, n)
    threshold : float, optional
        ``τ``; default :func:`activity_threshold` of the model's hidden units.
    fraction : float, default DENSE_FRACTION
        ``δ`` of the dense units.

    Returns
    -------
    dict
        ``fvu``, ``l0``, ``mean_l1_norm``, ``dead`` and ``dense`` (counts of
        units), ``frequency`` (ndarray of shape (p,)), and the ``threshold``
        and ``fraction`` used.
    """
    if threshold is None:
        threshold = activity_threshold(model.f.name)
    threshold = _threshold(threshold)
    fraction = check_real("fraction", fraction, low=0, high=1, high_open=True)
    A = model.encode(params, X)
    H = model.reconstruct(params, X)
    frequency = activation_frequency(A, threshold)
    return {
        "fvu": fraction_of_variance_unexplained(X, H),
        "l0": l0(A, threshold),
        "mean_l1_norm": mean_l1_norm(A),
        "dead": int(np.count_nonzero(frequency == 0)),
        "dense": int(np.count_nonzero(frequency > fraction)),
        "frequency": frequency,
        "threshold": threshold,
        "fraction": fraction,
    }
