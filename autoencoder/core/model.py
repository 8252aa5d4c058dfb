"""The autoencoder: a validated configuration, its objective and its training.

A single-hidden-layer autoencoder ``h(x) = g(W2 f(W1 x + b1) + b2)`` trained
on the objective

.. math::

    J(W, b) = \\frac1m \\sum_i \\tfrac12 \\lVert h(x_i) - x_i \\rVert^2
        + \\lambda\\, \\tfrac12 (\\lVert W_1 \\rVert_F^2 + \\lVert W_2 \\rVert_F^2)
        + \\beta \\sum_j \\varphi(\\hat\\rho_j),
    \\qquad \\hat\\rho_j = \\frac1m \\sum_i f(W_1 x_i + b_1)_j .
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from . import _fast, covariance
from ._validation import check_int, check_params, check_real, validate_data
from .activations import ACTIVATIONS, Activation, get_activation, top_k
from .objective import Objective, hidden, output
from .params import Params
from .sparsity import L1_SMOOTHING, PENALTIES, SparsityPenalty, get_penalty, l1_penalty

__all__ = ["GRAD_TOL", "Autoencoder", "FitResult", "TERMS", "parameter_bounds", "validate_data"]

TERMS = ("reconstruction", "weight_decay", "sparsity", "total")

GRAD_TOL = 1e-5
"""Tolerance of :attr:`FitResult.converged`: ``‖∇J‖∞ ≤ GRAD_TOL · max(1, |J|)``.

Relative to ``J`` because the gradient scales with the objective: ``J`` is
about 0.1 on the small test problems and 1 to 20 on MNIST networks, and
multiplying the objective by a constant multiplies its gradient by the same
constant.  The floor of 1 is the one L-BFGS-B uses in its own ``ftol``
test, so that a ``J`` near zero does not ask for an exactly zero gradient;
for ``|J| ≤ 1`` the tolerance is 1e-5, SciPy's default ``gtol`` for L-BFGS-B.
Measured on 2,000 MNIST digits with 25 sigmoid units (KL, ρ = 0.1, β = 3,
λ = 3e-3, ``J`` ≈ 17.5, tolerance 1.75e-4), ``‖∇J‖∞`` read every 250
iterations is 1.6e-3 after 500 and first below the tolerance after 1,750,
when ``J`` is within 1.3e-5 (relative) of its value after 4,000 iterations (the
norm is not monotonic: 1.9e-4 again after 2,000, 6e-6 after 4,000).  UFLDL's
400 iterations on 10,000 digits with 196 units end at 2.1e-3, seventeen
times the tolerance: such a run is reported "after 400 iterations", not converged.
"""


@dataclass(frozen=True)
class FitResult:
    """What :meth:`Autoencoder.fit` returns.

    Attributes
    ----------
    params : Params
        The trained parameters.
    history : dict of str to ndarray of shape (n_iter + 1,)
        ``reconstruction``, ``weight_decay``, ``sparsity`` and ``total`` at the
        starting point and after every iteration.
    n_iter : int
        L-BFGS iterations taken.
    n_evals : int
        Objective-and-gradient evaluations.
    message : str
        The optimizer's stopping reason.
    success : bool
        Whether the optimizer reports convergence (False when it stopped at
        ``max_iter``, which is the normal end of a UFLDL-style run).
    wall_time : float
        Seconds spent in :meth:`Autoencoder.fit`.
    objective_time : float
        Seconds of ``wall_time`` spent inside the objective.
    workers : int
        Evaluation workers the objective ran on (they change the speed, not
        the result).
    grad_norm : float
        ``‖∇J‖∞``, the largest absolute component of the gradient of the
        full objective at ``params``, evaluated the way training evaluates
        ``J`` (:meth:`Autoencoder.gradient_norm`); NaN when unknown (a
        result made from parameters alone, or a cache entry read without
        its data, :func:`autoencoder.experiments.cache.load_result`).

    Notes
    -----
    How far the training is from a stationary point: :attr:`grad_norm`,
    :meth:`relative_fall`, and the criterion :attr:`converged`
    (:data:`GRAD_TOL`), all in one line by :meth:`convergence_report`.
    """

    params: Params
    history: dict[str, np.ndarray]
    n_iter: int
    n_evals: int
    message: str
    success: bool
    wall_time: float
    objective_time: float = field(default=0.0)
    workers: int = field(default=1)
    grad_norm: float = field(default=math.nan)

    @property
    def loss(self) -> float:
        """Final value of the objective ``J``."""
        return float(self.history["total"][-1])

    def relative_fall(self, window: int = 10) -> float:
        """The relative fall of ``J`` over the last ``window`` iterations.

        ``(J[-1 - k] - J[-1]) / |J[-1]|`` on ``history["total"]``, with
        ``k = min(window, iterations recorded)``: positive while ``J`` still
        falls.  A history of fewer than ``window`` iterations gives the fall
        since the starting point (:meth:`convergence_report` names the
        iterations it covers); one with no iteration gives NaN.  A final
        ``J`` of exactly 0 gives 0 when ``J`` did not move, else inf.

        Parameters
        ----------
        window : int, default 10
            Iterations to look back, at least 1.

        Returns
        -------
        float
        """
        window = check_int("window", window, 1)
        total = np.asarray(self.history["total"], dtype=np.float64)
        k = min(window, total.size - 1)
        if k < 1:
            return math.nan
        fall, last = float(total[-1 - k] - total[-1]), abs(float(total[-1]))
        if last == 0:
            return 0.0 if fall == 0 else math.inf
        return fall / last

    @property
    def gradient_tolerance(self) -> float:
        """``GRAD_TOL · max(1, |J|)``: the ``‖∇J‖∞`` at or below which :attr:`converged` holds."""
        return GRAD_TOL * max(1.0, abs(self.loss))

    @property
    def converged(self) -> bool:
        """Whether the training ended at a stationary point, by the library's criterion.

        True when the optimizer stopped on its own tolerance (:attr:`success`:
        L-BFGS-B's ``ftol`` or ``gtol``, both the ``tol`` of
        :meth:`Autoencoder.fit`, 1e-12 by default; not the iteration or
        evaluation limit, a callback, or a failed line search), or when
        ``grad_norm ≤ GRAD_TOL · max(1, |J|)`` (:data:`GRAD_TOL`, which
        explains the choice).  An unknown ``grad_norm`` (NaN) never passes
        the second test.  A run stopped by a loose ``tol`` passed to ``fit``
        counts as converged: it stopped where it was asked to.
        """
        return bool(self.success or self.grad_norm <= self.gradient_tolerance)

    def convergence_report(self, window: int = 10) -> str:
        """One line on how far the training ended from a stationary point, for a chapter to print.

        For example ``after 400 iterations (the limit): ‖∇J‖∞ = 2.1e-03, J fell
        0.046 % over the last 10 iterations; not converged by the criterion
        ‖∇J‖∞ ≤ 1e-05 · max(1, |J|) = 1.2e-04``.  Numbers have two
        significant digits.

        Parameters
        ----------
        window : int, default 10
            Iterations of :meth:`relative_fall`.

        Returns
        -------
        str
        """
        if self.success:
            stop = "the optimizer's tolerance"
        elif "ITERATIONS REACHED LIMIT" in self.message:
            stop = "the limit"
        else:
            stop = self.message
        iterations = "1 iteration" if self.n_iter == 1 else f"{self.n_iter} iterations"
        parts = [f"after {iterations} ({stop}): "]
        parts.append("‖∇J‖∞ unknown" if math.isnan(self.grad_norm) else f"‖∇J‖∞ = {self.grad_norm:.1e}")
        fall = self.relative_fall(window)
        if not math.isnan(fall):
            k = min(window, len(self.history["total"]) - 1)
            last = "the last iteration" if k == 1 else f"the last {k} iterations"
            percent = abs(fall) * 100
            percent = f"{percent:.0f}" if percent >= 100 else f"{percent:.2g}"
            parts.append(f", J {'fell' if fall >= 0 else 'rose'} {percent} % over {last}")
        criterion = f"‖∇J‖∞ ≤ {GRAD_TOL:.0e} · max(1, |J|) = {self.gradient_tolerance:.1e}"
        if self.success:
            parts.append("; converged (the optimizer stopped on its own tolerance)")
        elif self.converged:
            parts.append(f"; converged by the criterion {criterion}")
        else:
            parts.append(f"; not converged by the criterion {criterion}")
        return "".join(parts)


_BOUNDS = {
    "n_hidden": {"low": 1},
    "beta": {"low": 0.0},
    "weight_decay": {"low": 0.0},
    "seed": {"low": 0},
    "max_iter": {"low": 0},
}


def parameter_bounds(name: str, sparsity: str = "kl") -> dict:
    """The values :class:`Autoencoder` and :meth:`Autoencoder.fit` accept for ``name``: the one rule.

    Parameters
    ----------
    name : str
        ``"n_hidden"``, ``"rho"``, ``"beta"``, ``"weight_decay"``, ``"seed"``
        or ``"max_iter"``.
    sparsity : str, default "kl"
        The penalty whose targets ``"rho"`` gives (``[0, 1)`` for the
        penalties that accept ``ρ = 0``, ``(0, 1)`` for the KL one).

    Returns
    -------
    dict
        Keyword arguments of :func:`~autoencoder.core._validation.check_real`
        (``low``, ``high``, ``low_open``, ``high_open``) or, for integers, of
        :func:`~autoencoder.core._validation.check_int` (``low``, ``high``).

    Raises
    ------
    ValueError
        For another name.
    """
    if name == "rho":
        return get_penalty(sparsity).target_bounds
    if name not in _BOUNDS:
        raise ValueError(f"name must be one of {sorted([*_BOUNDS, 'rho'])}; got {name!r}")
    return dict(_BOUNDS[name])


@dataclass(frozen=True)
class Autoencoder:
    """A validated, immutable autoencoder configuration.

    Parameters
    ----------
    n_hidden : int
        Number of hidden units ``p`` (≥ 1).
    activation : str, default "sigmoid"
        Hidden transfer function ``f``: one of ``"sigmoid"``, ``"linear"``,
        ``"taylor1"``, ``"taylor3"``, ``"taylor5"`` (Taylor approximations of
        the sigmoid around 0), ``"relu"``.
    output_activation : str or None, default None
        Output transfer function ``g``; None uses ``activation`` (the paper's
        form).  ``"linear"`` gives UFLDL's linear decoder.
    sparsity : str, default "kl"
        Sparsity penalty ``φ``: ``"kl"``, ``"l2"``, ``"l1"`` or ``"none"``.
        ``"kl"`` needs a hidden transfer function with values in (0, 1)
        (only ``"sigmoid"``).
    rho : float, default 0.1
        Target mean activation ``ρ``, in (0, 1) for ``"kl"``, in [0, 1) for
        ``"l1"`` and ``"l2"`` (ignored for ``"none"``).  ``"l1"`` with
        ``ρ = 0`` penalizes the mean L1 norm of the code
        (:mod:`autoencoder.core.sparsity`).
    beta : float, default 3.0
        Weight ``β ≥ 0`` of the sparsity penalty.
    weight_decay : float, default 3e-3
        Weight decay ``λ ≥ 0``; biases are not regularized.
    top_k : int or None, default None
        Keep only the ``top_k`` largest hidden activations of each example
        and zero the rest (:func:`autoencoder.core.activations.top_k`; ties go to
        the lower unit index).  Needs ``activation="relu"`` and
        ``1 ≤ top_k ≤ n_hidden``.  TopK is outside Appendix A's framework:
        the sparsity comes from the selection, not from a penalty ``φ``
        (``sparsity="none"`` is the usual choice; a penalty is still added
        if given, with ``ρ̂`` the mean of the kept activations).
    l1_smoothing : float, default 1e-4
        Width ``ε > 0`` of the smoothed absolute value of the ``"l1"``
        penalty (:func:`autoencoder.core.sparsity.l1_penalty`); only with
        ``sparsity="l1"``.  A continuation trains with decreasing widths.

    Raises
    ------
    ValueError
        On any invalid value, naming the parameter and what is allowed.

    Notes
    -----
    A sigmoid output reconstructs values in [0, 1] only, so training or
    evaluating it on data outside [0, 1] raises ``ValueError``.
    """

    n_hidden: int
    activation: str = "sigmoid"
    output_activation: str | None = None
    sparsity: str = "kl"
    rho: float = 0.1
    beta: float = 3.0
    weight_decay: float = 3e-3
    top_k: int | None = None
    l1_smoothing: float = L1_SMOOTHING

    def __post_init__(self):
        object.__setattr__(self, "n_hidden", check_int("n_hidden", self.n_hidden, **parameter_bounds("n_hidden")))
        f = get_activation(self.activation, "activation")
        if self.output_activation is None:
            object.__setattr__(self, "output_activation", self.activation)
        get_activation(self.output_activation, "output_activation")
        penalty = get_penalty(self.sparsity)
        if self.sparsity != "none":
            try:
                check_real("rho", self.rho, **penalty.target_bounds)
            except ValueError as error:
                zero = [k for k, p in PENALTIES.items() if p.zero_target]
                raise ValueError(f"{error} (sparsity={self.sparsity!r}; rho=0 is accepted by {zero})") from None
        check_real("beta", self.beta, **parameter_bounds("beta"))
        check_real("weight_decay", self.weight_decay, **parameter_bounds("weight_decay"))
        if penalty.needs_unit_range and not f.unit_range:
            unit = [k for k, a in ACTIVATIONS.items() if a.unit_range]
            others = [k for k, p in PENALTIES.items() if not p.needs_unit_range]
            raise ValueError(
                f"sparsity='kl' needs mean activations inside (0, 1), but activation="
                f"{self.activation!r} is not bounded to (0, 1): use activation in {unit} "
                f"or sparsity in {others}"
            )
        if self.top_k is not None:
            object.__setattr__(self, "top_k", check_int("top_k", self.top_k, 1, self.n_hidden))
            if self.activation != "relu":
                raise ValueError(
                    f"top_k={self.top_k} keeps the largest ReLU activations, but activation="
                    f"{self.activation!r}: use activation='relu' with top_k, or top_k=None"
                )
        smoothing = check_real("l1_smoothing", self.l1_smoothing, low=0, low_open=True)
        if self.sparsity != "l1" and smoothing != L1_SMOOTHING:
            raise ValueError(
                f"l1_smoothing={self.l1_smoothing!r} is the width of the 'l1' penalty, but sparsity="
                f"{self.sparsity!r}: use sparsity='l1' with l1_smoothing, or leave it at {L1_SMOOTHING:g}"
            )
        object.__setattr__(self, "l1_smoothing", smoothing)
        object.__setattr__(self, "rho", float(self.rho))
        object.__setattr__(self, "beta", float(self.beta))
        object.__setattr__(self, "weight_decay", float(self.weight_decay))

    # -- the pieces -----------------------------------------------------------------
    @property
    def f(self) -> Activation:
        """Hidden transfer function (the TopK transfer when ``top_k`` is set)."""
        if self.top_k is not None:
            return top_k(self.top_k)
        return get_activation(self.activation)

    @property
    def g(self) -> Activation:
        """Output transfer function."""
        return get_activation(self.output_activation)

    @property
    def penalty(self) -> SparsityPenalty:
        """Sparsity penalty ``φ`` (for ``"l1"``, of width :attr:`l1_smoothing`)."""
        if self.sparsity == "l1":
            return l1_penalty(self.l1_smoothing)
        return get_penalty(self.sparsity)

    @property
    def effective_beta(self) -> float:
        """``β``, or 0 when the penalty is ``"none"``."""
        return 0.0 if self.sparsity == "none" else self.beta

    @property
    def affine(self) -> bool:
        """Whether both transfer functions are affine, so that :meth:`fit` trains on the covariance form."""
        return covariance.applies(self.f, self.g)

    @property
    def objective(self) -> Objective:
        """``J``'s transfer functions, penalty, ``ρ``, ``β`` (:attr:`effective_beta`) and ``λ``, frozen."""
        return Objective(self.f, self.g, self.penalty, self.rho, self.effective_beta, self.weight_decay)

    def to_dict(self) -> dict:
        """The configuration as a plain dict (for caching and display).

        ``top_k`` only when set and ``l1_smoothing`` only when not the default,
        so that the keys of earlier configurations do not change.
        """
        out = {
            "n_hidden": self.n_hidden,
            "activation": self.activation,
            "output_activation": self.output_activation,
            "sparsity": self.sparsity,
            "rho": self.rho,
            "beta": self.beta,
            "weight_decay": self.weight_decay,
        }
        if self.top_k is not None:
            out["top_k"] = self.top_k
        if self.l1_smoothing != L1_SMOOTHING:
            out["l1_smoothing"] = self.l1_smoothing
        return out

    # -- validation -------------------------------------------------------------------
    def _check_X(self, X) -> np.ndarray:
        return validate_data(X, unit_interval=self.g.unit_range)

    def _check_params(self, params, X) -> Params:
        return check_params(params, self.n_hidden, X)

    # -- the public API ----------------------------------------------------------------
    def init_params(self, n_visible: int, seed: int = 0, dtype=np.float64) -> Params:
        """The UFLDL initialisation.

        Weights uniform in ``±sqrt(6 / (n + p + 1))``, biases zero, drawn from
        ``numpy.random.default_rng(seed)`` (``W1`` first, then ``W2``).

        Parameters
        ----------
        n_visible : int
            Input dimension ``n``.
        seed : int, default 0
            Seed of the generator.
        dtype : dtype, default float64

        Returns
        -------
        Params
        """
        n_visible = check_int("n_visible", n_visible, 1)
        rng = np.random.default_rng(seed)
        p, n = self.n_hidden, n_visible
        r = np.sqrt(6.0 / (n + p + 1))
        params = Params.zeros(n, p, dtype)
        params.W1[...] = rng.uniform(-r, r, size=(p, n))
        params.W2[...] = rng.uniform(-r, r, size=(n, p))
        return params

    def loss_and_grad(self, params: Params, X) -> tuple[float, Params]:
        """The objective ``J`` and its gradient at ``params``.

        Parameters
        ----------
        params : Params
        X : array_like of shape (m, n)

        Returns
        -------
        loss : float
        grad : Params
            Same shapes and dtype as ``params`` (the dtype of ``X``).

        Notes
        -----
        The buffers and worker threads of the evaluation are kept for the
        next call from the same thread with data of the same shape and dtype
        (:func:`autoencoder.core._fast.reusable_workspace`), so that calling it in
        a loop costs what an evaluation inside :meth:`fit` costs.
        """
        X = self._check_X(X)
        params = self._check_params(params, X)
        grad = Params.zeros(params.n_visible, params.n_hidden, X.dtype)
        workspace = _fast.reusable_workspace(X, self.n_hidden)
        loss = self.objective.fast(params, X, grad, workspace=workspace)
        return loss, grad

    def loss_terms(self, params: Params, X) -> dict[str, float]:
        """The terms of ``J`` separately.

        Returns
        -------
        dict
            ``reconstruction``, ``weight_decay``, ``sparsity``, ``total``.
        """
        X = self._check_X(X)
        params = self._check_params(params, X)
        return self.objective.terms(params, X)

    def encode(self, params: Params, X) -> np.ndarray:
        """Hidden activations ``f(X W1ᵀ + b1)``, shape (m, n_hidden)."""
        X = validate_data(X)
        params = self._check_params(params, X)
        return hidden(self.f, params, X)[1]

    def reconstruct(self, params: Params, X) -> np.ndarray:
        """Reconstructions ``h(X)``, shape (m, n)."""
        X = validate_data(X)
        params = self._check_params(params, X)
        return output(self.g, params, hidden(self.f, params, X)[1])[1]

    def mean_activation(self, params: Params, X) -> np.ndarray:
        """``ρ̂``: the mean activation of each hidden unit, shape (n_hidden,)."""
        return self.encode(params, X).mean(axis=0)

    def gradient_norm(self, params: Params, X) -> float:
        """``‖∇J‖∞`` at ``params``: the largest absolute component of the gradient of ``J``.

        Evaluated the way :meth:`fit` evaluates the objective (the covariance
        form for an affine network, the data otherwise), so that it is the
        :attr:`FitResult.grad_norm` that ``fit`` reports for a training that
        ended at ``params``.

        Parameters
        ----------
        params : Params
        X : array_like of shape (m, n)

        Returns
        -------
        float
        """
        X = self._check_X(X)
        return self._gradient_norm(self._check_params(params, X), X)

    def _gradient_norm(self, params: Params, X: np.ndarray) -> float:
        """:meth:`gradient_norm` of data and parameters checked by the caller."""
        with _fast.single_threaded_blas():
            return _TrainingObjective(self, X).gradient_norm(params.flat)

    def fit(
        self,
        X,
        *,
        max_iter: int = 400,
        seed: int = 0,
        params: Params | None = None,
        callback: Callable[[int, Params, dict], bool | None] | None = None,
        tol: float = 1e-12,
    ) -> FitResult:
        """Train with L-BFGS (``scipy.optimize.minimize(method="L-BFGS-B")``).

        Parameters
        ----------
        X : array_like of shape (m, n)
            Training examples in rows; float32 input trains in float32
            (except an affine network, see Notes).
        max_iter : int, default 400
            Maximum number of L-BFGS iterations (UFLDL's setting).
        seed : int, default 0
            Seed of :meth:`init_params` (unused when ``params`` is given).
        params : Params, optional
            Starting point (warm start); not modified.
        callback : callable, optional
            ``callback(iteration, params, terms)`` after each iteration, with
            the current parameters and the loss terms; return True to stop.
        tol : float, default 1e-12
            Relative reduction of ``J`` below which the optimizer stops
            (``ftol``); the gradient tolerance is ``tol`` too.

        Returns
        -------
        FitResult
            Its ``grad_norm`` comes from one more evaluation of ``J`` at the
            returned parameters, after the optimization (counted in neither
            ``n_evals`` nor ``objective_time``): L-BFGS-B's final ``jac`` is
            the gradient of its latest evaluation, which is not the returned
            point when a line search failed and the optimizer went back, nor
            when the parameters are returned rounded to float32.

        Notes
        -----
        A network whose two transfer functions are affine (``"linear"`` or
        ``"taylor1"``, :attr:`affine`) is trained on the covariance form of
        its objective (:mod:`autoencoder.core.covariance`): the mean and the
        centred covariance of ``X`` are formed once, in float64, and every
        evaluation then costs the same whatever the number of examples.  For
        float32 input the initial weights, the moments, the evaluations and
        the optimization are then all in float64, and the parameters are
        returned rounded to float32 (those of the same data in float64).
        Every other network is evaluated on the data (:mod:`autoencoder.core._fast`).

        A TopK network (``top_k`` set) is trained the same way, but its
        objective is only piecewise smooth: it has a kink wherever the
        selection of an example changes.  L-BFGS still lowers it about as
        far as full-batch Adam does in as many gradient evaluations (on 2,000
        MNIST digits, 64 units, ``top_k=10``: FVU 0.36 after 757 iterations
        against 0.35 after 800 Adam steps), but its line search may end the
        run early (``message`` then starts with ``ABNORMAL``), and with
        either optimizer about half of the units end dead: nothing here
        revives them (no auxiliary loss).
        """
        return self._fit(self._check_X(X), max_iter=max_iter, seed=seed, params=params, callback=callback, tol=tol)

    def _fit(self, X: np.ndarray, *, max_iter, seed, params, callback, tol) -> FitResult:
        """:meth:`fit` of data checked by the caller (``_check_X``): the engine checks each data set once."""
        start = time.perf_counter()
        max_iter = check_int("max_iter", max_iter, **parameter_bounds("max_iter"))
        check_real("tol", tol, low=0)
        params = self._starting_point(X, params, seed)
        with _fast.single_threaded_blas():
            evaluate = _TrainingObjective(self, X)
            x0 = params.flat.astype(np.float64)
            history = _History(evaluate.terms_at(x0))
            on_iteration = _OnIteration(evaluate, history, callback, X.dtype)
            result = minimize(
                evaluate, x0, jac=True, method="L-BFGS-B", callback=on_iteration, options=_options(max_iter, tol)
            )
            n_evals, objective_time = evaluate.evals, evaluate.seconds
            trained = Params.from_flat(result.x.astype(X.dtype), X.shape[1], self.n_hidden)
            grad_norm = evaluate.gradient_norm(trained.flat)
        return FitResult(
            params=trained,
            history=history.arrays(),
            n_iter=int(result.nit),
            n_evals=n_evals,
            message=str(result.message),
            success=bool(result.success),
            wall_time=time.perf_counter() - start,
            objective_time=objective_time,
            workers=evaluate.workspace.workers,
            grad_norm=grad_norm,
        )

    def _trains_in_float64(self, X: np.ndarray) -> bool:
        """Whether the optimizer's float64 vector is evaluated as it is (float64 data, or any affine network)."""
        return self.affine or X.dtype == np.float64

    def _starting_point(self, X: np.ndarray, params: Params | None, seed: int) -> Params:
        """A copy of ``params`` in ``X``'s dtype, or :meth:`init_params` in the dtype the evaluations use."""
        if params is not None:
            return self._check_params(params, X).copy()
        dtype = np.float64 if self._trains_in_float64(X) else X.dtype
        return self.init_params(X.shape[1], seed=seed, dtype=dtype)


def _options(max_iter: int, tol: float) -> dict:
    """L-BFGS-B's options for ``max_iter`` iterations and the relative tolerance ``tol``."""
    return {"maxiter": max_iter, "maxfun": 20 * max(max_iter, 1), "ftol": tol, "gtol": tol}


class _TrainingObjective:
    """``J`` and its gradient at L-BFGS-B's float64 vector, as :meth:`Autoencoder.fit` hands it to the optimizer.

    An affine network is evaluated on the covariance form, every other one
    on the data.  A float64 model, and every affine one, is evaluated at the
    optimizer's own vector and hands back its own gradient buffer; a float32
    one goes through float32 copies.  It remembers the point and the loss
    terms of its latest evaluation, and counts the evaluations and the
    seconds spent in them.

    Parameters
    ----------
    model : Autoencoder
    X : ndarray of shape (m, n)
        Checked data, float32 or float64.
    """

    def __init__(self, model: Autoencoder, X: np.ndarray):
        n, p = X.shape[1], model.n_hidden
        self.objective = model.objective
        self.affine = model.affine
        self.in_float64 = model._trains_in_float64(X)
        self.shape = (n, p)
        self.X = X
        if self.affine:
            self.workspace = covariance.Workspace(covariance.compute_moments(X), p)
        else:
            self.workspace = _fast.Workspace(X, p)
        self.work = None if self.in_float64 else Params.zeros(n, p, X.dtype)
        self.grad = Params.zeros(n, p, np.float64 if self.in_float64 else X.dtype)
        self.grad64 = self.grad.flat if self.in_float64 else np.empty(self.grad.flat.shape)
        self.last_x = np.empty(self.grad.flat.shape)
        self.terms = None
        self.evals = 0
        self.seconds = 0.0

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``J(theta)`` and its gradient as a float64 vector (a buffer overwritten by the next call)."""
        t0 = time.perf_counter()
        if self.in_float64:
            point = Params.from_flat(theta, *self.shape)
        else:
            self.work.flat[...] = theta
            point = self.work
        if self.affine:
            loss, terms = self.objective.covariance(
                point, self.workspace.moments, self.grad, workspace=self.workspace, terms=True
            )
        else:
            loss, terms = self.objective.fast(point, self.X, self.grad, workspace=self.workspace, terms=True)
        if not self.in_float64:
            self.grad64[...] = self.grad.flat
        np.copyto(self.last_x, theta)
        self.terms = terms
        self.seconds += time.perf_counter() - t0
        self.evals += 1
        return loss, self.grad64

    def gradient_norm(self, flat: np.ndarray) -> float:
        """``‖∇J‖∞`` at the parameter vector ``flat`` (in the data's dtype), evaluated on a float64 copy of it."""
        _, grad = self(flat.astype(np.float64))
        return float(np.max(np.abs(grad)))

    def terms_at(self, theta: np.ndarray) -> dict[str, float]:
        """The loss terms at ``theta``, evaluated again only when it is not the latest point."""
        if self.terms is None or not np.array_equal(theta, self.last_x):
            self(theta)
        return self.terms


class _History:
    """The loss terms at the starting point and after every iteration."""

    def __init__(self, first: dict[str, float]):
        self._rows = {k: [] for k in TERMS}
        self.record(first)

    def record(self, terms: dict[str, float]) -> None:
        for k in TERMS:
            self._rows[k].append(terms[k])

    @property
    def iterations(self) -> int:
        """Iterations recorded after the starting point."""
        return len(self._rows["total"]) - 1

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self._rows.items()}


class _OnIteration:
    """L-BFGS-B's per-iteration callback: records the terms and asks the user's ``callback`` whether to stop.

    The user's callback gets ``(iteration, params, terms)``, with the
    parameters in ``dtype``; when it returns True, :exc:`StopIteration` ends
    the optimization (SciPy's way).
    """

    def __init__(self, evaluate: _TrainingObjective, history: _History, callback, dtype):
        self.evaluate = evaluate
        self.history = history
        self.callback = callback
        self.dtype = dtype

    def __call__(self, intermediate_result) -> None:
        theta = intermediate_result.x
        terms = self.evaluate.terms_at(theta)
        self.history.record(terms)
        if self.callback is not None:
            current = Params.from_flat(theta.astype(self.dtype), *self.evaluate.shape)
            if self.callback(self.history.iterations, current, dict(terms)):
                raise StopIteration
