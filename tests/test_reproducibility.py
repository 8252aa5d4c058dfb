"""The same bits on any number of cores: training does not depend on how the examples are split.

L-BFGS amplifies a difference in the last bit of one gradient into the
third digit after a few hundred iterations, so these tests train long enough
for any dependence on the worker count to show, and check that it is there
when the sums are grouped differently (another block size).
"""

import numpy as np
import pytest

from autoencoder import Autoencoder
from autoencoder.core import _fast
from autoencoder.datasets.mnist import load_digits

MODEL = Autoencoder(25, rho=0.1, beta=3.0, weight_decay=3e-3)


@pytest.fixture(scope="module")
def digits():
    return load_digits(400)[0]


def _train(X, monkeypatch, workers, block_rows=None):
    monkeypatch.setenv(_fast.WORKERS_VARIABLE, str(workers))
    if block_rows is not None:
        monkeypatch.setattr(_fast, "default_block_rows", lambda m: block_rows)
    return MODEL.fit(X, max_iter=100, seed=0)


@pytest.mark.parametrize("block_rows", [None, 32], ids=["default-blocks", "13-blocks"])
def test_training_is_bit_identical_on_1_2_3_4_and_8_workers(digits, monkeypatch, block_rows):
    one = _train(digits, monkeypatch, 1, block_rows)
    assert one.n_iter == 100
    n_blocks = -(-len(digits) // (block_rows or _fast.default_block_rows(len(digits))))
    for workers in (2, 3, 4, 8):
        other = _train(digits, monkeypatch, workers, block_rows)
        assert other.workers == min(workers, n_blocks)
        np.testing.assert_array_equal(other.params.flat, one.params.flat, err_msg=f"{workers} workers")
        for term, values in one.history.items():
            np.testing.assert_array_equal(other.history[term], values, err_msg=term)
        assert other.n_evals == one.n_evals


def test_the_training_is_sensitive_enough_to_show_a_regrouped_sum(digits, monkeypatch):
    # Grouping the same sums into other blocks moves the last bits of every gradient; after
    # 100 iterations the parameters differ far above rounding.  Without this sensitivity the
    # test above would prove nothing.
    default = _train(digits, monkeypatch, 2)
    regrouped = _train(digits, monkeypatch, 2, block_rows=32)
    difference = np.abs(regrouped.params.flat - default.params.flat).max()
    assert difference > 1e-12
    assert regrouped.loss == pytest.approx(default.loss, rel=1e-4)
