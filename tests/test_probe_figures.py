"""The figures of the self-taught learning chapter draw what the rows say."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from autoencoder.book.probe_figures import plot_error_curves, plot_errors_side_by_side  # noqa: E402

ROWS = [
    {"label": "raw pixels", "accuracy": 0.968, "reconstruction_mse": 0.0},
    {"label": "untrained", "accuracy": 0.9616, "reconstruction_mse": math.nan},
    {"label": "sparse", "accuracy": 0.98, "reconstruction_mse": 22.5},
]


def test_error_bars_are_the_test_errors_in_percent_and_skip_missing_reconstructions():
    fig = plot_errors_side_by_side(ROWS, references={"raw pixels": 0.968})
    left, right = fig.axes
    widths = [bar.get_width() for bar in left.patches]
    assert widths == pytest.approx([3.2, 3.84, 2.0])
    # The untrained row has no reconstruction: two bars, in the rows' order from the top.
    assert [bar.get_width() for bar in right.patches] == pytest.approx([0.0, 22.5])
    by_height = sorted((y, t.get_text()) for y, t in zip(left.get_yticks(), left.get_yticklabels(), strict=True))
    assert [label for _, label in by_height] == ["sparse", "untrained", "raw pixels"]  # the first row on top
    assert [line.get_xdata()[0] for line in left.lines] == pytest.approx([3.2])
    plt.close(fig)


def test_error_curves_plot_errors_and_label_the_ticks():
    ax = plot_error_curves(
        [100, 1000, 3000],
        {"sparse": [0.96, 0.98, 0.983]},
        references={"raw pixels": 0.968},
        xlabel="labels",
        title="t",
        tick_labels=["100", "1,000", "all"],
    )
    curve, reference = ax.lines[0], ax.lines[-1]
    assert list(curve.get_ydata()) == pytest.approx([4.0, 2.0, 1.7])
    assert reference.get_ydata()[0] == pytest.approx(3.2)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["100", "1,000", "all"]
    plt.close(ax.figure)


def test_error_curves_draw_one_sd_bars_where_a_spread_is_given():
    ax = plot_error_curves(
        [100, 1000],
        {"sparse": [0.96, 0.98], "pixels": [0.95, 0.96]},
        spreads={"sparse": [0.002, 0.001]},
        xlabel="x",
        title="t",
    )
    sparse, pixels = ax.containers
    (bars,) = sparse.lines[2]
    segments = bars.get_segments()
    assert [seg[1][1] - seg[0][1] for seg in segments] == pytest.approx([0.4, 0.2])
    assert segments[0][:, 1].mean() == pytest.approx(4.0)
    assert pixels.lines[2] == ()  # no spread, no bars
    plt.close(ax.figure)
