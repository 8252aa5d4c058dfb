"""Composite figures (chapters 2, 3 and 6).

:func:`plot_mosaic_panels` draws several feature mosaics side by side (or in a
grid, as the paper's Figure 1); :func:`plot_principal_angles` draws the
principal angles between learned subspaces and a reference one;
:func:`plot_optimality_gap` and :func:`plot_singular_values` show a linear
network converging on its theorems (chapters 2 and 3).  The numbers that
describe a mosaic (:func:`~autoencoder.experiments.measures.effective_area`,
:func:`~autoencoder.experiments.measures.localized_fraction`) are measures,
in :mod:`autoencoder.experiments.measures`.  Imported by notebooks, never by
the numerical modules.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .plotting import plot_mosaic

__all__ = [
    "plot_mosaic_panels",
    "plot_optimality_gap",
    "plot_principal_angles",
    "plot_singular_values",
]


def plot_mosaic_panels(panels, n_rows=1, patch_shape=(28, 28), panel_size=3.6, n_cols=None, suptitle=None):
    """Several feature mosaics in a grid, one titled panel per entry.

    Parameters
    ----------
    panels : dict of str to ndarray of shape (k, h * w)
        Panel title to features (one per row), drawn in this order, each
        feature scaled to its own range (:func:`autoencoder.book.plotting.plot_mosaic`).
    n_rows : int, default 1
        Rows of panels; the panels fill the grid row by row.
    patch_shape : tuple of int, default (28, 28)
    panel_size : float, default 3.6
        Width and height of one panel in inches.
    n_cols : int, optional
        Features per row of each mosaic (default: a square).
    suptitle : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not panels:
        raise ValueError("panels must hold at least one mosaic")
    n_panels = len(panels)
    grid_cols = int(np.ceil(n_panels / n_rows))
    fig, axes = plt.subplots(
        n_rows, grid_cols, figsize=(panel_size * grid_cols, panel_size * n_rows + 0.4), squeeze=False
    )
    for ax, (title, W) in zip(list(axes.flat)[:n_panels], panels.items(), strict=True):
        plot_mosaic(W, patch_shape, ax=ax, title=title, n_cols=n_cols)
    for ax in list(axes.flat)[n_panels:]:
        ax.set_axis_off()
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_principal_angles(angles, ax=None, title="Principal angles to the PCA subspace"):
    """Principal angles (radians) of one or more subspaces, in degrees, sorted.

    Parameters
    ----------
    angles : dict of str to ndarray
        Label to the angles in radians, as :func:`autoencoder.principal_angles`
        returns them.
    ax : matplotlib.axes.Axes, optional
    title : str

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for label, values in angles.items():
        degrees = np.sort(np.degrees(np.asarray(values, dtype=np.float64)))
        ax.plot(np.arange(1, degrees.size + 1), degrees, label=label, lw=1.8)
    ax.set_xlabel("index of the principal angle (sorted)")
    ax.set_ylabel("angle (degrees)")
    ax.set_ylim(0, 90)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_optimality_gap(gaps, ax=None, target=None, title="Error above the Eckart–Young optimum"):
    """The relative error above an optimum, iteration by iteration, on a log scale.

    Parameters
    ----------
    gaps : dict of str to ndarray of shape (n_iter + 1,)
        Label to ``(E_k − E*) / E*`` at the start and after every iteration;
        drawn in this order, each line thinner than the one before, so that
        curves that coincide stay visible.
    ax : matplotlib.axes.Axes, optional
    target : float, optional
        Drawn as a dashed horizontal line.
    title : str

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    widths = np.linspace(4.0, 1.5, len(gaps)) if len(gaps) > 1 else [1.8]
    for (label, values), width in zip(gaps.items(), widths, strict=True):
        values = np.asarray(values, dtype=np.float64)
        ax.semilogy(np.arange(values.size), values, label=label, lw=width)
    if target is not None:
        ax.axhline(target, color="0.4", ls="--", lw=1, label=f"{target:g}")
    ax.set_xlabel("L-BFGS iteration")
    ax.set_ylabel("relative error above the optimum")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return ax


def plot_singular_values(measured, predicted, angles, title=None):
    """A decoder's singular values beside a formula, their differences, and the angle of each singular vector.

    Parameters
    ----------
    measured : ndarray of shape (p,)
        Singular values, in decreasing order.
    predicted : ndarray of shape (p,)
        The formula's values, drawn as a line.
    angles : ndarray of shape (p,)
        Radians between the ``i``-th left singular vector and the ``i``-th
        principal direction.
    title : str, optional
        Title of the figure.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels: the values and the formula, ``|measured − predicted|``
        on a log scale, the angles in degrees on a log scale (zeros drawn at
        the axis floor, 1e-6).
    """
    measured, predicted = np.asarray(measured, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    index = np.arange(1, predicted.size + 1)
    fig, (values_ax, error_ax, angle_ax) = plt.subplots(1, 3, figsize=(12, 3.6))
    values_ax.plot(index, predicted, color="k", lw=3, alpha=0.3, label=r"$\sqrt{\max(0, 1 - \lambda/\ell_i)}$")
    values_ax.plot(index, measured, ".", ms=4, label="measured")
    values_ax.set_ylabel("singular value of $W_2$")
    values_ax.legend()
    error_ax.semilogy(index, np.maximum(np.abs(measured - predicted), 1e-12), ".", ms=4)
    error_ax.set_ylabel("|measured − formula|")
    angle_ax.semilogy(index, np.maximum(np.degrees(np.asarray(angles, dtype=np.float64)), 1e-6), ".", ms=4)
    angle_ax.set_ylabel("angle to principal direction $i$ (degrees)")
    for ax in (values_ax, error_ax, angle_ax):
        ax.set_xlabel("index $i$ (decreasing variance)")
        ax.grid(alpha=0.3, which="both")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
