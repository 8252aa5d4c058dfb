"""Shared fixtures: small random problems with explicit seeds, and a Dask cluster on 127.0.0.1."""

import numpy as np
import pytest
from dask_cluster import TIMEOUT, start_cluster, stop


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def unit_data(rng):
    """20 examples of 6 features in (0, 1)."""
    return rng.uniform(0.05, 0.95, size=(20, 6))


@pytest.fixture
def cluster(tmp_path):
    """A dask scheduler and two single-threaded workers on 127.0.0.1, with a cache directory of their own."""
    from distributed import Client

    worker_cache = tmp_path / "worker-cache"
    address, scheduler, workers = start_cluster(tmp_path, worker_cache, 2)
    try:
        client = Client(address, timeout=TIMEOUT, set_as_default=False)
        client.wait_for_workers(2, timeout=TIMEOUT)
        yield client, worker_cache
        client.close()
    finally:
        for process in [*workers, scheduler]:
            stop(process)
    assert not list(worker_cache.glob("*.npz")), "a worker wrote a cache of its own"
