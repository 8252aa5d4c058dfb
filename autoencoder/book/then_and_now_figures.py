"""Figures of the chapter "Sparse autoencoders, then and now".  Imported by notebooks, never by the math."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

from ..experiments.then_and_now import FAMILIES, FAMILY_LABELS, frontier
from .plotting import plot_mosaic

__all__ = ["plot_frontiers", "plot_frequency_histograms", "plot_family_mosaics", "plot_family_reconstructions"]

COLORS = {"2013": "tab:blue", "2013-linear": "tab:purple", "2023": "tab:orange", "2024": "tab:green"}
CMAPS = {"2013": "Blues", "2013-linear": "Purples", "2023": "Oranges", "2024": "Greens"}


def _families(rows):
    return [f for f in FAMILIES if any(r["family"] == f for r in rows)]


def plot_frontiers(rows, ax=None, title="L0 against FVU, one curve per family", key="fvu", ylabel="FVU (test digits)"):
    """Each family's L0–FVU frontier (:func:`autoencoder.experiments.then_and_now.frontier`), L0 on a log scale.

    Parameters
    ----------
    rows : sequence of dict
        One row per network, or per member with its seeds' spread
        (:func:`autoencoder.experiments.then_and_now.seed_summary`: ``l0_sd``
        and ``{key}_sd`` are drawn as error bars of ± 1 sd).
    ax : Axes, optional
    title : str
    key : str, default "fvu"
    ylabel : str
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2))
    for family in _families(rows):
        l0, fvu = frontier(rows, family, key)
        mine = sorted((r for r in rows if r["family"] == family), key=lambda r: r["l0"])
        if all(f"{key}_sd" in r for r in mine):
            ax.errorbar(
                l0,
                fvu,
                xerr=[r.get("l0_sd", 0.0) for r in mine],
                yerr=[r[f"{key}_sd"] for r in mine],
                fmt="o-",
                ms=4,
                capsize=2,
                color=COLORS[family],
                label=FAMILY_LABELS[family],
            )
        else:
            ax.plot(l0, fvu, "o-", color=COLORS[family], label=FAMILY_LABELS[family])
    ax.set_xscale("log")
    ticks = [
        t
        for t in (1, 2, 5, 10, 20, 50, 100, 200, 500)
        if min(r["l0"] for r in rows) / 2 <= t <= 2 * max(r["l0"] for r in rows)
    ]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FixedFormatter([str(t) for t in ticks]))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("L0: active units per image (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return ax


def plot_frequency_histograms(rows, n_examples: int, dense_fraction: float, bins: int = 30):
    """Histograms of ``log10 ν_j``, one panel per family, one step curve per member; dead units apart.

    A dead unit (``ν_j = 0``) has no logarithm: it is drawn as a bar at the
    left of each panel, left of ``log10(1/m)``, the smallest frequency a live
    unit can have.  The dashed line is the dense fraction ``δ``.

    Parameters
    ----------
    rows : sequence of dict
        :func:`autoencoder.experiments.then_and_now.measure_members`.
    n_examples : int
        ``m``, the images the frequencies were measured on.
    dense_fraction : float
        ``δ``.
    bins : int, default 30

    Returns
    -------
    Figure
    """
    families = _families(rows)
    columns = min(len(families), 2)
    lines = -(-len(families) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4.6 * columns, 3.4 * lines), sharey=True, squeeze=False)
    for ax in axes.flat[len(families) :]:
        ax.set_visible(False)
    low = np.log10(1.0 / n_examples)
    edges = np.linspace(low, 0.0, bins + 1)
    dead_at = low - 0.6
    for ax, family in zip(axes.flat, families, strict=False):
        members = [r for r in rows if r["family"] == family]
        cmap = plt.get_cmap(CMAPS[family])
        for i, row in enumerate(members):
            color = cmap(0.4 + 0.6 * i / max(len(members) - 1, 1))
            live = row["frequency"][row["frequency"] > 0]
            ax.hist(np.log10(live), bins=edges, histtype="step", lw=1.6, color=color, label=f"{row['label']}")
            width = 0.5 / len(members)
            ax.bar(dead_at - 0.25 + (i + 0.5) * width, row["dead"], width=width, color=color)
        ax.axvline(np.log10(dense_fraction), color="k", ls="--", lw=0.8)
        ax.set_xticks([dead_at, *range(int(np.ceil(low)), 1)])
        ax.set_xticklabels(["dead", *(str(t) for t in range(int(np.ceil(low)), 1))])
        ax.set_xlabel(r"$\log_{10}$ activation frequency $\nu_j$")
        ax.set_title(FAMILY_LABELS[family], fontsize="medium")
        ax.legend(fontsize="x-small", loc="upper center")
    for ax in axes[:, 0]:
        ax.set_ylabel("hidden units")
    fig.tight_layout()
    return fig


def plot_family_mosaics(panels, size: float = 4.0):
    """One mosaic of features per panel, side by side.

    Parameters
    ----------
    panels : sequence of (str, ndarray of shape (p, 784))
        A title and the features (rows of ``W1``, or columns of ``W2`` transposed), in the order to draw them.
    size : float, default 4.0
        Inches per panel.

    Returns
    -------
    Figure
    """
    columns = min(len(panels), 2)
    lines = -(-len(panels) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(size * columns, (size + 0.4) * lines), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (title, W) in zip(axes.flat, panels, strict=False):
        plot_mosaic(W, ax=ax, title=title)
        ax.title.set_fontsize("medium")
    fig.tight_layout()
    return fig


def plot_family_reconstructions(X, reconstructions, patch_shape=(28, 28)):
    """Originals on the first row, then one row of reconstructions per network.

    Parameters
    ----------
    X : ndarray of shape (n, 784)
    reconstructions : sequence of (str, ndarray of shape (n, 784))
        A row label and the reconstructions of ``X``.

    Returns
    -------
    Figure
    """
    X = np.asarray(X)
    n = X.shape[0]
    rows = [("original", X), *reconstructions]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.0 * n + 2.2, 1.05 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(np.asarray(images[i]).reshape(patch_shape), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize="small")
    fig.subplots_adjust(left=0.22, wspace=0.05, hspace=0.08)
    return fig
