"""Composite figures of the feature chapters."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autoencoder.book.figures import (
    plot_mosaic_panels,
    plot_optimality_gap,
    plot_principal_angles,
    plot_singular_values,
)


def test_mosaic_panels_fill_a_grid_and_hide_empty_slots(rng):
    panels = {name: rng.normal(size=(4, 9)) for name in "abc"}
    fig = plot_mosaic_panels(panels, n_rows=2, patch_shape=(3, 3))
    axes = fig.axes
    assert [ax.get_title() for ax in axes[:3]] == ["a", "b", "c"]
    assert not axes[3].axison
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        plot_mosaic_panels({})


def test_principal_angle_plot_draws_one_sorted_curve_per_subspace():
    ax = plot_principal_angles({"x": np.array([0.3, 0.1]), "y": np.array([np.pi / 2, 0.0])})
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["x", "y"]
    np.testing.assert_allclose(lines[0].get_ydata(), np.degrees([0.1, 0.3]))
    np.testing.assert_allclose(lines[1].get_ydata(), [0, 90])
    plt.close(ax.figure)


def test_optimality_gap_plot_draws_each_history_on_a_log_scale_with_the_target():
    ax = plot_optimality_gap({"a": np.array([1.0, 0.1, 1e-5]), "b": np.array([2.0, 0.5])}, target=1e-4)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["a", "b", "0.0001"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(lines[1].get_ydata(), [2.0, 0.5])
    np.testing.assert_allclose(lines[2].get_ydata(), [1e-4, 1e-4])
    assert ax.get_yscale() == "log"
    assert lines[0].get_linewidth() > lines[1].get_linewidth()  # a curve drawn over another leaves it visible
    plt.close(ax.figure)


def test_singular_value_plot_puts_the_formula_beside_the_measurements():
    predicted = np.array([0.9, 0.5, 0.0])
    fig = plot_singular_values(np.array([0.91, 0.49, 0.0]), predicted, np.radians([0.5, 2.0, 0.0]), title="t")
    values_ax, error_ax, angle_ax = fig.axes
    formula, measured = values_ax.get_lines()
    np.testing.assert_allclose(formula.get_ydata(), predicted)
    np.testing.assert_allclose(measured.get_xdata(), [1, 2, 3])
    (errors,) = error_ax.get_lines()
    np.testing.assert_allclose(errors.get_ydata(), [0.01, 0.01, 1e-12])  # exact agreement at the floor
    (angles,) = angle_ax.get_lines()
    np.testing.assert_allclose(angles.get_ydata(), [0.5, 2.0, 1e-6])
    assert error_ax.get_yscale() == angle_ax.get_yscale() == "log" and fig._suptitle.get_text() == "t"
    plt.close(fig)
