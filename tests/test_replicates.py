"""Seeds of one configuration, and the doubling check that continues some of them."""

import numpy as np
import pytest

from autoencoder import Autoencoder
from autoencoder.experiments.replicates import train_replicates


def model():
    return Autoencoder(3, sparsity="kl", rho=0.1, beta=1.0)


def test_each_seed_is_the_plain_fit_and_a_doubled_one_continues_it(unit_data, tmp_path):
    result = train_replicates(model(), unit_data, [0, 1, 2], max_iter=7, doubled=[1], n_jobs=1, directory=tmp_path)
    assert list(result.fits) == [0, 1, 2] and list(result.doubled) == [1]
    for seed, fit in result.fits.items():
        plain = model().fit(unit_data, max_iter=7, seed=seed)
        np.testing.assert_array_equal(fit.params.flat, plain.params.flat)
    further = model().fit(unit_data, max_iter=7, params=result.fits[1].params)
    np.testing.assert_array_equal(result.doubled[1].params.flat, further.params.flat)
    assert result.doubled[1].loss < result.fits[1].loss
    assert not np.array_equal(result.fits[0].params.flat, result.fits[2].params.flat)


def test_a_second_call_reads_everything_from_the_cache(unit_data, tmp_path, monkeypatch):
    first = train_replicates(model(), unit_data, [0, 1], max_iter=5, doubled=[0], n_jobs=1, directory=tmp_path)
    monkeypatch.setattr(Autoencoder, "_fit", lambda *a, **k: pytest.fail("trained again"))
    again = train_replicates(model(), unit_data, [0, 1], max_iter=5, doubled=[0], n_jobs=1, directory=tmp_path)
    np.testing.assert_array_equal(again.doubled[0].params.flat, first.doubled[0].params.flat)
    np.testing.assert_array_equal(again.fits[1].params.flat, first.fits[1].params.flat)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seeds": [0, 0]}, "seeds"),
        ({"seeds": [-1]}, "seeds"),
        ({"doubled": [3]}, "doubled must name seeds of seeds"),
        ({"max_iter": 0}, "max_iter must be an integer >= 1"),
        ({"tol": -1.0}, "tol"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"model": "sigmoid"}, "model must be an Autoencoder"),
    ],
)
def test_bad_arguments_are_refused_before_any_training(unit_data, tmp_path, monkeypatch, kwargs, match):
    monkeypatch.setattr(Autoencoder, "_fit", lambda *a, **k: pytest.fail("trained"))
    arguments = {"model": model(), "seeds": [0, 1], "max_iter": 5, "n_jobs": 1, "directory": tmp_path} | kwargs
    with pytest.raises(ValueError, match=match):
        train_replicates(arguments.pop("model"), unit_data, arguments.pop("seeds"), **arguments)
