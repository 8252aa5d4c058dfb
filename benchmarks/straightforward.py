"""The same objective written straightforwardly: NumPy one line per equation, and PyTorch autograd.

Both are timed beside :mod:`autoencoder.core._fast` by :mod:`benchmarks.objective`;
the PyTorch one only when PyTorch is installed (it is not a dependency).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autoencoder import Autoencoder, Params

__all__ = ["numpy_objective", "torch_objective", "torch_version"]


def numpy_objective(model: Autoencoder, params: Params, X: np.ndarray) -> Callable[[], tuple[float, Params]]:
    """``J`` and its gradient by :meth:`autoencoder.core.objective.Objective.reference`."""
    objective = model.objective
    return lambda: objective.reference(params, X)


def torch_version() -> str | None:
    """PyTorch's version, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def torch_objective(model: Autoencoder, params: Params, X: np.ndarray) -> Callable[[], tuple[float, np.ndarray]] | None:
    """``J`` and its gradient by PyTorch's autograd (eager), or None without PyTorch.

    Only the UFLDL configuration is written out: sigmoid hidden and output
    layers and the KL sparsity penalty.  The tensors share memory with
    ``params`` and ``X``; each call runs the forward pass and ``backward()``.

    Returns
    -------
    callable or None
        ``objective() -> (loss, flat gradient)``.
    """
    try:
        import torch
    except ImportError:
        return None
    if (model.activation, model.output_activation, model.sparsity) != ("sigmoid", "sigmoid", "kl"):
        raise ValueError("the PyTorch objective covers sigmoid hidden and output layers with KL sparsity only")
    rho, beta, lam = model.rho, model.beta, model.weight_decay
    x = torch.from_numpy(X)
    leaves = [torch.from_numpy(a).requires_grad_() for a in (params.W1, params.b1, params.W2, params.b2)]
    m = X.shape[0]

    def objective():
        for leaf in leaves:
            leaf.grad = None
        W1, b1, W2, b2 = leaves
        a2 = torch.sigmoid(x @ W1.T + b1)
        h = torch.sigmoid(a2 @ W2.T + b2)
        rho_hat = a2.mean(dim=0)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        loss = 0.5 * ((h - x) ** 2).sum() / m + 0.5 * lam * ((W1**2).sum() + (W2**2).sum()) + beta * kl.sum()
        loss.backward()
        return float(loss.detach()), np.concatenate([leaf.grad.numpy().ravel() for leaf in (W1, W2, b1, b2)])

    return objective
