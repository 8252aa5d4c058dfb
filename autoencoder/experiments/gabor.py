"""A 2-D Gabor fit of each feature, and the fraction of its variance the fit explains.

Simple cells of the primary visual cortex respond to oriented, localized
edges and bars, and their receptive fields are described by Gabor functions
(Jones and Palmer 1987); sparse codes of natural images learn features of
that shape (Olshausen and Field 1996; Bell and Sejnowski 1997).  Whether a
feature *is* such an edge detector is measured here by how much of its
variance the best Gabor function explains.

The Gabor function on the pixel grid, with ``(x, y)`` the column and the row
of a pixel:

.. math::

    g(x, y) = e^{-u^2 / 2\\sigma_u^2 - v^2 / 2\\sigma_v^2}
              \\left(a \\cos 2\\pi f u + b \\sin 2\\pi f u\\right) + c,

    u = (x - x_0) \\cos\\theta + (y - y_0) \\sin\\theta,\\quad
    v = -(x - x_0) \\sin\\theta + (y - y_0) \\cos\\theta.

``θ`` is the direction of the wave vector (the stripes run across it), ``f``
the spatial frequency in cycles per pixel, ``σ_u`` and ``σ_v`` the widths
of the envelope across and along the stripes, ``(x_0, y_0)`` its centre;
``a`` and ``b`` give the amplitude ``sqrt(a² + b²)`` and the phase, and ``c``
an offset.  The fit minimizes the squared error over the pixels.  For given
``(x_0, y_0, θ, f, σ_u, σ_v)`` the best ``(a, b, c)`` are a linear least
squares problem, solved exactly inside the residual (variable projection), so
the optimizer (Levenberg–Marquardt, run on every feature and start at once)
searches six parameters; it starts from the largest peaks of the feature's zero-padded Fourier
transform (frequency and orientation), the centre of its energy (position)
and two envelope widths, and the best of the starts is kept.

The measure is :func:`gabor_r2`, ``1 - Σ (w - g)² / Σ (w - w̄)²``.  What it
does and does not separate (the tests and the chapter check each):

* a Gabor function is fitted with ``R² ≈ 1`` and its parameters recovered;
* white noise on 8x8 pixels gets a low ``R²`` (about 0.3: nine parameters
  still fit part of 64 random values);
* a plane grating, a Gabor function of wide envelope, is fitted as well as an
  edge: ``R²`` alone does not say *localized*.  The envelope across the
  stripes does: :func:`is_edge` calls a well-fitted feature an edge when
  fewer than one cycle of its carrier fits in one envelope width
  (``σ_u f < 1``: one or two lobes, where a grating has many) and its
  envelope ends within a patch's width (``σ_u`` below the patch side; an
  odd Gabor function of ``f → 0`` is the derivative of a Gaussian, a single
  edge, but with an envelope wider than the patch it is a ramp).

Each fit starts from four points (two Fourier peaks, two envelope widths).
Sixteen starts (four peaks, four widths) raised no feature's ``R²`` by more
than 0.12 (white noise), 0.09 (features of the chapter's networks), and
changed no count of well-fitted features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core._validation import check_int, check_real

__all__ = [
    "EDGE_CYCLES",
    "GOOD_FIT",
    "N_ORIENTATION_BINS",
    "GaborFit",
    "fit_gabor",
    "fit_gabors",
    "gabor",
    "gabor_r2",
    "is_edge",
    "orientation_bins",
]

GOOD_FIT = 0.7
"""A feature whose Gabor fit explains at least this fraction of its variance is called well fitted."""

EDGE_CYCLES = 1.0
"""An edge has fewer than this many carrier cycles per envelope width across its stripes (``σ_u f``)."""

N_ORIENTATION_BINS = 8
"""Orientation bins of 22.5° over [0°, 180°), the first centred on 0° (stripes running vertically)."""

SIGMA_RANGE = (0.5, 20.0)
"""Bounds of the envelope widths ``σ_u, σ_v`` in pixels."""


@dataclass(frozen=True)
class GaborFit:
    """The best Gabor function for one feature.

    Attributes
    ----------
    r2 : float
        Fraction of the feature's variance the fit explains, ``1 − SSE / SST``.
    x0, y0 : float
        Centre of the envelope, in pixels (column, row; 0 is the first pixel).
    theta : float
        Direction of the wave vector, radians in [0, π).
    frequency : float
        Cycles per pixel, in [0, 0.5].
    sigma_u, sigma_v : float
        Envelope widths across and along the stripes, pixels.
    amplitude, phase, offset : float
        ``sqrt(a² + b²)``, ``atan2(b, a)`` (0: even, cosine-like; ±π/2: odd,
        an edge) and ``c``.
    fitted : ndarray of shape (h, w)
        The fitted Gabor function on the grid.
    """

    r2: float
    x0: float
    y0: float
    theta: float
    frequency: float
    sigma_u: float
    sigma_v: float
    amplitude: float
    phase: float
    offset: float
    fitted: np.ndarray


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    return x.ravel().astype(np.float64), y.ravel().astype(np.float64)


def _basis(nonlinear, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The columns ``(E cos 2πfu, E sin 2πfu, 1)`` for each row of six nonlinear parameters.

    Parameters
    ----------
    nonlinear : array_like of shape (6,) or (k, 6)
        ``(x0, y0, θ, f, σ_u, σ_v)``, one set per row.
    x, y : ndarray of shape (n,)
        The pixels' columns and rows.

    Returns
    -------
    ndarray of shape (n, 3) or (k, n, 3)
    """
    nonlinear = np.asarray(nonlinear, dtype=np.float64)
    x0, y0, theta, frequency, sigma_u, sigma_v = (column[..., None] for column in np.moveaxis(nonlinear, -1, 0))
    dx, dy = x - x0, y - y0
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    envelope = np.exp(-0.5 * (u / sigma_u) ** 2 - 0.5 * (v / sigma_v) ** 2)
    carrier = 2 * np.pi * frequency * u
    return np.stack([envelope * np.cos(carrier), envelope * np.sin(carrier), np.ones_like(u)], axis=-1)


def _best_linear(columns: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The least-squares ``(a, b, c)`` for each stack of columns, shape (..., 3).

    ``columns`` has shape (..., n, 3) and ``target`` shape (n,) or one that
    broadcasts with (..., n).  The normal equations carry a ridge of ``1e-10``
    of their trace, so that a column that vanishes (``f = 0`` makes the sine
    column zero) gets a zero coefficient instead of a singular system.
    """
    transposed = np.swapaxes(columns, -1, -2)
    gram = transposed @ columns
    ridge = (1e-10 * np.trace(gram, axis1=-2, axis2=-1)[..., None, None] + 1e-300) * np.eye(3)
    return np.linalg.solve(gram + ridge, transposed @ target[..., None])[..., 0]


def gabor(shape, x0, y0, theta, frequency, sigma_u, sigma_v, amplitude=1.0, phase=0.0, offset=0.0) -> np.ndarray:
    """The Gabor function of the module's formula on a grid of ``shape`` pixels.

    Parameters
    ----------
    shape : tuple of int
        ``(h, w)``.
    x0, y0, theta, frequency, sigma_u, sigma_v, amplitude, phase, offset : float
        As in :class:`GaborFit`; ``a = amplitude cos(phase)``, ``b = amplitude sin(phase)``.

    Returns
    -------
    ndarray of shape (h, w)
    """
    shape = (check_int("shape[0]", shape[0], 1), check_int("shape[1]", shape[1], 1))
    check_real("sigma_u", sigma_u, low=0, low_open=True)
    check_real("sigma_v", sigma_v, low=0, low_open=True)
    x, y = _grid(shape)
    columns = _basis((x0, y0, theta, frequency, sigma_u, sigma_v), x, y)
    coefficients = np.array([amplitude * np.cos(phase), amplitude * np.sin(phase), offset])
    return (columns @ coefficients).reshape(shape)


def _starts(feature: np.ndarray, n_peaks: int = 2) -> list[np.ndarray]:
    """Starting points: the largest Fourier peaks, the energy centre, two envelope widths."""
    h, w = feature.shape
    pad = 4 * max(h, w)
    spectrum = np.abs(np.fft.rfft2(feature - feature.mean(), s=(pad, pad)))
    fy = np.fft.fftfreq(pad)[:, None] * np.ones((1, spectrum.shape[1]))
    fx = np.fft.rfftfreq(pad)[None, :] * np.ones((pad, 1))
    order = np.argsort(spectrum.ravel())[::-1]
    peaks = []
    for index in order:
        kx, ky = fx.ravel()[index], fy.ravel()[index]
        if all(np.hypot(kx - px, ky - py) > 1.5 / max(h, w) for px, py in peaks):
            peaks.append((kx, ky))
        if len(peaks) == n_peaks:
            break
    energy = feature - feature.mean()
    energy = energy**2 / max(np.sum(energy**2), np.finfo(float).tiny)
    x, y = _grid((h, w))
    cx, cy = float(energy.ravel() @ x), float(energy.ravel() @ y)
    starts = []
    for kx, ky in peaks:
        theta, frequency = np.arctan2(ky, kx) % np.pi, min(np.hypot(kx, ky), 0.5)
        for sigma in (1.5, 0.5 * max(h, w)):
            starts.append(np.array([cx, cy, theta, frequency, sigma, sigma]))
    return starts


def _as_image(feature, shape: tuple[int, int] | None) -> np.ndarray:
    """``feature`` as a finite, non-constant image of shape ``shape`` (default square)."""
    feature = np.asarray(feature, dtype=np.float64)
    if feature.ndim == 1:
        if shape is None:
            side = int(round(np.sqrt(feature.size)))
            if side * side != feature.size:
                raise ValueError(f"feature of {feature.size} pixels is not square; give shape=(h, w)")
            shape = (side, side)
        if int(np.prod(shape)) != feature.size:
            raise ValueError(f"shape {shape} does not hold the feature's {feature.size} pixels")
        feature = feature.reshape(shape)
    if feature.ndim != 2 or feature.size < 10:
        raise ValueError(f"feature must be an image of at least 10 pixels; got shape {feature.shape}")
    if not np.all(np.isfinite(feature)):
        raise ValueError("feature must hold finite numbers")
    if np.ptp(feature) == 0:
        raise ValueError("feature is constant: it has no variance for a fit to explain")
    return feature


def _residuals(nonlinear: np.ndarray, targets: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fit minus target, shape (..., n), for parameters (..., 6) and targets broadcasting with (..., n)."""
    columns = _basis(nonlinear, x, y)
    return (columns @ _best_linear(columns, targets)[..., None])[..., 0] - targets


def _levenberg_marquardt(targets, starts, x, y, lower, upper, max_iter: int = 200) -> np.ndarray:
    """Minimize each ``‖residual‖²`` from its start, all at once; the parameters, shape (K, 6).

    Levenberg–Marquardt with Marquardt's scaling (the damping is ``λ`` times
    the diagonal of ``JᵀJ``), forward-difference Jacobians and each step
    projected onto the bounds.  A run stops when a step lowers its cost by
    less than ``1e-10`` of it, or its damping exceeds ``1e10``.
    """
    params = np.clip(starts, lower, upper)
    cost = np.sum(_residuals(params, targets, x, y) ** 2, axis=-1)
    damping = np.full(len(params), 1e-3)
    active = np.ones(len(params), dtype=bool)
    for _ in range(max_iter):
        index = np.flatnonzero(active)
        if index.size == 0:
            break
        p, t = params[index], targets[index]
        r = _residuals(p, t, x, y)
        step = 1e-6 * np.maximum(1.0, np.abs(p))
        step = np.where(p + step > upper, -step, step)
        moved = p[:, None, :] + step[:, :, None] * np.eye(6)
        jacobian = (_residuals(moved, t[:, None, :], x, y) - r[:, None, :]) / step[:, :, None]  # (k, 6, n)
        normal = jacobian @ np.swapaxes(jacobian, -1, -2)
        gradient = (jacobian @ r[..., None])[..., 0]
        diagonal = np.diagonal(normal, axis1=-2, axis2=-1)
        scale = damping[index, None] * (diagonal + 1e-12 * diagonal.max(axis=-1, keepdims=True) + 1e-300)
        delta = np.linalg.solve(normal + scale[..., None] * np.eye(6), -gradient[..., None])[..., 0]
        trial = np.clip(p + delta, lower, upper)
        trial_cost = np.sum(_residuals(trial, t, x, y) ** 2, axis=-1)
        better = trial_cost < cost[index]
        gain = (cost[index] - trial_cost) / np.maximum(cost[index], 1e-300)
        params[index[better]] = trial[better]
        cost[index[better]] = trial_cost[better]
        damping[index] = np.where(better, damping[index] / 3, damping[index] * 4)
        done = (better & (gain < 1e-10)) | (damping[index] > 1e10)
        active[index[done]] = False
    return params


def fit_gabors(W, shape: tuple[int, int] | None = None) -> list[GaborFit]:
    """The best Gabor function for each row of ``W``, by least squares from four starts each.

    Parameters
    ----------
    W : array_like of shape (k, h * w)
        One feature per row (rows of ``W1``, principal components, dictionary atoms).
    shape : tuple of int, optional
        ``(h, w)``; default square.

    Returns
    -------
    list of GaborFit
        One per row, in order.

    Raises
    ------
    ValueError
        If ``W`` is empty, or a feature is not finite, has fewer than 10
        pixels, or is constant (no variance to explain).
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] == 0:
        raise ValueError(f"W must be a non-empty 2-D array with one feature per row; got shape {W.shape}")
    images = [_as_image(row, shape) for row in W]
    h, w = images[0].shape
    x, y = _grid((h, w))
    margin = 0.5 * max(h, w)
    lower = np.array([-margin, -margin, -np.inf, 0.0, SIGMA_RANGE[0], SIGMA_RANGE[0]])
    upper = np.array([w - 1 + margin, h - 1 + margin, np.inf, 0.5, SIGMA_RANGE[1], SIGMA_RANGE[1]])
    starts = [_starts(image) for image in images]
    owner = np.concatenate([[i] * len(s) for i, s in enumerate(starts)])
    targets = np.stack([image.ravel() for image in images])[owner]
    params = _levenberg_marquardt(targets, np.concatenate(starts), x, y, lower, upper)
    cost = np.sum(_residuals(params, targets, x, y) ** 2, axis=-1)
    fits = []
    for i, image in enumerate(images):
        mine = np.flatnonzero(owner == i)
        best = params[mine[np.argmin(cost[mine])]]
        fits.append(_gabor_fit(best, image.ravel(), (h, w), x, y))
    return fits


def _gabor_fit(nonlinear: np.ndarray, target: np.ndarray, shape, x, y) -> GaborFit:
    x0, y0, theta, frequency, sigma_u, sigma_v = nonlinear
    columns = _basis(nonlinear, x, y)
    a, b, c = _best_linear(columns, target)
    fitted = columns @ np.array([a, b, c])
    return GaborFit(
        r2=1.0 - float(np.sum((target - fitted) ** 2)) / float(np.sum((target - target.mean()) ** 2)),
        x0=float(x0),
        y0=float(y0),
        theta=float(theta % np.pi),
        frequency=float(frequency),
        sigma_u=float(sigma_u),
        sigma_v=float(sigma_v),
        amplitude=float(np.hypot(a, b)),
        phase=float(np.arctan2(b, a)),
        offset=float(c),
        fitted=fitted.reshape(shape),
    )


def fit_gabor(feature, shape: tuple[int, int] | None = None) -> GaborFit:
    """The best Gabor function for one feature (:func:`fit_gabors` of one row).

    Parameters
    ----------
    feature : array_like of shape (h, w) or (h * w,)
    shape : tuple of int, optional
        ``(h, w)`` of a flat feature; default square.

    Returns
    -------
    GaborFit
    """
    image = _as_image(feature, shape)
    return fit_gabors(image.ravel()[None, :], image.shape)[0]


def gabor_r2(fits) -> np.ndarray:
    """The ``R²`` of each fit, shape (k,)."""
    return np.array([fit.r2 for fit in fits])


def orientation_bins(theta, n_bins: int = N_ORIENTATION_BINS) -> np.ndarray:
    """The orientation bin of each angle: ``n_bins`` bins over [0, π), the first centred on 0.

    Parameters
    ----------
    theta : array_like of shape (k,)
        Angles in radians, taken modulo π.
    n_bins : int, default N_ORIENTATION_BINS

    Returns
    -------
    ndarray of int, shape (k,)
        Values 0 to ``n_bins − 1``.
    """
    n_bins = check_int("n_bins", n_bins, 1)
    width = np.pi / n_bins
    theta = np.asarray(theta, dtype=np.float64) % np.pi
    return (np.floor((theta + width / 2) / width) % n_bins).astype(int)


def is_edge(fits, shape: tuple[int, int] = (8, 8), good_fit: float = GOOD_FIT) -> np.ndarray:
    """Which fits are localized edges: well fitted, ``σ_u f < EDGE_CYCLES`` and ``σ_u`` below the patch side.

    Parameters
    ----------
    fits : sequence of GaborFit
    shape : tuple of int, default (8, 8)
        The patch; its larger side bounds ``σ_u``.
    good_fit : float, default GOOD_FIT

    Returns
    -------
    ndarray of bool, shape (k,)
    """
    side = max(shape)
    return np.array(
        [fit.r2 >= good_fit and fit.sigma_u * fit.frequency < EDGE_CYCLES and fit.sigma_u < side for fit in fits],
        dtype=bool,
    )
