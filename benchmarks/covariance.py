"""The covariance form of a linear network's objective against its data form, and the optimizer's share.

Two measurements, on chapter 3's network (identity units in both layers,
L2 sparsity with ``ρ = 0.1``, ``β = 3``, ``λ = 3e-3``, ``p = 196``):

* one evaluation of ``J`` and its gradient from the moments
  (:mod:`autoencoder.core.covariance`) against one on the data
  (:mod:`autoencoder.core._fast`), both as :meth:`Autoencoder.fit` runs them
  (every BLAS pool at one thread, buffers reused), interleaved, at several
  ``m``; the moments themselves are formed once per fit and timed apart;
* a training run on the covariance form, split into the moments, the
  evaluations and the rest, which is the optimizer's own work (SciPy's
  L-BFGS-B) plus ``fit``'s bookkeeping; beside it, L-BFGS-B alone on a
  quadratic with as many parameters, whose evaluation costs almost nothing.

The data is random, uniform in [0, 1], of MNIST's width, except for the
training run, which uses MNIST when it is available locally.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from autoencoder import Params
from autoencoder.core import _fast, covariance
from autoencoder.experiments import configurations

from .objective import N_VISIBLE, time_interleaved
from .training import training_data

__all__ = [
    "SPEEDUP_GOAL",
    "EvaluationResult",
    "OptimizerResult",
    "bench_evaluations",
    "bench_optimizer",
    "lbfgs_alone",
    "linear_problem",
]

SPEEDUP_GOAL = 20.0
"""The covariance form must be at least this many times faster than the data form at m = 10,000."""


def linear_problem(m: int, n_hidden: int, seed: int = 0):
    """Chapter 3's linear network, its initial parameters (with non-zero biases) and random data in [0, 1]."""
    rng = np.random.default_rng(seed)
    X = rng.random((m, N_VISIBLE))
    model = configurations.sparse_linear(n_hidden, 0.1, 3.0, 3e-3)
    params = model.init_params(N_VISIBLE, seed=seed)
    params.b1[...] = rng.normal(scale=0.1, size=n_hidden)
    params.b2[...] = rng.normal(scale=0.1, size=N_VISIBLE)
    return model, params, X


@dataclass
class EvaluationResult:
    """Median seconds of one evaluation in each form at one ``m``, and of forming the moments."""

    m: int
    n_hidden: int
    data_form: float
    covariance_form: float
    moments: float

    @property
    def speedup(self) -> float:
        """Data form time / covariance form time."""
        return self.data_form / self.covariance_form


def bench_evaluations(m: int, n_hidden: int, repeat: int, *, calls: int = 1, settle: float = 0.15) -> EvaluationResult:
    """Time the two forms of one evaluation, interleaved, and the moments once per round.

    Returns
    -------
    EvaluationResult
    """
    model, params, X = linear_problem(m, n_hidden)
    objective = model.objective
    with _fast.single_threaded_blas():
        moments = covariance.compute_moments(X)
        cov_ws = covariance.Workspace(moments, n_hidden)
        data_ws = _fast.Workspace(X, n_hidden)
        grad = Params.zeros(N_VISIBLE, n_hidden)
        functions = {
            "data": lambda: objective.fast(params, X, grad, workspace=data_ws),
            "covariance": lambda: objective.covariance(params, moments, grad, workspace=cov_ws),
            "moments": lambda: covariance.compute_moments(X),
        }
        # The moments are formed once per fit; timed once per round, not settled.
        times = time_interleaved({k: functions[k] for k in ("data", "covariance")}, repeat, calls=calls, settle=settle)
        times["moments"] = time_interleaved({"moments": functions["moments"]}, repeat, settle=0.0)["moments"]
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    return EvaluationResult(m, n_hidden, medians["data"], medians["covariance"], medians["moments"])


@dataclass
class OptimizerResult:
    """Where the time of one training run on the covariance form goes."""

    data: str
    m: int
    n_hidden: int
    n_params: int
    n_iter: int
    n_evals: int
    wall_time: float
    objective_time: float
    moments_time: float
    lbfgs_alone: float

    @property
    def per_evaluation(self) -> float:
        """Seconds per evaluation of the covariance form inside the fit."""
        return self.objective_time / max(self.n_evals, 1)

    @property
    def optimizer_per_iteration(self) -> float:
        """Seconds per iteration outside the moments and the evaluations: L-BFGS-B's work and the bookkeeping."""
        return (self.wall_time - self.objective_time - self.moments_time) / max(self.n_iter, 1)

    @property
    def optimizer_share(self) -> float:
        """Fraction of the time after the moments that is not spent evaluating."""
        return 1 - self.objective_time / (self.wall_time - self.moments_time)


def lbfgs_alone(n_params: int, n_iter: int, seed: int = 0) -> float:
    """Seconds per iteration of L-BFGS-B on a diagonal quadratic of ``n_params`` variables, BLAS at one thread.

    The evaluation (an elementwise product and a dot product) costs a
    fraction of a millisecond, so this is L-BFGS-B's own work per
    iteration: the floor of any training run with that many parameters.
    """
    rng = np.random.default_rng(seed)
    curvature = rng.uniform(1e-3, 1.0, n_params)
    grad = np.empty(n_params)

    def quadratic(x):
        np.multiply(curvature, x, out=grad)
        return 0.5 * float(x @ grad), grad

    with _fast.single_threaded_blas():
        start = time.perf_counter()
        result = minimize(
            quadratic,
            rng.normal(size=n_params),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": n_iter, "ftol": 0.0, "gtol": 0.0},
        )
        elapsed = time.perf_counter() - start
    return elapsed / max(result.nit, 1)


def bench_optimizer(m: int, n_hidden: int, max_iter: int) -> OptimizerResult:
    """Train chapter 3's network for ``max_iter`` iterations on the covariance form and split its time."""
    X, source = training_data(m)
    model = configurations.sparse_linear(n_hidden, 0.1, 3.0, 3e-3)
    with _fast.single_threaded_blas():
        start = time.perf_counter()
        covariance.compute_moments(X)
        moments_time = time.perf_counter() - start
    result = model.fit(X, max_iter=max_iter, tol=0.0)
    n_params = result.params.flat.size
    return OptimizerResult(
        data=source,
        m=m,
        n_hidden=n_hidden,
        n_params=n_params,
        n_iter=result.n_iter,
        n_evals=result.n_evals,
        wall_time=result.wall_time,
        objective_time=result.objective_time,
        moments_time=moments_time,
        lbfgs_alone=lbfgs_alone(n_params, min(max_iter, 200)),
    )
