"""One configuration from several seeds, and the doubling check of its budget.

A chapter that reports a network trained for ``max_iter`` iterations prints
the spread of its numbers over seeds (:func:`train_replicates`) and how far
twice the iterations still move them: the run of a seed in ``doubled``
continues for another ``max_iter`` iterations from where it stopped (L-BFGS
restarted there, as a warm start does).  Every training goes through the
model cache and the sweep engine, two at a time on an embedded Dask cluster
by default, the longest chain first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core._validation import check_int, check_real, check_seeds
from ..core.model import Autoencoder, FitResult
from .engine import Chain, Engine, run_chains, tally
from .progress import task_progress

__all__ = ["Replicates", "train_replicates"]


@dataclass(frozen=True)
class Replicates:
    """What :func:`train_replicates` trained.

    Attributes
    ----------
    fits : dict of int to FitResult
        Seed to its training of ``max_iter`` iterations, in the seeds' order.
    doubled : dict of int to FitResult
        Seed to the ``max_iter`` further iterations that continue its run
        (so ``2 max_iter`` in all), for the seeds asked for.
    """

    fits: dict[int, FitResult]
    doubled: dict[int, FitResult]


def train_replicates(
    model: Autoencoder,
    X,
    seeds: Sequence[int],
    *,
    max_iter: int,
    doubled: Sequence[int] = (),
    tol: float = 1e-12,
    n_jobs: int = 2,
    scheduler=None,
    directory: Path | None = None,
) -> Replicates:
    """Train ``model`` from every seed, and continue the seeds of ``doubled`` for as long again.

    Parameters
    ----------
    model : Autoencoder
    X : ndarray of shape (m, n), or mapping of int to ndarray
        Training examples in rows, the same for every seed; or, for seeds
        that also draw their data, each seed's own (every seed of ``seeds``
        a key).
    seeds : sequence of int
        Seeds of the initial weights, distinct, ``>= 0``.
    max_iter : int
        L-BFGS iterations of every training, ``>= 1``; a doubled seed gets
        as many again.
    doubled : sequence of int, default ()
        Seeds, each one of ``seeds``, whose run continues.
    tol : float, default 1e-12
        As for :meth:`Autoencoder.fit`.
    n_jobs : int, default 2
        Worker processes of the embedded cluster; ignored with a scheduler.
        The results do not depend on it.
    scheduler : str or distributed.Client, optional
        As for :class:`autoencoder.experiments.engine.Engine`.
    directory : Path, optional
        Model cache directory.

    Returns
    -------
    Replicates

    Raises
    ------
    ValueError
        Naming the parameter, before anything is trained.
    """
    if not isinstance(model, Autoencoder):
        raise ValueError(f"model must be an Autoencoder; got {model!r}")
    seeds = check_seeds("seeds", seeds)
    doubled = check_seeds("doubled", doubled) if len(doubled) else []
    if not set(doubled) <= set(seeds):
        raise ValueError(f"doubled must name seeds of seeds {seeds}; got {doubled}")
    max_iter = check_int("max_iter", max_iter, 1)
    tol = check_real("tol", tol, low=0)
    n_jobs = check_int("n_jobs", n_jobs, 1)
    per_seed = isinstance(X, Mapping)
    if per_seed and not set(seeds) <= set(X):
        raise ValueError(f"X must hold the data of every seed of {seeds}; got the seeds {sorted(X)}")
    datasets = {f"seed {s}": X[s] for s in seeds} if per_seed else {"X": X}
    order = doubled + [s for s in seeds if s not in doubled]  # the longest chains first
    name = (lambda s: f"seed {s}") if per_seed else (lambda s: "X")
    chains = [Chain((model,) * (1 + (s in doubled)), name(s), max_iter, s, tol, warm_start=True) for s in order]
    total = sum(len(chain.models) for chain in chains)
    description = f"{len(seeds)} seeds" + (f", {len(doubled)} doubled" if doubled else "")
    with task_progress(description, total, unit="trainings") as advance, Engine(scheduler, n_workers=n_jobs) as engine:
        trained = run_chains(chains, datasets, engine=engine, directory=directory, advance=tally(advance))
    results = dict(zip(order, trained, strict=True))
    return Replicates({s: results[s][0] for s in seeds}, {s: results[s][1] for s in doubled})
