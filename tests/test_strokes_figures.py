"""The figures of chapter 11 draw what they are given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autoencoder.book.strokes_figures import plot_measure_distributions  # noqa: E402


def test_distributions_draw_one_cumulative_step_per_group_and_the_cut_off():
    groups = {"a": {"area": np.array([3.0, 1.0, 2.0])}, "b": {"area": np.array([5.0, 4.0])}}
    fig = plot_measure_distributions(groups, [("area", "effective area")], marks={"area": 2.5})
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_label() in groups]
    assert [line.get_label() for line in lines] == ["a", "b"]
    x, y = lines[0].get_data()
    assert list(x) == [1.0, 2.0, 3.0] and list(y) == pytest.approx([1 / 3, 2 / 3, 1.0])
    marks = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert len(marks) == 1 and marks[0].get_xdata()[0] == 2.5
    plt.close(fig)


def test_empty_input_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        plot_measure_distributions({}, [("m", "m")])
