"""Shared fixtures: small random problems with explicit seeds."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def unit_data(rng):
    """20 examples of 6 features in (0, 1)."""
    return rng.uniform(0.05, 0.95, size=(20, 6))
