"""Per-feature dashboards of a trained sparse autoencoder on labelled digits: the data of each card.

A *feature* is one hidden unit ``j`` of a trained network.  Its card gathers
what SAE dashboards (SAE-Vis, SAEDashboard, Neuronpedia) show for a feature of
a language model, adapted to 28×28 digits:

* the decoder vector ``W2[:, j]``, the direction the feature adds to the
  reconstruction (drawn as an image);
* the test digits that activate it most (*top activations*);
* a few digits drawn at random, with an explicit seed, from each quantile band
  of its activations on the digits where it is active (how it fires at low,
  medium and high strength, not only at its maximum);
* the histogram of those active activations;
* its *density* ``ν_j``, the fraction of test digits on which it is active;
* its selectivity for the ten digit classes.

A feature is *active* on a digit when its activation exceeds the threshold
``τ``: ``a_ij > τ``, as in :mod:`autoencoder.experiments.measures` (``τ = 0``
for ReLU and TopK codes, ``τ = ½`` for sigmoid codes, see
:func:`~autoencoder.experiments.measures.activity_threshold`).  ``codes`` holds
the hidden activations ``A`` of the test digits (shape (m, p)), ``decoder`` the
decoder weights ``W2`` (shape (n, p)), ``images`` the digits ``X`` (shape
(m, n)) and ``labels`` their classes ``y`` in 0..9 (shape (m,)).

NumPy only: the HTML dashboard and the figures are in
:mod:`autoencoder.book.dashboard_figures`.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core._validation import check_int, check_real

__all__ = [
    "N_CLASSES",
    "QUANTILES",
    "FeatureCard",
    "choose_features",
    "feature_cards",
]

N_CLASSES = 10
"""The digit classes are ``0, 1, ..., 9``."""

QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Default band boundaries: the quartiles of a feature's active activations."""


@dataclass(frozen=True, eq=False)
class FeatureCard:
    """What a dashboard shows for one feature ``j`` of one network.

    Attributes
    ----------
    feature : int
        The hidden unit ``j``.
    decoder : ndarray of shape (n,)
        Its decoder vector ``W2[:, j]``.
    top : ndarray of int, shape (k,)
        Indices of the test digits with the largest activations, largest
        first (ties: lower index first); only digits on which the feature is
        active, so ``k = min(n_top, number of active digits)``.
    top_activations : ndarray of shape (k,)
        Their activations.
    quantiles : tuple of float
        The band boundaries ``q_0 < q_1 < ... < q_B`` in [0, 1].
    band_bounds : ndarray of shape (B, 2)
        Band ``b`` holds the active digits whose activation lies in
        ``(band_bounds[b, 0], band_bounds[b, 1]]``, the ``q_b`` and
        ``q_{b+1}`` quantiles of the active activations (the first band also
        holds its lower bound when ``q_0 = 0``, the smallest activation).
        NaN when the feature is active on no digit.
    band_samples : tuple of B ndarrays of int
        Up to ``n_samples`` digits of each band, drawn without replacement
        with the generator seeded by ``(seed, feature)``, then ordered by
        decreasing activation (ties: lower index first).
    band_activations : tuple of B ndarrays
        Their activations.
    histogram_counts : ndarray of int, shape (bins,)
        Histogram of the active activations.
    histogram_edges : ndarray of shape (bins + 1,)
        Its edges: ``bins`` equal bins from the smallest to the largest active
        activation (``numpy.histogram``'s rule); ``[τ, τ + 1]`` split equally
        when the feature is active on no digit.
    density : float
        ``ν_j``: the fraction of the test digits with activation ``> threshold``.
    n_active : int
        The number of those digits, ``ν_j m``.
    threshold : float
        ``τ``.
    class_means : ndarray of shape (10,)
        The mean activation over the digits of each class (NaN for a class
        without digits).
    class_fractions : ndarray of shape (10,)
        The fraction of the feature's activation mass, the sum of its active
        activations, carried by each class; sums to 1, or all zeros when the
        feature is active on no digit.
    selective_class : int
        The class with the largest mean activation (ties: the lower class).
    """

    feature: int
    decoder: np.ndarray
    top: np.ndarray
    top_activations: np.ndarray
    quantiles: tuple[float, ...]
    band_bounds: np.ndarray
    band_samples: tuple[np.ndarray, ...]
    band_activations: tuple[np.ndarray, ...]
    histogram_counts: np.ndarray
    histogram_edges: np.ndarray
    density: float
    n_active: int
    threshold: float
    class_means: np.ndarray
    class_fractions: np.ndarray
    selective_class: int

    @property
    def alive(self) -> bool:
        """Whether the feature is active on at least one test digit."""
        return self.n_active > 0

    @property
    def band_labels(self) -> tuple[str, ...]:
        """``"(0.25, 0.5]"`` and so on: each band as an interval of quantiles."""
        q = self.quantiles
        return tuple(f"{'[' if b == 0 and q[0] == 0 else '('}{q[b]:g}, {q[b + 1]:g}]" for b in range(len(q) - 1))


def _codes(codes) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] == 0 or codes.shape[1] == 0:
        raise ValueError(f"codes must be a non-empty 2-D array (digits in rows); got shape {codes.shape}")
    if not np.issubdtype(codes.dtype, np.number) or not np.all(np.isfinite(codes)):
        raise ValueError("codes must hold finite numbers")
    return codes.astype(np.float64, copy=False)


def _labels(labels, m: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (m,):
        raise ValueError(f"labels must have shape ({m},), one per row of codes; got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers in 0..{N_CLASSES - 1}; got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise ValueError(f"labels must be integers in 0..{N_CLASSES - 1}; got {labels.min()}..{labels.max()}")
    return labels.astype(np.intp, copy=False)


def _features(features, p: int) -> list[int]:
    if isinstance(features, str | bytes) or not isinstance(features, Sequence | np.ndarray):
        raise ValueError(f"features must be a sequence of feature indices in 0..{p - 1}; got {features!r}")
    if len(features) == 0:
        raise ValueError("features must name at least one feature")
    chosen = [check_int("features", j, 0, p - 1) for j in np.asarray(features).tolist()]
    if len(set(chosen)) != len(chosen):
        repeated = sorted({j for j in chosen if chosen.count(j) > 1})
        raise ValueError(f"features must be distinct; {repeated} repeated")
    return chosen


def _quantiles(quantiles) -> tuple[float, ...]:
    values = tuple(check_real("quantiles", q, low=0, high=1) for q in quantiles)
    if len(values) < 2 or any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"quantiles must be at least two increasing values in [0, 1]; got {quantiles!r}")
    return values


def _first_by_activation(values: np.ndarray, indices: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` entries of ``indices`` with the largest ``values``, largest first, ties by lower index."""
    order = np.lexsort((indices, -values))
    return indices[order[:count]]


def _card(
    j: int,
    codes: np.ndarray,
    decoder: np.ndarray,
    labels: np.ndarray,
    *,
    n_top: int,
    n_samples: int,
    threshold: float,
    bins: int,
    quantiles: tuple[float, ...],
    seed: int,
) -> FeatureCard:
    """One card from validated arrays (see :func:`feature_cards`)."""
    a = codes[:, j]
    active = np.flatnonzero(a > threshold)
    values = a[active]
    top = _first_by_activation(values, active, n_top)

    n_bands = len(quantiles) - 1
    rng = np.random.default_rng([seed, j])
    samples = []
    if active.size:
        cuts = np.quantile(values, quantiles)
        bounds = np.column_stack([cuts[:-1], cuts[1:]])
        for b, (low, high) in enumerate(bounds):
            inside = (values > low) | ((values == low) & (b == 0) & (quantiles[0] == 0))
            members = active[inside & (values <= high)]
            drawn = rng.choice(members, size=min(n_samples, members.size), replace=False)
            samples.append(_first_by_activation(a[drawn], drawn, drawn.size))
        counts, edges = np.histogram(values, bins=bins)
    else:
        bounds = np.full((n_bands, 2), np.nan)
        samples = [np.empty(0, dtype=np.intp)] * n_bands
        counts, edges = np.histogram(values, bins=bins, range=(threshold, threshold + 1))

    present = np.bincount(labels, minlength=N_CLASSES)
    sums = np.bincount(labels, weights=a, minlength=N_CLASSES)
    with np.errstate(invalid="ignore", divide="ignore"):
        class_means = np.where(present > 0, sums / np.maximum(present, 1), np.nan)
    mass = np.bincount(labels[active], weights=values, minlength=N_CLASSES)
    total = mass.sum()
    class_fractions = mass / total if total > 0 else np.zeros(N_CLASSES)
    return FeatureCard(
        feature=j,
        decoder=decoder[:, j].copy(),
        top=top.astype(np.intp),
        top_activations=a[top],
        quantiles=quantiles,
        band_bounds=bounds,
        band_samples=tuple(s.astype(np.intp) for s in samples),
        band_activations=tuple(a[s] for s in samples),
        histogram_counts=counts.astype(np.intp),
        histogram_edges=edges,
        density=active.size / a.size,
        n_active=int(active.size),
        threshold=threshold,
        class_means=class_means,
        class_fractions=class_fractions,
        selective_class=int(np.nanargmax(class_means)),
    )


def _check(codes, decoder, images, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the arrays once; return codes, decoder and labels as arrays."""
    codes = _codes(codes)
    m, p = codes.shape
    decoder = np.asarray(decoder)
    if decoder.ndim != 2 or decoder.shape[1] != p or decoder.shape[0] == 0:
        raise ValueError(f"decoder must have shape (n, {p}), one column per feature (W2); got {decoder.shape}")
    images = np.asarray(images)
    if images.shape != (m, decoder.shape[0]):
        raise ValueError(
            f"images must have shape ({m}, {decoder.shape[0]}), one digit per row of codes; got {images.shape}"
        )
    return codes, decoder, _labels(labels, m)


def feature_cards(
    codes,
    decoder,
    images,
    labels,
    features: Sequence[int],
    *,
    n_top: int = 8,
    n_samples: int = 4,
    threshold: float = 0.0,
    bins: int = 20,
    quantiles: Sequence[float] = QUANTILES,
    seed: int = 0,
) -> list[FeatureCard]:
    """The dashboard card of each of ``features``.

    Parameters
    ----------
    codes : ndarray of shape (m, p)
        Hidden activations ``A`` of the ``m`` test digits.
    decoder : ndarray of shape (n, p)
        Decoder weights ``W2``; column ``j`` is feature ``j``'s vector.
    images : ndarray of shape (m, n)
        The test digits (only their shape is checked here; the book draws
        them).
    labels : ndarray of int, shape (m,)
        Their classes, in 0..9.
    features : sequence of int
        Distinct feature indices in ``0..p-1``, e.g. from :func:`choose_features`.
    n_top : int, default 8
        Top-activating digits per card (>= 1).
    n_samples : int, default 4
        Digits drawn from each quantile band (>= 1).
    threshold : float, default 0.0
        ``τ >= 0``: a feature is active on a digit when its activation is
        ``> τ``.  Pass ``0.5`` for sigmoid codes.
    bins : int, default 20
        Bins of the activation histogram (>= 1).
    quantiles : sequence of float, default QUANTILES
        Band boundaries, at least two increasing values in [0, 1]; the bands
        are consecutive pairs.
    seed : int, default 0
        Seed (>= 0) of the band samples; feature ``j`` draws with
        ``numpy.random.default_rng([seed, j])``, so its card does not depend
        on which other features are asked for.

    Returns
    -------
    list of FeatureCard
        In the order of ``features``.

    Raises
    ------
    ValueError
        If an array has the wrong shape or values (``codes`` not finite,
        ``labels`` outside 0..9), a feature is out of range or repeated, or a
        count, the threshold, the quantiles or the seed is out of range; the
        message names the parameter.
    """
    codes, decoder, labels = _check(codes, decoder, images, labels)
    chosen = _features(features, codes.shape[1])
    options = {
        "n_top": check_int("n_top", n_top, 1),
        "n_samples": check_int("n_samples", n_samples, 1),
        "threshold": check_real("threshold", threshold, low=0),
        "bins": check_int("bins", bins, 1),
        "quantiles": _quantiles(quantiles),
        "seed": check_int("seed", seed, 0),
    }
    return [_card(j, codes, decoder, labels, **options) for j in chosen]


def choose_features(codes, count: int, *, threshold: float = 0.0, seed: int = 0) -> np.ndarray:
    """A few alive features spread over the range of densities, for a dashboard.

    The rule: sort the alive features (active on at least one digit,
    ``ν_j > 0``) by density, densest first (ties: lower index first); cut that
    list into ``count`` consecutive strata of (nearly) equal size; draw one
    feature from each stratum with ``numpy.random.default_rng(seed)``.  The
    result runs from the densest stratum to the rarest, so it shows dense,
    typical and rare features alike.  When at most ``count`` features are
    alive, all of them are returned.

    Parameters
    ----------
    codes : ndarray of shape (m, p)
        Hidden activations of the test digits.
    count : int
        How many features to choose (>= 1).
    threshold : float, default 0.0
        ``τ >= 0``, as in :func:`feature_cards`.
    seed : int, default 0
        Seed (>= 0) of the draw within each stratum.

    Returns
    -------
    ndarray of int, shape (min(count, alive),)
        Distinct feature indices, by decreasing density.

    Raises
    ------
    ValueError
        If ``codes`` is not a finite 2-D array, ``count``, ``threshold`` or
        ``seed`` is out of range, or no feature is alive.
    """
    codes = _codes(codes)
    count = check_int("count", count, 1)
    threshold = check_real("threshold", threshold, low=0)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    density = np.count_nonzero(codes > threshold, axis=0) / codes.shape[0]
    alive = np.flatnonzero(density > 0)
    if alive.size == 0:
        raise ValueError(f"codes has no alive feature: none is > threshold = {threshold:g} on any digit")
    ranked = alive[np.lexsort((alive, -density[alive]))]
    if ranked.size <= count:
        return ranked.astype(np.intp)
    strata = np.array_split(ranked, count)
    return np.array([operator.index(rng.choice(stratum)) for stratum in strata], dtype=np.intp)
