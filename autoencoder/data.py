"""The documented home of :func:`load_mnist` and of ``python -m autoencoder.data fetch``.

The data sets live in :mod:`autoencoder.datasets`; this module keeps the
names and the command that the README, the Makefile and older notebooks use.
"""

import sys

from .datasets.mnist import MNISTUnavailableError, fetch_mnist, load_digits, load_mnist, main

__all__ = ["MNISTUnavailableError", "fetch_mnist", "load_digits", "load_mnist", "main"]

if __name__ == "__main__":
    sys.exit(main())
