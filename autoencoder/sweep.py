"""The command ``python -m autoencoder.sweep CONFIG [--scheduler ADDRESS] [--workers N] [--output CSV]``.

The sweeps are :mod:`autoencoder.experiments.sweep`; this module keeps their
documented command line.
"""

import sys

from .experiments.sweep import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
