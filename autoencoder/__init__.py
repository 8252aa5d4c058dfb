"""Sparse autoencoders, PCA and the generalized backpropagation of "Properties of Autoencoders".

The public API:

- :class:`Autoencoder` — a validated configuration with ``init_params``,
  ``loss_and_grad``, ``loss_terms``, ``fit``, ``encode`` and ``reconstruct``;
- :class:`Params` — ``W1, b1, W2, b2`` as views of one flat vector;
- :class:`FitResult` — what ``fit`` returns;
- :class:`Adam` — minibatch training with the recipe of today's sparse
  autoencoders, returning a ``FitResult`` too;
- :func:`check_gradient` — central finite differences, UFLDL's measure;
- :func:`pca` and :func:`principal_angles`.

The package in layers, each importing only those before it:
:mod:`autoencoder.core` (the library: NumPy and SciPy only),
:mod:`autoencoder.datasets` (MNIST, synthetic data),
:mod:`autoencoder.experiments` (configurations, the model cache, sweeps,
measures) and :mod:`autoencoder.book` (figures, tables, the explorer; the
``book`` extra).  :mod:`autoencoder.data`, :mod:`autoencoder.cache` and
:mod:`autoencoder.sweep` keep the documented entry points.
"""

from .core.activations import ACTIVATIONS
from .core.adam import Adam
from .core.gradcheck import check_gradient
from .core.model import Autoencoder, FitResult
from .core.params import Params
from .core.pca import PCAResult, pca, principal_angles
from .core.sparsity import PENALTIES

__all__ = [
    "ACTIVATIONS",
    "Adam",
    "PENALTIES",
    "Autoencoder",
    "FitResult",
    "Params",
    "PCAResult",
    "check_gradient",
    "pca",
    "principal_angles",
]
__version__ = "0.1.0"
