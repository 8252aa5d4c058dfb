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

Everything here is a pure function of its arguments; the probe runs with one
BLAS and one OpenMP thread, so that a rerun gives the same bits.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
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
    "SelfTaughtSplit",
    "self_taught_split",
    "first_per_class",
    "check_labels_per_class",
    "Representation",
    "pixels",
    "pca_representation",
    "autoencoder_representation",
    "random_representation",
    "softmax_c",
    "softmax_classifier",
    "probe_pipeline",
    "ProbeResult",
    "softmax_probe",
    "probe_representations",
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


def first_per_class(labels, labels_per_class: int | None) -> np.ndarray:
    """Positions of the first ``labels_per_class`` examples of each class, in their original order.

    Parameters
    ----------
    labels : array_like of int, shape (m,)
    labels_per_class : int or None
        How many examples of each class to keep; None keeps all.

    Returns
    -------
    ndarray of shape (k,)
        Increasing positions into ``labels``.

    Raises
    ------
    ValueError
        If a class has fewer than ``labels_per_class`` examples.
    """
    labels = _check_labels(labels)
    if labels_per_class is None:
        return np.arange(len(labels))
    check_labels_per_class([labels_per_class], labels)
    keep = [np.flatnonzero(labels == c)[:labels_per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep))


def check_labels_per_class(labels_per_class: Sequence[int], labels) -> list[int]:
    """Refuse a number of labeled images per class that some class does not have.

    Parameters
    ----------
    labels_per_class : sequence of int
    labels : array_like of int, shape (m,)
        The labels of the images the counts are taken from (the probe's training half).

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
                f"in the probe's training half; got {k}"
            )
    return list(labels_per_class)


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


def random_representation(label: str, model: Autoencoder, n_visible: int, seed: int) -> Representation:
    """The hidden activations of an untrained network: its initial weights, a random projection.

    Parameters
    ----------
    label : str
    model : Autoencoder
    n_visible : int
        Input dimension ``n``.
    seed : int
        Seed of :meth:`Autoencoder.init_params` (UFLDL's initialization, biases zero).

    Returns
    -------
    Representation
        Without a reconstruction: the decoder is as random as the encoder.
    """
    params = model.init_params(n_visible, seed=seed)
    return Representation(label, SparseAutoencoder.from_fit(model, params), reconstructs=False)


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


def _measure(probe: LogisticRegression | Pipeline, X_train, y_train, X_test, y_test) -> ProbeResult:
    """Fit ``probe`` (the classifier, or a pipeline ending in it) with one BLAS thread and measure it."""
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(X_train, y_train)
        predicted = probe.predict(X_test)
        train_accuracy = float(np.mean(probe.predict(X_train) == y_train))
    classifier = probe[-1] if isinstance(probe, Pipeline) else probe
    n_iter = int(classifier.n_iter_.max())
    errors = int(np.sum(predicted != y_test))
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
    )


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


_PROBE_NUMBERS = ("accuracy", "errors", "train_accuracy", "n_train", "n_test", "n_iter", "converged", "C")


def probe_representations(
    representations: Sequence[Representation],
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    labels_per_class: Sequence[int | None] = (None,),
    weight_decay: float = UFLDL_SOFTMAX_WEIGHT_DECAY,
    max_iter: int = PROBE_MAX_ITER,
    tol: float = PROBE_TOL,
) -> list[dict]:
    """Probe every representation, with all or a few labeled images per class.

    Parameters
    ----------
    representations : sequence of Representation
    X_train : ndarray of shape (m, n)
        The probe's training images.
    y_train : ndarray of int, shape (m,)
    X_test : ndarray of shape (m_test, n)
    y_test : ndarray of int, shape (m_test,)
    labels_per_class : sequence of int or None, default (None,)
        For each value, the probe trains on the first that many training images of each class
        (:func:`first_per_class`; None: all of them) and is tested on all of ``X_test``.
    weight_decay, max_iter, tol
        As for :func:`softmax_probe`.

    Returns
    -------
    list of dict
        One row per representation and value of ``labels_per_class``, in that order: ``label``,
        ``n_features``, ``labels_per_class``, ``reconstruction_mse`` (mean ``‖x − x̂‖²`` on
        ``X_test``; NaN without a reconstruction) and the numbers of :class:`ProbeResult` (not its weights).
    """
    X_train, X_test = np.asarray(X_train), np.asarray(X_test)
    y_train, y_test = _check_labels(y_train), _check_labels(y_test)
    subsets = [(k, first_per_class(y_train, k)) for k in labels_per_class]
    rows = []
    for rep in representations:
        mse = reconstruction_mse(X_test, rep.reconstruct(X_test)) if rep.reconstructs else math.nan
        for k, keep in subsets:
            probe = probe_pipeline(rep, len(keep), weight_decay=weight_decay, max_iter=max_iter, tol=tol)
            result = _measure(probe, X_train[keep], y_train[keep], X_test, y_test)
            row = {"label": rep.label, "n_features": probe[-1].n_features_in_, "labels_per_class": k}
            row["reconstruction_mse"] = mse
            row.update({name: getattr(result, name) for name in _PROBE_NUMBERS})
            rows.append(row)
    return rows
