"""The sparse autoencoder exercise of UFLDL on natural-image patches, and the methods it is compared with.

UFLDL's setting (:data:`UFLDL_NATURAL`): 10,000 random 8x8 patches of whitened
photographs, a sigmoid network of 25 hidden units with ``ρ = 0.01``,
``β = 3``, ``λ = 10⁻⁴``, trained for 400 L-BFGS iterations.  Every network
trains through the engine (:func:`autoencoder.experiments.engine.train`;
the ρ sweep's networks side by side).  The other
methods learn from the same patches, centred: PCA (the library's
:func:`autoencoder.core.pca.pca`), ICA (scikit-learn's ``FastICA``) and
sparse coding (scikit-learn's ``MiniBatchDictionaryLearning``).

:func:`feature_measures` measures any set of features the same way: the Gabor
fit of each (:mod:`autoencoder.experiments.gabor`), the orientation bins its
well-fitted features cover, and the effective area of each
(:func:`autoencoder.experiments.measures.effective_area`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from ..core._validation import check_int, check_real, check_seeds
from ..core.model import Autoencoder, FitResult
from ..core.pca import pca
from .configurations import sparse_sigmoid
from .engine import fit_cached, train
from .gabor import GOOD_FIT, N_ORIENTATION_BINS, fit_gabors, gabor_r2, is_edge, orientation_bins
from .measures import LOCALIZED_AREA, activity_threshold, effective_area, l0
from .replicates import train_replicates
from .runs import Run

__all__ = [
    "PATCH_MEAN",
    "SUMMARY_HEADER",
    "UFLDL_NATURAL",
    "dictionary_features",
    "feature_measures",
    "ica_features",
    "initial_features",
    "method_features",
    "pca_features",
    "summary_row",
    "sweep_rho",
    "train_network",
    "train_networks",
]

UFLDL_NATURAL = {
    "n_train": 10_000,
    "n_hidden": 25,
    "rho": 0.01,
    "beta": 3.0,
    "weight_decay": 1e-4,
    "max_iter": 400,
}
"""The sparse autoencoder exercise of UFLDL: patches, hidden units, ρ, β, λ and L-BFGS iterations."""

PATCH_MEAN = 0.5
"""The middle of [0.1, 0.9], which the normalized patches are centred on (each patch's mean is 0.5 before clipping)."""


def train_network(X, n_hidden: int, rho: float, beta: float, weight_decay: float, *, max_iter: int, seed: int):
    """The sigmoid sparse autoencoder of UFLDL trained on ``X`` through the model cache.

    Parameters
    ----------
    X : ndarray of shape (m, n)
        Patches in [0.1, 0.9], one per row.
    n_hidden, rho, beta, weight_decay
        ``p``, ``ρ``, ``β`` and ``λ``.
    max_iter, seed : int
        L-BFGS iterations and the seed of the initial weights.

    Returns
    -------
    model : Autoencoder
    fit : FitResult
    """
    model = sparse_sigmoid(n_hidden, rho, beta, weight_decay)
    return model, fit_cached(model, X, max_iter=max_iter, seed=seed)


def initial_features(X, n_hidden: int, *, seed: int) -> np.ndarray:
    """``W1`` of the network's random initialization (UFLDL's uniform weights), shape (n_hidden, n)."""
    return Autoencoder(n_hidden).init_params(np.shape(X)[1], seed=seed).W1.copy()


def _patches(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"X must be a 2-D array of at least 2 patches; got shape {X.shape}")
    return X


def pca_features(X, n_components: int) -> np.ndarray:
    """The first principal components of the patches, by decreasing variance, shape (n_components, n)."""
    X = _patches(X)
    n_components = check_int("n_components", n_components, 1, min(X.shape))
    return pca(X, n_components).components


def ica_features(X, n_components: int, *, seed: int, max_iter: int = 400) -> np.ndarray:
    """The filters of FastICA (rows of its unmixing matrix) on the centred patches, shape (n_components, n).

    The features compared with the autoencoder's ``W1`` are the filters that
    compute each source from a patch, as ``W1`` computes each unit's input;
    FastICA whitens with PCA first (``whiten="unit-variance"``).
    """
    from sklearn.decomposition import FastICA

    X = _patches(X)
    n_components = check_int("n_components", n_components, 1, X.shape[1])
    ica = FastICA(n_components, whiten="unit-variance", random_state=seed, max_iter=max_iter, tol=1e-4)
    ica.fit(X - PATCH_MEAN)
    return ica.components_.copy()


def dictionary_features(X, n_components: int, *, seed: int, alpha: float = 1.0, max_iter: int = 10) -> np.ndarray:
    """The atoms of sparse coding (``MiniBatchDictionaryLearning``) on the centred patches, shape (n_components, n).

    Each patch (centred and scaled to unit variance overall) is coded as a
    combination of a few atoms with an L1 penalty ``alpha`` on the
    coefficients, ``½‖x − uD‖² + α‖u‖₁`` (Olshausen and Field's sparse
    coding), solved by coordinate descent; the atoms have unit norm.
    scikit-learn stops after ``max_iter`` passes over the patches or earlier,
    when the objective has not improved over 10 batches.
    """
    from sklearn.decomposition import MiniBatchDictionaryLearning
    from sklearn.exceptions import ConvergenceWarning

    X = _patches(X)
    n_components = check_int("n_components", n_components, 1)
    alpha = check_real("alpha", alpha, low=0, low_open=True)
    learner = MiniBatchDictionaryLearning(
        n_components, alpha=alpha, batch_size=256, max_iter=max_iter, random_state=seed, fit_algorithm="cd"
    )
    with warnings.catch_warnings():
        # Each mini-batch's lasso stops at its own tolerance; its warning says so for every batch.
        warnings.simplefilter("ignore", ConvergenceWarning)
        learner.fit((X - PATCH_MEAN) / np.std(X))
    return learner.components_.copy()


def method_features(X, n_components: int, *, seed: int, alpha: float) -> dict[str, np.ndarray]:
    """The features PCA, ICA and sparse coding learn from the patches ``X``, each of shape (n_components, n).

    Parameters
    ----------
    X : ndarray of shape (m, n)
    n_components : int
    seed : int
        Seed of FastICA and of sparse coding.
    alpha : float
        L1 weight of sparse coding.

    Returns
    -------
    dict
        ``{"PCA": ..., "ICA": ..., "sparse coding": ...}``.
    """
    return {
        "PCA": pca_features(X, n_components),
        "ICA": ica_features(X, n_components, seed=seed),
        "sparse coding": dictionary_features(X, n_components, seed=seed, alpha=alpha),
    }


def feature_measures(W, shape: tuple[int, int] = (8, 8), good_fit: float = GOOD_FIT) -> dict:
    """The Gabor fit of every feature and the summaries the chapter reports.

    Parameters
    ----------
    W : array_like of shape (k, h * w)
        One feature per row.
    shape : tuple of int, default (8, 8)
    good_fit : float, default GOOD_FIT
        The ``R²`` from which a feature counts as well fitted.

    Returns
    -------
    dict
        ``fits`` (list of GaborFit), ``r2`` (ndarray of shape (k,)),
        ``well`` (bool, shape (k,)), ``n_well``, ``bins`` (the orientation
        bin of each well-fitted feature), ``n_bins`` (distinct bins among
        them), ``edge`` (bool, shape (k,): :func:`~autoencoder.experiments.gabor.is_edge`),
        ``n_edges``, ``frequency`` and ``sigma_u`` of each feature, ``area``
        (effective area of each, pixels) and ``localized`` (the fraction with
        an area below ``LOCALIZED_AREA`` of the patch, the MNIST chapters' measure).
    """
    good_fit = check_real("good_fit", good_fit, low=0, high=1)
    W = np.asarray(W, dtype=np.float64)
    fits = fit_gabors(W, shape)
    r2 = gabor_r2(fits)
    well = r2 >= good_fit
    bins = orientation_bins([fit.theta for fit in fits])[well]
    area = effective_area(W)
    edge = is_edge(fits, shape, good_fit)
    return {
        "fits": fits,
        "r2": r2,
        "well": well,
        "n_well": int(np.count_nonzero(well)),
        "bins": bins,
        "n_bins": int(np.unique(bins).size),
        "bin_counts": np.bincount(bins, minlength=N_ORIENTATION_BINS),
        "edge": edge,
        "n_edges": int(np.count_nonzero(edge)),
        "frequency": np.array([fit.frequency for fit in fits]),
        "sigma_u": np.array([fit.sigma_u for fit in fits]),
        "area": area,
        "localized": float(np.mean(area < LOCALIZED_AREA * W.shape[1])),
    }


SUMMARY_HEADER = ["features", "k", "R² ≥ 0.7", "median R²", "bins", "edges", "area", "localized"]
"""Columns of :func:`summary_row`."""


def summary_row(label: str, measured: dict) -> list[str]:
    """One row of the chapter's tables: the measures of :func:`feature_measures` for one set of features.

    Parameters
    ----------
    label : str
    measured : dict
        What :func:`feature_measures` returned.

    Returns
    -------
    list of str
        The label, the number of features, how many are well fitted, the
        median ``R²``, the orientation bins the well-fitted ones cover, how
        many are localized edges, the median effective area (pixels) and the
        localized fraction (effective area below ``LOCALIZED_AREA`` of the patch).
    """
    return [
        label,
        str(len(measured["r2"])),
        str(measured["n_well"]),
        f"{np.median(measured['r2']):.2f}",
        str(measured["n_bins"]),
        str(measured["n_edges"]),
        f"{np.median(measured['area']):.0f}",
        f"{measured['localized']:.2f}",
    ]


def train_networks(
    patches: Mapping[int, np.ndarray],
    n_hidden: int,
    rho: float,
    beta: float,
    weight_decay: float,
    *,
    max_iter: int,
    doubled: Sequence[int] = (),
) -> tuple[dict[int, tuple[Autoencoder, FitResult]], dict[int, FitResult]]:
    """:func:`train_network` for every seed's patches at once, side by side, and a doubling check.

    The seeds' networks are :func:`autoencoder.experiments.replicates.train_replicates`
    of one configuration, each seed on its own patches.

    Parameters
    ----------
    patches : mapping of int to ndarray of shape (m, n)
        Seed to its patches; the seed also draws the initial weights.
    n_hidden, rho, beta, weight_decay, max_iter
        As for :func:`train_network`.
    doubled : sequence of int, default ()
        Seeds of ``patches`` whose network continues for ``max_iter`` more
        iterations from where it stopped.

    Returns
    -------
    networks : dict
        Seed to ``(model, fit)``, as :func:`train_network` returns them (the
        same cache entries).
    doubled : dict
        Seed to the :class:`FitResult` after twice ``max_iter``.

    Raises
    ------
    ValueError
        Naming the parameter, before anything is trained.
    """
    seeds = check_seeds("seeds of patches", list(patches))
    doubled = check_seeds("doubled", doubled) if len(doubled) else []
    if not set(doubled) <= set(seeds):
        raise ValueError(f"doubled must name seeds of patches {seeds}; got {doubled}")
    model = sparse_sigmoid(n_hidden, rho, beta, weight_decay)
    trained = train_replicates(model, patches, seeds, max_iter=max_iter, doubled=doubled)
    return {s: (model, fit) for s, fit in trained.fits.items()}, trained.doubled


def sweep_rho(X, rho_values, n_hidden: int, beta: float, weight_decay: float, *, max_iter: int, seed: int):
    """The UFLDL network trained at each target ``ρ`` (through the cache) and its features measured.

    Parameters
    ----------
    X : ndarray of shape (m, n)
    rho_values : sequence of float
        Targets in (0, 1); drawn in increasing order.
    n_hidden, beta, weight_decay, max_iter, seed
        As for :func:`train_network`.

    Returns
    -------
    list of dict
        One per ``ρ``, increasing: ``rho``, ``W`` (``W1``), ``fit``,
        ``rho_hat`` (the units' mean activations on ``X``), ``l0`` (the mean
        number of units above ½ per patch) and everything
        :func:`feature_measures` returns.
    """
    models = {rho: sparse_sigmoid(n_hidden, rho, beta, weight_decay) for rho in sorted(rho_values)}
    trained = train([Run(model, max_iter, seed) for model in models.values()], X)  # side by side on the engine
    rows = []
    for (rho, model), (fit,) in zip(models.items(), trained, strict=True):
        W = fit.params.W1
        rows.append(
            {
                "rho": rho,
                "W": W,
                "fit": fit,
                "rho_hat": model.mean_activation(fit.params, X),
                "l0": l0(model.encode(fit.params, X), activity_threshold(model.f)),
                **feature_measures(W),
            }
        )
    return rows
