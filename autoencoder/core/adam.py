"""Minibatch Adam for :class:`~autoencoder.core.model.Autoencoder`, with the sparse-autoencoder recipe.

:meth:`Autoencoder.fit <autoencoder.core.model.Autoencoder.fit>` (L-BFGS on
the full data) stays the library's training; :class:`Adam` is the optimizer
of the dictionary-learning literature, for wide networks on many examples.
Each step evaluates the model's own objective on one minibatch of ``mb``
examples,

.. math::

    J_B = \\frac1{mb} \\sum_{i \\in B} \\tfrac12 \\lVert h(x_i) - x_i \\rVert^2
        + \\lambda\\, \\tfrac12 (\\lVert W_1 \\rVert_F^2 + \\lVert W_2 \\rVert_F^2)
        + \\beta \\sum_j \\varphi(\\hat\\rho_{B,j}),

with the library's deterministic blocked evaluation
(:mod:`autoencoder.core._fast`), and takes one Adam step (Kingma and Ba
2015, with bias correction).  The optional pieces of the modern recipe
(Bricken et al. 2023, "Towards Monosemanticity"; Gao et al. 2024, "Scaling
and evaluating sparse autoencoders"):

* **unit-norm decoder**: the columns ``W2[:, j]`` (the dictionary) stay at
  unit L2 norm; the component of each column's gradient parallel to the
  column is removed before the step (:func:`project_out_radial`) and the
  columns are renormalized after it (:func:`normalize_columns`);
* **tied initialisation**: ``W1 = W2ᵀ`` at the start;
* **pre-encoder bias**: the encoder sees ``x − b2``,
  ``a = f(W1 (x − b2) + b1)``, trained as the reparametrisation
  ``b1 = c − W1 b2`` of the standard network (:func:`pre_encoder_bias_grad`);
* **AuxK**: latents that have not fired for a while (dead) are asked to
  reconstruct the residual of the live ones (:func:`aux_k_loss_and_grad`).

Everything is plain NumPy in a fixed order on top of an evaluation that
gives the same bits for any number of workers, so a training gives the
same bits for the same seed and settings on any number of cores.

Cost: on 10,000 × 784 examples, 1,024 TopK latents and minibatches of 256,
one epoch (39 steps) took 1.1 s in float32 and 2.2 s in float64 on two
cores of an AMD EPYC, 80 to 90 % of it inside the evaluation; the
unit-norm decoder and the pre-encoder bias add a few passes over the
weights, and AuxK with every latent dead about one more evaluation's
products per step (on one core).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from . import _fast
from ._validation import check_int, check_real
from .activations import top_k_mask
from .model import TERMS, Autoencoder, FitResult
from .params import Params

__all__ = [
    "Adam",
    "adam_update",
    "aux_k_loss_and_grad",
    "normalize_columns",
    "pre_encoder_bias_grad",
    "project_out_radial",
]

CHUNK = 131072
"""Entries of the parameter vector per chunk of the Adam update, so that its passes run in cache.

Measured on one core of an AMD EPYC (1 MiB L2) for 1.6 million parameters
(784 inputs, 1024 latents): 3.7 ms per update in float32 and 7.9 ms in
float64 against 4.0 and 13.5 ms unchunked; chunks of 8,192 lose to the
loop's overhead.
"""


@dataclass(frozen=True)
class Adam:
    """Minibatch Adam with the sparse-autoencoder recipe: a frozen, validated configuration.

    Parameters
    ----------
    learning_rate : float, default 1e-3
        Step size ``α > 0``.
    batch_size : int, default 256
        Examples per minibatch ``mb ≥ 1``; at most the number of examples
        (checked by :meth:`fit`).  The last incomplete minibatch of each
        epoch is dropped, so every step has the same shape.
    max_epochs : int, default 50
        Epochs (passes over the shuffled data) at most, ``≥ 1``.
    plateau : float, default 1e-3
        An epoch *plateaus* when its mean ``J`` fell by less than this
        fraction (``≥ 0``) of the previous epoch's mean (of ``J`` at the
        start, for the first epoch).
    decays : int, default 1
        At each plateau the learning rate is multiplied by ``decay``; the
        run stops at plateau number ``decays + 1`` (``≥ 0``).
    decay : float, default 0.1
        Factor of the learning rate at a plateau, in (0, 1).
    warmup_steps : int, default 0
        Linear warm-up: step ``t`` (from 1) uses ``min(1, t / warmup_steps)``
        times the learning rate (``≥ 0``; 0 means none).
    beta1, beta2 : float, default 0.9, 0.999
        Decay rates of Adam's moment estimates, in [0, 1).
    eps : float, default 1e-8
        Adam's ``ε > 0``.
    unit_norm_decoder : bool, default False
        Keep every decoder column ``W2[:, j]`` at unit L2 norm.
    tied_init : bool, default False
        Start with ``W1 = W2ᵀ`` (after the unit-norm normalisation when
        ``unit_norm_decoder`` is on).
    pre_encoder_bias : bool, default False
        The encoder sees ``x − b2``: ``a = f(W1 (x − b2) + b1)``.  Needs a
        linear output (``output_activation="linear"``).
    aux_k : int or None, default None
        AuxK: the number of dead latents, per example, that reconstruct the
        residual.  Needs a TopK model (``top_k`` set) and
        ``1 ≤ aux_k ≤ n_hidden``.
    aux_coefficient : float, default 1/32
        Weight ``≥ 0`` of the AuxK loss (Gao et al.'s ``α``).
    dead_after : int or None, default None
        A latent that has not been ``> 0`` for this many training examples
        (``≥ 1``) counts as dead.  None: one epoch,
        ``(m // batch_size) * batch_size`` examples.

    Raises
    ------
    ValueError
        On any invalid value, naming the field and what is allowed.

    Notes
    -----
    :meth:`fit` returns a :class:`~autoencoder.core.model.FitResult` whose
    ``n_iter`` counts **epochs** (not steps, as for L-BFGS) and whose
    ``n_evals`` counts minibatch steps.
    """

    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 50
    plateau: float = 1e-3
    decays: int = 1
    decay: float = 0.1
    warmup_steps: int = 0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    unit_norm_decoder: bool = False
    tied_init: bool = False
    pre_encoder_bias: bool = False
    aux_k: int | None = None
    aux_coefficient: float = 1 / 32
    dead_after: int | None = None

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        put("learning_rate", check_real("learning_rate", self.learning_rate, low=0, low_open=True))
        put("batch_size", check_int("batch_size", self.batch_size, 1))
        put("max_epochs", check_int("max_epochs", self.max_epochs, 1))
        put("plateau", check_real("plateau", self.plateau, low=0))
        put("decays", check_int("decays", self.decays, 0))
        put("decay", check_real("decay", self.decay, low=0, high=1, low_open=True, high_open=True))
        put("warmup_steps", check_int("warmup_steps", self.warmup_steps, 0))
        put("beta1", check_real("beta1", self.beta1, low=0, high=1, high_open=True))
        put("beta2", check_real("beta2", self.beta2, low=0, high=1, high_open=True))
        put("eps", check_real("eps", self.eps, low=0, low_open=True))
        for name in ("unit_norm_decoder", "tied_init", "pre_encoder_bias"):
            value = getattr(self, name)
            if not isinstance(value, bool | np.bool_):
                raise ValueError(f"{name} must be True or False; got {value!r}")
            put(name, bool(value))
        if self.aux_k is not None:
            put("aux_k", check_int("aux_k", self.aux_k, 1))
        put("aux_coefficient", check_real("aux_coefficient", self.aux_coefficient, low=0))
        if self.dead_after is not None:
            put("dead_after", check_int("dead_after", self.dead_after, 1))

    def to_dict(self) -> dict:
        """Every field, as JSON-serialisable values (for cache keys and display)."""
        return asdict(self)

    def check_model(self, model: Autoencoder, n_examples: int) -> None:
        """Refuse a model or a data size this configuration cannot train.

        Parameters
        ----------
        model : Autoencoder
        n_examples : int
            ``m``, the number of training examples.

        Raises
        ------
        ValueError
            ``pre_encoder_bias`` without a linear output; ``aux_k`` without
            a TopK model or above ``n_hidden``; ``batch_size`` above ``m``.
        """
        if self.pre_encoder_bias and model.output_activation != "linear":
            raise ValueError(
                f"pre_encoder_bias=True subtracts the decoder bias b2 from the input, which needs a linear "
                f"output (output_activation='linear'); the model has output_activation={model.output_activation!r}"
            )
        if self.aux_k is not None:
            if model.top_k is None:
                raise ValueError(
                    f"aux_k={self.aux_k} is the AuxK loss of a TopK network, but the model has top_k=None: "
                    "set top_k on the model, or aux_k=None"
                )
            check_int("aux_k", self.aux_k, 1, model.n_hidden)
        if self.batch_size > n_examples:
            raise ValueError(f"batch_size must be an integer in [1, {n_examples}] (m); got {self.batch_size}")

    def fit(
        self,
        model: Autoencoder,
        X,
        *,
        seed: int = 0,
        params: Params | None = None,
        callback: Callable[[int, Params, dict], bool | None] | None = None,
    ) -> FitResult:
        """Train ``model`` on ``X`` by minibatch Adam.

        Parameters
        ----------
        model : Autoencoder
        X : array_like of shape (m, n)
            Training examples in rows; float32 data trains in float32,
            float64 data in float64.
        seed : int, default 0
            Seed of :meth:`Autoencoder.init_params` (unused when ``params``
            is given) and, through ``numpy.random.default_rng([seed, 1])``,
            of the shuffling: one permutation of the examples per epoch.
        params : Params, optional
            Starting point (warm start); not modified.
        callback : callable, optional
            ``callback(epoch, params, terms)`` after each epoch, with a copy
            of the current parameters (standard form) and that epoch's mean
            terms; return True to stop (``success`` False; after the epoch
            that ends the run anyway it changes nothing).

        Returns
        -------
        FitResult
            ``params`` in standard form (with ``pre_encoder_bias``,
            ``b1 = c − W1 b2``), so :meth:`Autoencoder.encode` and
            :meth:`Autoencoder.reconstruct` apply unchanged.  ``history``
            holds ``reconstruction``, ``weight_decay``, ``sparsity``,
            ``total`` (and ``aux`` with ``aux_k``), float64 arrays of shape
            (n_iter + 1,): entry 0 the terms of the full data at the start
            (``aux`` 0: no latent is dead yet), entry ``e`` the mean over the
            minibatches of epoch ``e``.  ``n_iter`` counts epochs, ``n_evals``
            steps; ``message`` says why the run stopped (its final plateau,
            ``max_epochs``, the callback, or a mean ``J`` that is not
            finite); ``success`` is True when it stopped on its final
            plateau; ``objective_time`` is the time inside the minibatch
            evaluations of ``J`` (not AuxK); ``workers`` is the evaluation's;
            ``grad_norm`` is ``‖∇J‖∞`` on the full data
            (:meth:`Autoencoder.gradient_norm`): with ``unit_norm_decoder``
            the gradient of the unconstrained problem, which need not vanish
            at a constrained optimum.

        Raises
        ------
        ValueError
            Invalid data, parameters or model (:meth:`check_model`), before
            any work.
        """
        return self._fit(model, model._check_X(X), seed=seed, params=params, callback=callback)

    def _fit(self, model: Autoencoder, X: np.ndarray, *, seed, params, callback) -> FitResult:
        """:meth:`fit` of data checked by the caller (``model._check_X``): the engine checks each data set once."""
        started = time.perf_counter()
        self.check_model(model, X.shape[0])
        seed = check_int("seed", seed, 0)
        start = _starting_point(self, model, X, seed, params)
        m, batch = X.shape[0], self.batch_size
        steps_per_epoch = m // batch
        shuffle = np.random.default_rng([seed, 1])
        keys = TERMS + (("aux",) if self.aux_k is not None else ())
        with _fast.single_threaded_blas():
            first = dict(model.objective.terms(start, X), aux=0.0)
            history = {k: [first[k]] for k in keys}
            trainer = _Trainer(self, model, start, batch, steps_per_epoch * batch)
            plateaus, success = 0, False
            for epoch in range(1, self.max_epochs + 1):
                previous = history["total"][-1]
                means = trainer.epoch(X, shuffle.permutation(m), keys)
                for k in keys:
                    history[k].append(means[k])
                message = None
                if not math.isfinite(means["total"]):
                    message = f"the mean J of epoch {epoch} is not finite: lower the learning rate"
                elif _plateaued(previous, means["total"], self.plateau):
                    plateaus += 1
                    if plateaus > self.decays:
                        success = True
                        message = (
                            f"plateau {plateaus} after epoch {epoch}: the mean J fell by less than "
                            f"{self.plateau:g} of the previous epoch's ({self.decays} learning-rate decays before)"
                        )
                    else:
                        trainer.learning_rate = self.learning_rate * self.decay**plateaus
                if callback is not None and callback(epoch, trainer.standard_params(), dict(means)) and not message:
                    message = f"stopped by the callback after epoch {epoch}"
                if message:
                    break
            else:
                message = f"max_epochs={self.max_epochs} reached before plateau {self.decays + 1}"
            trained = trainer.standard_params()
        grad_norm = model._gradient_norm(trained, X)
        return FitResult(
            params=trained,
            history={k: np.asarray(v, dtype=np.float64) for k, v in history.items()},
            n_iter=epoch,
            n_evals=trainer.steps,
            message=message,
            success=success,
            wall_time=time.perf_counter() - started,
            objective_time=trainer.objective_seconds,
            workers=trainer.workspace.workers,
            grad_norm=grad_norm,
        )


def _plateaued(previous: float, current: float, fraction: float) -> bool:
    """Whether the mean ``J``, from ``previous`` to ``current``, fell by less than ``fraction`` of ``previous``."""
    return previous - current < fraction * abs(previous)


def _starting_point(adam: Adam, model: Autoencoder, X: np.ndarray, seed: int, params: Params | None) -> Params:
    """A fresh copy of ``params`` (or :meth:`Autoencoder.init_params`) in ``X``'s dtype, with the recipe's init."""
    if params is None:
        start = model.init_params(X.shape[1], seed=seed, dtype=X.dtype)
    else:
        start = model._check_params(params, X).copy()
    if adam.unit_norm_decoder:
        normalize_columns(start.W2)
    if adam.tied_init:
        start.W1[...] = start.W2.T
    return start


# -- the recipe's pieces, each testable alone -------------------------------------------------------


def normalize_columns(W: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """Scale every column of ``W`` to unit L2 norm, in place.

    Parameters
    ----------
    W : ndarray of shape (n, p)
        The decoder ``W2``; its columns are the dictionary.
    scratch : ndarray of shape (n, p), optional
        Work space of ``W``'s dtype (allocated when absent).

    Returns
    -------
    ndarray of shape (n, p)
        ``W`` itself.  A column of zeros stays zero.
    """
    scratch = np.empty_like(W) if scratch is None else scratch
    np.multiply(W, W, out=scratch)
    norms = np.sqrt(scratch.sum(axis=0))
    norms[norms == 0] = 1
    W /= norms
    return W


def project_out_radial(G: np.ndarray, W: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """Remove from each column of ``G`` its component along the unit column of ``W``, in place.

    ``G[:, j] −= (W[:, j] · G[:, j]) W[:, j]``: the gradient tangent to the
    sphere ``‖W[:, j]‖ = 1``.  A step along it changes the norm only to
    second order, which :func:`normalize_columns` then removes.

    Parameters
    ----------
    G : ndarray of shape (n, p)
        The gradient with respect to ``W``.
    W : ndarray of shape (n, p)
        Unit-norm columns.
    scratch : ndarray of shape (n, p), optional
        Work space of ``W``'s dtype (allocated when absent).

    Returns
    -------
    ndarray of shape (n, p)
        ``G`` itself.
    """
    scratch = np.empty_like(W) if scratch is None else scratch
    np.multiply(W, G, out=scratch)
    along = scratch.sum(axis=0)
    np.multiply(W, along, out=scratch)
    G -= scratch
    return G


def pre_encoder_bias_grad(grad: Params, params: Params, scratch: np.ndarray | None = None) -> Params:
    """Turn the gradient of the standard network into that of the pre-encoder-bias form, in place.

    The pre-encoder-bias network ``a = f(W1 (x − b2) + c)`` is the standard
    one at ``b1 = c − W1 b2``, so with ``G`` the gradient of ``J`` at the
    standard ``params``,

    .. math::

        \\partial J / \\partial c = G_{b_1}, \\quad
        \\partial J / \\partial W_1 = G_{W_1} − G_{b_1} b_2^\\top, \\quad
        \\partial J / \\partial W_2 = G_{W_2}, \\quad
        \\partial J / \\partial b_2 = G_{b_2} − W_1^\\top G_{b_1}.

    Parameters
    ----------
    grad : Params
        ``G``, overwritten with the gradient with respect to
        ``(W1, c, W2, b2)`` (``c`` in the ``b1`` slot).
    params : Params
        The standard-form point ``(W1, b1, W2, b2)``; only ``W1`` and ``b2``
        are read.
    scratch : ndarray of shape (p, n), optional
        Work space of the parameters' dtype (allocated when absent).

    Returns
    -------
    Params
        ``grad`` itself.
    """
    scratch = np.empty_like(params.W1) if scratch is None else scratch
    np.subtract(grad.b2, grad.b1 @ params.W1, out=grad.b2)
    np.multiply(grad.b1[:, None], params.b2, out=scratch)
    np.subtract(grad.W1, scratch, out=grad.W1)
    return grad


def aux_k_loss_and_grad(
    params: Params, X: np.ndarray, residual: np.ndarray, dead: np.ndarray, k: int, coefficient: float
) -> tuple[float, Params]:
    """The AuxK loss of Gao et al. (2024) and its gradient.

    The dead latents reconstruct the residual of the live ones: with the
    pre-activations ``z = X W1ᵀ + b1``, each example keeps the ``k`` largest
    ``z`` among the dead latents (:func:`~autoencoder.core.activations.top_k_mask`
    on the dead columns; ties to the lower index) and their ReLU,
    ``a_aux``; ``ê = a_aux W2ᵀ`` (no bias), and

    .. math::

        L_{aux} = \\alpha \\frac1{mb} \\sum_i \\tfrac12 \\lVert e_i − \\hat e_i \\rVert^2 .

    The residual ``e`` is held constant.  With ``r = e − ê``,
    ``∂L/∂ê = −(α/mb) r``, ``∂L/∂W2[:, dead] = (∂L/∂ê)ᵀ a_aux``,
    ``δ = (∂L/∂ê) W2[:, dead] ⊙ [a_aux > 0]``, ``∂L/∂W1[dead] = δᵀ X`` and
    ``∂L/∂b1[dead] = Σ_i δ_i``; the live latents get no gradient.

    Parameters
    ----------
    params : Params
        The standard-form network.
    X : ndarray of shape (mb, n)
        The examples, in the parameters' dtype.
    residual : ndarray of shape (mb, n)
        ``e = X − x̂``, the residual of the network's reconstruction.
    dead : ndarray of bool, shape (n_hidden,)
        The dead latents.
    k : int
        Dead latents kept per example, ``≥ 1`` (all of them when fewer are
        dead).
    coefficient : float
        ``α ≥ 0``.

    Returns
    -------
    loss : float
    grad : Params
        A fresh gradient in the parameters' dtype; zero outside the dead
        latents' rows of ``W1`` and ``b1`` and columns of ``W2``, and zero
        everywhere with no dead latent (the loss is then 0).

    Raises
    ------
    ValueError
        If ``dead`` is not a boolean mask of shape (n_hidden,), ``k < 1``
        or ``coefficient < 0``.
    """
    dead = np.asarray(dead)
    if dead.dtype != bool or dead.shape != (params.n_hidden,):
        raise ValueError(f"dead must be a boolean mask of shape ({params.n_hidden},); got {dead.dtype} {dead.shape}")
    k = check_int("k", k, 1)
    coefficient = check_real("coefficient", coefficient, low=0)
    grad = Params.zeros(params.n_visible, params.n_hidden, params.dtype)
    loss = _add_aux_k(params, X, residual, np.flatnonzero(dead), k, coefficient, grad)
    return loss, grad


def _add_aux_k(
    params: Params, X: np.ndarray, residual: np.ndarray, dead: np.ndarray, k: int, coefficient: float, grad: Params
) -> float:
    """:func:`aux_k_loss_and_grad` with the dead latents as indices, its gradient added into ``grad``."""
    if dead.size == 0:
        return 0.0
    (mb, n), p = X.shape, params.n_hidden
    every = dead.size == p
    W1 = params.W1 if every else np.take(params.W1, dead, axis=0)  # (d, n)
    W2 = params.W2 if every else np.take(params.W2, dead, axis=1)  # (n, d)
    z = X @ W1.T
    z += params.b1 if every else params.b1[dead]
    kept = top_k_mask(z, min(k, dead.size))
    kept &= z > 0
    a = np.where(kept, z, 0).astype(X.dtype, copy=False)  # (mb, d)
    r = residual - a @ W2.T  # e − ê, (mb, n)
    flat = r.reshape(-1)
    loss = coefficient * 0.5 * float(np.dot(flat, flat)) / mb
    r *= -coefficient / mb  # ∂L/∂ê
    delta = r @ W2
    delta *= kept
    grad_W2, grad_W1, grad_b1 = r.T @ a, delta.T @ X, delta.sum(axis=0)
    if every:
        np.add(grad.W2, grad_W2, out=grad.W2)
        np.add(grad.W1, grad_W1, out=grad.W1)
        np.add(grad.b1, grad_b1, out=grad.b1)
    else:  # the dead columns of W2 through flat indices: far faster than grad.W2[:, dead]
        columns = (np.arange(n)[:, None] * p + dead).reshape(-1)
        grad.W2.reshape(-1)[columns] += grad_W2.reshape(-1)
        grad.W1[dead] += grad_W1
        grad.b1[dead] += grad_b1
    return loss


def adam_update(
    theta: np.ndarray,
    grad: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    step: int,
    learning_rate: float,
    beta1: float,
    beta2: float,
    eps: float,
) -> None:
    """One Adam step with bias correction, in place.

    ``m ← β1 m + (1 − β1) g``, ``v ← β2 v + (1 − β2) g²``,
    ``θ ← θ − α (m / (1 − β1ᵗ)) / (sqrt(v / (1 − β2ᵗ)) + ε)``, chunk by
    chunk of :data:`CHUNK` entries (elementwise, so the chunks change no
    bit; they keep the passes in cache).  The denominator is formed as
    ``(sqrt(v) + ε sqrt(1 − β2ᵗ)) / sqrt(1 − β2ᵗ)``, the same number in one
    pass fewer.

    Parameters
    ----------
    theta, grad, first, second : ndarray of shape (d,)
        Parameters, gradient, first and second moments (all one dtype);
        ``theta``, ``first`` and ``second`` are updated.
    step : int
        ``t``, from 1.
    learning_rate : float
        ``α`` of this step (after warm-up and decays).
    beta1, beta2, eps : float
    """
    c1, c2 = 1 - beta1, 1 - beta2
    root = math.sqrt(1 - beta2**step)  # sqrt(v̂) + ε = (sqrt(v) + ε root) / root
    size = learning_rate * root / (1 - beta1**step)
    floor = eps * root
    tmp = np.empty(min(CHUNK, theta.size), theta.dtype)
    for lo in range(0, theta.size, CHUNK):
        hi = min(lo + CHUNK, theta.size)
        g, m, v, t = grad[lo:hi], first[lo:hi], second[lo:hi], tmp[: hi - lo]
        np.subtract(g, m, out=t)
        t *= c1
        m += t  # m + (1 − β1)(g − m)
        np.multiply(g, g, out=t)
        t -= v
        t *= c2
        v += t  # v + (1 − β2)(g² − v)
        np.sqrt(v, out=t)
        t += floor
        np.divide(m, t, out=t)
        t *= size
        theta[lo:hi] -= t


# -- one run --------------------------------------------------------------------------------------


class _Trainer:
    """The state of one Adam run and its step: parameters, moments, workspace, the dead latents' counters.

    The optimizer's vector is ``net.flat``: between steps :attr:`net` is the
    standard network the evaluation reads; with ``pre_encoder_bias`` its
    ``b1`` slot holds ``c`` (:attr:`c`) during the Adam update, and
    ``b1 = c − W1 b2`` is formed again after it.

    Parameters
    ----------
    adam : Adam
    model : Autoencoder
    start : Params
        The starting point, owned from now on (the recipe's init applied).
    batch_size : int
        Rows of :attr:`batch`, which the caller fills before each :meth:`step`.
    examples_per_epoch : int
        Examples seen per epoch: the default of ``dead_after``.

    Attributes
    ----------
    learning_rate : float
        The current rate before warm-up (:meth:`Adam.fit` decays it).
    steps : int
        Steps taken.
    since_fired : ndarray of int64, shape (n_hidden,), or None
        With AuxK, the examples since each latent was last ``> 0``, counted
        by minibatch: 0 for a latent that fired anywhere in the latest one.
    objective_seconds : float
        Time inside the evaluations of ``J``.
    """

    def __init__(self, adam: Adam, model: Autoencoder, start: Params, batch_size: int, examples_per_epoch: int):
        n, p, dtype = start.n_visible, start.n_hidden, start.dtype
        self.adam = adam
        self.objective = model.objective
        self.g = model.g
        self.net = start
        self.c = start.b1 + start.W1 @ start.b2 if adam.pre_encoder_bias else None
        self.grad = Params.zeros(n, p, dtype)
        self.first = np.zeros_like(start.flat)
        self.second = np.zeros_like(start.flat)
        self.scratch = np.empty(n * p, dtype)
        self.batch = np.empty((batch_size, n), dtype)
        self.workspace = _fast.Workspace(self.batch, p)
        self.learning_rate = adam.learning_rate
        self.steps = 0
        self.objective_seconds = 0.0
        self.dead_after = examples_per_epoch if adam.dead_after is None else adam.dead_after
        self.since_fired = np.zeros(p, np.int64) if adam.aux_k is not None else None
        self.residual = np.empty_like(self.batch) if adam.aux_k is not None else None

    def epoch(self, X: np.ndarray, order: np.ndarray, keys: tuple[str, ...]) -> dict[str, float]:
        """One epoch: a step on each full minibatch of ``X[order]``; the mean of each term over them.

        Parameters
        ----------
        X : ndarray of shape (m, n)
        order : ndarray of int, shape (m,)
            The epoch's permutation of the examples; its last ``m mod mb``
            are left out.
        keys : tuple of str
            The terms to average.

        Returns
        -------
        dict of str to float
        """
        rows = self.batch.shape[0]
        steps = X.shape[0] // rows
        sums = dict.fromkeys(keys, 0.0)
        for s in range(steps):
            np.take(X, order[s * rows : (s + 1) * rows], axis=0, out=self.batch)
            terms = self.step()
            for k in keys:
                sums[k] += terms[k]
        return {k: sums[k] / steps for k in keys}

    def standard_params(self) -> Params:
        """A copy of the current standard-form parameters."""
        return self.net.copy()

    def step(self) -> dict[str, float]:
        """One Adam step on :attr:`batch`; returns the minibatch's terms of ``J`` (and ``aux`` with AuxK).

        The order: ``J`` and its gradient (:mod:`autoencoder.core._fast`), the
        AuxK term, the pre-encoder-bias chain rule, the unit-norm
        projection, the Adam update, the renormalisation.
        """
        adam, net, grad = self.adam, self.net, self.grad
        started = time.perf_counter()
        _, terms = self.objective.fast(net, self.batch, grad, workspace=self.workspace, terms=True)
        self.objective_seconds += time.perf_counter() - started
        if adam.aux_k is not None:
            terms["aux"] = self._aux_k()
        if adam.pre_encoder_bias:
            pre_encoder_bias_grad(grad, net, self.scratch.reshape(net.W1.shape))
        if adam.unit_norm_decoder:
            project_out_radial(grad.W2, net.W2, self.scratch.reshape(net.W2.shape))
        self.steps += 1
        warm = min(1.0, self.steps / adam.warmup_steps) if adam.warmup_steps else 1.0
        if adam.pre_encoder_bias:
            net.b1[...] = self.c
        rate = self.learning_rate * warm
        adam_update(net.flat, grad.flat, self.first, self.second, self.steps, rate, adam.beta1, adam.beta2, adam.eps)
        if adam.pre_encoder_bias:
            self.c[...] = net.b1
            np.subtract(self.c, net.W1 @ net.b2, out=net.b1)
        if adam.unit_norm_decoder:
            normalize_columns(net.W2, self.scratch.reshape(net.W2.shape))
        return terms

    def _aux_k(self) -> float:
        """Add the AuxK gradient of the dead latents into :attr:`grad`; count the examples since each fired."""
        net, ws = self.net, self.workspace
        dead = np.flatnonzero(self.since_fired >= self.dead_after)
        loss = 0.0
        if dead.size:
            x_hat = self.residual
            np.matmul(ws.a2, net.W2.T, out=x_hat)
            x_hat += net.b2
            if not self.g.identity:
                x_hat[...] = self.g.forward(x_hat)
            np.subtract(self.batch, x_hat, out=self.residual)
            adam = self.adam
            loss = _add_aux_k(net, self.batch, self.residual, dead, adam.aux_k, adam.aux_coefficient, self.grad)
        fired = ws.a2.max(axis=0) > 0
        self.since_fired += self.batch.shape[0]
        self.since_fired[fired] = 0
        return loss
