"""Chapter 9's figures: four families, error bars from the seeds, panels laid out in two columns."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from autoencoder.book.then_and_now_figures import (  # noqa: E402
    plot_family_mosaics,
    plot_frequency_histograms,
    plot_frontiers,
)


def summary_rows():
    rows = []
    for family, shift in (("2013", 0.2), ("2013-linear", 0.0), ("2023", 0.3), ("2024", 0.1)):
        for l0 in (5.0, 10.0, 20.0):
            rows.append({"family": family, "label": f"{family} {l0}", "l0": l0, "l0_sd": 0.5,
                         "fvu": shift + 1 / l0, "fvu_sd": 0.01})  # fmt: skip
    return rows


def test_frontiers_draw_one_curve_per_family_with_the_seeds_spread():
    ax = plot_frontiers(summary_rows())
    assert len(ax.containers) == 4  # one errorbar container per family
    assert [t.get_text() for t in ax.get_legend().get_texts()][1] == "2013: sigmoid + KL, linear decoder"
    _, caps, (bars, _) = ax.containers[0]
    np.testing.assert_allclose(bars.get_segments()[0][:, 0], [4.5, 5.5])  # ± l0_sd around L0 = 5
    plt.close("all")


def test_frontiers_without_spread_draw_plain_lines():
    rows = [{k: v for k, v in r.items() if not k.endswith("_sd")} for r in summary_rows()]
    ax = plot_frontiers(rows)
    assert len(ax.containers) == 0 and len(ax.lines) == 4
    plt.close("all")


def test_histograms_and_mosaics_lay_four_families_out_in_two_columns():
    rng = np.random.default_rng(0)
    rows = [
        {"family": f, "label": f, "frequency": np.r_[np.zeros(3), rng.uniform(0.001, 0.5, 13)], "dead": 3}
        for f in ("2013", "2013-linear", "2023", "2024")
    ]
    fig = plot_frequency_histograms(rows, n_examples=1000, dense_fraction=0.1)
    assert np.shape(fig.axes) == (4,) and all(ax.get_visible() for ax in fig.axes)
    fig = plot_family_mosaics([(f"panel {i}", rng.normal(size=(16, 784))) for i in range(3)])
    assert sum(ax.get_visible() for ax in fig.axes) == 3 and len(fig.axes) == 4  # the fourth is hidden
    plt.close("all")
