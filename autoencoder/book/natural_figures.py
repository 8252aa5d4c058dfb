"""Figures of the chapter on natural images: the photographs and their spectra, the Gabor fits, the tiling."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .plotting import plot_mosaic

__all__ = [
    "plot_feature_panels",
    "plot_gabor_fits",
    "plot_images_and_spectra",
    "plot_r2_distributions",
    "plot_rho_sweep",
    "plot_tiling",
]


def plot_images_and_spectra(grey, whitened, spectra, names):
    """The photographs before and after whitening, and their radial power spectra.

    Parameters
    ----------
    grey, whitened : sequence of ndarray of shape (h, w)
        Each photograph in grey, and whitened.
    spectra : sequence of (str, ndarray, ndarray)
        A label, the frequencies (cycles per pixel) and the power of each
        spectrum to draw (:func:`autoencoder.datasets.natural.radial_power_spectrum`).
    names : sequence of str
        The photographs' names.

    Returns
    -------
    Figure
    """
    n = len(grey)
    fig = plt.figure(figsize=(4.0 * n + 4.5, 5.6))
    grid = fig.add_gridspec(2, n + 1, width_ratios=[1.0] * n + [1.15])
    for i, (name, before, after) in enumerate(zip(names, grey, whitened, strict=True)):
        for row, (image, label, limits) in enumerate([(before, "grey", (0, 1)), (after, "whitened", (-3, 3))]):
            ax = fig.add_subplot(grid[row, i])
            ax.imshow(image, cmap="gray", vmin=limits[0], vmax=limits[1], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{name}, {label}", fontsize="medium")
    ax = fig.add_subplot(grid[:, n])
    for label, frequency, power in spectra:
        style = "-" if "whitened" in label else "--"
        band = (frequency >= 0.02) & (frequency <= 0.2)
        ax.loglog(frequency, power / np.exp(np.mean(np.log(power[band]))), style, label=label)
    reference = np.array([0.01, 0.5])
    ax.loglog(reference, (reference / np.sqrt(0.02 * 0.2)) ** -2.0, ":", color="grey", label=r"$1/f^2$")
    ax.axvspan(0.02, 0.2, color="grey", alpha=0.08)
    ax.set_xlabel("spatial frequency f (cycles per pixel)")
    ax.set_ylabel("power, ÷ its geometric mean over the band")
    ax.set_title("power spectrum, averaged over rings", fontsize="medium")
    ax.legend(fontsize="x-small")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def plot_feature_panels(panels, patch_shape=(8, 8), size: float = 2.6, n_cols: int | None = None):
    """One mosaic of features per panel, side by side (wrapped into rows of ``n_cols``).

    Parameters
    ----------
    panels : sequence of (str, ndarray of shape (k, h * w))
        A title and the features.
    patch_shape : tuple of int, default (8, 8)
    size : float, default 2.6
        Inches per panel.
    n_cols : int, optional
        Panels per row; all in one row by default.

    Returns
    -------
    Figure
    """
    n_cols = n_cols or len(panels)
    n_rows = int(np.ceil(len(panels) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(size * n_cols, (size + 0.45) * n_rows), squeeze=False)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    for ax, (title, W) in zip(axes.ravel(), panels, strict=False):
        plot_mosaic(W, patch_shape, ax=ax, title=title)
        ax.title.set_fontsize("small")
    fig.tight_layout()
    return fig


def plot_gabor_fits(W, fits, patch_shape=(8, 8), n_cols: int = 13):
    """Each feature above its Gabor fit, with the fraction of variance explained.

    Parameters
    ----------
    W : ndarray of shape (k, h * w)
    fits : sequence of GaborFit
        One per row of ``W``.
    patch_shape : tuple of int, default (8, 8)
    n_cols : int, default 13
        Features per row of the figure.

    Returns
    -------
    Figure
    """
    W = np.asarray(W)
    k = W.shape[0]
    n_rows = int(np.ceil(k / n_cols))
    fig, axes = plt.subplots(2 * n_rows, n_cols, figsize=(0.75 * n_cols, 1.6 * n_rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.axis("off")
    for i, fit in enumerate(fits):
        r, c = divmod(i, n_cols)
        feature = W[i].reshape(patch_shape)
        limit = np.abs(feature - feature.mean()).max() or 1.0
        for row, image in ((2 * r, feature), (2 * r + 1, fit.fitted)):
            ax = axes[row, c]
            ax.imshow(image - feature.mean(), cmap="gray", vmin=-limit, vmax=limit, interpolation="nearest")
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[2 * r + 1, c].set_xlabel(f"{fit.r2:.2f}", fontsize="x-small", labelpad=1)
    axes[0, 0].set_ylabel("feature", fontsize="x-small")
    axes[1, 0].set_ylabel("Gabor", fontsize="x-small")
    fig.tight_layout(h_pad=0.2, w_pad=0.2)
    return fig


def plot_r2_distributions(groups, good_fit: float, ax=None):
    """The cumulative distribution of the Gabor ``R²`` of each group of features.

    Parameters
    ----------
    groups : sequence of (str, ndarray of shape (k,))
        A label and the ``R²`` of its features.
    good_fit : float
        Drawn as a vertical line.

    Returns
    -------
    Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.8))
    for label, r2 in groups:
        values = np.sort(np.asarray(r2))
        ax.step(values, np.arange(1, values.size + 1) / values.size, where="post", label=label)
    ax.axvline(good_fit, color="grey", ls="--", lw=1)
    ax.set_xlim(0, 1)
    ax.set_xlabel(r"fraction of a feature's variance its Gabor fit explains ($R^2$)")
    ax.set_ylabel("fraction of the features")
    ax.legend(fontsize="x-small", loc="upper left")
    ax.grid(alpha=0.3)
    return ax


def plot_tiling(fits, selected, patch_shape=(8, 8), title: str = ""):
    """Where, at which orientation and at which frequency the selected features sit.

    Left: each feature as a bar through its envelope's centre, along its
    stripes, as long as ``2 σ_v`` (at most 6 pixels).  Right: orientation
    against spatial frequency, one dot per feature, on a half disk.

    Parameters
    ----------
    fits : sequence of GaborFit
    selected : ndarray of bool, shape (k,)
        The features to draw (the well-fitted ones, say).
    patch_shape : tuple of int, default (8, 8)
    title : str, optional

    Returns
    -------
    Figure
    """
    chosen = [fit for fit, keep in zip(fits, selected, strict=True) if keep]
    fig = plt.figure(figsize=(8.0, 3.9))
    left = fig.add_subplot(1, 2, 1)
    h, w = patch_shape
    left.add_patch(plt.Rectangle((-0.5, -0.5), w, h, fill=False, color="grey"))
    for fit in chosen:
        along = np.array([-np.sin(fit.theta), np.cos(fit.theta)])
        half = min(fit.sigma_v, 3.0)
        ends = np.array([[fit.x0, fit.y0]]) + np.outer([-half, half], along)
        left.plot(ends[:, 0], ends[:, 1], lw=2, alpha=0.7)
    left.set_xlim(-2.5, w + 1.5)
    left.set_ylim(h + 1.5, -2.5)
    left.set_aspect("equal")
    left.set_title("position and orientation (bars along the stripes)", fontsize="small")
    left.set_xticks([])
    left.set_yticks([])
    right = fig.add_subplot(1, 2, 2, projection="polar")
    theta = np.array([fit.theta for fit in chosen])
    frequency = np.array([fit.frequency for fit in chosen])
    right.scatter(theta, frequency, s=18)
    right.set_thetamin(0)
    right.set_thetamax(180)
    right.set_rmax(0.5)
    right.set_title("wave-vector direction θ against frequency (cycles/pixel)", fontsize="small")
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig


def plot_rho_sweep(rows, n_hidden: int, ax=None):
    """Well-fitted features, edges and orientation bins against ``ρ``.

    Parameters
    ----------
    rows : sequence of dict
        ``rho``, ``n_well``, ``n_edges`` and ``n_bins`` for each network.
    n_hidden : int
        The number of features of each network.

    Returns
    -------
    Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    rho = [r["rho"] for r in rows]
    ax.semilogx(rho, [r["n_well"] for r in rows], "o-", label="well fitted (R² ≥ 0.7)")
    ax.semilogx(rho, [r["n_edges"] for r in rows], "s--", label="localized edges")
    ax.semilogx(rho, [r["n_bins"] for r in rows], "^:", label="orientation bins covered (of 8)")
    ax.set_ylim(-0.5, n_hidden + 0.5)
    ax.set_xlabel(r"target mean activation $\rho$")
    ax.set_ylabel(f"count (of {n_hidden} features)")
    ax.legend(fontsize="x-small")
    ax.grid(alpha=0.3, which="both")
    return ax
