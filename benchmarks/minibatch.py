"""Minibatch Adam at chapter 9's shape: where an epoch's time goes, as ratios measured in one run.

An epoch of :class:`autoencoder.Adam` is one fast evaluation of ``J`` per
minibatch (the same code as L-BFGS's, :mod:`autoencoder.core._fast`) plus the
optimizer's own work: the update of every parameter, and the recipe's pieces
(the decoder's unit-norm projection and renormalization, the pre-encoder
bias's chain rule, AuxK's extra products on the dead latents).  Each setting
trains a few epochs from the same start; the table gives each one's epoch
time against the time inside its evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoencoder import Adam, Autoencoder

from .training import training_data

__all__ = ["AdamResult", "SETTINGS", "bench_adam"]

SETTINGS = {
    "plain Adam": {},
    "recipe (unit norm, tied, pre-encoder bias)": {
        "unit_norm_decoder": True,
        "tied_init": True,
        "pre_encoder_bias": True,
    },
    "recipe and AuxK": {"unit_norm_decoder": True, "tied_init": True, "pre_encoder_bias": True, "aux_k": 256},
}
"""The recipe's pieces, added one group at a time (AuxK counts a latent dead after one epoch)."""


@dataclass
class AdamResult:
    """What a few epochs of one setting took."""

    setting: str
    epochs: int
    steps: int
    wall_time: float
    objective_time: float

    @property
    def per_epoch(self) -> float:
        """Seconds per epoch."""
        return self.wall_time / self.epochs

    @property
    def ratio(self) -> float:
        """The epoch's time over the time inside its evaluations (1 would be no optimizer cost at all)."""
        return self.wall_time / self.objective_time

    @property
    def outside_per_step(self) -> float:
        """Seconds per step outside the evaluations: the update and the recipe."""
        return (self.wall_time - self.objective_time) / self.steps


def bench_adam(
    m: int = 2_000, n_hidden: int = 1_024, k: int = 10, epochs: int = 3, batch_size: int = 128, dtype=np.float32
) -> tuple[str, list[AdamResult]]:
    """Train a TopK autoencoder for ``epochs`` epochs in each of :data:`SETTINGS`; the data's source and the results."""
    X, source = training_data(m, dtype)
    model = Autoencoder(
        n_hidden, activation="relu", output_activation="linear", sparsity="none", top_k=k, weight_decay=0.0
    )
    results = []
    for name, recipe in SETTINGS.items():
        recipe = dict(recipe)
        if "aux_k" in recipe:
            recipe["aux_k"] = min(recipe["aux_k"], n_hidden)
        adam = Adam(batch_size=batch_size, max_epochs=epochs, plateau=0.0, **recipe)
        fit = adam.fit(model, X, seed=0)
        results.append(AdamResult(name, fit.n_iter, fit.n_evals, fit.wall_time, fit.objective_time))
    return source, results
