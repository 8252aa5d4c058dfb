"""The command ``python -m autoencoder.cache {list,size,clear,where}``.

The model cache is :mod:`autoencoder.experiments.cache`; this module keeps
its documented command line.
"""

import sys

from .experiments.cache import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
