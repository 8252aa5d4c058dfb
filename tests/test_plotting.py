"""Figure helpers: the mosaic layout and deterministic PNG output."""

import numpy as np
import pytest

from autoencoder.book.plotting import (
    mosaic_image,
    plot_activation_histogram,
    plot_loss_history,
    plot_mosaic,
    png_bytes,
)


def test_mosaic_places_each_normalized_patch_between_separators():
    W = np.arange(5 * 6, dtype=float).reshape(5, 6) ** 2
    img = mosaic_image(W, patch_shape=(2, 3), n_cols=2, pad=1)
    assert img.shape == (3 * 3 + 1, 2 * 4 + 1)
    assert np.isnan(img[0]).all() and np.isnan(img[:, 0]).all()
    first = img[1:3, 1:4].ravel()
    expected = W[0] - W[0].mean()
    np.testing.assert_allclose(first, expected / np.abs(expected).max())
    assert np.nanmax(np.abs(img)) == pytest.approx(1.0)
    assert np.isnan(img[7:9, 5:8]).all()  # the sixth slot is empty
    with pytest.raises(ValueError, match="patch_shape"):
        mosaic_image(W, patch_shape=(2, 2))


def test_png_output_is_deterministic():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(4, 16))

    def render():
        ax = plot_mosaic(W, patch_shape=(4, 4))
        return png_bytes(ax.figure)

    a, b = render(), render()
    assert a[:8] == b"\x89PNG\r\n\x1a\n" and a == b


def test_loss_history_draws_every_positive_term():
    history = {k: np.linspace(2, 1, 5) for k in ("reconstruction", "weight_decay", "sparsity", "total")}
    history["sparsity"] = np.zeros(5)
    ax = plot_loss_history(history)
    assert len(ax.get_lines()) == 3


def test_loss_history_labels_render():
    history = {k: np.linspace(2, 1, 5) for k in ("reconstruction", "weight_decay", "sparsity", "total")}
    ax = plot_loss_history(history)
    ax.figure.canvas.draw()  # mathtext parses every label here
    assert len(png_bytes(ax.figure)) > 0


def test_activation_histogram_counts_units_in_whole_ticks():
    # Three units: matplotlib's default locator would tick the count axis at 0.5, 1.0, 1.5, ...
    ax = plot_activation_histogram(np.array([0.1, 0.12, 0.3]), rho=0.1)
    ax.figure.canvas.draw()
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    assert len(ticks) >= 2
    assert all(float(t).is_integer() for t in ticks)
