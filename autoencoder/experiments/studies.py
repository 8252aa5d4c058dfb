"""Small studies behind chapters 3–5: a β sweep, a comparison of variants, gradient checks.

Each function trains through the model cache (:mod:`autoencoder.experiments.cache`, so
every network is trained once and shared between chapters), as a sweep on
Dask (:mod:`autoencoder.experiments.engine`), and returns plain rows —
lists of dicts of numbers — that the chapters format with
:func:`autoencoder.book.tables.html_table` or :func:`autoencoder.book.tables.text_table`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from ..core.activations import ACTIVATIONS
from ..core.gradcheck import check_gradient
from ..core.model import Autoencoder
from ..core.params import Params
from ..core.pca import PCAResult
from ..core.sparsity import PENALTIES, SparsityPenalty
from .engine import Chain, Engine, run_chains, tally
from .measures import network_metrics
from .progress import task_progress

__all__ = [
    "GRADIENT_TOLERANCE",
    "shift_to_target",
    "beta_sweep",
    "compare_variants",
    "tiny_problem",
    "gradient_check_rows",
    "gradient_check_summary",
    "error_bucket",
    "BrokenSparsityGradient",
]

GRADIENT_TOLERANCE = 1e-7
"""A gradient check passes when UFLDL's relative error is below this."""


def shift_to_target(model: Autoencoder, params: Params, X) -> Params:
    """Move the mean activations of an affine network to ``ρ`` through the biases alone.

    For an affine hidden transfer function ``f(z) = c0 + c1 z`` the mean
    activation is ``ρ̂ = c0 + c1 (W1 x̄ + b1)``; adding ``c = (ρ − ρ̂) / c1``
    to ``b1`` sets it to ``ρ`` exactly, and subtracting ``W2 c1 c`` from the
    output pre-activation bias ``b2`` leaves every reconstruction unchanged.
    Neither bias is weight-decayed, so only the sparsity term of ``J`` moves.

    Parameters
    ----------
    model : Autoencoder
        With an affine hidden transfer function (``"linear"`` or ``"taylor1"``).
    params : Params
    X : ndarray of shape (m, n)

    Returns
    -------
    Params
        A new parameter vector; ``params`` is not modified.

    Raises
    ------
    ValueError
        If the hidden transfer function is not affine.
    """
    if model.f.affine is None:
        raise ValueError(f"shift_to_target needs an affine hidden transfer function; got {model.activation!r}")
    slope = model.f.affine[1]
    rho_hat = model.mean_activation(params, X)
    shift = (model.rho - rho_hat) / slope
    out = params.copy()
    out.b1[...] += shift
    out.b2[...] -= params.W2 @ (slope * shift)
    return out


def beta_sweep(
    make_model: Callable[[float], Autoencoder],
    X,
    betas: Sequence[float],
    *,
    max_iter: int,
    seed: int = 0,
    reference: PCAResult | None = None,
    warm_start: bool = False,
    tol: float = 1e-12,
    scheduler=None,
    n_workers: int | None = None,
) -> list[dict[str, float]]:
    """Train one network per sparsity weight ``β`` and measure each.

    Parameters
    ----------
    make_model : callable
        ``make_model(beta) -> Autoencoder``.
    X : ndarray of shape (m, n)
    betas : sequence of float
        The values of ``β``, trained in this order.
    max_iter : int
        L-BFGS iterations per network.
    seed : int, default 0
        Seed of the initial weights; with ``warm_start=False`` every network
        starts from the same point, so the runs differ only in ``β``.
    reference : PCAResult, optional
        Passed to :func:`network_metrics`.
    warm_start : bool, default False
        Start each network from the previous one's trained parameters.
    tol : float, default 1e-12
        The optimizer's tolerance (:meth:`Autoencoder.fit`); 0 runs all
        ``max_iter`` iterations unless the line search can make no progress.
    scheduler, n_workers : optional
        Where the networks train, as for :class:`autoencoder.experiments.engine.Engine`:
        by default Dask's configured scheduler, else an embedded cluster when
        more than one network is missing from the cache.  Warm-started
        networks form one chain, trained in order.

    Returns
    -------
    list of dict
        One row per ``β``: ``beta``, ``n_iter``, ``objective`` (final ``J``)
        and the entries of :func:`network_metrics`.
    """
    models = [make_model(float(beta)) for beta in betas]
    if warm_start:
        chains = [Chain(models, "X", max_iter, seed, tol, warm_start=True)]
    else:
        chains = [Chain((model,), "X", max_iter, seed, tol) for model in models]
    results = _run(chains, X, f"β sweep of {len(models)} networks", scheduler, n_workers)
    rows = []
    for beta, model, result in zip(betas, models, results, strict=True):
        row = {"beta": float(beta), "n_iter": result.n_iter, "objective": result.loss}
        row.update(network_metrics(model, result.params, X, reference))
        rows.append(row)
    return rows


def _run(chains, X, description: str, scheduler, n_workers) -> list:
    """The results of the chains in order, trained through the cache.

    The chains run on an :class:`~autoencoder.experiments.engine.Engine`.
    """
    total = sum(len(chain.models) for chain in chains)
    with (
        task_progress(description, total, unit="trainings") as advance,
        Engine(scheduler, n_workers=n_workers) as engine,
    ):
        count = tally(advance)
        trained = run_chains(chains, {"X": X}, engine=engine, advance=count)
    return [result for results in trained for result in results]


def compare_variants(
    variants: dict[str, Autoencoder],
    X,
    *,
    max_iter: int,
    seed: int = 0,
    scheduler=None,
    n_workers: int | None = None,
) -> tuple[list[dict], dict[str, Params]]:
    """Train every network of ``variants`` at the same data, iterations and seed.

    Parameters
    ----------
    variants : dict of str to Autoencoder
        Label to configuration.
    X : ndarray of shape (m, n)
    max_iter, seed : int
    scheduler, n_workers : optional
        Where the networks train, as for :class:`autoencoder.experiments.engine.Engine`.

    Returns
    -------
    rows : list of dict
        One per variant: ``label``, ``activation``, ``output_activation``,
        ``sparsity``, ``n_iter`` and the entries of :func:`network_metrics`.
    params : dict of str to Params
        The trained parameters by label.
    """
    chains = [Chain((model,), "X", max_iter, seed) for model in variants.values()]
    results = _run(chains, X, f"{len(chains)} variants", scheduler, n_workers)
    rows, trained = [], {}
    for (label, model), result in zip(variants.items(), results, strict=True):
        trained[label] = result.params
        row = {
            "label": label,
            "activation": model.activation,
            "output_activation": model.output_activation,
            "sparsity": model.sparsity,
            "n_iter": result.n_iter,
        }
        row.update(network_metrics(model, result.params, X))
        rows.append(row)
    return rows, trained


def tiny_problem(n_visible: int, n_hidden: int, m: int, seed: int) -> tuple[np.ndarray, Params]:
    """The random problem of the gradient checks.

    Parameters
    ----------
    n_visible, n_hidden, m : int
        Inputs ``n``, hidden units ``p`` and examples.
    seed : int

    Returns
    -------
    X : ndarray of shape (m, n_visible)
        Uniform in (0.05, 0.95), so that a sigmoid output can reconstruct it.
    params : Params
        Every weight and bias normal with standard deviation 0.3 (nonzero
        biases, so that no term of the gradient vanishes by accident).
    """
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.05, 0.95, size=(m, n_visible))
    theta = rng.normal(scale=0.3, size=2 * n_visible * n_hidden + n_visible + n_hidden)
    return X, Params.from_flat(theta, n_visible, n_hidden)


def gradient_check_rows(
    *,
    n_visible: int = 6,
    n_hidden: int = 4,
    m: int = 10,
    rho: float = 0.1,
    betas: Sequence[float] = (0.0, 3.0),
    weight_decays: Sequence[float] = (0.0, 3e-3),
    seed: int = 0,
) -> list[dict]:
    """Run :func:`check_gradient` for every combination the module accepts.

    Every hidden transfer function × output transfer function × sparsity
    penalty × ``λ`` × ``β``; combinations that :class:`Autoencoder` refuses
    (KL with a transfer function not bounded to (0, 1)) are skipped.  All
    checks use the same tiny random problem (data in (0.05, 0.95), parameters
    normal with standard deviation 0.3, biases included).

    Parameters
    ----------
    n_visible, n_hidden, m : int
        Size of the problem.
    rho : float
    betas, weight_decays : sequence of float
        The values of ``β`` and ``λ`` to combine.
    seed : int

    Returns
    -------
    list of dict
        ``activation``, ``output_activation``, ``sparsity``, ``weight_decay``,
        ``beta``, ``error`` (relative error) and ``passed``
        (``error < GRADIENT_TOLERANCE``).
    """
    X, params = tiny_problem(n_visible, n_hidden, m, seed)
    rows = []
    for f, g, s, lam, beta in itertools.product(ACTIVATIONS, ACTIVATIONS, PENALTIES, weight_decays, betas):
        try:
            model = Autoencoder(
                n_hidden, activation=f, output_activation=g, sparsity=s, rho=rho, beta=beta, weight_decay=lam
            )
        except ValueError:
            continue
        error = check_gradient(model, params, X)
        rows.append(
            {
                "activation": f,
                "output_activation": g,
                "sparsity": s,
                "weight_decay": float(lam),
                "beta": float(beta),
                "error": error,
                "passed": error < GRADIENT_TOLERANCE,
            }
        )
    return rows


def gradient_check_summary(rows: Sequence[dict]) -> list[list[str]]:
    """Tabulate :func:`gradient_check_rows` by transfer functions and penalty.

    Returns
    -------
    list of list of str
        A header row ``["f", "g", <penalties>...]`` then one row per pair of
        transfer functions; each cell reads ``"passed/checked"`` (``"—"`` when
        the module refuses that combination).
    """
    penalties = list(dict.fromkeys(r["sparsity"] for r in rows))
    cells: dict[tuple, list[bool]] = {}
    for r in rows:
        cells.setdefault((r["activation"], r["output_activation"], r["sparsity"]), []).append(r["passed"])
    pairs = list(dict.fromkeys((r["activation"], r["output_activation"]) for r in rows))
    table = [["f (hidden)", "g (output)", *penalties]]
    for f, g in pairs:
        row = [f, g]
        for s in penalties:
            checks = cells.get((f, g, s))
            row.append("—" if checks is None else f"{sum(checks)}/{len(checks)}")
        table.append(row)
    return table


def error_bucket(error: float) -> str:
    """An order-of-magnitude bound on a relative error, stable under tiny changes.

    Returns
    -------
    str
        ``"< 1e{k}"`` for the smallest integer ``k`` with ``error < 10**k``
        (the next power of ten above ``error``); ``"0"`` for zero.
    """
    if error == 0:
        return "0"
    if not np.isfinite(error):
        return str(error)
    return f"< 1e{math.floor(math.log10(error)) + 1}"


def _zero_derivative(rho_hat, rho):
    return np.zeros_like(rho_hat)


class BrokenSparsityGradient:
    """A model whose gradient drops the sparsity term ``β φ'(ρ̂)`` of ``δ²``.

    Its objective is that of ``model``; its gradient comes from
    :meth:`autoencoder.core.objective.Objective.reference` with the penalty's
    derivative replaced by zero — the mistake of backpropagating the plain
    autoencoder while adding the sparsity penalty to ``J``.
    :func:`autoencoder.check_gradient` accepts it in place of an
    :class:`Autoencoder`.

    Parameters
    ----------
    model : Autoencoder
    """

    def __init__(self, model: Autoencoder):
        self.model = model
        broken: SparsityPenalty = replace(model.penalty, derivative=_zero_derivative)
        self._objective = replace(model.objective, penalty=broken)

    def loss_and_grad(self, params: Params, X) -> tuple[float, Params]:
        """``J`` (correct) and the gradient without the sparsity term of ``δ²``."""
        m = self.model
        X = np.asarray(X, dtype=np.float64)
        _, grad = self._objective.reference(params.astype(np.float64), X)
        return m.loss_and_grad(params, X)[0], grad
