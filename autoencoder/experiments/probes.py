"""Self-taught learning: UFLDL's split of MNIST, the features of a representation, a softmax probe.

UFLDL's self-taught learning exercise (``stlExercise.m``) measures what
features learned without labels are worth for classification:

1. the MNIST training images of the digits 5–9 are the *unlabeled* set, on
   which the autoencoder is trained;
2. the training images of the digits 0–4, in file order, are the *labeled*
   set; its first half (``round(30596 / 2) = 15298`` images) trains a softmax
   classifier on the features, its second half (the other 15,298) tests it.

Each probe is a scikit-learn :class:`~sklearn.pipeline.Pipeline`
(:func:`probe_pipeline`): the representation's transformer, frozen (a trained
:class:`~autoencoder.experiments.estimator.SparseAutoencoder`, the PCA
coordinates or the pixels), then the features in float64, then scikit-learn's
multinomial :class:`~sklearn.linear_model.LogisticRegression`.  UFLDL's softmax minimizes

.. math::

    \\frac1m \\sum_i -\\log p(y_i \\mid x_i) + \\frac{\\lambda}{2} \\lVert \\theta \\rVert^2,
    \\qquad \\lambda = 10^{-4},

and scikit-learn minimizes ``C Σ_i −log p(y_i | x_i) + ½‖W‖²``; dividing by
``C m`` shows the two agree when ``C = 1 / (λ m)`` (:func:`softmax_c`).  Two
differences remain: scikit-learn fits an intercept per class, which is not
penalized, where UFLDL's ``θ`` has none; and the optimum is found here to a
tolerance (:data:`PROBE_TOL`), where UFLDL stops after 100 iterations of
minFunc.  For ``λ > 0`` the objective is strictly convex in the weights (the
intercepts are fixed up to a common shift, which changes no prediction), so
the probe's answer is that of its one optimum, not a property of the
optimizer.  The features are used as they come, not standardized, as in UFLDL.

Comparing representations asks more of the probe than the exercise does
(:func:`probe_representations`): the weight decay is tuned for each
representation on a validation split drawn from the probe's training images
(:func:`validation_split`, :func:`tune_softmax`), never on the test images;
few-label probes are repeated on several random subsets of labels
(:func:`label_subsets`, :func:`subset_difference`); and two probes tested on
the same images are compared by McNemar's exact test on the images where
exactly one of them is right (:func:`mcnemar_exact`).

Everything here is a pure function of its arguments; the probe runs with one
BLAS and one OpenMP thread, so that a rerun gives the same bits.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np
from scipy.stats import binomtest
from sklearn.base import TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from ..core._validation import check_int, check_real
from ..core.model import Autoencoder
from ..core.params import Params
from ..core.pca import PCAResult
from .estimator import SparseAutoencoder
from .measures import reconstruction_mse

__all__ = [
    "LABELED_DIGITS",
    "UNLABELED_DIGITS",
    "UFLDL_ACCURACY",
    "UFLDL_SOFTMAX_WEIGHT_DECAY",
    "PROBE_MAX_ITER",
    "PROBE_TOL",
    "PROBE_WEIGHT_DECAYS",
    "VALIDATION_FRACTION",
    "SelfTaughtSplit",
    "self_taught_split",
    "validation_split",
    "label_subsets",
    "check_labels_per_class",
    "Representation",
    "pixels",
    "pca_representation",
    "autoencoder_representation",
    "random_representation",
    "preactivation_sd",
    "softmax_c",
    "softmax_classifier",
    "probe_pipeline",
    "ProbeResult",
    "softmax_probe",
    "TunedProbe",
    "tune_softmax",
    "probe_representations",
    "McNemar",
    "mcnemar_exact",
    "subset_summary",
    "subset_difference",
]

UNLABELED_DIGITS = (5, 6, 7, 8, 9)
"""The digits whose training images are the unlabeled set."""
LABELED_DIGITS = (0, 1, 2, 3, 4)
"""The digits whose training images are the labeled set (the classes of the probe)."""
UFLDL_SOFTMAX_WEIGHT_DECAY = 1e-4
"""``λ`` of UFLDL's softmax classifier in the exercise."""
UFLDL_ACCURACY = 0.983
"""The test accuracy ``stlExercise.m`` reports for its implementation (200 hidden units)."""
PROBE_MAX_ITER = 2000
"""Most L-BFGS iterations of the probe; it stops earlier when the gradient is below :data:`PROBE_TOL`."""
PROBE_TOL = 1e-6
"""Gradient tolerance of the probe's L-BFGS (scikit-learn's ``tol``, on the mean log-loss plus penalty)."""
PROBE_WEIGHT_DECAYS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
"""The grid of the softmax's ``λ`` tuned on the validation split, strongest first (UFLDL's ``10⁻⁴`` in it)."""
VALIDATION_FRACTION = 0.2
"""Share of the probe's training images held out to tune ``λ`` (:func:`validation_split`)."""


# -- the split --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SelfTaughtSplit:
    """Indices into the MNIST training set, each increasing (file order).

    Attributes
    ----------
    unlabeled : ndarray of shape (n_unlabeled,)
        The first ``n_unlabeled`` images of the digits 5–9: the autoencoders' training set.
    train : ndarray of shape (ceil(n_labeled / 2),)
        The first half of the first ``n_labeled`` images of the digits 0–4: the probe's training set.
    test : ndarray of shape (floor(n_labeled / 2),)
        The second half: the probe's test set.
    """

    unlabeled: np.ndarray
    train: np.ndarray
    test: np.ndarray


def _check_labels(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D array of integers; got shape {labels.shape} and dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"labels must be digits 0 to 9; got values in [{labels.min()}, {labels.max()}]")
    return labels


def self_taught_split(labels, *, n_unlabeled: int | None = None, n_labeled: int | None = None) -> SelfTaughtSplit:
    """UFLDL's split of the MNIST training set into unlabeled, probe-training and probe-test images.

    Parameters
    ----------
    labels : array_like of int, shape (m,)
        The labels of the MNIST training images in file order (``load_mnist("train")[1]``).
    n_unlabeled : int, optional
        Keep the first ``n_unlabeled`` images of the digits 5–9 (all by default, 29,404 in MNIST).
    n_labeled : int, optional
        Keep the first ``n_labeled`` images of the digits 0–4 (all by default, 30,596 in MNIST);
        at least 2.

    Returns
    -------
    SelfTaughtSplit
        ``train`` is the first ``ceil(n_labeled / 2)`` labeled images (MATLAB's ``round`` of
        ``n_labeled / 2``, as in ``stlExercise.m``), ``test`` the rest.

    Raises
    ------
    ValueError
        If a count is out of range, or the training half lacks one of the digits 0–4.
    """
    labels = _check_labels(labels)
    unlabeled = np.flatnonzero(np.isin(labels, UNLABELED_DIGITS))
    labeled = np.flatnonzero(np.isin(labels, LABELED_DIGITS))
    n_unlabeled = len(unlabeled) if n_unlabeled is None else check_int("n_unlabeled", n_unlabeled, 1, len(unlabeled))
    if len(labeled) < 2:
        raise ValueError(f"labels hold {len(labeled)} images of the digits 0-4; the split needs at least 2")
    n_labeled = len(labeled) if n_labeled is None else check_int("n_labeled", n_labeled, 2, len(labeled))
    n_train = (n_labeled + 1) // 2
    train, test = labeled[:n_train], labeled[n_train:n_labeled]
    missing = sorted(set(LABELED_DIGITS) - set(labels[train].tolist()))
    if missing:
        raise ValueError(
            f"n_labeled = {n_labeled} leaves the digits {missing} out of the probe's training half "
            f"({n_train} images); use a larger n_labeled"
        )
    return SelfTaughtSplit(unlabeled[:n_unlabeled], train, test)


def check_labels_per_class(labels_per_class: Sequence[int], labels) -> list[int]:
    """Refuse a number of labeled images per class that some class does not have.

    Parameters
    ----------
    labels_per_class : sequence of int
    labels : array_like of int, shape (m,)
        The labels of the images the subsets are drawn from (the probe's training images outside
        the validation split).

    Returns
    -------
    list of int
        ``labels_per_class`` unchanged.

    Raises
    ------
    ValueError
        Naming ``labels_per_class``, the class with the fewest examples and how many it has.
    """
    labels = _check_labels(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if not len(classes):
        raise ValueError("labels must not be empty")
    fewest = int(counts.min())
    for index, k in enumerate(labels_per_class):
        k = check_int(f"labels_per_class[{index}]", k, 1)
        if k > fewest:
            digit = int(classes[np.argmin(counts)])
            raise ValueError(
                f"labels_per_class[{index}] must be at most {fewest}, the number of images of digit {digit} "
                f"in the images the subsets are drawn from; got {k}"
            )
    return list(labels_per_class)


def validation_split(labels, *, fraction: float = VALIDATION_FRACTION, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hold out a random share of the probe's training images, per class, to tune the probe on.

    Parameters
    ----------
    labels : array_like of int, shape (m,)
        The labels of the probe's training images.
    fraction : float, default VALIDATION_FRACTION
        Share of each class held out, rounded (at least one image and at most all but one of it).
    seed : int, default 0

    Returns
    -------
    fit, validation : ndarray
        Increasing positions into ``labels``, disjoint, together all of them.

    Raises
    ------
    ValueError
        If ``fraction`` is not in (0, 1), or a class has fewer than 2 images.
    """
    labels = _check_labels(labels)
    fraction = check_real("fraction", fraction, low=0, high=1, low_open=True, high_open=True)
    seed = check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < 2:
            raise ValueError(f"digit {int(c)} has {len(members)} image; the validation split needs at least 2 of each")
        n_held = min(max(1, round(fraction * len(members))), len(members) - 1)
        held.append(rng.choice(members, n_held, replace=False))
    validation = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(labels)), validation), validation


def label_subsets(labels, labels_per_class: int, n_subsets: int, *, seed: int = 0) -> list[np.ndarray]:
    """Random subsets of ``labels_per_class`` examples of each class, one per draw.

    Parameters
    ----------
    labels : array_like of int, shape (m,)
    labels_per_class : int
    n_subsets : int
    seed : int, default 0
        Draw ``i`` comes from ``default_rng([seed, labels_per_class, i])``: the same subsets for every
        representation, so that the probes on them are paired.

    Returns
    -------
    list of ndarray
        ``n_subsets`` arrays of increasing positions into ``labels``.

    Raises
    ------
    ValueError
        If a class has fewer than ``labels_per_class`` examples (:func:`check_labels_per_class`).
    """
    labels = _check_labels(labels)
    (labels_per_class,) = check_labels_per_class([labels_per_class], labels)
    n_subsets = check_int("n_subsets", n_subsets, 1)
    seed = check_int("seed", seed, 0)
    members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    subsets = []
    for i in range(n_subsets):
        rng = np.random.default_rng([seed, labels_per_class, i])
        subsets.append(np.sort(np.concatenate([rng.choice(m, labels_per_class, replace=False) for m in members])))
    return subsets


# -- the representations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Representation:
    """A way of turning images into the features the probe sees.

    Attributes
    ----------
    label : str
    transformer : TransformerMixin
        A fitted scikit-learn transformer: ``transform(X)`` with ``X`` of
        shape (m, n) gives the features, shape (m, k), and
        ``inverse_transform`` of them the images rebuilt.
    reconstructs : bool, default True
        Whether ``inverse_transform`` is a trained decoder (False for an
        untrained network, whose decoder is as random as its encoder).
    """

    label: str
    transformer: TransformerMixin
    reconstructs: bool = True

    def features(self, X) -> np.ndarray:
        """The features of ``X`` in float64, shape (m, k)."""
        return np.asarray(self.transformer.transform(X), dtype=np.float64)

    def reconstruct(self, X) -> np.ndarray | None:
        """``X`` rebuilt from its features, shape (m, n); None without a trained decoder."""
        if not self.reconstructs:
            return None
        return self.transformer.inverse_transform(self.transformer.transform(X))


def _identity(X) -> np.ndarray:
    return np.array(X, dtype=np.float64)


def pixels(label: str = "raw pixels") -> Representation:
    """The images themselves: 784 features, reconstructed exactly."""
    return Representation(label, FunctionTransformer(_identity, inverse_func=_identity, check_inverse=False))


def _from_coordinates(result: PCAResult, Z) -> np.ndarray:
    """The images of PCA coordinates ``Z``: ``Z V + x̄``, shape (m, n)."""
    return Z @ result.components + result.mean


def pca_representation(result: PCAResult, label: str | None = None) -> Representation:
    """The coordinates on the principal components, ``(x − x̄) Vᵀ``: ``k`` features.

    Parameters
    ----------
    result : PCAResult
        Components fitted on the unlabeled images.
    label : str, optional
        Default ``"PCA, k components"``.
    """
    transformer = FunctionTransformer(
        result.transform, inverse_func=partial(_from_coordinates, result), check_inverse=False
    )
    return Representation(label or f"PCA, {result.n_components} components", transformer)


def autoencoder_representation(label: str, model: Autoencoder, params: Params) -> Representation:
    """The hidden activations ``f(W1 x + b1)`` of a trained network: ``p`` features.

    For a linear network ``f`` is the identity, so the features are ``W1 x + b1``.  The
    transformer is :meth:`SparseAutoencoder.from_fit` of the network: it computes in the
    images' dtype (float32 images, float32 features).
    """
    return Representation(label, SparseAutoencoder.from_fit(model, params))


def random_representation(
    label: str, model: Autoencoder, n_visible: int, seed: int, *, scale: float = 1.0
) -> Representation:
    """The hidden activations of an untrained network: its initial weights, a random projection.

    Parameters
    ----------
    label : str
    model : Autoencoder
    n_visible : int
        Input dimension ``n``.
    seed : int
        Seed of :meth:`Autoencoder.init_params` (UFLDL's initialization, biases zero).
    scale : float, default 1.0
        Factor on the initial encoder weights ``W1``.  At UFLDL's scale the pre-activations of
        MNIST images spread by a fraction of a unit, where the sigmoid is nearly linear; a
        larger factor spreads them over several units, where it is not (:func:`preactivation_sd`).

    Returns
    -------
    Representation
        Without a reconstruction: the decoder is as random as the encoder.
    """
    scale = check_real("scale", scale, low=0, low_open=True)
    params = model.init_params(n_visible, seed=seed)
    params.W1[...] *= scale
    return Representation(label, SparseAutoencoder.from_fit(model, params), reconstructs=False)


def preactivation_sd(representation: Representation, X) -> float:
    """Standard deviation of the pre-activations ``W1 x + b1`` of a network's units over images ``X``.

    Parameters
    ----------
    representation : Representation
        Of a network (:func:`autoencoder_representation`, :func:`random_representation`).
    X : array_like of shape (m, n)

    Returns
    -------
    float
        Over all images and units; a sigmoid is nearly linear where it is well below 1.
    """
    params = representation.transformer.params_
    Z = np.asarray(X, dtype=np.float64) @ np.asarray(params.W1, dtype=np.float64).T + params.b1
    return float(np.std(Z))


# -- the probe -------------------------------------------------------------------------------------


def softmax_c(weight_decay: float, m: int) -> float:
    """scikit-learn's ``C`` for UFLDL's softmax weight decay ``λ`` on ``m`` training examples.

    Parameters
    ----------
    weight_decay : float
        ``λ ≥ 0`` of ``(1/m) Σ −log p + (λ/2)‖θ‖²``.
    m : int
        Number of training examples.

    Returns
    -------
    float
        ``1 / (λ m)``; ``inf`` (no penalty) for ``λ = 0``.
    """
    weight_decay = check_real("weight_decay", weight_decay, low=0)
    m = check_int("m", m, 1)
    return math.inf if weight_decay == 0 else 1.0 / (weight_decay * m)


def softmax_classifier(
    weight_decay: float, m: int, *, max_iter: int = PROBE_MAX_ITER, tol: float = PROBE_TOL
) -> LogisticRegression:
    """UFLDL's softmax classifier as scikit-learn's multinomial logistic regression, for ``m`` examples.

    Parameters
    ----------
    weight_decay : float
        UFLDL's ``λ``; the classifier gets ``C = softmax_c(weight_decay, m)``.
    m : int
        Number of training examples.
    max_iter : int, default PROBE_MAX_ITER
    tol : float, default PROBE_TOL

    Returns
    -------
    LogisticRegression
        Unfitted; L-BFGS, an intercept per class, no L1 part.
    """
    max_iter = check_int("max_iter", max_iter, 1)
    tol = check_real("tol", tol, low=0, low_open=True)
    return LogisticRegression(C=softmax_c(weight_decay, m), l1_ratio=0.0, solver="lbfgs", max_iter=max_iter, tol=tol)


def _as_float64(F) -> np.ndarray:
    return np.asarray(F, dtype=np.float64)


def probe_pipeline(
    representation: Representation,
    m: int,
    *,
    weight_decay: float = UFLDL_SOFTMAX_WEIGHT_DECAY,
    max_iter: int = PROBE_MAX_ITER,
    tol: float = PROBE_TOL,
) -> Pipeline:
    """The probe of a representation as a scikit-learn pipeline, to be fitted on ``m`` labeled images.

    Parameters
    ----------
    representation : Representation
    m : int
        Number of training images (``C`` depends on it, :func:`softmax_c`).
    weight_decay, max_iter, tol
        As for :func:`softmax_classifier`.

    Returns
    -------
    Pipeline
        ``features``: the representation's transformer, frozen
        (:class:`~sklearn.frozen.FrozenEstimator`: it was trained on the
        unlabeled images, and fitting the probe leaves it as it is);
        ``float64``: the features in float64, whatever the images' dtype;
        ``softmax``: :func:`softmax_classifier`.
    """
    return Pipeline(
        [
            ("features", FrozenEstimator(representation.transformer)),
            ("float64", FunctionTransformer(_as_float64)),
            ("softmax", softmax_classifier(weight_decay, m, max_iter=max_iter, tol=tol)),
        ]
    )


@dataclass(frozen=True)
class ProbeResult:
    """What :func:`softmax_probe` measured.

    Attributes
    ----------
    accuracy : float
        Fraction of test examples classified correctly.
    errors : int
        Test examples classified wrongly.
    train_accuracy : float
    n_train, n_test : int
    n_iter : int
        L-BFGS iterations.
    converged : bool
        Whether L-BFGS met :data:`PROBE_TOL` before ``max_iter``.
    C : float
        The ``C`` the classifier was fitted with.
    coef : ndarray of shape (n_classes, k)
        The weights ``W`` of the classifier.
    intercept : ndarray of shape (n_classes,)
        Its intercepts (not penalized).
    correct : ndarray of bool, shape (n_test,)
        Which test examples it classified correctly (for :func:`mcnemar_exact`).
    """

    accuracy: float
    errors: int
    train_accuracy: float
    n_train: int
    n_test: int
    n_iter: int
    converged: bool
    C: float
    coef: np.ndarray
    intercept: np.ndarray
    correct: np.ndarray


def _evaluate(probe: LogisticRegression | Pipeline, X_train, y_train, X_test, y_test) -> ProbeResult:
    """Measure a fitted ``probe`` (the classifier, or a pipeline ending in it) with one BLAS thread."""
    with threadpool_limits(limits=1):
        predicted = probe.predict(X_test)
        train_accuracy = float(np.mean(probe.predict(X_train) == y_train))
    classifier = probe[-1] if isinstance(probe, Pipeline) else probe
    n_iter = int(classifier.n_iter_.max())
    correct = predicted == y_test
    errors = int(np.sum(~correct))
    return ProbeResult(
        accuracy=1.0 - errors / len(y_test),
        errors=errors,
        train_accuracy=train_accuracy,
        n_train=len(y_train),
        n_test=len(y_test),
        n_iter=n_iter,
        converged=n_iter < classifier.max_iter,
        C=classifier.C,
        coef=classifier.coef_.copy(),
        intercept=classifier.intercept_.copy(),
        correct=correct,
    )


def _measure(probe: LogisticRegression | Pipeline, X_train, y_train, X_test, y_test) -> ProbeResult:
    """Fit ``probe`` (the classifier, or a pipeline ending in it) with one BLAS thread and measure it."""
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(X_train, y_train)
    return _evaluate(probe, X_train, y_train, X_test, y_test)


def softmax_probe(
    F_train,
    y_train,
    F_test,
    y_test,
    *,
    weight_decay: float = UFLDL_SOFTMAX_WEIGHT_DECAY,
    max_iter: int = PROBE_MAX_ITER,
    tol: float = PROBE_TOL,
) -> ProbeResult:
    """Fit a multinomial logistic regression on ``F_train`` and measure it on ``F_test``.

    Parameters
    ----------
    F_train : array_like of shape (m, k)
        Features of the training examples.
    y_train : array_like of int, shape (m,)
    F_test : array_like of shape (m_test, k)
    y_test : array_like of int, shape (m_test,)
    weight_decay : float, default UFLDL_SOFTMAX_WEIGHT_DECAY
        UFLDL's ``λ``; the classifier gets ``C = softmax_c(weight_decay, m)``.
    max_iter : int, default PROBE_MAX_ITER
    tol : float, default PROBE_TOL

    Returns
    -------
    ProbeResult
    """
    F_train, F_test = _as_float64(F_train), _as_float64(F_test)
    y_train, y_test = _check_labels(y_train), _check_labels(y_test)
    if F_train.ndim != 2 or F_train.shape[0] != len(y_train):
        raise ValueError(f"F_train must have one row per label ({len(y_train)}); got shape {F_train.shape}")
    if F_test.ndim != 2 or F_test.shape != (len(y_test), F_train.shape[1]):
        raise ValueError(f"F_test must have shape ({len(y_test)}, {F_train.shape[1]}); got {F_test.shape}")
    classifier = softmax_classifier(weight_decay, len(y_train), max_iter=max_iter, tol=tol)
    return _measure(classifier, F_train, y_train, F_test, y_test)


@dataclass(frozen=True)
class TunedProbe:
    """What :func:`tune_softmax` chose.

    Attributes
    ----------
    weight_decay : float
        The ``λ`` of the grid with the best validation accuracy (the strongest among ties).
    weight_decays : tuple of float
        The grid, strongest first.
    validation_accuracy : tuple of float
        The validation accuracy at each ``λ`` of the grid.
    classifier : LogisticRegression
        Fitted on the training examples with the chosen ``λ``, to the full tolerance.
    """

    weight_decay: float
    weight_decays: tuple
    validation_accuracy: tuple
    classifier: LogisticRegression


def _check_weight_decays(weight_decays) -> tuple:
    weight_decays = tuple(
        check_real(f"weight_decays[{i}]", w, low=0, low_open=True) for i, w in enumerate(weight_decays)
    )
    if not weight_decays:
        raise ValueError("weight_decays must not be empty")
    return tuple(sorted(set(weight_decays), reverse=True))


def tune_softmax(
    F_fit,
    y_fit,
    F_validation,
    y_validation,
    weight_decays: Sequence[float] = PROBE_WEIGHT_DECAYS,
    *,
    max_iter: int = PROBE_MAX_ITER,
    tol: float = PROBE_TOL,
    path_tol: float | None = None,
) -> TunedProbe:
    """Choose the softmax's ``λ`` on a validation split: the grid from the strongest, each fit warm-started.

    Parameters
    ----------
    F_fit : ndarray of shape (m, k)
        Features of the training examples, float64.
    y_fit : ndarray of int, shape (m,)
    F_validation : ndarray of shape (m_val, k)
    y_validation : ndarray of int, shape (m_val,)
    weight_decays : sequence of float, default PROBE_WEIGHT_DECAYS
        The grid of UFLDL's ``λ > 0``; each fit gets ``C = 1/(λ m)``.
    max_iter : int, default PROBE_MAX_ITER
    tol : float, default PROBE_TOL
        Tolerance of the chosen classifier.
    path_tol : float, optional
        Tolerance of the fits along the grid (default ``100 tol``); the chosen ``λ`` is then fitted
        again to ``tol``, warm-started.

    Returns
    -------
    TunedProbe
    """
    weight_decays = _check_weight_decays(weight_decays)
    path_tol = 100 * tol if path_tol is None else path_tol
    m = len(y_fit)
    classifier = softmax_classifier(weight_decays[0], m, max_iter=max_iter, tol=path_tol)
    classifier.warm_start = True
    scores, states = [], []
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for weight_decay in weight_decays:
            classifier.C = softmax_c(weight_decay, m)
            classifier.fit(F_fit, y_fit)
            scores.append(float(np.mean(classifier.predict(F_validation) == y_validation)))
            states.append((classifier.coef_.copy(), classifier.intercept_.copy()))
        best = int(np.argmax(scores))
        chosen = copy.deepcopy(classifier)
        chosen.coef_, chosen.intercept_ = states[best]
        chosen.C, chosen.tol = softmax_c(weight_decays[best], m), tol
        chosen.fit(F_fit, y_fit)
    return TunedProbe(weight_decays[best], weight_decays, tuple(scores), chosen)


_PROBE_NUMBERS = ("accuracy", "errors", "train_accuracy", "n_train", "n_test", "n_iter", "converged", "C", "correct")


def probe_representations(
    representations: Sequence[Representation],
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    labels_per_class: Sequence[int | None] = (None,),
    n_subsets: int = 5,
    weight_decays: Sequence[float] = PROBE_WEIGHT_DECAYS,
    validation_fraction: float = VALIDATION_FRACTION,
    seed: int = 0,
    max_iter: int = PROBE_MAX_ITER,
    tol: float = PROBE_TOL,
) -> list[dict]:
    """Probe every representation with its weight decay tuned on a validation split, with all or few labels.

    The probe's training images are split once (:func:`validation_split`) into a fit part and a
    validation part; the test images are never used to choose anything.

    * ``labels_per_class`` None: ``λ`` is chosen on the fit part (:func:`tune_softmax`), and the
      probe is fitted again with it on all the training images (fit and validation), warm-started.
    * an integer ``k``: ``n_subsets`` random subsets of ``k`` images of each digit are drawn from the
      fit part (:func:`label_subsets`, the same for every representation); on each, ``λ`` is chosen
      on the validation part and the probe so fitted is tested.

    Parameters
    ----------
    representations : sequence of Representation
    X_train : ndarray of shape (m, n)
        The probe's training images.
    y_train : ndarray of int, shape (m,)
    X_test : ndarray of shape (m_test, n)
    y_test : ndarray of int, shape (m_test,)
    labels_per_class : sequence of int or None, default (None,)
    n_subsets : int, default 5
    weight_decays : sequence of float, default PROBE_WEIGHT_DECAYS
    validation_fraction : float, default VALIDATION_FRACTION
    seed : int, default 0
        Seed of the validation split and of the label subsets.
    max_iter, tol
        As for :func:`softmax_probe`.

    Returns
    -------
    list of dict
        One row per representation, value of ``labels_per_class`` and subset, in that order:
        ``label``, ``n_features``, ``labels_per_class``, ``subset`` (None with all labels),
        ``weight_decay`` (the chosen ``λ``), ``validation_accuracy`` (one per ``λ`` of the grid),
        ``reconstruction_mse`` (mean ``‖x − x̂‖²`` on ``X_test``; NaN without a reconstruction) and the
        numbers of :class:`ProbeResult` with ``correct`` (not its weights).
    """
    X_train, X_test = np.asarray(X_train), np.asarray(X_test)
    y_train, y_test = _check_labels(y_train), _check_labels(y_test)
    weight_decays = _check_weight_decays(weight_decays)
    fit, validation = validation_split(y_train, fraction=validation_fraction, seed=seed)
    draws = {k: [None] if k is None else label_subsets(y_train[fit], k, n_subsets, seed=seed) for k in labels_per_class}
    rows = []
    for rep in representations:
        mse = reconstruction_mse(X_test, rep.reconstruct(X_test)) if rep.reconstructs else math.nan
        F_train, F_test = rep.features(X_train), rep.features(X_test)
        F_validation, y_validation = F_train[validation], y_train[validation]
        for k, subsets in draws.items():
            for index, subset in enumerate(subsets):
                keep = fit if subset is None else fit[subset]
                tuned = tune_softmax(
                    F_train[keep], y_train[keep], F_validation, y_validation, weight_decays, max_iter=max_iter, tol=tol
                )
                classifier, F_used, y_used = tuned.classifier, F_train[keep], y_train[keep]
                if subset is None:
                    classifier.C = softmax_c(tuned.weight_decay, len(y_train))
                    with threadpool_limits(limits=1), warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        classifier.fit(F_train, y_train)
                    F_used, y_used = F_train, y_train
                result = _evaluate(classifier, F_used, y_used, F_test, y_test)
                row = {
                    "label": rep.label,
                    "n_features": F_train.shape[1],
                    "labels_per_class": k,
                    "subset": None if subset is None else index,
                    "weight_decay": tuned.weight_decay,
                    "validation_accuracy": tuned.validation_accuracy,
                    "reconstruction_mse": mse,
                }
                row.update({name: getattr(result, name) for name in _PROBE_NUMBERS})
                rows.append(row)
    return rows


# -- comparing probes ------------------------------------------------------------------------------


class McNemar(NamedTuple):
    """McNemar's exact test of two classifiers on the same test examples.

    Attributes
    ----------
    n01 : int
        Examples the first classifier gets wrong and the second right.
    n10 : int
        Examples the first gets right and the second wrong.
    p_value : float
        Two-sided binomial test of ``n01`` in ``n01 + n10`` trials with probability 1/2; 1 when
        there is no discordant example.
    """

    n01: int
    n10: int
    p_value: float


def mcnemar_exact(correct_a, correct_b) -> McNemar:
    """McNemar's exact test: do two classifiers err on the same test examples at different rates?

    Only the discordant examples count, those one classifier gets right and the other wrong; under
    the hypothesis that both are equally accurate, each such example is as likely to favour either.

    Parameters
    ----------
    correct_a, correct_b : array_like of bool, shape (m,)
        Which test examples each classifier classified correctly, the same examples in the same order.

    Returns
    -------
    McNemar
        ``(n01, n10, p_value)``.

    Raises
    ------
    ValueError
        If the two are not 1-D boolean arrays of the same length.
    """
    a, b = np.asarray(correct_a), np.asarray(correct_b)
    if a.dtype != bool or b.dtype != bool or a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"correct_a and correct_b must be 1-D boolean arrays of one length; got {a.dtype} {a.shape} "
            f"and {b.dtype} {b.shape}"
        )
    n01, n10 = int(np.sum(~a & b)), int(np.sum(a & ~b))
    p_value = 1.0 if n01 + n10 == 0 else float(binomtest(n01, n01 + n10, 0.5).pvalue)
    return McNemar(n01, n10, p_value)


def _subset_accuracies(rows: Sequence[dict], label: str, labels_per_class: int) -> np.ndarray:
    picked = sorted(
        (r["subset"], r["accuracy"]) for r in rows if (r["label"], r["labels_per_class"]) == (label, labels_per_class)
    )
    if not picked:
        raise ValueError(f"no rows of {label!r} with labels_per_class = {labels_per_class}")
    return np.array([accuracy for _, accuracy in picked])


def subset_summary(rows: Sequence[dict], label: str, labels_per_class: int) -> tuple[float, float]:
    """Mean and standard deviation (``ddof=1``; 0 for one subset) of a representation's accuracy over label subsets.

    Parameters
    ----------
    rows : sequence of dict
        Rows of :func:`probe_representations`.
    label : str
    labels_per_class : int

    Returns
    -------
    mean, sd : float
    """
    accuracies = _subset_accuracies(rows, label, labels_per_class)
    return float(accuracies.mean()), float(accuracies.std(ddof=1)) if len(accuracies) > 1 else 0.0


def subset_difference(rows: Sequence[dict], label_a: str, label_b: str, labels_per_class: int) -> tuple[float, float]:
    """Mean and standard deviation of accuracy(a) − accuracy(b), paired by label subset.

    A difference is told apart from the spread of the subsets when the mean exceeds twice the sd.

    Parameters
    ----------
    rows : sequence of dict
        Rows of :func:`probe_representations`, both representations on the same subsets.
    label_a, label_b : str
    labels_per_class : int

    Returns
    -------
    mean, sd : float
    """
    difference = _subset_accuracies(rows, label_a, labels_per_class) - _subset_accuracies(
        rows, label_b, labels_per_class
    )
    return float(difference.mean()), float(difference.std(ddof=1)) if len(difference) > 1 else 0.0
