"""L-BFGS training at the UFLDL MNIST setting: m = 10,000, p = 196, ρ = 0.1, β = 3, λ = 3e-3, 400 iterations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoencoder import Autoencoder

__all__ = ["TrainingResult", "training_data", "bench_training"]


@dataclass
class TrainingResult:
    """What one training run took."""

    data: str
    dtype: str
    m: int
    n_hidden: int
    wall_time: float
    objective_time: float
    n_iter: int
    n_evals: int
    loss: float

    @property
    def evals_per_iteration(self) -> float:
        return self.n_evals / max(self.n_iter, 1)

    @property
    def objective_share(self) -> float:
        """Fraction of the wall time spent inside the objective."""
        return self.objective_time / self.wall_time

    @property
    def overhead_per_iteration(self) -> float:
        """Seconds per iteration outside the objective: the optimizer, the callback, the bookkeeping."""
        return (self.wall_time - self.objective_time) / max(self.n_iter, 1)


def training_data(m: int, dtype=np.float64, seed: int = 0) -> tuple[np.ndarray, str]:
    """The first ``m`` MNIST training images when they are available locally, else random data in [0, 1].

    Returns
    -------
    X : ndarray of shape (m, 784)
    source : str
        Which of the two it is.
    """
    try:
        from autoencoder.datasets.mnist import load_mnist

        X, _ = load_mnist("train", n=m, dtype=dtype, download=False)
        return X, f"MNIST, first {m:,} training images"
    except Exception as error:  # noqa: BLE001 - any failure to load means: use random data
        rng = np.random.default_rng(seed)
        reason = type(error).__name__
        return rng.random((m, 784), dtype=np.dtype(dtype).type), f"random uniform data (MNIST unavailable: {reason})"


def bench_training(m: int = 10_000, n_hidden: int = 196, max_iter: int = 400, dtype=np.float64) -> TrainingResult:
    """Train the UFLDL sparse autoencoder once and report its timing."""
    X, source = training_data(m, dtype)
    model = Autoencoder(n_hidden, rho=0.1, beta=3.0, weight_decay=3e-3)
    result = model.fit(X, max_iter=max_iter)
    return TrainingResult(
        data=source,
        dtype=np.dtype(dtype).name,
        m=m,
        n_hidden=n_hidden,
        wall_time=result.wall_time,
        objective_time=result.objective_time,
        n_iter=result.n_iter,
        n_evals=result.n_evals,
        loss=result.loss,
    )
