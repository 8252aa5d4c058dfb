"""The (ρ, β) grid: validation, determinism across processes, the cache, warm starts, summaries and figures."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from autoencoder.book import grid_figures, tables, widgets
from autoencoder.book.explorer import slider_html
from autoencoder.core.model import Autoencoder
from autoencoder.experiments import grid
from autoencoder.experiments.cache import cache_key
from autoencoder.experiments.measures import summarize

RHOS = [0.05, 0.2]
BETAS = [0, 0.5, 3]
SIZE = {"n_hidden": 4, "weight_decay": 1e-3, "max_iter": 5, "seed": 3}


@pytest.fixture
def data():
    """60 examples of 16 features in [0, 1]."""
    return np.random.default_rng(7).uniform(size=(60, 16))


def train(X, directory, rhos=RHOS, betas=BETAS, **options):
    return grid.train_grid(X, rhos, betas, **SIZE, directory=directory, **options)


def entries(directory):
    return sorted(p.name for p in directory.glob("*.npz"))


@pytest.mark.parametrize(
    "change, parameter",
    [
        ({"rhos": [0.1, 0.0]}, "rhos"),
        ({"rhos": [1.0]}, "rhos"),
        ({"rhos": [-0.1]}, "rhos"),
        ({"rhos": []}, "rhos"),
        ({"rhos": [0.1, 0.1]}, "rhos"),
        ({"rhos": "0.1"}, "rhos"),
        ({"betas": [3, -1]}, "betas"),
        ({"betas": []}, "betas"),
        ({"betas": [float("nan")]}, "betas"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"n_jobs": 1.5}, "n_jobs"),
        ({"max_iter": -1}, "max_iter"),
        ({"n_hidden": 0}, "n_hidden"),
        ({"weight_decay": -1.0}, "weight_decay"),
    ],
)
def test_invalid_arguments_name_the_parameter(data, tmp_path, change, parameter):
    arguments = {"rhos": RHOS, "betas": BETAS, **SIZE, "directory": tmp_path}
    arguments.update(change)
    with pytest.raises(ValueError, match=parameter):
        grid.train_grid(data, **arguments)
    assert entries(tmp_path) == []


def test_data_outside_the_unit_interval_is_refused(data, tmp_path):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        train(data * 2, tmp_path)


def test_one_or_two_processes_give_the_same_bits(data, tmp_path):
    one = train(data, tmp_path / "one", n_jobs=1)
    two = train(data, tmp_path / "two", n_jobs=2)
    assert list(one) == list(two) == [(rho, beta) for rho in RHOS for beta in BETAS]
    for key in one:
        assert one[key].params.flat.dtype == two[key].params.flat.dtype
        np.testing.assert_array_equal(one[key].params.flat, two[key].params.flat, err_msg=str(key))
        np.testing.assert_array_equal(one[key].history["total"], two[key].history["total"])
    assert entries(tmp_path / "one") == entries(tmp_path / "two")


def test_a_second_call_reads_the_cache(data, tmp_path, monkeypatch):
    first = train(data, tmp_path, n_jobs=2)
    # One β = 0 network shared by every ρ, then one entry per (ρ, β > 0).
    assert len(entries(tmp_path)) == 1 + len(RHOS) * (len(BETAS) - 1)
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.npz")}

    def no_training(*args, **kwargs):
        raise AssertionError("trained again instead of reading the cache")

    monkeypatch.setattr(Autoencoder, "_fit", no_training)
    again = train(data, tmp_path, n_jobs=1)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.npz")} == mtimes
    for key in first:
        np.testing.assert_array_equal(first[key].params.flat, again[key].params.flat)


def test_beta_zero_is_one_network_for_every_rho(data, tmp_path):
    results = train(data, tmp_path, n_jobs=1)
    np.testing.assert_array_equal(results[RHOS[0], 0].params.flat, results[RHOS[1], 0].params.flat)
    assert np.all(results[RHOS[0], 0].history["sparsity"] == 0)


def test_warm_start_continues_each_chain_from_the_previous_beta(data, tmp_path):
    warm = train(data, tmp_path / "warm", n_jobs=1)
    cold = train(data, tmp_path / "cold", n_jobs=1, warm_start=False)
    factory = grid.model_factory(SIZE["n_hidden"], SIZE["weight_decay"])
    for rho in RHOS:
        previous = 0
        for beta in sorted(b for b in BETAS if b > 0):
            start = warm[rho, previous].params
            key = cache_key(
                factory(rho, beta), data, max_iter=SIZE["max_iter"], seed=SIZE["seed"], tol=1e-12, params=start
            )
            assert (tmp_path / "warm" / f"{key}.npz").is_file(), (rho, beta)
            # The stored history starts at the previous solution's objective, not at the seed's.
            np.testing.assert_allclose(
                warm[rho, beta].history["total"][0], factory(rho, beta).loss_terms(start, data)["total"]
            )
            assert not np.array_equal(warm[rho, beta].params.flat, cold[rho, beta].params.flat)
            previous = beta
    seed_start = factory(RHOS[0], 3).init_params(16, seed=SIZE["seed"])
    np.testing.assert_allclose(
        cold[RHOS[0], 3].history["total"][0], factory(RHOS[0], 3).loss_terms(seed_start, data)["total"]
    )


def test_betas_out_of_order_are_trained_in_increasing_order(data, tmp_path):
    ordered = train(data, tmp_path, n_jobs=1)
    shuffled = train(data, tmp_path, betas=[3, 0, 0.5], n_jobs=1)
    assert list(shuffled) == [(rho, beta) for rho in RHOS for beta in [3, 0, 0.5]]
    for key in ordered:
        np.testing.assert_array_equal(ordered[key].params.flat, shuffled[key].params.flat)


def test_grid_summary_has_every_point_and_metric(data, tmp_path):
    results = train(data, tmp_path, n_jobs=1)
    factory = grid.model_factory(SIZE["n_hidden"], SIZE["weight_decay"])
    summary = grid.grid_summary(data, results, factory)
    assert list(summary) == list(results)
    for key, metrics in summary.items():
        assert set(metrics) == set(grid.METRIC_LABELS)
        assert 0 < metrics["mean_activation"] < 1
        assert 0 <= metrics["near_silent"] <= 1
        np.testing.assert_allclose(metrics["objective"], results[key].loss, rtol=1e-10)


def hand_made_point(areas):
    """A 16-pixel model whose feature ``j`` is spread evenly over ``areas[j]`` pixels, and its parameters.

    A row with ``k`` equal non-zero weights has effective area ``(k w²)² / (k w⁴) = k``.
    """
    model = grid.model_factory(len(areas), SIZE["weight_decay"])(0.1, 3.0)
    params = model.init_params(16, seed=0)
    params.W1[:] = 0.0
    for j, k in enumerate(areas):
        params.W1[j, :k] = (-1.0) ** j * (j + 1) / 10
    return model, params


def test_point_summary_counts_the_localized_features(data):
    # 10 % of 16 pixels is 1.6: only the one-pixel feature is localized; the areas' median is 3.
    model, params = hand_made_point([1, 2, 4, 16])
    X = data[:, :16]
    row = grid.point_summary(model, params, X)
    assert list(row) == list(grid.METRIC_LABELS)
    assert row["localized_fraction"] == 1 / 4
    assert row["median_area"] == pytest.approx((2 + 4) / 2, rel=1e-12)
    assert {k: row[k] for k in summarize(model, params, X)} == summarize(model, params, X)


def test_the_explorers_show_each_points_localized_fraction(data):
    pytest.importorskip("matplotlib")
    pytest.importorskip("ipywidgets")
    from bs4 import BeautifulSoup

    from autoencoder.book.explorer import explorer_widget

    X = data[:, :16]
    models = {(0.1, 0.0): hand_made_point([1, 2, 4, 16]), (0.1, 3.0): hand_made_point([1, 1, 1, 9])}
    results = {key: SimpleNamespace(params=params) for key, (_, params) in models.items()}
    factory = grid.model_factory(4, SIZE["weight_decay"])
    summary = grid.grid_summary(X, results, factory)
    points = grid_figures.grid_points(X, results, factory, summary, patch_shape=(4, 4))
    # Localized fractions 1/4 and 3/4; median areas (2 + 4) / 2 = 3 and 1 pixels, shown whole.
    assert points[0.1, 0.0]["metrics"]["localized features"] == 0.25
    assert points[0.1, 3.0]["metrics"]["localized features"] == 0.75
    assert points[0.1, 0.0]["metrics"]["median effective area (pixels)"] == 3
    assert points[0.1, 3.0]["metrics"]["median effective area (pixels)"] == 1

    root = BeautifulSoup(slider_html(points, rho_values=[0.1], beta_values=[0, 3]), "html.parser")
    row = root.find("tr", attrs={"data-metric": "localized features"})
    assert row.td.string == "0.250"
    data_block = json.loads(root.find("script", class_="explorer-data").string)
    k = data_block["metric_names"].index("localized features")
    assert [data_block["points"][f"0,{j}"]["metrics"][k] for j in (0, 1)] == ["0.250", "0.750"]
    area = data_block["metric_names"].index("median effective area (pixels)")
    assert [data_block["points"][f"0,{j}"]["metrics"][area] for j in (0, 1)] == ["3", "1"]

    box = explorer_widget(points, [0.1], [0.0, 3.0])
    _, beta, _, table = box.children
    assert "<th>localized features</th><td>0.250</td>" in table.value
    beta.value = 3.0
    assert "<th>localized features</th><td>0.750</td>" in table.value
    assert "<th>median effective area (pixels)</th><td>1</td>" in table.value


def test_grid_points_feed_the_slider(data, tmp_path):
    pytest.importorskip("matplotlib")
    results = train(data, tmp_path, rhos=[0.1], betas=[0, 3], n_jobs=1)
    factory = grid.model_factory(SIZE["n_hidden"], SIZE["weight_decay"])
    summary = grid.grid_summary(data, results, factory)
    points = grid_figures.grid_points(data, results, factory, summary, patch_shape=(4, 4))
    assert list(points) == list(results)
    for point in points.values():
        assert point["mosaic_png"].startswith(b"\x89PNG\r\n\x1a\n")
        assert point["histogram_png"].startswith(b"\x89PNG\r\n\x1a\n")
        assert list(point["metrics"]) == [
            "mean activation",
            "near-silent units",
            "reconstruction error",
            "localized features",
            "median effective area (pixels)",
        ]
    page = slider_html(points, rho_values=[0.1], beta_values=[0, 3])
    assert page.count("data:image/png;base64,") == 4
    with pytest.raises(ValueError, match="metrics"):
        grid_figures.grid_points(data, results, factory, summary, metrics=["bogus"], patch_shape=(4, 4))


def test_point_figures_are_small_and_deterministic(data, tmp_path):
    pytest.importorskip("matplotlib")
    model = grid.model_factory(49, 3e-3)(0.1, 3)
    X = np.random.default_rng(0).uniform(size=(30, 784))
    params = model.init_params(784)
    first = grid_figures.point_figures(model, params, X)
    assert first == grid_figures.point_figures(model, params, X)
    assert all(len(png) < 80_000 for png in first)


def test_plot_tradeoff_draws_one_curve_per_beta(data, tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    results = train(data, tmp_path, n_jobs=1)
    factory = grid.model_factory(SIZE["n_hidden"], SIZE["weight_decay"])
    ax = grid_figures.plot_tradeoff(grid.grid_summary(data, results, factory), RHOS, BETAS)
    assert len(ax.get_lines()) == len(BETAS)
    assert ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [rf"$\beta = {b:g}$" for b in BETAS]
    plt.close(ax.figure)


def test_format_table_rows_are_rhos_and_columns_betas():
    summary = {(rho, beta): {"mean_activation": rho + beta / 1000} for rho in RHOS for beta in BETAS}
    lines = tables.grid_table(summary, RHOS, BETAS, "mean_activation").splitlines()
    assert lines[0].split() == ["β", "=", "0", "β", "=", "0.5", "β", "=", "3"]
    assert lines[1].split() == ["ρ", "=", "0.05", "0.050", "0.051", "0.053"]
    assert len(lines) == 1 + len(RHOS)
    assert lines[2].startswith("ρ = 0.2 ")
    assert len({len(line) for line in lines}) == 1


def test_retrain_panel_trains_only_on_click(data, monkeypatch):
    pytest.importorskip("ipywidgets")
    pytest.importorskip("matplotlib")
    factory = grid.model_factory(SIZE["n_hidden"], SIZE["weight_decay"])
    calls = []
    original = Autoencoder.fit

    def counting_fit(self, *args, **kwargs):
        calls.append((self.rho, self.beta))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Autoencoder, "fit", counting_fit)
    panel = widgets.retrain_panel(data, factory, lambda: (0.2, 3.0), max_iter=4, seed=0, patch_shape=(4, 4))
    assert calls == []
    (button, progress), status, (mosaic, histogram), table = (
        panel.children[0].children,
        panel.children[1],
        panel.children[2].children,
        panel.children[3],
    )
    button.click()
    assert calls == [(0.2, 3.0)]
    assert progress.value == 4 and not button.disabled
    assert bytes(mosaic.value).startswith(b"\x89PNG") and bytes(histogram.value).startswith(b"\x89PNG")
    assert "reconstruction error" in table.value and "localized features" in table.value
    assert status.value.startswith("Trained ρ = 0.2, β = 3")


def test_axis_with_adds_a_missing_value_in_order():
    assert grid.axis_with([0.3, 0.01, 0.1], 0.07) == [0.01, 0.07, 0.1, 0.3]
    assert grid.axis_with([0.0, 3.0, 30.0], 3) == [0.0, 3.0, 30.0]
    assert grid.axis_with([0, 3], 1) == [0.0, 1.0, 3.0]


def test_training_counts_the_finished_trainings_into_the_progress_file(data, tmp_path, monkeypatch):
    from autoencoder.experiments import progress

    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv(progress.ENV_MODE, "0")
    monkeypatch.setenv(progress.ENV_FILE, str(path))
    monkeypatch.setattr(progress, "FILE_INTERVAL", 0)
    train(data, tmp_path / "models", n_jobs=1)
    records = [progress.read_record(line) for line in path.read_text().splitlines()]
    counts = [r for r in records if r["unit"] == "trainings"]
    # β = 0 once, then one chain of the two positive β per ρ.
    assert [r["done"] for r in counts] == [1, 3, 5]
    assert {(r["description"], r["total"]) for r in counts} == {("grid of 2 x 3 (ρ, β)", 5)}
