"""The one place where the experiments train a network: L-BFGS or a minibatch optimizer.

Every training of the book goes through :func:`train_run` (the engine's
chains, :func:`autoencoder.experiments.engine.train`), so that which
optimizer trains a run is a value of the run, not a decision of the caller.
It takes data already checked for the model, as the engine checks each data
set once, and is the one function of the experiments that calls a ``fit``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.adam import Adam
from ..core.model import Autoencoder, FitResult
from ..core.params import Params

__all__ = ["check_optimizer", "optimizer_description", "train_run"]


def check_optimizer(optimizer: Adam | None, max_iter: int) -> Adam | None:
    """``optimizer`` when it is None or an :class:`~autoencoder.core.adam.Adam` whose epochs are ``max_iter``.

    Raises
    ------
    ValueError
        When ``optimizer`` is another type, or its ``max_epochs`` is not
        ``max_iter`` (the key of a run holds ``max_iter``, which for a
        minibatch optimizer counts epochs).
    """
    if optimizer is None:
        return None
    if not isinstance(optimizer, Adam):
        raise ValueError(f"optimizer must be None (L-BFGS) or an autoencoder.core.adam.Adam; got {optimizer!r}")
    if optimizer.max_epochs != max_iter:
        raise ValueError(
            f"max_iter={max_iter} but optimizer.max_epochs={optimizer.max_epochs}: with a minibatch "
            "optimizer max_iter counts its epochs, so the two must be equal"
        )
    return optimizer


def optimizer_description(optimizer: Adam | None) -> dict | None:
    """What a cache key records of the optimizer: None for L-BFGS, else its name and every setting."""
    return None if optimizer is None else {"name": "adam", **optimizer.to_dict()}


def train_run(
    model: Autoencoder,
    X: np.ndarray,
    *,
    max_iter: int,
    seed: int,
    params: Params | None = None,
    tol: float = 1e-12,
    optimizer: Adam | None = None,
    callback: Callable | None = None,
) -> FitResult:
    """Train ``model`` on ``X`` once, with L-BFGS (``optimizer=None``) or ``optimizer``.

    Parameters
    ----------
    model : Autoencoder
    X : ndarray of shape (m, n)
        Checked by the caller (``model._check_X``, or
        :func:`autoencoder.experiments.model_store.checked_data`).
    max_iter : int
        L-BFGS iterations, or the optimizer's epochs (its ``max_epochs``).
    seed : int
    params : Params, optional
        Starting point (warm start).
    tol : float, default 1e-12
        L-BFGS's tolerance (unused by a minibatch optimizer, whose stopping
        rule is among its settings).
    optimizer : Adam, optional
    callback : callable, optional
        ``callback(iteration, params, terms)`` after each iteration (L-BFGS)
        or epoch (Adam).

    Returns
    -------
    FitResult
    """
    if check_optimizer(optimizer, max_iter) is None:
        return model._fit(X, max_iter=max_iter, seed=seed, params=params, tol=tol, callback=callback)
    return optimizer._fit(model, X, seed=seed, params=params, callback=callback)
