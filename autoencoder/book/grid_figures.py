"""The figures of a (ρ, β) grid: each point's mosaic and histogram, and the trade-off over the grid.

:func:`grid_points` renders the small figures of every point of a grid
trained by :func:`autoencoder.experiments.grid.train_grid`, which
:func:`autoencoder.book.explorer.slider_html` swaps; :func:`plot_tradeoff`
draws reconstruction error against achieved sparsity for the whole grid.
matplotlib and pillow are imported when a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..core.model import Autoencoder, FitResult
from ..experiments.grid import METRIC_LABELS

__all__ = ["grid_points", "plot_tradeoff", "point_figures"]


_WHOLE_METRICS = ("median_area",)
"""Metrics the explorer shows rounded to a whole number (a pixel count)."""


_HISTOGRAM_BINS = np.geomspace(1e-3, 1.0, 43)


def point_figures(
    model: Autoencoder, params, X, *, patch_shape=(28, 28), size_px: int = 300, dpi: int = 72
) -> tuple[bytes, bytes]:
    """The two small figures of one grid point, as PNG bytes.

    Parameters
    ----------
    model : Autoencoder
        The grid point's configuration (its ``rho`` is marked on the histogram).
    params : Params
        Its trained parameters.
    X : ndarray of shape (m, n)
        Data for the mean activations ``ρ̂_j``.
    patch_shape : tuple of int, default (28, 28)
        Shape of one input image, ``h * w = n``.
    size_px : int, default 300
        Approximate height of each figure in pixels.  The mosaic's side is
        the multiple of its own pixel count (tiles and separators) nearest
        ``size_px``, at least once, so that every weight is a square of whole
        screen pixels (196 tiles of 28 x 28: 407 pixels).
    dpi : int, default 72

    Returns
    -------
    mosaic_png, histogram_png : bytes
        The mosaic of the rows of ``W1`` and the histogram of ``ρ̂`` on
        logarithmic bins from 0.001 to 1 (smaller values fall in the first
        bin), with the target ρ dashed.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullLocator

    from .plotting import mosaic_image, plot_activation_histogram, plot_mosaic, png_bytes

    inches = size_px / dpi
    # A whole number of screen pixels per weight pixel: resampling would thin some separators and strokes.
    native = max(mosaic_image(params.W1, patch_shape).shape)
    side = native * max(1, round(size_px / native)) / dpi
    fig = plt.figure(figsize=(side, side))
    plot_mosaic(params.W1, patch_shape, ax=fig.add_axes((0, 0, 1, 1)))
    mosaic = _compact_png(png_bytes(fig, dpi=dpi), colours=None)

    rho_hat = np.clip(model.mean_activation(params, X), _HISTOGRAM_BINS[0], _HISTOGRAM_BINS[-1])
    fig, ax = plt.subplots(figsize=(inches * 1.25, inches))
    plot_activation_histogram(rho_hat, rho=model.rho, ax=ax, bins=_HISTOGRAM_BINS, title=None)
    ax.set_xscale("log")
    ax.set_xlim(_HISTOGRAM_BINS[0], _HISTOGRAM_BINS[-1])
    # Plain tick labels: mathtext ones (10^-3) take most of the drawing time.
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_ylim(0, model.n_hidden)
    ax.legend(loc="upper left", fontsize="small")
    histogram = _compact_png(png_bytes(fig, dpi=dpi), colours=64)
    return mosaic, histogram


def _compact_png(png: bytes, colours: int | None) -> bytes:
    """Re-encode matplotlib's RGBA PNG compactly: the grid's figures are all embedded in the page.

    ``colours=None``: greyscale with 16 levels (a weight mosaic looks the same
    and takes about a seventh of the bytes); otherwise a palette of that many
    colours.
    """
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
    small = rgb.convert("L").point(lambda v: (v // 16) * 17) if colours is None else rgb.quantize(colours)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def grid_points(
    X,
    results: Mapping[tuple[float, float], FitResult],
    model_factory: Callable[[float, float], Autoencoder],
    summary: Mapping[tuple[float, float], Mapping[str, float]],
    *,
    metrics: Sequence[str] = (
        "mean_activation",
        "near_silent",
        "reconstruction_mse",
        "localized_fraction",
        "median_area",
    ),
    patch_shape=(28, 28),
    size_px: int = 300,
    dpi: int = 72,
) -> dict[tuple[float, float], dict]:
    """The ``points`` of :func:`autoencoder.book.explorer.slider_html` for a trained grid.

    Parameters
    ----------
    X : ndarray of shape (m, n)
    results : mapping
        ``(rho, beta) -> FitResult``.
    model_factory : callable
        ``(rho, beta) -> Autoencoder``.
    summary : mapping
        :func:`grid_summary` of the same grid.
    metrics : sequence of str
        Keys of ``summary`` to show, labelled by :data:`METRIC_LABELS`; the
        median effective area is shown as a whole number of pixels.
    patch_shape, size_px, dpi
        As for :func:`point_figures`.

    Returns
    -------
    dict
        ``(rho, beta) -> {"mosaic_png", "histogram_png", "metrics"}``.
    """
    unknown = [name for name in metrics if name not in METRIC_LABELS]
    if unknown:
        raise ValueError(f"metrics must be among {list(METRIC_LABELS)}; got {unknown}")
    points = {}
    for key, result in results.items():
        mosaic, histogram = point_figures(
            model_factory(*key), result.params, X, patch_shape=patch_shape, size_px=size_px, dpi=dpi
        )
        shown = {METRIC_LABELS[name]: _shown(name, summary[key][name]) for name in metrics}
        points[key] = {"mosaic_png": mosaic, "histogram_png": histogram, "metrics": shown}
    return points


def _shown(name: str, value: float) -> float | int:
    return int(round(float(value))) if name in _WHOLE_METRICS else float(value)


def plot_tradeoff(summary: Mapping[tuple[float, float], Mapping[str, float]], rhos, betas, ax=None):
    """Reconstruction error against mean activation: one curve per β through the ρ's.

    Parameters
    ----------
    summary : mapping
        :func:`grid_summary` of the grid.
    rhos, betas : sequence of float
        The grid axes; the points of a curve are joined in the order of ``rhos``.
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(betas)))
    for beta, colour in zip(betas, colours, strict=True):
        x = [summary[rho, beta]["mean_activation"] for rho in rhos]
        y = [summary[rho, beta]["reconstruction_mse"] for rho in rhos]
        ax.plot(x, y, "o-", color=colour, label=rf"$\beta = {beta:g}$")
    strongest = max(betas)
    for rho in rhos:
        point = summary[rho, strongest]
        ax.annotate(
            rf"$\rho={rho:g}$",
            (point["mean_activation"], point["reconstruction_mse"]),
            textcoords="offset points",
            xytext=(4, 6),
            fontsize="small",
        )
    ax.set_xscale("log")
    ax.set_xlabel(r"achieved sparsity: mean activation $\mathrm{mean}_j\, \hat\rho_j$")
    ax.set_ylabel(r"reconstruction error $\frac{1}{m}\sum_i \|h(x_i) - x_i\|^2$")
    ax.set_title("Reconstruction against sparsity over the (ρ, β) grid")
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="sparsity weight", fontsize="small")
    return ax
