"""ipywidgets panels for a live kernel (the built book shows their static counterparts)."""

from __future__ import annotations

from collections.abc import Callable

from ..core.model import Autoencoder
from ..experiments.grid import METRIC_LABELS, point_summary
from .explorer import format_value
from .grid_figures import _shown, point_figures

__all__ = ["retrain_panel"]


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
