"""Chapter 4's budget rule: equal iterations for every non-affine network, convergence for the affine ones."""

import pytest

from autoencoder import Autoencoder
from autoencoder.core.sparsity import L1_SMOOTHING
from autoencoder.experiments.continuation import ContinuationResult
from autoencoder.experiments.variants import continue_variants, final_fit, train_variants

WIDTHS = (1e-2, L1_SMOOTHING)


def variants():
    return {
        "sigmoid + KL": Autoencoder(3, sparsity="kl", rho=0.1, beta=1.0),
        "sigmoid + L1": Autoencoder(3, sparsity="l1", rho=0.1, beta=1.0),
        "linear + L1": Autoencoder(3, activation="linear", sparsity="l1", rho=0.1, beta=1.0),
        "Taylor 1 + L2": Autoencoder(3, activation="taylor1", sparsity="l2", rho=0.1, beta=1.0),
    }


def train(X, directory, **kwargs):
    arguments = dict(max_iter=9, widths=WIDTHS, stage_iter=4, converged_max_iter=5000, converged_tol=1e-9, n_jobs=1)
    arguments.update(kwargs)
    seeds = arguments.pop("seeds", [0, 1])
    models = arguments.pop("variants", variants())
    return train_variants(models, X, seeds, directory=directory, **arguments)


def test_every_non_affine_network_gets_the_same_budget_and_the_affine_ones_converge(unit_data, tmp_path, monkeypatch):
    seen = []
    fit = Autoencoder._fit

    def recording_fit(self, X, **kwargs):
        seen.append((self.activation, self.sparsity, self.l1_smoothing, kwargs["max_iter"], kwargs["tol"]))
        return fit(self, X, **kwargs)

    monkeypatch.setattr(Autoencoder, "_fit", recording_fit)
    results = train(unit_data, tmp_path)
    assert list(results) == [(label, seed) for label in variants() for seed in (0, 1)]
    sigmoid = [s for s in seen if s[0] == "sigmoid"]
    # KL: all 9 iterations in one training; L1: 5 at the wide width, then 4 at the model's own.
    assert sorted(s[2:4] for s in sigmoid if s[1] == "kl") == [(L1_SMOOTHING, 9)] * 2
    assert sorted(s[2:4] for s in sigmoid if s[1] == "l1") == [(L1_SMOOTHING, 4)] * 2 + [(1e-2, 5)] * 2
    affine = [s for s in seen if s[0] != "sigmoid"]
    assert {s[3:] for s in affine} == {(5000, 1e-9)}
    assert sorted(s[2] for s in affine if s[1] == "l1") == [L1_SMOOTHING] * 2 + [1e-2] * 2
    for seed in (0, 1):
        assert results["sigmoid + KL", seed].n_iter <= 9
        assert isinstance(results["sigmoid + L1", seed], ContinuationResult)
        assert results["sigmoid + L1", seed].widths == WIDTHS
        assert results["sigmoid + L1", seed].n_iter <= 9
        assert final_fit(results["Taylor 1 + L2", seed]).converged
        assert final_fit(results["linear + L1", seed]).converged
    assert results["sigmoid + KL", 0].params.W1.tolist() != results["sigmoid + KL", 1].params.W1.tolist()


def test_the_stages_warm_start_and_a_second_call_trains_nothing(unit_data, tmp_path, monkeypatch):
    first = train(unit_data, tmp_path, seeds=[0])
    monkeypatch.setattr(Autoencoder, "_fit", lambda *a, **k: pytest.fail("trained again"))
    again = train(unit_data, tmp_path, seeds=[0])
    for key, result in first.items():
        assert final_fit(again[key]).params.flat.tolist() == final_fit(result).params.flat.tolist()
    stages = first["sigmoid + L1", 0].stages
    later = Autoencoder(3, sparsity="l1", rho=0.1, beta=1.0)
    assert later.loss_and_grad(stages[0].params, unit_data)[0] == pytest.approx(stages[1].history["total"][0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seeds": [0, 0]}, "seeds"),
        ({"seeds": [-1]}, "seeds"),
        ({"max_iter": 0}, "max_iter must be an integer >= 1"),
        ({"max_iter": 1}, "max_iter must be at least the 2 stages"),
        ({"widths": (1e-2, 1e-3)}, "widths must end at the model's l1_smoothing"),
        ({"converged_max_iter": 0}, "converged_max_iter"),
        ({"converged_tol": -1.0}, "converged_tol"),
        ({"variants": {}}, "variants must map labels to Autoencoder"),
    ],
)
def test_bad_arguments_are_refused_before_any_training(unit_data, tmp_path, monkeypatch, kwargs, match):
    monkeypatch.setattr(Autoencoder, "_fit", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match=match):
        train(unit_data, tmp_path, **kwargs)
    assert not list(tmp_path.iterdir())


def test_the_affine_networks_train_from_their_own_seeds(unit_data, tmp_path):
    results = train(unit_data, tmp_path, seeds=[0, 1, 2], converged_seeds=[1])
    assert sorted(seed for label, seed in results if label == "sigmoid + KL") == [0, 1, 2]
    assert sorted(seed for label, seed in results if label in ("linear + L1", "Taylor 1 + L2")) == [1, 1]
    with pytest.raises(ValueError, match="converged_seeds"):
        train(unit_data, tmp_path, converged_seeds=[-1])


def test_without_convergence_the_affine_networks_get_the_budget_of_the_others(unit_data, tmp_path, monkeypatch):
    seen = []
    fit = Autoencoder._fit

    def recording_fit(self, X, **kwargs):
        seen.append((self.activation, self.l1_smoothing, kwargs["max_iter"], kwargs["tol"]))
        return fit(self, X, **kwargs)

    monkeypatch.setattr(Autoencoder, "_fit", recording_fit)
    results = train(unit_data, tmp_path, seeds=[0], to_convergence=False)
    assert sorted(s[1:] for s in seen if s[0] == "linear") == [(L1_SMOOTHING, 4, 1e-12), (1e-2, 5, 1e-12)]
    assert [s[2:] for s in seen if s[0] == "taylor1"] == [(9, 1e-12)]
    assert results["linear + L1", 0].n_iter <= 9


def test_a_continuation_is_the_fit_from_the_trained_parameters(unit_data, tmp_path):
    models = variants()
    first = train(unit_data, tmp_path, seeds=[0], variants={k: models[k] for k in ("sigmoid + KL", "sigmoid + L1")})
    starts = {key: final_fit(result).params for key, result in first.items()}
    more = continue_variants(models, unit_data, starts, max_iter=6, n_jobs=1, directory=tmp_path)
    assert list(more) == list(starts)
    for (label, seed), result in more.items():
        plain = models[label].fit(unit_data, max_iter=6, params=starts[label, seed])
        assert result.params.flat.tolist() == plain.params.flat.tolist()
        assert result.loss < final_fit(first[label, seed]).loss


@pytest.mark.parametrize(
    ("starts", "kwargs", "match"),
    [
        ({}, {}, "starts must map"),
        ({("nonesuch", 0): None}, {}, "starts must map"),
        ({("sigmoid + KL", 0): "params"}, {}, "starts must map"),
        (None, {"max_iter": 0}, "max_iter"),
    ],
)
def test_bad_continuations_are_refused(unit_data, tmp_path, monkeypatch, starts, kwargs, match):
    models = variants()
    if starts is None:
        starts = {("sigmoid + KL", 0): models["sigmoid + KL"].init_params(unit_data.shape[1], seed=0)}
    monkeypatch.setattr(Autoencoder, "_fit", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match=match):
        continue_variants(models, unit_data, starts, **({"max_iter": 3, "directory": tmp_path} | kwargs))
