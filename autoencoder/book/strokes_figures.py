"""Figures of the chapter *What makes the strokes*: distributions of feature measures, by setting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_measure_distributions", "plot_seed_means"]


def plot_measure_distributions(
    groups: Mapping[str, Mapping[str, np.ndarray]],
    measures: Sequence[tuple[str, str]],
    *,
    marks: Mapping[str, float] | None = None,
    panel_size: tuple[float, float] = (4.0, 3.0),
):
    """The empirical distribution of each per-feature measure, one line per group.

    Parameters
    ----------
    groups : mapping of str to mapping of str to ndarray of shape (k,)
        Label to per-feature measures (the ``features`` of
        :func:`autoencoder.experiments.strokes.network_measures`, pooled over
        seeds), drawn in this order.
    measures : sequence of (str, str)
        ``(key, axis label)`` of the measures, one panel each.
    marks : mapping of str to float, optional
        ``key -> value`` drawn as a dotted vertical line (a cut-off, say).
    panel_size : (float, float), default (4.0, 3.0)

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not groups or not measures:
        raise ValueError("groups and measures must each hold at least one entry")
    marks = dict(marks or {})
    fig, axes = plt.subplots(
        1, len(measures), figsize=(panel_size[0] * len(measures), panel_size[1]), squeeze=False, layout="constrained"
    )
    colours = plt.get_cmap("tab10")
    for ax, (key, label) in zip(axes[0], measures, strict=True):
        for index, (name, features) in enumerate(groups.items()):
            values = np.sort(np.asarray(features[key], dtype=np.float64))
            fraction = np.arange(1, values.size + 1) / values.size
            ax.step(values, fraction, where="post", color=colours(index % 10), label=name)
        if key in marks:
            ax.axvline(marks[key], color="0.4", linestyle=":", linewidth=1)
        ax.set_xlabel(label)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("fraction of features at or below")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(groups)), fontsize="small")
    return fig


def plot_seed_means(
    rows: Mapping[str, Mapping[str, tuple[float, float]]],
    measures: Sequence[tuple[str, str]],
    *,
    panel_size: tuple[float, float] = (3.4, 3.0),
):
    """Mean ± one standard deviation over seeds of each measure, one point per setting.

    Parameters
    ----------
    rows : mapping of str to mapping of str to (float, float)
        Setting label to ``key -> (mean, sd)``
        (:func:`autoencoder.experiments.strokes.seed_statistics`), drawn left to right.
    measures : sequence of (str, str)
        ``(key, title)`` of the measures, one panel each.
    panel_size : (float, float), default (3.4, 3.0)

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not rows or not measures:
        raise ValueError("rows and measures must each hold at least one entry")
    labels = list(rows)
    positions = np.arange(len(labels))
    fig, axes = plt.subplots(
        1, len(measures), figsize=(panel_size[0] * len(measures), panel_size[1]), squeeze=False, layout="constrained"
    )
    for ax, (key, title) in zip(axes[0], measures, strict=True):
        means = np.array([rows[label][key][0] for label in labels])
        sds = np.array([rows[label][key][1] for label in labels])
        ax.errorbar(positions, means, yerr=sds, fmt="o", capsize=3, color="C0")
        ax.set_xticks(positions, labels, rotation=45, ha="right", fontsize="small")
        ax.set_title(title, fontsize="medium")
        ax.grid(alpha=0.3)
    return fig
