"""Figures of the chapter *What makes the strokes*: distributions of feature measures, by setting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_measure_distributions"]


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
