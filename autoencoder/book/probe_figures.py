"""Figures of the self-taught learning chapter.  Imported by notebooks, never by the numerical modules."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_errors_side_by_side", "plot_error_curves"]


def plot_errors_side_by_side(rows: Sequence[Mapping], references: Mapping[str, float] | None = None, axes=None):
    """Classification error and reconstruction error of each representation, as two bar charts.

    Parameters
    ----------
    rows : sequence of dict
        Rows of :func:`autoencoder.experiments.probes.probe_representations`: ``label``, ``accuracy`` and
        ``reconstruction_mse`` (NaN draws no bar).
    references : dict of str to float, optional
        Accuracies drawn as vertical lines on the left panel, by label.
    axes : pair of Axes, optional

    Returns
    -------
    Figure
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 0.42 * len(rows) + 1.4), sharey=True)
    fig = axes[0].figure
    labels = [r["label"] for r in rows]
    where = np.arange(len(rows))[::-1]
    error = np.array([100 * (1 - r["accuracy"]) for r in rows])
    mse = np.array([r["reconstruction_mse"] for r in rows], dtype=float)
    left, right = axes
    left.barh(where, error, color="tab:blue")
    for value, y in zip(error, where, strict=True):
        left.text(value, y, f" {value:.1f}", va="center", fontsize="small")
    for (name, accuracy), style in zip((references or {}).items(), ("--", ":", "-."), strict=False):
        left.axvline(100 * (1 - accuracy), color="tab:red", ls=style, lw=1, label=name)
    if references:
        left.legend(fontsize="small", loc="lower right")
    left.set_yticks(where, labels)
    left.set_xlim(0, 1.15 * float(np.nanmax(error)))
    left.set_xlabel("test error of the probe (%)")
    left.set_title("classifies well: short bar")
    shown = np.isfinite(mse)
    right.barh(where[shown], mse[shown], color="tab:green")
    for value, y in zip(mse, where, strict=True):
        right.text(
            value if math.isfinite(value) else 0,
            y,
            f" {value:.1f}" if math.isfinite(value) else " —",
            va="center",
            fontsize="small",
        )
    right.set_xlim(0, 1.15 * float(np.nanmax(mse)))
    right.set_xlabel(r"reconstruction error $\|x - \hat x\|^2$ per test image")
    right.set_title("reconstructs well: short bar")
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_error_curves(
    x: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    *,
    references: Mapping[str, float] | None = None,
    xlabel: str,
    title: str,
    ax=None,
    log_x: bool = True,
    tick_labels: Sequence[str] | None = None,
    spreads: Mapping[str, Sequence[float]] | None = None,
):
    """Test error (%) against a quantity, one curve per representation, with horizontal references.

    Parameters
    ----------
    x : sequence of float
        The positions on the horizontal axis.
    curves : dict of str to sequence of float
        Accuracies at ``x``, by label.
    references : dict of str to float, optional
        Accuracies drawn as horizontal lines, by label.
    xlabel, title : str
    ax : Axes, optional
    log_x : bool, default True
    tick_labels : sequence of str, optional
        Labels of the ticks at ``x``; default the values of ``x``.
    spreads : dict of str to sequence of float, optional
        Standard deviations of the accuracies at ``x``, by label (a curve's mean over label
        subsets, say), drawn as error bars of ± one sd; a curve without one has none.

    Returns
    -------
    Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4))
    for label, accuracies in curves.items():
        spread = (spreads or {}).get(label)
        yerr = None if spread is None else [100 * s for s in spread]
        ax.errorbar(x, [100 * (1 - a) for a in accuracies], yerr=yerr, marker="o", capsize=3, label=label)
    for (label, accuracy), style in zip((references or {}).items(), ("--", ":", "-."), strict=False):
        ax.axhline(100 * (1 - accuracy), color="gray", ls=style, lw=1.2, label=label)
    if log_x:
        ax.set_xscale("log")
    ax.set_xticks(list(x), list(tick_labels) if tick_labels is not None else [f"{v:g}" for v in x])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test error of the probe (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax
