"""What makes the strokes: controls over seeds, and candidate explanations tested.

The experiment of the chapter *What makes the strokes*.  The KL-sparse sigmoid
network is trained at several settings ``(λ, β, ρ)`` and several seeds of its
initialization (:func:`train_controls`, one training per setting and seed, each
from the seed's random start, through the model cache and a Dask engine as in
:mod:`autoencoder.experiments.sweep`).  Every network gets the same numbers
(:func:`network_measures`): its features' effective area, radius of gyration
and largest-region share (:mod:`autoencoder.experiments.spatial`), their
similarity to whole-digit templates (:func:`template_similarity` against
k-means centroids), its reconstruction error on training and test images, the
range of ``ρ̂`` and how saturated its hidden units are.  :func:`seed_statistics`
gives mean and standard deviation over seeds, and :func:`separation` says how
many standard deviations apart two settings are.

Non-network references measured the same way: FastICA's filters
(:func:`ica_features`, a sparsity-seeking rotation of the PCA subspace), the
principal components, k-means centroids, random training digits and the
networks' random initialization.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..core._validation import check_int, check_seeds
from ..core.model import Autoencoder, FitResult, validate_data
from ..core.objective import output
from ..core.pca import pca
from . import configurations
from .engine import Chain, Engine, run_chains, tally
from .measures import LOCALIZED_AREA, effective_area, reconstruction_mse
from .progress import task_progress
from .spatial import largest_region_share, radius_of_gyration

__all__ = [
    "SATURATION",
    "Setting",
    "control_model",
    "train_controls",
    "feature_measures",
    "template_similarity",
    "network_measures",
    "reference_measures",
    "seed_statistics",
    "separation",
    "ica_features",
    "kmeans_centroids",
    "MEASURE_LABELS",
]

SATURATION = 0.05
"""A sigmoid activation below this or above ``1 −`` this is called saturated."""

Setting = tuple[float, float, float]
"""``(λ, β, ρ)``: weight decay, sparsity weight and sparsity target of one control."""

MEASURE_LABELS = {
    "localized_fraction": "localized fraction",
    "median_area": "median effective area (px)",
    "median_radius": "median radius of gyration (px)",
    "median_region_share": "median largest-region share",
    "median_template": "median template similarity",
    "train_mse": "reconstruction error, training images",
    "test_mse": "reconstruction error, test images",
    "rho_hat_min": "smallest ρ̂_j",
    "rho_hat_max": "largest ρ̂_j",
    "saturated": "saturated activations",
    "median_norm": "median ‖w_j‖ of the features",
}
"""Display names of the scalar keys of :func:`network_measures`, in display order."""


def control_model(n_hidden: int, setting: Setting) -> Autoencoder:
    """The sigmoid network of one setting ``(λ, β, ρ)``.

    At ``β = 0`` the objective does not depend on ``ρ``: the network is
    ``Autoencoder(n_hidden, sparsity="none", weight_decay=λ)`` (the same
    objective, and the same cache entry as chapter 7's ``β = 0`` point),
    otherwise :func:`autoencoder.experiments.configurations.sparse_sigmoid`.
    """
    weight_decay, beta, rho = setting
    if beta == 0:
        return Autoencoder(n_hidden, sparsity="none", beta=0.0, weight_decay=weight_decay)
    return configurations.sparse_sigmoid(n_hidden, rho, beta, weight_decay)


def _settings(settings) -> list[Setting]:
    out = []
    for setting in settings:
        try:
            weight_decay, beta, rho = (float(v) for v in setting)
        except (TypeError, ValueError):
            raise ValueError(
                f"settings must be (weight_decay, beta, rho) triples of numbers; got {setting!r}"
            ) from None
        if not (weight_decay >= 0 and beta >= 0 and 0 < rho < 1):
            raise ValueError(
                "a setting (weight_decay, beta, rho) needs weight_decay >= 0, beta >= 0 "
                f"and rho in (0, 1); got {setting!r}"
            )
        out.append((weight_decay, beta, rho))
    if not out or len(set(out)) < len(out):
        raise ValueError(f"settings must be a non-empty list of distinct (weight_decay, beta, rho); got {settings!r}")
    return out


def train_controls(
    X,
    settings: Sequence[Setting],
    seeds: Sequence[int],
    *,
    n_hidden: int,
    max_iter: int,
    n_jobs: int = 2,
    directory: Path | None = None,
    scheduler=None,
) -> dict[tuple[Setting, int], FitResult]:
    """Train the network of every setting from every seed's random start.

    Parameters
    ----------
    X : ndarray of shape (m, n)
        Training images in rows, values in [0, 1].
    settings : sequence of (float, float, float)
        ``(λ, β, ρ)`` of each control, distinct; ``λ ≥ 0``, ``β ≥ 0``,
        ``ρ`` in (0, 1).
    seeds : sequence of int
        Seeds of the initial weights, distinct, ``≥ 0``.
    n_hidden : int
        Hidden units ``p``.
    max_iter : int
        L-BFGS iterations of every training.
    n_jobs : int, default 2
        Worker processes of the embedded Dask cluster (one BLAS thread each);
        ignored with a scheduler.  The results do not depend on it.
    directory : Path, optional
        Model cache directory.
    scheduler : str or distributed.Client, optional
        An existing Dask cluster; default Dask's configured scheduler, else
        the embedded cluster.

    Returns
    -------
    dict
        ``(setting, seed) -> FitResult`` in the order ``settings x seeds``.
        Settings that give the same network (``β = 0`` at two ``ρ``) share
        one training.

    Raises
    ------
    ValueError
        Naming the parameter, before anything is trained.
    autoencoder.experiments.engine.SweepError
        When a training fails, naming it.
    """
    settings = _settings(settings)
    seeds = check_seeds("seeds", seeds)
    n_hidden = check_int("n_hidden", n_hidden, 1)
    max_iter = check_int("max_iter", max_iter, 0)
    n_jobs = check_int("n_jobs", n_jobs, 1)
    models = {setting: control_model(n_hidden, setting) for setting in settings}
    X = validate_data(X, unit_interval=True)
    unique: dict[tuple, tuple[Autoencoder, int]] = {}
    for setting in settings:
        for seed in seeds:
            model = models[setting]
            unique.setdefault((repr(model.to_dict()), seed), (model, seed))
    chains = [Chain((model,), "X", max_iter, seed) for model, seed in unique.values()]
    engine = Engine(scheduler, n_workers=n_jobs)
    description = f"{len(settings)} settings x {len(seeds)} seeds"
    with task_progress(description, len(chains), unit="trainings") as advance, engine:
        trained = run_chains(chains, {"X": X}, engine=engine, directory=directory, advance=tally(advance))
    by_key = {key: results[0] for key, results in zip(unique, trained, strict=True)}
    return {(setting, seed): by_key[repr(models[setting].to_dict()), seed] for setting in settings for seed in seeds}


def feature_measures(W, shape: tuple[int, int] = (28, 28)) -> dict[str, np.ndarray]:
    """Per-feature shape measures of the rows of ``W``.

    Parameters
    ----------
    W : array_like of shape (k, rows * cols)
    shape : (int, int), default (28, 28)

    Returns
    -------
    dict of str to ndarray of shape (k,)
        ``area`` (:func:`autoencoder.experiments.measures.effective_area`, pixels),
        ``radius`` (:func:`autoencoder.experiments.spatial.radius_of_gyration`,
        pixels) and ``region_share``
        (:func:`autoencoder.experiments.spatial.largest_region_share`).
    """
    return {
        "area": effective_area(W),
        "radius": radius_of_gyration(W, shape),
        "region_share": largest_region_share(W, shape),
    }


def template_similarity(W, templates) -> np.ndarray:
    """For each feature, its largest ``|cos|`` with any template.

    Parameters
    ----------
    W : array_like of shape (k, n)
        Features in rows.
    templates : array_like of shape (c, n)
        Templates in rows (k-means centroids of the images, say).

    Returns
    -------
    ndarray of shape (k,)
        In [0, 1]: 1 when a feature is a multiple of a template; 0 for a
        zero feature.
    """
    W = np.asarray(W, dtype=np.float64)
    T = np.asarray(templates, dtype=np.float64)
    if W.ndim != 2 or T.ndim != 2 or W.shape[1] != T.shape[1]:
        raise ValueError(f"W and templates must be 2-D with the same number of columns; got {W.shape} and {T.shape}")
    w_norm = np.linalg.norm(W, axis=1)
    t_norm = np.linalg.norm(T, axis=1)
    if np.any(t_norm == 0):
        raise ValueError("templates must not contain a zero row")
    cosines = np.abs(W @ T.T) / np.where(w_norm > 0, w_norm, 1.0)[:, None] / t_norm[None, :]
    return np.where(w_norm > 0, cosines.max(axis=1), 0.0)


def _median(values) -> float:
    return float(np.median(values))


def network_measures(
    model: Autoencoder, params, X_train, X_test, templates, shape: tuple[int, int] = (28, 28)
) -> dict[str, object]:
    """Every number the chapter prints for one trained network.

    Parameters
    ----------
    model : Autoencoder
    params : Params
        Trained parameters; the features are the rows of ``W1``, shape (p, n).
    X_train, X_test : ndarray of shape (m, n) and (m', n)
        The training images and held-out test images.
    templates : ndarray of shape (c, n)
        Whole-digit templates for :func:`template_similarity` (k-means
        centroids less the mean image, say).
    shape : (int, int), default (28, 28)

    Returns
    -------
    dict
        The scalars of :data:`MEASURE_LABELS` (``localized_fraction``: the
        share of features with an effective area below
        :data:`~autoencoder.experiments.measures.LOCALIZED_AREA` of the image;
        ``saturated``: the share of the training activations below
        :data:`SATURATION` or above ``1 −`` it; ``median_norm``: the median
        Euclidean norm of the rows of ``W1``), and ``features``, the
        per-feature arrays of :func:`feature_measures` plus ``template``.
    """
    A = model.encode(params, X_train)
    H = output(model.g, params.astype(A.dtype), A)[1]  # decoded from A: one forward pass over X_train
    rho_hat = A.mean(axis=0)
    return reference_measures(params.W1, templates, shape) | {
        "train_mse": reconstruction_mse(X_train, H),
        "test_mse": reconstruction_mse(X_test, model.reconstruct(params, X_test)),
        "rho_hat_min": float(rho_hat.min()),
        "rho_hat_max": float(rho_hat.max()),
        "saturated": float(np.mean((A < SATURATION) | (A > 1 - SATURATION))),
        "median_norm": _median(np.linalg.norm(params.W1, axis=1)),
    }


def reference_measures(W, templates, shape: tuple[int, int] = (28, 28)) -> dict[str, object]:
    """The feature measures of :func:`network_measures` for features that are not a network's.

    Returns
    -------
    dict
        ``localized_fraction``, ``median_area``, ``median_radius``,
        ``median_region_share``, ``median_template`` and ``features``.
    """
    features = feature_measures(W, shape)
    features["template"] = template_similarity(W, templates)
    n_pixels = shape[0] * shape[1]
    return {
        "localized_fraction": float(np.mean(features["area"] < LOCALIZED_AREA * n_pixels)),
        "median_area": _median(features["area"]),
        "median_radius": _median(features["radius"]),
        "median_region_share": _median(features["region_share"]),
        "median_template": _median(features["template"]),
        "features": features,
    }


def seed_statistics(rows: Sequence[Mapping[str, object]], keys: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation (``ddof = 1``) over seeds of each scalar.

    Parameters
    ----------
    rows : sequence of mapping
        One :func:`network_measures` (or any mapping of scalars) per seed, at
        least two.
    keys : sequence of str

    Returns
    -------
    dict
        ``key -> (mean, sd)``.
    """
    if len(rows) < 2:
        raise ValueError(f"rows must hold at least two seeds to give a spread; got {len(rows)}")
    out = {}
    for key in keys:
        values = np.array([float(row[key]) for row in rows])
        out[key] = (float(values.mean()), float(values.std(ddof=1)))
    return out


def separation(a: tuple[float, float], b: tuple[float, float]) -> float:
    """How many standard deviations apart two settings' measures are.

    ``|mean_a − mean_b| / sqrt(sd_a² + sd_b²)``: the difference of the
    means over the standard deviation of the difference between one seed of
    each, a stricter yardstick than the standard error of the means.

    Parameters
    ----------
    a, b : (float, float)
        ``(mean, sd)`` of each, as :func:`seed_statistics` gives them.

    Returns
    -------
    float
        ``inf`` when the means differ and neither varies; 0 when they agree.
    """
    difference = abs(a[0] - b[0])
    spread = math.hypot(a[1], b[1])
    if difference == 0:
        return 0.0
    return math.inf if spread == 0 else difference / spread


def ica_features(X, n_components: int, *, seed: int, max_iter: int = 400) -> np.ndarray:
    """FastICA's filters (rows of its unmixing matrix) on the centred images, shape (n_components, n).

    FastICA first whitens with PCA (``whiten="unit-variance"``) and then
    rotates the top ``n_components`` principal directions to make the
    sources as non-Gaussian (sparse, for images) as it can; its filters
    compute each source from an image, as ``W1`` computes each unit's input.
    """
    from sklearn.decomposition import FastICA
    from threadpoolctl import threadpool_limits

    X = np.asarray(X, dtype=np.float64)
    n_components = check_int("n_components", n_components, 1, min(X.shape))
    ica = FastICA(n_components, whiten="unit-variance", random_state=seed, max_iter=max_iter, tol=1e-4)
    # One BLAS thread: the same bits on any machine's thread count, and no spinning threads on a busy one.
    with threadpool_limits(limits=1, user_api="blas"):
        ica.fit(X - X.mean(axis=0))
    return ica.components_.copy()


def kmeans_centroids(X, n_clusters: int, *, seed: int) -> np.ndarray:
    """k-means centroids of the images (scikit-learn, one k-means++ start), shape (n_clusters, n).

    Less the mean image, they are the templates of :func:`template_similarity`:
    a unit that detects one cluster best weighs an image by how far it lies
    from the mean towards the cluster's centre.
    """
    from sklearn.cluster import KMeans

    X = np.asarray(X, dtype=np.float64)
    n_clusters = check_int("n_clusters", n_clusters, 1, X.shape[0])
    return KMeans(n_clusters, n_init=1, random_state=seed).fit(X).cluster_centers_.copy()


def pca_features(X, n_components: int) -> np.ndarray:
    """The top principal components of the images, shape (n_components, n)."""
    X = np.asarray(X, dtype=np.float64)
    return pca(X, check_int("n_components", n_components, 1, min(X.shape))).components
