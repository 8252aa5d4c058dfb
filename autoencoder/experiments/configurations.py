"""The named configurations of the study, shared by the chapters.

Chapters 1–3 train these networks and chapter 6 (Figure 1) reuses them; since
every chapter builds them here from the same knobs and trains them through
:func:`autoencoder.experiments.cache.fit_cached`, each network is trained once.
"""

from __future__ import annotations

from ..core.model import Autoencoder

__all__ = ["UFLDL", "sparse_sigmoid", "unregularized", "sparse_linear"]

UFLDL = {
    "n_train": 10_000,
    "n_hidden": 196,
    "rho": 0.1,
    "beta": 3.0,
    "weight_decay": 3e-3,
    "max_iter": 400,
    "seed": 0,
}
"""The UFLDL sparse autoencoder exercise on MNIST: the study's reference setting."""


def sparse_sigmoid(n_hidden: int, rho: float, beta: float, weight_decay: float) -> Autoencoder:
    """§2: sigmoid hidden and output layers with KL sparsity (the UFLDL network)."""
    return Autoencoder(n_hidden, activation="sigmoid", sparsity="kl", rho=rho, beta=beta, weight_decay=weight_decay)


def unregularized(n_hidden: int, activation: str) -> Autoencoder:
    """§3: no weight decay and no sparsity (λ = β = 0)."""
    return Autoencoder(n_hidden, activation=activation, sparsity="none", beta=0.0, weight_decay=0.0)


def sparse_linear(n_hidden: int, rho: float, beta: float, weight_decay: float) -> Autoencoder:
    """§4: identity transfer with the L2 sparsity penalty ``(ρ − ρ̂)²`` and weight decay."""
    return Autoencoder(n_hidden, activation="linear", sparsity="l2", rho=rho, beta=beta, weight_decay=weight_decay)
