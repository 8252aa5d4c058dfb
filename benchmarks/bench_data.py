"""Time loading MNIST from the cache (run ``python -m autoencoder.data fetch`` first).

Usage: ``python benchmarks/bench_data.py [--repeat 5]``.  Prints the best and
median wall time of each load; every load reads the IDX files and checks
their SHA-256 digests.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from autoencoder.datasets.mnist import load_digits, load_mnist, mnist_cache_dir


def time_call(function: Callable[[], object], repeat: int) -> list[float]:
    """Wall times in seconds of ``repeat`` calls of ``function``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases = {
        "load_mnist('train', 10_000)": lambda: load_mnist("train", 10_000, download=False),
        "load_mnist('train', 10_000, dtype=float32)": lambda: load_mnist(
            "train", 10_000, dtype=np.float32, download=False
        ),
        "load_mnist('train')  # 60,000": lambda: load_mnist("train", download=False),
        "load_mnist('test')   # 10,000": lambda: load_mnist("test", download=False),
        "load_digits()": load_digits,
    }
    print(f"cache: {mnist_cache_dir()}")
    for label, function in cases.items():
        times = time_call(function, args.repeat)
        print(f"{label:45s} best {min(times) * 1e3:7.1f} ms   median {statistics.median(times) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
