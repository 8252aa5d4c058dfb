"""The measures of a trained autoencoder that the chapters report.

Reconstruction (:func:`reconstruction_mse`, :func:`fraction_of_variance_unexplained`),
the sparsity of the code (:func:`near_silent_fraction`, :func:`l0`,
:func:`activation_frequency`, dead and dense units, :func:`mean_l1_norm`),
the features (:func:`effective_area`, :func:`localized_fraction`), and the
summaries that gather them for one network (:func:`summarize`,
:func:`network_metrics`, :func:`sae_measures`).  Every summary is built from
one :class:`Evaluation`, a single forward pass of the network over the data
(:func:`evaluate`), and each key means the same in all of them.  NumPy
only; the figures that show them are in :mod:`autoencoder.book`.

The measures of a sparse code follow the sparse-autoencoder literature, with this study's conventions.

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

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..core._validation import check_int, check_real
from ..core.activations import ACTIVATIONS, Activation, top_k
from ..core.model import Autoencoder
from ..core.objective import hidden, output
from ..core.params import Params
from ..core.pca import PCAResult, principal_angles

__all__ = [
    "DENSE_FRACTION",
    "Evaluation",
    "SIGMOID_THRESHOLD",
    "activation_frequency",
    "activity_threshold",
    "dead_units",
    "dense_units",
    "fraction_of_variance_unexplained",
    "l0",
    "mean_l1_norm",
    "sae_measures",
    "SILENT_THRESHOLD",
    "reconstruction_mse",
    "near_silent_fraction",
    "summarize",
    "summary_of",
    "LOCALIZED_AREA",
    "effective_area",
    "evaluate",
    "localized_fraction",
    "network_metrics",
]

SIGMOID_THRESHOLD = ACTIVATIONS["sigmoid"].active_above
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


def activity_threshold(activation: Activation | str) -> float:
    """The threshold ``τ`` above which a unit of the given transfer function is active.

    Read from the transfer function itself
    (:attr:`autoencoder.core.activations.Activation.active_above`).

    Parameters
    ----------
    activation : Activation or str
        A transfer function (a model's ``f``), or the name of one:
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
    named = {**ACTIVATIONS, "top_k": top_k(1)}
    if isinstance(activation, str):
        if activation not in named:
            raise ValueError(f"activation={activation!r} is not a transfer function; use one of {sorted(named)}")
        activation = named[activation]
    if activation.active_above is None:
        active = sorted(name for name, a in named.items() if a.active_above is not None)
        raise ValueError(
            f"activation={activation.name!r} has no activity threshold: the measures are defined for "
            f"units that are never negative, one of {active}"
        )
    return activation.active_above


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


@dataclass(frozen=True, eq=False)
class Evaluation:
    """One forward pass of a trained network over data: what every summary of this module is built from.

    Attributes
    ----------
    model : Autoencoder
    params : Params
    X : ndarray of shape (m, n)
        The data, checked.
    Z : ndarray of shape (m, p)
        Hidden pre-activations ``X W1ᵀ + b1``.
    A : ndarray of shape (m, p)
        Hidden activations ``f(Z)``, the code (:meth:`Autoencoder.encode`).
    H : ndarray of shape (m, n)
        Reconstructions ``g(A W2ᵀ + b2)`` (:meth:`Autoencoder.reconstruct`).
    """

    model: Autoencoder
    params: Params
    X: np.ndarray
    Z: np.ndarray
    A: np.ndarray
    H: np.ndarray

    @cached_property
    def rho_hat(self) -> np.ndarray:
        """``ρ̂``: each unit's mean activation, shape (p,)."""
        return self.A.mean(axis=0)

    @cached_property
    def terms(self) -> dict[str, float]:
        """The terms of ``J`` on the data, as :meth:`Autoencoder.loss_terms` gives them."""
        return self.model.objective.terms_of(self.params, self.X, self.A, self.H)


def evaluate(model: Autoencoder, params: Params, X) -> Evaluation:
    """The one forward pass of ``model`` at ``params`` over ``X`` (data and parameters checked here).

    The code and the reconstructions are those of :meth:`Autoencoder.encode`
    and :meth:`Autoencoder.reconstruct`, bit for bit.

    Raises
    ------
    ValueError
        As :meth:`Autoencoder.loss_terms` for bad data or parameters.
    """
    X = model._check_X(X)
    params = model._check_params(params, X)
    Z, A = hidden(model.f, params, X)
    return Evaluation(model, params, X, Z, A, output(model.g, params, A)[1])


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
        threshold = activity_threshold(model.f)
    threshold = _threshold(threshold)
    fraction = check_real("fraction", fraction, low=0, high=1, high_open=True)
    run = evaluate(model, params, X)
    A = run.A
    frequency = activation_frequency(A, threshold)
    return {
        "fvu": fraction_of_variance_unexplained(run.X, run.H),
        "l0": l0(A, threshold),
        "mean_l1_norm": mean_l1_norm(A),
        "dead": int(np.count_nonzero(frequency == 0)),
        "dense": int(np.count_nonzero(frequency > fraction)),
        "frequency": frequency,
        "threshold": threshold,
        "fraction": fraction,
    }


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
    return summary_of(evaluate(model, params, X))


def summary_of(run: Evaluation) -> dict[str, float]:
    """:func:`summarize` of a forward pass already made."""
    return {
        "mean_activation": float(run.A.mean()),
        "near_silent": near_silent_fraction(run.A),
        "reconstruction_mse": reconstruction_mse(run.X, run.H),
        "objective": run.terms["total"],
    }


LOCALIZED_AREA = 0.1
"""A feature whose effective area is below this fraction of the image is called localized."""


def effective_area(W) -> np.ndarray:
    """The number of pixels each feature effectively uses (its participation ratio).

    For a row ``w`` this is ``(Σ w_i²)² / Σ w_i⁴``: it equals ``k`` for a
    feature spread evenly over ``k`` pixels (with any signs) and is small for
    a feature concentrated on a few pixels, such as a pen stroke.

    Parameters
    ----------
    W : ndarray of shape (k, n)
        One feature per row.

    Returns
    -------
    ndarray of shape (k,)
        Values in ``[1, n]``; a row of zeros gets 0.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D array with one feature per row; got shape {W.shape}")
    energy = np.sum(W**2, axis=1)
    fourth = np.sum(W**4, axis=1)
    return np.divide(energy**2, fourth, out=np.zeros_like(energy), where=fourth > 0)


def localized_fraction(W, threshold: float = LOCALIZED_AREA) -> float:
    """Fraction of features whose :func:`effective_area` is below ``threshold`` of the image.

    Parameters
    ----------
    W : ndarray of shape (k, n)
        One feature per row.
    threshold : float, default LOCALIZED_AREA
        Fraction of the ``n`` pixels, in (0, 1].
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must lie in (0, 1]; got {threshold!r}")
    W = np.asarray(W, dtype=np.float64)
    return float(np.mean(effective_area(W) < threshold * W.shape[1]))


def network_metrics(model: Autoencoder, params: Params, X, reference: PCAResult | None = None) -> dict[str, float]:
    """The numbers the chapters compare for one trained network.

    Parameters
    ----------
    model : Autoencoder
    params : Params
    X : ndarray of shape (m, n)
        The data the numbers are measured on.
    reference : PCAResult, optional
        When given, also measure the principal angles between the decoder's
        column space (the rows of ``W2ᵀ``, where every reconstruction lies up to
        the bias) and the span of ``reference.components``.

    Returns
    -------
    dict
        ``mean_activation`` (mean of ``ρ̂``), ``rho_hat_min`` and
        ``rho_hat_max`` (extremes of ``ρ̂_j``), ``rho_hat_deviation``
        (``max_j |ρ̂_j − ρ|``), ``near_silent`` (fraction of units with mean
        absolute activation below 0.01), ``reconstruction_mse`` (mean
        ``‖x − h‖²``), ``sparsity_term`` (``β Σ φ(ρ̂_j)``) and ``finite`` (1.0
        when every reconstruction is finite, else 0.0); with ``reference``
        also ``angle_median`` and ``angle_max`` (degrees) and
        ``mean_squared_cosine`` (mean ``cos²`` of the angles,
        ``‖P_W P_PCA‖²_F / p``: the share of the PCA subspace's dimensions
        that the decoder spans, every direction counted alike whatever its
        variance, so not a fraction of the variance).
    """
    run = evaluate(model, params, X)
    A, H, rho_hat = run.A, run.H, run.rho_hat
    finite = bool(np.isfinite(H).all() and np.isfinite(A).all())
    with np.errstate(over="ignore", invalid="ignore"):
        sparsity = model.effective_beta * float(np.sum(model.penalty.value(rho_hat, model.rho)))
        out = {
            "mean_activation": float(rho_hat.mean()),
            "rho_hat_min": float(rho_hat.min()),
            "rho_hat_max": float(rho_hat.max()),
            "rho_hat_deviation": float(np.max(np.abs(rho_hat - model.rho))),
            "near_silent": near_silent_fraction(A),
            "reconstruction_mse": reconstruction_mse(run.X, H) if finite else math.inf,
            "sparsity_term": sparsity,
            "finite": float(finite),
        }
    if reference is not None:
        angles = principal_angles(params.W2.T, reference.components)
        out["angle_median"] = float(np.degrees(np.median(angles)))
        out["angle_max"] = float(np.degrees(angles.max()))
        out["mean_squared_cosine"] = float(np.mean(np.cos(angles) ** 2))
    return out


def random_digit_span(X, k: int, seed: int = 0) -> np.ndarray:
    """A baseline for "close to PCA": ``k`` training examples drawn at random, centred.

    The span of ``k`` random centred examples is where the data's variance
    lies too, so it is already close to the span of the top ``k`` principal
    components; a learned subspace is "close to PCA" only by comparison
    with it.

    Parameters
    ----------
    X : array_like of shape (m, n)
    k : int
        Examples drawn, between 1 and ``m``, without replacement.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    ndarray of shape (k, n)
        The drawn examples less the mean of ``X``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (examples in rows); got shape {X.shape}")
    if not 1 <= k <= X.shape[0]:
        raise ValueError(f"k must be an integer in [1, {X.shape[0]}] (the examples of X); got {k!r}")
    rows = np.random.default_rng(seed).choice(X.shape[0], size=k, replace=False)
    return X[np.sort(rows)] - X.mean(axis=0)


def span_reconstruction_mse(X, basis) -> float:
    """Mean ``‖x − x̂‖²`` of ``X`` projected onto its mean plus the span of the rows of ``basis``.

    The best any affine reconstruction inside that subspace can do: for the
    top ``k`` principal components it is PCA's error (Eckart–Young).

    Parameters
    ----------
    X : array_like of shape (m, n)
    basis : array_like of shape (k, n)
        Rows spanning the subspace (any basis, not necessarily orthonormal).

    Returns
    -------
    float
    """
    X = np.asarray(X, dtype=np.float64)
    centred = X - X.mean(axis=0)
    Q, _ = np.linalg.qr(np.asarray(basis, dtype=np.float64).T)
    residual = centred - (centred @ Q) @ Q.T
    return float(np.mean(np.sum(residual**2, axis=1)))


def random_subspace(n: int, k: int, seed: int = 0) -> np.ndarray:
    """A baseline for "close to PCA" that knows nothing of the data: a uniformly random subspace.

    The column space of an ``n × k`` matrix of independent standard normal
    entries is distributed uniformly over the ``k``-dimensional subspaces of
    ``Rⁿ`` (the distribution is invariant under rotations), and QR gives an
    orthonormal basis of it.  Its principal angles with any fixed
    ``k``-dimensional subspace follow, for large ``n`` with ``k/n`` fixed,
    Wachter's law for ``cos² θ``; their mean ``cos² θ`` is ``k/n`` in
    expectation.  For ``k = 196``, ``n = 784`` the median angle is about 64°.

    Parameters
    ----------
    n : int
        Dimension of the space, at least 1.
    k : int
        Dimension of the subspace, between 1 and ``n``.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    ndarray of shape (k, n)
        Orthonormal rows spanning the subspace.
    """
    n = check_int("n", n, 1)
    k = check_int("k", k, 1, n)
    basis, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, k)))
    return basis.T
