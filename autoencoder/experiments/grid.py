"""A grid of KL-sparse sigmoid autoencoders over the sparsity target ρ and weight β.

:func:`train_grid` trains the network of :func:`autoencoder.experiments.configurations.sparse_sigmoid`
at every pair ``(ρ, β)`` of two lists, through the model cache (:mod:`autoencoder.experiments.cache`)
(so a rebuild of the book reads every point from disk), on a Dask cluster;
:func:`grid_summary` measures each trained point with :func:`point_summary`
(:func:`autoencoder.experiments.measures.summarize` and the localized fraction and median
effective area of its features).  The grid's figures are in
:mod:`autoencoder.book.grid_figures`, its live retraining panel in
:mod:`autoencoder.book.widgets`.

Training is a set of *chains*, one per ρ: the values of β in increasing order,
each point starting from the solution of the previous one (continuation in β).
A chain is one task of a sweep on Dask's distributed scheduler
(:mod:`autoencoder.experiments.engine`): an embedded cluster of ``n_jobs`` worker
processes by default, an existing cluster when given its address.  Each
worker runs its BLAS on one thread, so a chain computes the same bits in this
process, on one worker or on several, and the grid does not depend on
``n_jobs`` or on the cluster.  While it trains, a
:func:`autoencoder.experiments.progress.task_progress` counts the finished trainings (a bar
when run interactively, lines in the progress file during the book build).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..core._validation import check_axis, check_int, in_interval, real_interval
from ..core.model import Autoencoder, FitResult, parameter_bounds, validate_data
from . import configurations
from .engine import Chain, Engine, run_chains, tally
from .measures import effective_area, localized_fraction, summarize
from .progress import task_progress

__all__ = [
    "axis_with",
    "model_factory",
    "train_grid",
    "grid_summary",
    "point_summary",
    "METRIC_LABELS",
]

METRIC_LABELS = {
    "mean_activation": "mean activation",
    "near_silent": "near-silent units",
    "reconstruction_mse": "reconstruction error",
    "localized_fraction": "localized features",
    "median_area": "median effective area (pixels)",
    "objective": "objective J",
}
"""Display names of the :func:`point_summary` keys, in display order."""


def model_factory(n_hidden: int, weight_decay: float) -> Callable[[float, float], Autoencoder]:
    """``(ρ, β) -> configurations.sparse_sigmoid(n_hidden, ρ, β, weight_decay)``.

    Parameters
    ----------
    n_hidden : int
        Hidden units ``p``.
    weight_decay : float
        ``λ``.

    Returns
    -------
    callable
        A picklable function of ``(rho, beta)`` returning the grid point's
        :class:`~autoencoder.Autoencoder`.
    """
    return _SparseSigmoid(n_hidden, weight_decay)


class _SparseSigmoid:
    """Picklable ``(ρ, β) -> Autoencoder`` (a lambda would not cross to a spawned process)."""

    def __init__(self, n_hidden, weight_decay):
        self.n_hidden = n_hidden
        self.weight_decay = weight_decay

    def __call__(self, rho: float, beta: float) -> Autoencoder:
        return configurations.sparse_sigmoid(self.n_hidden, rho, beta, self.weight_decay)


def axis_with(values: Sequence[float], value: float) -> list[float]:
    """A grid axis that holds ``value``: ``values`` and ``value``, each once, in increasing order.

    The point a chapter's explorer opens at joins the grid this way when it is
    not one of the grid's values, so that point is trained and shown too.

    Parameters
    ----------
    values : sequence of float
        The axis as given (any order).
    value : float
        The value it must hold.

    Returns
    -------
    list of float
    """
    return sorted({float(v) for v in values} | {float(value)})


def _within(bounds: dict) -> str:
    return f"in {real_interval(**bounds)}"


def train_grid(
    X,
    rhos: Sequence[float],
    betas: Sequence[float],
    *,
    n_hidden: int,
    weight_decay: float,
    max_iter: int,
    seed: int,
    n_jobs: int = 2,
    warm_start: bool = True,
    directory: Path | None = None,
    scheduler=None,
) -> dict[tuple[float, float], FitResult]:
    """Train the KL-sparse sigmoid autoencoder at every ``(ρ, β)`` of a grid.

    Parameters
    ----------
    X : ndarray of shape (m, n)
        Training examples in rows, values in [0, 1]; float32 trains in float32.
    rhos : sequence of float
        Sparsity targets ``ρ``, each in (0, 1), no repeats.
    betas : sequence of float
        Sparsity weights ``β ≥ 0``, no repeats.
    n_hidden : int
        Hidden units ``p``.
    weight_decay : float
        ``λ``.
    max_iter : int
        L-BFGS iterations of each grid point.
    seed : int
        Seed of the random initialisation (of the first point of each chain,
        or of every point without ``warm_start``).
    n_jobs : int, default 2
        Worker processes of the embedded Dask cluster training chains at once
        (:class:`autoencoder.experiments.engine.Engine`, one thread and one BLAS thread
        each); 1 trains in this process, also on one BLAS thread.  Ignored
        with a scheduler.
    warm_start : bool, default True
        For each ρ, train the positive β in increasing order, each starting
        from the previous β's solution, the first from the β = 0 network when
        β = 0 is in the grid (the starting point is part of the cache key).
        Without it every point starts from the seed's initialisation.
    directory : Path, optional
        Cache directory; default :func:`autoencoder.experiments.cache.cache_dir`.
    scheduler : str or distributed.Client, optional
        An existing Dask cluster to train on (its address, or a client); by
        default Dask's ``scheduler-address`` configuration
        (``$DASK_SCHEDULER_ADDRESS``), else the embedded cluster.

    Returns
    -------
    dict
        ``(rho, beta) -> FitResult`` for every pair, keyed by the values as
        given, in the order ``rhos x betas``.  The same bits whatever
        ``n_jobs`` or cluster (given the same BLAS kernel).

    Notes
    -----
    At β = 0 the objective does not depend on ρ: that network is trained once
    (as ``Autoencoder(n_hidden, sparsity="none", weight_decay=λ)``, the same
    objective) and every ``(ρ, 0)`` maps to that one result.

    Raises
    ------
    ValueError
        Naming the parameter: a ρ outside (0, 1), a negative β, an empty or
        repeating list, ``n_jobs < 1``, a bad scheduler, or an invalid model
        or data; before anything is trained.
    autoencoder.experiments.engine.SweepError
        When a point fails, naming it (the points trained are in the cache).
    """
    rho_rule, beta_rule = parameter_bounds("rho"), parameter_bounds("beta")  # the library's own rules
    rhos = check_axis("rhos", rhos, inside=lambda v: in_interval(v, **rho_rule), allowed=_within(rho_rule))
    betas = check_axis("betas", betas, inside=lambda v: in_interval(v, **beta_rule), allowed=_within(beta_rule))
    n_jobs = check_int("n_jobs", n_jobs, 1)
    max_iter = check_int("max_iter", max_iter, 0)
    seed = check_int("seed", seed, 0)
    factory = model_factory(n_hidden, weight_decay)
    factory(rhos[0], betas[0])  # validates n_hidden and weight_decay here, not in a worker
    X = validate_data(X, unit_interval=True)
    engine = Engine(scheduler, n_workers=n_jobs)

    results, positive = {}, sorted(beta for beta in betas if beta > 0)
    start, has_zero = None, len(positive) < len(betas)
    description = f"grid of {len(rhos)} x {len(betas)} (ρ, β)"
    data = {"X": X}
    with task_progress(description, int(has_zero) + len(rhos) * len(positive), unit="trainings") as advance, engine:
        count = tally(advance)
        if has_zero:
            # β = 0: the sparsity term vanishes whatever ρ, so one network, trained
            # once as the same objective without a sparsity term, serves every ρ.
            unpenalized = Autoencoder(n_hidden, sparsity="none", beta=0.0, weight_decay=weight_decay)
            root = Chain((unpenalized,), "X", max_iter, seed)
            ((root,),) = run_chains([root], data, engine=engine, directory=directory, advance=count)
            results.update({(rho, 0.0): root for rho in rhos})
            start = root.params if warm_start else None
        if warm_start:
            chains = [(rho, positive) for rho in rhos] if positive else []
        else:
            chains = [(rho, [beta]) for rho in rhos for beta in positive]
        tasks = [
            Chain(tuple(factory(rho, beta) for beta in chain), "X", max_iter, seed, start=start, warm_start=warm_start)
            for rho, chain in chains
        ]
        trained = run_chains(tasks, data, engine=engine, directory=directory, advance=count)
        for (rho, chain), chain_results in zip(chains, trained, strict=True):
            results.update({(rho, beta): r for beta, r in zip(chain, chain_results, strict=True)})
    return {(rho, beta): results[rho, beta] for rho in rhos for beta in betas}


def point_summary(model: Autoencoder, params, X) -> dict[str, float]:
    """The numbers of one grid point: :func:`autoencoder.experiments.measures.summarize` and two of its features.

    Parameters
    ----------
    model : Autoencoder
        The point's configuration.
    params : Params
        Its trained parameters; the features are the rows of ``W1``, of shape
        ``(p, n)``.
    X : ndarray of shape (m, n)
        The data to measure on.

    Returns
    -------
    dict
        The keys of :data:`METRIC_LABELS`: ``summarize``'s four, and
        ``localized_fraction`` (:func:`autoencoder.experiments.measures.localized_fraction`
        of ``W1``, the share of features spread over less than a tenth of the
        image) and ``median_area`` (the median
        :func:`autoencoder.experiments.measures.effective_area` of the features, in pixels).
    """
    row = summarize(model, params, X)
    row["localized_fraction"] = localized_fraction(params.W1)
    row["median_area"] = float(np.median(effective_area(params.W1)))
    return {name: row[name] for name in METRIC_LABELS}


def grid_summary(
    X, results: Mapping[tuple[float, float], FitResult], model_factory: Callable[[float, float], Autoencoder]
) -> dict[tuple[float, float], dict[str, float]]:
    """:func:`point_summary` at every grid point.

    Parameters
    ----------
    X : ndarray of shape (m, n)
        The data to measure on.
    results : mapping
        ``(rho, beta) -> FitResult``, as :func:`train_grid` returns.
    model_factory : callable
        ``(rho, beta) -> Autoencoder``, e.g. :func:`model_factory`.

    Returns
    -------
    dict
        ``(rho, beta) -> {"mean_activation", "near_silent",
        "reconstruction_mse", "localized_fraction", "median_area",
        "objective"}``, same keys and order as ``results``.
    """
    return {key: point_summary(model_factory(*key), result.params, X) for key, result in results.items()}
