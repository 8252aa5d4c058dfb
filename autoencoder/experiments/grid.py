"""A grid of KL-sparse sigmoid autoencoders over the sparsity target ρ and weight β.

:func:`train_grid` trains the network of :func:`autoencoder.experiments.configurations.sparse_sigmoid`
at every pair ``(ρ, β)`` of two lists, through the model cache (:mod:`autoencoder.experiments.cache`)
(so a rebuild of the book reads every point from disk), on a Dask cluster;
:func:`grid_summary` measures each trained point with :func:`point_summary`
(:func:`autoencoder.experiments.measures.summarize` and the localized fraction and median
effective area of its features); :func:`grid_points` renders the small
figures that :func:`autoencoder.book.explorer.slider_html` swaps; and
:func:`plot_tradeoff` draws reconstruction error against achieved sparsity for
the whole grid.

Training is a set of *chains*, one per ρ: the values of β in increasing order,
each point starting from the solution of the previous one (continuation in β).
A chain is one task of a sweep on Dask's distributed scheduler
(:mod:`autoencoder.experiments.sweep`): an embedded cluster of ``n_jobs`` worker
processes by default, an existing cluster when given its address.  Each
worker runs its BLAS on one thread, so a chain computes the same bits in this
process, on one worker or on several, and the grid does not depend on
``n_jobs`` or on the cluster.  While it trains, a
:func:`autoencoder.experiments.progress.task_progress` counts the finished trainings (a bar
when run interactively, lines in the progress file during the book build).

The figure helpers import matplotlib when called; the training does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..book.explorer import format_value
from ..core._validation import check_axis, check_int
from ..core.model import Autoencoder, FitResult, validate_data
from . import configurations
from .measures import summarize
from .progress import task_progress
from .sweep import Chain, Engine, run_chains, tally

__all__ = [
    "axis_with",
    "model_factory",
    "train_grid",
    "grid_summary",
    "point_summary",
    "point_figures",
    "grid_points",
    "plot_tradeoff",
    "retrain_panel",
    "METRIC_LABELS",
]

METRIC_LABELS = {
    "mean_activation": "mean activation",
    "near_silent": "near-silent units",
    "reconstruction_mse": "reconstruction error",
    "localized_fraction": "localized features",
    "median_area": "median effective area (pixels)",
    "objective": "objective J",
}
"""Display names of the :func:`point_summary` keys, in display order."""

_WHOLE_METRICS = ("median_area",)
"""Metrics the explorer shows rounded to a whole number (a pixel count)."""

_HISTOGRAM_BINS = np.geomspace(1e-3, 1.0, 43)


def model_factory(n_hidden: int, weight_decay: float) -> Callable[[float, float], Autoencoder]:
    """``(ρ, β) -> configurations.sparse_sigmoid(n_hidden, ρ, β, weight_decay)``.

    Parameters
    ----------
    n_hidden : int
        Hidden units ``p``.
    weight_decay : float
        ``λ``.

    Returns
    -------
    callable
        A picklable function of ``(rho, beta)`` returning the grid point's
        :class:`~autoencoder.Autoencoder`.
    """
    return _SparseSigmoid(n_hidden, weight_decay)


class _SparseSigmoid:
    """Picklable ``(ρ, β) -> Autoencoder`` (a lambda would not cross to a spawned process)."""

    def __init__(self, n_hidden, weight_decay):
        self.n_hidden = n_hidden
        self.weight_decay = weight_decay

    def __call__(self, rho: float, beta: float) -> Autoencoder:
        return configurations.sparse_sigmoid(self.n_hidden, rho, beta, self.weight_decay)


def axis_with(values: Sequence[float], value: float) -> list[float]:
    """A grid axis that holds ``value``: ``values`` and ``value``, each once, in increasing order.

    The point a chapter's explorer opens at joins the grid this way when it is
    not one of the grid's values, so that point is trained and shown too.

    Parameters
    ----------
    values : sequence of float
        The axis as given (any order).
    value : float
        The value it must hold.

    Returns
    -------
    list of float
    """
    return sorted({float(v) for v in values} | {float(value)})


def train_grid(
    X,
    rhos: Sequence[float],
    betas: Sequence[float],
    *,
    n_hidden: int,
    weight_decay: float,
    max_iter: int,
    seed: int,
    n_jobs: int = 2,
    warm_start: bool = True,
    directory: Path | None = None,
    scheduler=None,
) -> dict[tuple[float, float], FitResult]:
    """Train the KL-sparse sigmoid autoencoder at every ``(ρ, β)`` of a grid.

    Parameters
    ----------
    X : ndarray of shape (m, n)
        Training examples in rows, values in [0, 1]; float32 trains in float32.
    rhos : sequence of float
        Sparsity targets ``ρ``, each in (0, 1), no repeats.
    betas : sequence of float
        Sparsity weights ``β ≥ 0``, no repeats.
    n_hidden : int
        Hidden units ``p``.
    weight_decay : float
        ``λ``.
    max_iter : int
        L-BFGS iterations of each grid point.
    seed : int
        Seed of the random initialisation (of the first point of each chain,
        or of every point without ``warm_start``).
    n_jobs : int, default 2
        Worker processes of the embedded Dask cluster training chains at once
        (:class:`autoencoder.experiments.sweep.Engine`, one thread and one BLAS thread
        each); 1 trains in this process, also on one BLAS thread.  Ignored
        with a scheduler.
    warm_start : bool, default True
        For each ρ, train the positive β in increasing order, each starting
        from the previous β's solution, the first from the β = 0 network when
        β = 0 is in the grid (the starting point is part of the cache key).
        Without it every point starts from the seed's initialisation.
    directory : Path, optional
        Cache directory; default :func:`autoencoder.experiments.cache.cache_dir`.
    scheduler : str or distributed.Client, optional
        An existing Dask cluster to train on (its address, or a client); by
        default Dask's ``scheduler-address`` configuration
        (``$DASK_SCHEDULER_ADDRESS``), else the embedded cluster.

    Returns
    -------
    dict
        ``(rho, beta) -> FitResult`` for every pair, keyed by the values as
        given, in the order ``rhos x betas``.  The same bits whatever
        ``n_jobs`` or cluster (given the same BLAS kernel).

    Notes
    -----
    At β = 0 the objective does not depend on ρ: that network is trained once
    (as ``Autoencoder(n_hidden, sparsity="none", weight_decay=λ)``, the same
    objective) and every ``(ρ, 0)`` maps to that one result.

    Raises
    ------
    ValueError
        Naming the parameter: a ρ outside (0, 1), a negative β, an empty or
        repeating list, ``n_jobs < 1``, a bad scheduler, or an invalid model
        or data; before anything is trained.
    autoencoder.experiments.sweep.SweepError
        When a point fails, naming it (the points trained are in the cache).
    """
    rhos = check_axis("rhos", rhos, inside=lambda rho: 0 < rho < 1, allowed="in (0, 1)")
    betas = check_axis("betas", betas, inside=lambda beta: beta >= 0, allowed=">= 0")
    n_jobs = check_int("n_jobs", n_jobs, 1)
    max_iter = check_int("max_iter", max_iter, 0)
    seed = check_int("seed", seed, 0)
    factory = model_factory(n_hidden, weight_decay)
    factory(rhos[0], betas[0])  # validates n_hidden and weight_decay here, not in a worker
    X = validate_data(X, unit_interval=True)
    engine = Engine(scheduler, n_workers=n_jobs)

    results, positive = {}, sorted(beta for beta in betas if beta > 0)
    start, has_zero = None, len(positive) < len(betas)
    description = f"grid of {len(rhos)} x {len(betas)} (ρ, β)"
    data = {"X": X}
    with task_progress(description, int(has_zero) + len(rhos) * len(positive), unit="trainings") as advance, engine:
        count = tally(advance)
        if has_zero:
            # β = 0: the sparsity term vanishes whatever ρ, so one network, trained
            # once as the same objective without a sparsity term, serves every ρ.
            unpenalized = Autoencoder(n_hidden, sparsity="none", beta=0.0, weight_decay=weight_decay)
            root = Chain((unpenalized,), "X", max_iter, seed)
            ((root,),) = run_chains([root], data, engine=engine, directory=directory, advance=count)
            results.update({(rho, 0.0): root for rho in rhos})
            start = root.params if warm_start else None
        if warm_start:
            chains = [(rho, positive) for rho in rhos] if positive else []
        else:
            chains = [(rho, [beta]) for rho in rhos for beta in positive]
        tasks = [
            Chain(tuple(factory(rho, beta) for beta in chain), "X", max_iter, seed, start=start, warm_start=warm_start)
            for rho, chain in chains
        ]
        trained = run_chains(tasks, data, engine=engine, directory=directory, advance=count)
        for (rho, chain), chain_results in zip(chains, trained, strict=True):
            results.update({(rho, beta): r for beta, r in zip(chain, chain_results, strict=True)})
    return {(rho, beta): results[rho, beta] for rho in rhos for beta in betas}


def point_summary(model: Autoencoder, params, X) -> dict[str, float]:
    """The numbers of one grid point: :func:`autoencoder.experiments.measures.summarize` and two of its features.

    Parameters
    ----------
    model : Autoencoder
        The point's configuration.
    params : Params
        Its trained parameters; the features are the rows of ``W1``, of shape
        ``(p, n)``.
    X : ndarray of shape (m, n)
        The data to measure on.

    Returns
    -------
    dict
        The keys of :data:`METRIC_LABELS`: ``summarize``'s four, and
        ``localized_fraction`` (:func:`autoencoder.experiments.measures.localized_fraction`
        of ``W1``, the share of features spread over less than a tenth of the
        image) and ``median_area`` (the median
        :func:`autoencoder.experiments.measures.effective_area` of the features, in pixels).
    """
    from .measures import effective_area, localized_fraction

    row = summarize(model, params, X)
    row["localized_fraction"] = localized_fraction(params.W1)
    row["median_area"] = float(np.median(effective_area(params.W1)))
    return {name: row[name] for name in METRIC_LABELS}


def grid_summary(
    X, results: Mapping[tuple[float, float], FitResult], model_factory: Callable[[float, float], Autoencoder]
) -> dict[tuple[float, float], dict[str, float]]:
    """:func:`point_summary` at every grid point.

    Parameters
    ----------
    X : ndarray of shape (m, n)
        The data to measure on.
    results : mapping
        ``(rho, beta) -> FitResult``, as :func:`train_grid` returns.
    model_factory : callable
        ``(rho, beta) -> Autoencoder``, e.g. :func:`model_factory`.

    Returns
    -------
    dict
        ``(rho, beta) -> {"mean_activation", "near_silent",
        "reconstruction_mse", "localized_fraction", "median_area",
        "objective"}``, same keys and order as ``results``.
    """
    return {key: point_summary(model_factory(*key), result.params, X) for key, result in results.items()}


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

    from ..book.plotting import mosaic_image, plot_activation_histogram, plot_mosaic, png_bytes

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


def retrain_panel(
    X,
    model_factory: Callable[[float, float], Autoencoder],
    chosen: Callable[[], tuple[float, float]],
    *,
    max_iter: int,
    seed: int,
    patch_shape=(28, 28),
):
    """An ipywidgets panel that retrains the chosen grid point live, on a button click.

    Parameters
    ----------
    X : ndarray of shape (m, n)
        Training data.
    model_factory : callable
        ``(rho, beta) -> Autoencoder``.
    chosen : callable
        Returns the ``(rho, beta)`` to train, e.g. the values of the explorer's
        sliders.
    max_iter, seed : int
        As for :meth:`Autoencoder.fit`; training starts from the seed's
        initialisation, not from a warm start, and is not cached.
    patch_shape : tuple of int, default (28, 28)

    Returns
    -------
    ipywidgets.VBox
        A button, an ``IntProgress`` bar advanced by the ``callback`` of
        :meth:`Autoencoder.fit` at every iteration, a status line, and the new
        point's two figures and metrics once trained.  Nothing trains until the
        button is clicked.
    """
    import ipywidgets as widgets

    button = widgets.Button(description="Retrain this point", icon="play")
    progress = widgets.IntProgress(value=0, min=0, max=max(max_iter, 1), description="L-BFGS")
    status = widgets.Label("Pick ρ and β above, then click to train that network from scratch.")
    mosaic, histogram = widgets.Image(format="png"), widgets.Image(format="png")
    table = widgets.HTML()

    def on_click(_button):
        rho, beta = chosen()
        model = model_factory(rho, beta)
        button.disabled, progress.value = True, 0
        status.value = f"Training ρ = {rho:g}, β = {beta:g} ..."

        def advance(iteration, params, terms):
            progress.value = iteration
            status.value = f"Iteration {iteration}: J = {terms['total']:.4f}"

        try:
            result = model.fit(X, max_iter=max_iter, seed=seed, callback=advance)
        finally:
            button.disabled = False
        mosaic.value, histogram.value = point_figures(model, result.params, X, patch_shape=patch_shape)
        rows = point_summary(model, result.params, X)
        table.value = (
            "<table>"
            + "".join(
                f"<tr><th>{METRIC_LABELS[name]}</th><td>{format_value(_shown(name, value))}</td></tr>"
                for name, value in rows.items()
            )
            + "</table>"
        )
        status.value = f"Trained ρ = {rho:g}, β = {beta:g}: {result.n_iter} iterations ({result.message})."

    button.on_click(on_click)
    return widgets.VBox([widgets.HBox([button, progress]), status, widgets.HBox([mosaic, histogram]), table])
