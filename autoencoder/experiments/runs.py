"""Trainings as values: a :class:`Run` is one training, a :class:`Chain` several done in order.

A run names everything its trained bits depend on besides the data and the
numerics: the configuration, the iterations, the seed, the tolerance, the
starting point and the optimizer.  The model cache keys an entry by the run
and the digest of its data (:mod:`autoencoder.experiments.model_store`), and
the engine (:func:`autoencoder.experiments.engine.train`) trains chains of
runs wherever it is told to.

A chain's stages may each have their own configuration and their own
iterations; with ``warm_start`` each stage starts where the one before
stopped.  That is how an L1 network's continuation in the smoothing width is
written (:func:`autoencoder.experiments.continuation.fit_l1_continuation`),
and a seed continued for as long again (a doubling check) is a chain of
the same configuration twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from ..core._validation import check_int, check_real
from ..core.adam import Adam
from ..core.model import Autoencoder, parameter_bounds
from ..core.params import Params
from .training import check_optimizer

__all__ = ["Chain", "Run"]


@dataclass(frozen=True, eq=False)
class Run:
    """One training: ``model`` trained for ``max_iter`` iterations from ``seed`` (or ``start``).

    Attributes
    ----------
    model : Autoencoder
    max_iter : int
        L-BFGS iterations, ``>= 0``, or the epochs of ``optimizer``.
    seed : int
        Seed of the initial weights, ``>= 0`` (part of the run even with a
        ``start``, as :meth:`Autoencoder.fit` takes it).
    tol : float, default 1e-12
        As for :meth:`Autoencoder.fit`.
    start : Params, optional
        Starting point (None: the seed's initialisation).
    optimizer : autoencoder.core.adam.Adam, optional
        A minibatch optimizer instead of L-BFGS; ``max_iter`` is then its
        ``max_epochs``.

    Raises
    ------
    ValueError
        Naming the attribute, when one is out of range.
    """

    model: Autoencoder
    max_iter: int
    seed: int
    tol: float = 1e-12
    start: Params | None = None
    optimizer: Adam | None = None

    def __post_init__(self):
        if not isinstance(self.model, Autoencoder):
            raise ValueError(f"model must be an Autoencoder; got {self.model!r}")
        object.__setattr__(self, "max_iter", check_int("max_iter", self.max_iter, **parameter_bounds("max_iter")))
        object.__setattr__(self, "seed", check_int("seed", self.seed, **parameter_bounds("seed")))
        object.__setattr__(self, "tol", check_real("tol", self.tol, low=0))
        if self.start is not None and not isinstance(self.start, Params):
            raise ValueError(f"start must be None or Params; got {type(self.start).__name__}")
        check_optimizer(self.optimizer, self.max_iter)


@dataclass(frozen=True, eq=False)
class Chain:
    """Trainings done in order in one task.

    Attributes
    ----------
    models : tuple of Autoencoder
        The configurations, trained in this order.
    data : str
        Name of the training data in the ``datasets`` of :func:`autoencoder.experiments.engine.train`.
    max_iter : int or tuple of int
        Iterations of every stage (an int), or of each (one per model).
    seed : int
        As for :meth:`Autoencoder.fit`, the same for every stage.
    tol : float, default 1e-12
    start : Params, optional
        Starting point of the first model (None: the seed's initialisation).
    warm_start : bool, default False
        Start each model after the first from the previous one's solution;
        otherwise each starts from ``start``.
    optimizer : autoencoder.core.adam.Adam, optional
        A minibatch optimizer for every model instead of L-BFGS; ``max_iter``
        then counts its epochs and must be its ``max_epochs``.

    Raises
    ------
    ValueError
        Naming the attribute, when one is out of range.
    """

    models: tuple[Autoencoder, ...]
    data: str
    max_iter: int | tuple[int, ...]
    seed: int
    tol: float = 1e-12
    start: Params | None = None
    warm_start: bool = False
    optimizer: Adam | None = None

    def __post_init__(self):
        object.__setattr__(self, "models", tuple(self.models))
        if not self.models or not all(isinstance(m, Autoencoder) for m in self.models):
            raise ValueError(f"models must be a non-empty sequence of Autoencoder; got {self.models!r}")
        if isinstance(self.max_iter, Sequence) and not isinstance(self.max_iter, (str, bytes)):
            if len(self.max_iter) != len(self.models):
                raise ValueError(
                    f"max_iter must be an int or one int per model ({len(self.models)}); got {self.max_iter!r}"
                )
            bounds = parameter_bounds("max_iter")
            iterations = tuple(check_int(f"max_iter[{i}]", n, **bounds) for i, n in enumerate(self.max_iter))
            object.__setattr__(self, "max_iter", iterations)
        # Every stage is a Run, which checks the rest (iterations, seed, tol, start, optimizer).
        stages = [self.run(index, self.start) for index in range(len(self.models))]
        if not isinstance(self.max_iter, tuple):
            object.__setattr__(self, "max_iter", stages[0].max_iter)
        object.__setattr__(self, "seed", stages[0].seed)

    @property
    def iterations(self) -> tuple[int, ...]:
        """The iterations of each stage."""
        if isinstance(self.max_iter, tuple):
            return self.max_iter
        return (self.max_iter,) * len(self.models)

    def run(self, index: int, start: Params | None) -> Run:
        """Stage ``index`` as a :class:`Run` starting at ``start``."""
        return Run(self.models[index], self.iterations[index], self.seed, self.tol, start, self.optimizer)

    def start_after(self, params: Params) -> Params | None:
        """Where the stage after one that ended at ``params`` starts: there when warm-starting, else at ``start``."""
        return params if self.warm_start else self.start

    def rest(self, index: int, start: Params | None) -> Chain:
        """The chain from ``models[index]`` on, starting at ``start``."""
        max_iter = self.max_iter[index:] if isinstance(self.max_iter, tuple) else self.max_iter
        return dataclasses.replace(self, models=self.models[index:], max_iter=max_iter, start=start)
