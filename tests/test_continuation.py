"""The continuation in the l1 smoothing width: validation, stages, the cache, and what it buys."""

import numpy as np
import pytest

from autoencoder import Autoencoder, check_gradient
from autoencoder.core.sparsity import L1_SMOOTHING
from autoencoder.experiments.cache import fit_cached
from autoencoder.experiments.continuation import check_widths, fit_l1_continuation, stage_iterations
from autoencoder.experiments.studies import tiny_problem


@pytest.fixture
def l1_model():
    return Autoencoder(4, sparsity="l1", rho=0.1, beta=3.0, weight_decay=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"widths": ()}, "widths must be a non-empty"),
        ({"widths": 1e-4}, "widths must be a non-empty"),
        ({"widths": (1e-2, -1.0, 1e-4)}, r"widths\[1\]"),
        ({"widths": (1e-2, float("nan"), 1e-4)}, r"widths\[1\]"),
        ({"widths": (1e-3, 1e-2, 1e-4)}, "widths must decrease strictly"),
        ({"widths": (1e-2, 1e-2, 1e-4)}, r"widths must hold distinct numbers; \[0.01\] repeated"),
        ({"widths": (1e-1, 1e-2)}, "widths must end at the model's l1_smoothing"),
        ({"widths": (1e-2, 1e-4), "max_iter": 0}, "max_iter must be an integer >= 1"),
        ({"widths": (1e-2, 1e-4), "max_iter": (5,)}, "max_iter must be an int or one int per width"),
        ({"widths": (1e-2, 1e-4), "max_iter": (5, 0)}, r"max_iter\[1\]"),
        ({"widths": (1e-2, 1e-4), "seed": -1}, "seed must be an integer >= 0"),
    ],
)
def test_bad_arguments_are_refused_before_any_training(l1_model, unit_data, tmp_path, monkeypatch, kwargs, match):
    monkeypatch.setattr(Autoencoder, "_fit", lambda *a, **k: pytest.fail("trained"))
    arguments = {"max_iter": 5, **kwargs}
    with pytest.raises(ValueError, match=match):
        fit_l1_continuation(l1_model, unit_data, directory=tmp_path, **arguments)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("sparsity", ["kl", "l2", "none"])
def test_a_model_that_is_not_l1_is_refused(unit_data, tmp_path, sparsity):
    with pytest.raises(ValueError, match=f"model must be an Autoencoder with sparsity='l1'; got sparsity='{sparsity}'"):
        fit_l1_continuation(Autoencoder(4, sparsity=sparsity), unit_data, widths=(L1_SMOOTHING,), max_iter=5)


def test_widths_end_at_a_non_default_smoothing():
    assert check_widths([1e-1, 1e-3], 1e-3) == (0.1, 0.001)
    with pytest.raises(ValueError, match="l1_smoothing=0.001"):
        check_widths([1e-1, 1e-4], 1e-3)


def test_stages_run_at_the_widths_in_order_and_warm_start(l1_model, unit_data, tmp_path, monkeypatch):
    seen = []
    fit = Autoencoder._fit

    def recording_fit(self, X, **kwargs):
        seen.append((self.l1_smoothing, kwargs["max_iter"], kwargs["params"]))
        return fit(self, X, **kwargs)

    monkeypatch.setattr(Autoencoder, "_fit", recording_fit)
    widths = (1e-1, 1e-2, L1_SMOOTHING)
    result = fit_l1_continuation(l1_model, unit_data, widths=widths, max_iter=(3, 4, 5), directory=tmp_path)
    assert [w for w, _, _ in seen] == list(widths)
    assert [n for _, n, _ in seen] == [3, 4, 5]
    assert seen[0][2] is None
    for (_, _, start), previous in zip(seen[1:], result.stages[:-1], strict=True):
        np.testing.assert_array_equal(start.flat, previous.params.flat)
    # The last stage is the model itself at its documented width: its J is the model's objective.
    assert result.widths[-1] == l1_model.l1_smoothing == L1_SMOOTHING
    assert result.loss == pytest.approx(l1_model.loss_terms(result.params, unit_data)["total"], rel=1e-12)
    assert result.n_iter == sum(stage.n_iter for stage in result.stages)
    assert result.history["total"].shape == (result.n_iter + len(widths),)


def test_every_stage_goes_through_the_cache(l1_model, unit_data, tmp_path, monkeypatch):
    widths = (1e-1, 1e-2, L1_SMOOTHING)
    first = fit_l1_continuation(l1_model, unit_data, widths=widths, max_iter=4, directory=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == len(widths)
    monkeypatch.setattr(Autoencoder, "_fit", lambda *a, **k: pytest.fail("trained again"))
    second = fit_l1_continuation(l1_model, unit_data, widths=widths, max_iter=4, directory=tmp_path)
    for a, b in zip(first.stages, second.stages, strict=True):
        np.testing.assert_array_equal(a.params.flat, b.params.flat)
    # The last stage is the entry of the model's own configuration with the previous stage's warm start.
    stored = fit_cached(l1_model, unit_data, max_iter=4, params=second.stages[-2].params, directory=tmp_path)
    np.testing.assert_array_equal(stored.params.flat, second.params.flat)


def test_a_single_width_is_a_plain_fit(l1_model, unit_data, tmp_path):
    result = fit_l1_continuation(l1_model, unit_data, widths=(L1_SMOOTHING,), max_iter=6, directory=tmp_path)
    plain = l1_model.fit(unit_data, max_iter=6)
    np.testing.assert_array_equal(result.params.flat, plain.params.flat)


def sparse_images(m, n_pixels, n_strokes, seed):
    """``m`` synthetic images in [0, 1]: each a few random strokes (sets of pixels) of random intensity."""
    rng = np.random.default_rng(seed)
    strokes = (rng.uniform(size=(n_strokes, n_pixels)) < 0.1).astype(float)
    codes = (rng.uniform(size=(m, n_strokes)) < 0.15) * rng.uniform(size=(m, n_strokes))
    return np.clip(codes @ strokes, 0.0, 1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_continuation_lowers_the_final_objective_of_a_plain_fit(tmp_path, seed):
    # The same objective (width 1e-4) and as many iterations in all: in stages from a wide width,
    # or all at the documented one from the same initial weights.
    X = sparse_images(300, 196, 20, seed)
    model = Autoencoder(16, sparsity="l1", rho=0.1, beta=3.0, weight_decay=3e-3)
    staged = fit_l1_continuation(model, X, widths=(1.0, 0.1, 0.01, 1e-3, L1_SMOOTHING), max_iter=20, directory=tmp_path)
    plain = model.fit(X, max_iter=staged.n_iter)
    assert staged.loss == pytest.approx(model.loss_terms(staged.params, X)["total"], rel=1e-12)
    assert staged.loss < plain.loss


def test_gradient_of_an_l1_network_with_a_wide_smoothing():
    X, params = tiny_problem(6, 4, 7, seed=3)
    model = Autoencoder(4, sparsity="l1", rho=0.4, beta=3.0, weight_decay=1e-3, l1_smoothing=0.05)
    rho_hat = model.mean_activation(params, X)
    # The check is informative only where the smoothing matters: |ρ̂ − ρ| within a few ε.
    assert np.abs(rho_hat - model.rho).min() < 5 * model.l1_smoothing
    assert check_gradient(model, params, X) < 1e-9
    # ... and the width is used: the objective differs from that of the documented width.
    default = Autoencoder(4, sparsity="l1", rho=0.4, beta=3.0, weight_decay=1e-3)
    assert model.loss_terms(params, X)["sparsity"] != default.loss_terms(params, X)["sparsity"]


def test_stage_iterations_share_the_budget():
    assert stage_iterations(200, 5, 20) == [120, 20, 20, 20, 20]
    assert stage_iterations(12, 5, 20) == [4, 2, 2, 2, 2]  # 12 // 5 = 2 for each later stage
    assert stage_iterations(7, 1, 20) == [7]
    for max_iter, n in [(200, 5), (12, 5), (5, 5), (31, 4)]:
        stages = stage_iterations(max_iter, n, 20)
        assert sum(stages) == max_iter and min(stages) >= 1
    with pytest.raises(ValueError, match="max_iter must be at least the 5 stages of the continuation; got 4"):
        stage_iterations(4, 5, 20)


def test_a_continuation_reports_why_its_last_stage_stopped(tmp_path):
    X, _ = tiny_problem(6, 4, 20, seed=3)
    model = Autoencoder(4, sparsity="l1", rho=0.1)
    result = fit_l1_continuation(model, X, widths=(0.1, L1_SMOOTHING), max_iter=3, directory=tmp_path)
    assert result.message == result.stages[-1].message != ""
