"""Chapter 4's comparison of sparsity variants: every network from several seeds, at one budget rule.

The rule (:func:`train_variants`):

* an affine network (:attr:`autoencoder.Autoencoder.affine`: linear or
  Taylor-1 units in both layers) trains on the covariance form, where an
  iteration costs the same whatever the number of images, until L-BFGS
  stops on its own tolerance, ``converged_max_iter`` at most; an ``l1`` one
  by continuation in the smoothing width, each stage to that stop;
* every other network gets the same ``max_iter`` L-BFGS iterations, an
  ``l1`` one's continuation stages included
  (:func:`autoencoder.experiments.continuation.stage_iterations`).

Everything trains through the model cache, on the sweep engine
(:func:`autoencoder.experiments.engine.run_chains`), two trainings at a time
on an embedded Dask cluster by default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..core._validation import check_int, check_real, check_seeds
from ..core.model import Autoencoder, FitResult
from ..core.params import Params
from .continuation import ContinuationResult, check_widths, stage_iterations
from .engine import Chain, Engine, run_chains, tally
from .progress import task_progress

__all__ = ["continue_variants", "final_fit", "train_variants"]


def final_fit(result: FitResult | ContinuationResult) -> FitResult:
    """The :class:`FitResult` whose parameters a row reports: a continuation's last stage."""
    return result.final if isinstance(result, ContinuationResult) else result


def train_variants(
    variants: Mapping[str, Autoencoder],
    X,
    seeds: Sequence[int],
    *,
    max_iter: int,
    widths: Sequence[float],
    stage_iter: int,
    converged_max_iter: int = 20_000,
    converged_tol: float = 5e-9,
    converged_seeds: Sequence[int] | None = None,
    to_convergence: bool = True,
    n_jobs: int = 2,
    scheduler=None,
    directory: Path | None = None,
) -> dict[tuple[str, int], FitResult | ContinuationResult]:
    """Train every network of ``variants`` from every seed, at the budget rule of the module.

    Parameters
    ----------
    variants : mapping of str to Autoencoder
        Label to configuration.
    X : ndarray of shape (m, n)
        Training examples in rows.
    seeds : sequence of int
        Seeds of the initial weights, distinct, ``>= 0``.
    max_iter : int
        L-BFGS iterations of every non-affine network, all stages of an
        ``l1`` one together; at least ``len(widths)``.
    widths : sequence of float
        Smoothing widths of an ``l1`` network's stages, strictly decreasing
        to the model's ``l1_smoothing``.
    stage_iter : int
        Iterations of each later stage of a non-affine ``l1`` network, when
        ``max_iter`` allows (:func:`stage_iterations`).
    converged_max_iter : int, default 20,000
        Iteration limit of every affine training (each stage of an ``l1`` one).
    converged_tol : float, default 5e-9
        ``tol`` of every affine training (:meth:`Autoencoder.fit`): L-BFGS
        stops when an iteration lowers ``J`` by less than this fraction.
    converged_seeds : sequence of int, optional
        Seeds of the affine networks, distinct, ``>= 0``; default ``seeds``
        (fewer when a training to convergence takes long).
    to_convergence : bool, default True
        False: the affine networks too get ``max_iter`` iterations, stages
        included, like every other network (``converged_max_iter`` and
        ``converged_tol`` are then unused).
    n_jobs : int, default 2
        Worker processes of the embedded cluster; ignored with a scheduler.
    scheduler : str or distributed.Client, optional
        As for :class:`autoencoder.experiments.engine.Engine`.
    directory : Path, optional
        Model cache directory.

    Returns
    -------
    dict
        ``(label, seed) -> result`` in the order ``variants x seeds`` (an
        affine network's seeds those of ``converged_seeds``): a
        :class:`ContinuationResult` for an ``l1`` network, else a
        :class:`FitResult`.

    Raises
    ------
    ValueError
        Naming the parameter, before anything is trained.
    """
    if not variants or not all(isinstance(m, Autoencoder) for m in variants.values()):
        raise ValueError(f"variants must map labels to Autoencoder; got {variants!r}")
    seeds = check_seeds("seeds", seeds)
    if converged_seeds is None:
        converged_seeds = seeds
    converged_seeds = check_seeds("converged_seeds", converged_seeds)
    max_iter = check_int("max_iter", max_iter, 1)
    stage_iter = check_int("stage_iter", stage_iter, 1)
    converged_max_iter = check_int("converged_max_iter", converged_max_iter, 1)
    converged_tol = check_real("converged_tol", converged_tol, low=0)
    n_jobs = check_int("n_jobs", n_jobs, 1)
    l1 = {label for label, model in variants.items() if model.sparsity == "l1"}
    if l1:
        smoothing = variants[next(iter(l1))].l1_smoothing
        if any(variants[label].l1_smoothing != smoothing for label in l1):
            raise ValueError("every l1 network of variants must have the same l1_smoothing")
        widths = check_widths(widths, smoothing, name="widths")
        stages = stage_iterations(max_iter, len(widths), stage_iter)

    def staged(model):
        return tuple(dataclasses.replace(model, l1_smoothing=w) for w in widths)

    first, later = {}, []  # first round: one chain per training; then one round per later L1 stage
    for label, model in variants.items():
        for seed in converged_seeds if model.affine else seeds:
            if model.affine and to_convergence:
                models = staged(model) if label in l1 else (model,)
                first[label, seed] = Chain(models, "X", converged_max_iter, seed, converged_tol, warm_start=True)
            elif label in l1:
                first[label, seed] = Chain(staged(model)[:1], "X", stages[0], seed)
                later.append((label, seed))
            else:
                first[label, seed] = Chain((model,), "X", max_iter, seed)
    n_later = len(later) * (len(widths) - 1) if l1 else 0
    total = sum(len(chain.models) for chain in first.values()) + n_later
    description = f"{len(variants)} variants x {len(seeds)} seeds"
    with task_progress(description, total, unit="trainings") as advance, Engine(scheduler, n_workers=n_jobs) as engine:
        count = tally(advance)
        trained = run_chains(list(first.values()), {"X": X}, engine=engine, directory=directory, advance=count)
        done = dict(zip(first, trained, strict=True))
        for stage in range(1, len(widths) if later else 1):
            chains = [
                Chain(
                    staged(variants[label])[stage : stage + 1],
                    "X",
                    stages[stage],
                    seed,
                    start=done[label, seed][-1].params,
                )
                for label, seed in later
            ]
            results = run_chains(chains, {"X": X}, engine=engine, directory=directory, advance=count)
            for key, result in zip(later, results, strict=True):
                done[key] = done[key] + result
    return {key: ContinuationResult(widths, tuple(done[key])) if key[0] in l1 else done[key][0] for key in first}


def continue_variants(
    variants: Mapping[str, Autoencoder],
    X,
    starts: Mapping[tuple[str, int], Params],
    *,
    max_iter: int,
    n_jobs: int = 2,
    scheduler=None,
    directory: Path | None = None,
) -> dict[tuple[str, int], FitResult]:
    """The doubling check: ``max_iter`` more iterations of some trained networks, from where they stopped.

    Parameters
    ----------
    variants : mapping of str to Autoencoder
        Label to configuration (an ``l1`` one continues at its own
        ``l1_smoothing``, its last stage's).
    X : ndarray of shape (m, n)
        The training examples they were trained on.
    starts : mapping of (str, int) to Params
        ``(label, seed) -> parameters`` to continue from, labels of ``variants``.
    max_iter : int
        L-BFGS iterations of each continuation, ``>= 1``.
    n_jobs : int, default 2
        Worker processes of the embedded cluster; ignored with a scheduler.
    scheduler : str or distributed.Client, optional
        As for :class:`autoencoder.experiments.engine.Engine`.
    directory : Path, optional
        Model cache directory.

    Returns
    -------
    dict
        ``(label, seed) -> FitResult`` in the order of ``starts``.

    Raises
    ------
    ValueError
        Naming the parameter, before anything is trained.
    """
    unknown = [key for key in starts if not isinstance(key, tuple) or key[0] not in variants]
    if not starts or unknown:
        raise ValueError(f"starts must map (label, seed) of variants to Params; got {list(starts)!r}")
    if not all(isinstance(p, Params) for p in starts.values()):
        raise ValueError("starts must map (label, seed) of variants to Params")
    max_iter = check_int("max_iter", max_iter, 1)
    n_jobs = check_int("n_jobs", n_jobs, 1)
    chains = [
        Chain((variants[label],), "X", max_iter, int(seed), start=start) for (label, seed), start in starts.items()
    ]
    with (
        task_progress(f"{len(chains)} continuations", len(chains), unit="trainings") as advance,
        Engine(scheduler, n_workers=n_jobs) as engine,
    ):
        trained = run_chains(chains, {"X": X}, engine=engine, directory=directory, advance=tally(advance))
    return {key: results[0] for key, results in zip(starts, trained, strict=True)}
