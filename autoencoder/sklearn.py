"""The library's sparse autoencoder as a scikit-learn estimator: ``from autoencoder.sklearn import SparseAutoencoder``.

The estimator is :mod:`autoencoder.experiments.estimator`; this module is its
documented home (it needs the ``sklearn`` extra).
"""

from .experiments.estimator import SparseAutoencoder, expected_failed_checks

__all__ = ["SparseAutoencoder", "expected_failed_checks"]
