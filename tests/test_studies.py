"""Tests of the chapter studies: β sweep, variant comparison, gradient-check table, tables."""

import numpy as np
import pytest

from autoencoder import Autoencoder, check_gradient, pca
from autoencoder.book import tables
from autoencoder.core.activations import ACTIVATIONS
from autoencoder.core.sparsity import PENALTIES
from autoencoder.experiments import measures, studies


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOENCODER_CACHE_DIR", str(tmp_path / "models"))


@pytest.fixture
def low_rank_data(rng):
    """60 examples in (0, 1) lying near a 3-dimensional affine subspace of R^8."""
    basis = np.linalg.qr(rng.normal(size=(8, 3)))[0].T
    X = 0.5 + 0.1 * rng.normal(size=(60, 3)) @ basis + 0.002 * rng.normal(size=(60, 8))
    return np.clip(X, 0, 1)


def linear_l2(beta):
    return Autoencoder(3, activation="linear", sparsity="l2", rho=0.1, beta=beta, weight_decay=0.0)


def test_network_metrics_of_a_pca_network_match_pca(low_rank_data):
    X = low_rank_data
    ref = pca(X, 3)
    model = linear_l2(0.0)
    params = model.init_params(8)
    params.W1[...] = ref.components
    params.W2[...] = ref.components.T
    params.b1[...] = -ref.components @ ref.mean
    params.b2[...] = ref.mean
    out = measures.network_metrics(model, params, X, ref)
    assert out["reconstruction_mse"] == pytest.approx(ref.reconstruction_error(), rel=1e-9)
    assert out["angle_max"] == pytest.approx(0.0, abs=1e-5)
    assert out["mean_squared_cosine"] == pytest.approx(1.0)
    assert out["mean_activation"] == pytest.approx(0.0, abs=1e-12)
    assert out["rho_hat_deviation"] == pytest.approx(0.1)
    assert out["finite"] == 1.0


def test_mean_squared_cosine_counts_directions_not_variance(rng):
    # Variances 100 : 1 : 1 along three axes; a decoder that spans the strong axis and two directions
    # orthogonal to all three captures almost all the variance but one third of the directions.
    X = 0.5 + rng.normal(size=(500, 3)) * np.array([0.1, 0.01, 0.01]) @ np.eye(3, 8)
    ref = pca(X, 3)
    model = linear_l2(0.0)
    params = model.init_params(8)
    params.W2[...] = 0.0
    params.W2[:, 0] = ref.components[0]
    params.W2[3:, 1] = 1.0  # outside the data's span
    params.W2[3:5, 2] = (1.0, -1.0)  # outside it too
    out = measures.network_metrics(model, params, X, ref)
    assert ref.explained_variance[0] / ref.explained_variance.sum() > 0.95
    assert out["mean_squared_cosine"] == pytest.approx(1 / 3, abs=1e-9)


def test_beta_sweep_linear_l2_sets_rho_hat_without_hurting_reconstruction(low_rank_data):
    X = low_rank_data
    ref = pca(X, 3)
    # tol=0: the relative-reduction test stops L-BFGS early in this flat valley, short of the minimum.
    rows = studies.beta_sweep(linear_l2, X, [0.0, 3.0], max_iter=4000, reference=ref, tol=0.0)
    assert [r["beta"] for r in rows] == [0.0, 3.0]
    free, penalized = rows
    assert free["rho_hat_deviation"] > 0.5
    # The bias alone moves ρ̂ to ρ, so at convergence the penalty costs nothing:
    # both networks reach the PCA (Eckart–Young) error and subspace.
    assert penalized["rho_hat_deviation"] < 1e-4
    for row in rows:
        assert row["reconstruction_mse"] == pytest.approx(ref.reconstruction_error(), rel=1e-3)
        assert row["angle_max"] < 0.1


@pytest.mark.parametrize("activation", ["linear", "taylor1"])
def test_shift_to_target_zeroes_the_penalty_and_keeps_reconstructions(unit_data, activation):
    model = Autoencoder(3, activation=activation, sparsity="l2", rho=0.1, beta=5.0, weight_decay=1e-2)
    params = model.init_params(6, seed=2)
    params.b1[...] = [0.3, -0.2, 0.7]
    shifted = studies.shift_to_target(model, params, unit_data)
    np.testing.assert_allclose(model.mean_activation(shifted, unit_data), 0.1, atol=1e-12)
    np.testing.assert_allclose(model.reconstruct(shifted, unit_data), model.reconstruct(params, unit_data), atol=1e-12)
    before, after = model.loss_terms(params, unit_data), model.loss_terms(shifted, unit_data)
    assert after["sparsity"] == pytest.approx(0.0, abs=1e-20)
    assert after["reconstruction"] == pytest.approx(before["reconstruction"], rel=1e-12)
    assert after["weight_decay"] == before["weight_decay"]


def test_shift_to_target_refuses_nonlinear_units(unit_data):
    model = Autoencoder(3, activation="sigmoid", sparsity="l2")
    with pytest.raises(ValueError, match="affine"):
        studies.shift_to_target(model, model.init_params(6), unit_data)


def test_beta_sweep_warm_start_reuses_previous_parameters(low_rank_data):
    cold = studies.beta_sweep(linear_l2, low_rank_data, [0.0, 1.0], max_iter=5)
    warm = studies.beta_sweep(linear_l2, low_rank_data, [0.0, 1.0], max_iter=5, warm_start=True)
    assert cold[0] == warm[0]
    assert cold[1]["objective"] != warm[1]["objective"]


def test_compare_variants_returns_rows_and_params_by_label(unit_data):
    variants = {
        "kl": Autoencoder(3, sparsity="kl"),
        "cubic": Autoencoder(3, activation="taylor3", sparsity="l2"),
    }
    rows, params = studies.compare_variants(variants, unit_data, max_iter=5)
    assert [r["label"] for r in rows] == ["kl", "cubic"]
    assert rows[1]["output_activation"] == "taylor3"
    assert set(params) == {"kl", "cubic"}
    assert params["kl"].W1.shape == (3, 6)


def test_gradient_check_rows_cover_every_accepted_combination():
    rows = studies.gradient_check_rows(betas=(0.0, 1.0), weight_decays=(0.0, 0.1))
    n_act = len(ACTIVATIONS)
    n_unit = sum(a.unit_range for a in ACTIVATIONS.values())
    n_pen = len(PENALTIES)
    expected = 4 * n_act * ((n_pen - 1) * n_act + n_unit)
    assert len(rows) == expected
    assert all(r["passed"] for r in rows)
    assert not any(r["sparsity"] == "kl" and not ACTIVATIONS[r["activation"]].unit_range for r in rows)


def test_gradient_check_summary_counts_and_marks_refused():
    rows = [
        {"activation": "sigmoid", "output_activation": "linear", "sparsity": "kl", "passed": True},
        {"activation": "sigmoid", "output_activation": "linear", "sparsity": "kl", "passed": False},
        {"activation": "linear", "output_activation": "linear", "sparsity": "l2", "passed": True},
    ]
    table = studies.gradient_check_summary(rows)
    assert table[0] == ["f (hidden)", "g (output)", "kl", "l2"]
    assert table[1] == ["sigmoid", "linear", "1/2", "—"]
    assert table[2] == ["linear", "linear", "—", "1/1"]


def test_broken_sparsity_gradient_is_caught_only_when_beta_is_positive(unit_data):
    rng = np.random.default_rng(0)
    model = Autoencoder(3, sparsity="kl", beta=3.0)
    params = model.init_params(6, seed=1)
    params.b1[...] = rng.normal(size=3)
    assert check_gradient(model, params, unit_data) < studies.GRADIENT_TOLERANCE
    assert check_gradient(studies.BrokenSparsityGradient(model), params, unit_data) > 1e-2
    no_sparsity = Autoencoder(3, sparsity="kl", beta=0.0)
    assert check_gradient(studies.BrokenSparsityGradient(no_sparsity), params, unit_data) < 1e-7


@pytest.mark.parametrize(
    ("error", "bucket"),
    [(0.0, "0"), (3e-11, "< 1e-10"), (1e-10 * 0.999, "< 1e-10"), (2e-3, "< 1e-2"), (0.5, "< 1e0")],
)
def test_error_bucket(error, bucket):
    assert studies.error_bucket(error) == bucket


def test_tables_escape_and_align():
    rows = [["name", "value"], ["a<b", "1.0"], ["long name", "22.5"]]
    html = tables.html_table(rows, caption="T")
    assert html.startswith("<table><caption>T</caption><thead><tr><th>name</th>")
    assert "<td>a&lt;b</td>" in html
    text = tables.text_table(rows).splitlines()
    assert text[0] == "name       value"
    assert text[2] == "a<b          1.0"
    assert text[3] == "long name   22.5"
