"""Figures for the chapters.  Imported by notebooks, never by the numerical modules."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

__all__ = [
    "mosaic_image",
    "plot_mosaic",
    "plot_loss_history",
    "plot_activation_histogram",
    "plot_reconstructions",
    "png_bytes",
]

TERM_LABELS = {
    "reconstruction": r"reconstruction $\frac{1}{m}\sum \frac{1}{2}\|h-x\|^2$",
    "weight_decay": r"weight decay $\lambda\psi$",
    "sparsity": r"sparsity $\beta\sum\varphi(\hat\rho_j)$",
    "total": r"total $J$",
}


def mosaic_image(W, patch_shape=(28, 28), n_cols=None, pad=1, normalize="each") -> np.ndarray:
    """Tile the rows of ``W`` as image patches, as UFLDL's ``display_network`` does.

    Parameters
    ----------
    W : ndarray of shape (k, h * w)
        One feature (or image) per row.
    patch_shape : tuple of int, default (28, 28)
    n_cols : int, optional
        Patches per row of the mosaic; default ``ceil(sqrt(k))``.
    pad : int, default 1
        Width of the separators between patches.
    normalize : {"each", "none"}, default "each"
        ``"each"``: subtract each row's mean and divide by its largest
        absolute value, so each feature uses the whole grey range [-1, 1];
        ``"none"``: keep the values.

    Returns
    -------
    ndarray of shape (rows * (h + pad) + pad, n_cols * (w + pad) + pad)
        Separators hold NaN so that a colormap's "bad" colour draws them.
    """
    W = np.asarray(W, dtype=np.float64)
    k = W.shape[0]
    h, w = patch_shape
    if W.ndim != 2 or W.shape[1] != h * w:
        raise ValueError(f"W must have shape (k, {h * w}) for patch_shape={patch_shape}; got {W.shape}")
    if normalize == "each":
        W = W - W.mean(axis=1, keepdims=True)
        scale = np.abs(W).max(axis=1, keepdims=True)
        W = W / np.where(scale > 0, scale, 1)
    elif normalize != "none":
        raise ValueError(f"normalize must be 'each' or 'none'; got {normalize!r}")
    n_cols = n_cols or int(np.ceil(np.sqrt(k)))
    n_rows = int(np.ceil(k / n_cols))
    out = np.full((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad), np.nan)
    for i in range(k):
        r, c = divmod(i, n_cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        out[top : top + h, left : left + w] = W[i].reshape(h, w)
    return out


def plot_mosaic(W, patch_shape=(28, 28), ax=None, title=None, normalize="each", n_cols=None):
    """Draw :func:`mosaic_image` with thin white separators; returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    cmap = plt.get_cmap("gray").with_extremes(bad="white")
    img = mosaic_image(W, patch_shape, n_cols=n_cols, normalize=normalize)
    limit = np.nanmax(np.abs(img)) if normalize == "none" else 1.0
    vmin = np.nanmin(img) if normalize == "none" else -limit
    ax.imshow(img, cmap=cmap, vmin=vmin, vmax=limit, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def plot_loss_history(history, ax=None, title="Objective during training"):
    """The terms of ``J`` against the iteration, on a log scale; returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for term, label in TERM_LABELS.items():
        values = np.asarray(history[term])
        if np.any(values > 0):
            ax.plot(np.arange(len(values)), values, label=label, lw=2 if term == "total" else 1.2)
    ax.set_yscale("log")
    ax.set_xlabel("L-BFGS iteration")
    ax.set_ylabel("value")
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_activation_histogram(rho_hat, rho=None, ax=None, bins=40, title=r"Mean activations $\hat\rho_j$"):
    """Histogram of the hidden units' mean activations, with the target ``ρ``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    ax.hist(np.asarray(rho_hat), bins=bins, color="tab:blue", alpha=0.8)
    if rho is not None:
        ax.axvline(rho, color="tab:red", ls="--", label=rf"target $\rho = {rho:g}$")
        ax.legend()
    ax.set_xlabel(r"mean activation $\hat\rho_j$")
    ax.set_ylabel("hidden units")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # a count of units has whole ticks
    ax.set_title(title)
    return ax


def plot_reconstructions(X, H, patch_shape=(28, 28), n=10, axes=None):
    """Originals (top row) above reconstructions (bottom row); returns the figure."""
    X, H = np.asarray(X)[:n], np.asarray(H)[:n]
    if axes is None:
        fig, axes = plt.subplots(2, n, figsize=(1.2 * n, 2.6))
    else:
        fig = axes[0, 0].figure
    for i in range(n):
        for row, data in enumerate((X, H)):
            ax = axes[row, i]
            ax.imshow(data[i].reshape(patch_shape), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("original")
    axes[1, 0].set_ylabel("reconstruction")
    return fig


def png_bytes(fig, dpi=80) -> bytes:
    """Render a figure to PNG bytes without a timestamp or software tag, and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
