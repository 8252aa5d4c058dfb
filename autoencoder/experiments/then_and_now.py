"""Three generations of sparse autoencoders on the same data: configurations, training, frontier, matched L0.

The families, at one hidden size ``p``, one weight decay ``λ`` and one
iteration budget:

========  =========================================  ==================================  ===========
family    hidden units, decoder                      sparsity                            swept value
========  =========================================  ==================================  ===========
2013      sigmoid, sigmoid output (the paper's)      KL of each ``ρ̂_j`` to ``ρ``, ``β``  ``ρ``
2023      ReLU, linear decoder                       L1 at ``ρ = 0``: ``β Σ_j ρ̂_j``      ``β``
2024      ReLU, linear decoder, TopK (``top_k=k``)   none: the ``k`` largest are kept     ``k``
========  =========================================  ==================================  ===========

The 2013 network is the study's (UFLDL's sparse autoencoder); the 2023 one
is the L1-penalized ReLU autoencoder of Anthropic's *Towards Monosemanticity*
(there with a decoder of unit-norm columns instead of weight decay); the 2024
one is the TopK autoencoder of Gao et al., *Scaling and evaluating sparse
autoencoders*.  For units that are never negative, L1 at ``ρ = 0`` is the
mean L1 norm of the code, ``(1/m) Σ_i Σ_j a_ij = Σ_j ρ̂_j`` (Appendix A's
``φ(ρ̂) = |ρ − ρ̂|`` at ``ρ = 0``, within the smoothing ``ε`` per unit).

Every network is trained through :func:`autoencoder.experiments.cache.fit_cached` and
measured with :mod:`autoencoder.experiments.measures`; the 2023 family may be trained
by continuation in the width of the L1 smoothing
(:mod:`autoencoder.experiments.continuation`) within the same iteration budget.  Plotting is in
:mod:`autoencoder.book.then_and_now_figures`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core._validation import check_int, check_real
from ..core.model import Autoencoder, FitResult, validate_data
from ..core.objective import output
from .cache import fit_cached
from .continuation import ContinuationResult, check_widths, fit_l1_continuation, stage_iterations
from .measures import fraction_of_variance_unexplained, sae_measures

__all__ = [
    "FAMILIES",
    "FAMILY_LABELS",
    "Member",
    "configurations",
    "frontier",
    "fvu_at_l0",
    "fvu_of_hard_code",
    "matched_l0",
    "measure_members",
    "nearest_member",
    "train_members",
]

FAMILIES = ("2013", "2023", "2024")
"""The three families, oldest first."""

FAMILY_LABELS = {
    "2013": "2013: sigmoid + KL",
    "2023": "2023: ReLU + L1, linear decoder",
    "2024": "2024: ReLU TopK, linear decoder",
}
"""How each family is named in tables and legends."""


@dataclass(frozen=True)
class Member:
    """One network of a family.

    Attributes
    ----------
    family : str
        One of :data:`FAMILIES`.
    label : str
        E.g. ``"KL, ρ = 0.03"``, ``"L1, β = 0.1"``, ``"TopK, k = 10"``.
    value : float
        The swept value: ``ρ`` (2013), ``β`` (2023) or ``k`` (2024).
    model : Autoencoder
    """

    family: str
    label: str
    value: float
    model: Autoencoder


def _values(name: str, values, *, integer: bool = False, **bounds) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty list of numbers; got {values!r}")
    if integer:
        out = [check_int(f"{name}[{i}]", v, bounds["low"], bounds.get("high")) for i, v in enumerate(values)]
    else:
        out = [check_real(f"{name}[{i}]", v, **bounds) for i, v in enumerate(values)]
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must hold distinct values; got {values!r}")
    return sorted(out)


def configurations(
    n_hidden: int,
    *,
    rho_values: Sequence[float],
    kl_beta: float,
    l1_betas: Sequence[float],
    k_values: Sequence[int],
    weight_decay: float,
) -> list[Member]:
    """The networks of the three families, validated before any training.

    Parameters
    ----------
    n_hidden : int
        Hidden units ``p`` of every network.
    rho_values : sequence of float
        Targets ``ρ`` in (0, 1) of the 2013 family (KL, weight ``kl_beta``).
    kl_beta : float
        ``β ≥ 0`` of the 2013 family.
    l1_betas : sequence of float
        Weights ``β ≥ 0`` of the 2023 family's L1 penalty at ``ρ = 0``.
    k_values : sequence of int
        ``k`` of the 2024 family, each in [1, n_hidden].
    weight_decay : float
        ``λ ≥ 0`` of every network (on ``W1`` and ``W2``, not the biases).

    Returns
    -------
    list of Member
        The 2013 networks by increasing ``ρ``, then the 2023 ones by
        increasing ``β``, then the 2024 ones by increasing ``k``.

    Raises
    ------
    ValueError
        Naming the parameter (and the element, e.g. ``k_values[1]``) that is
        out of range, or a list that is empty or repeats a value.
    """
    n_hidden = check_int("n_hidden", n_hidden, 1)
    rhos = _values("rho_values", rho_values, low=0, high=1, low_open=True, high_open=True)
    kl_beta = check_real("kl_beta", kl_beta, low=0)
    betas = _values("l1_betas", l1_betas, low=0)
    ks = _values("k_values", k_values, integer=True, low=1, high=n_hidden)
    weight_decay = check_real("weight_decay", weight_decay, low=0)
    sigmoid = dict(activation="sigmoid", sparsity="kl", beta=kl_beta, weight_decay=weight_decay)
    members = [Member("2013", f"KL, ρ = {rho:g}", rho, Autoencoder(n_hidden, rho=rho, **sigmoid)) for rho in rhos]
    relu = dict(activation="relu", output_activation="linear", weight_decay=weight_decay)
    members += [
        Member("2023", f"L1, β = {beta:g}", beta, Autoencoder(n_hidden, sparsity="l1", rho=0.0, beta=beta, **relu))
        for beta in betas
    ]
    members += [
        Member("2024", f"TopK, k = {k}", float(k), Autoencoder(n_hidden, sparsity="none", top_k=k, **relu)) for k in ks
    ]
    return members


def train_members(
    members: Sequence[Member],
    X,
    *,
    max_iter: int,
    seed: int,
    l1_widths: Sequence[float] | None = None,
    l1_stage_iter: int = 20,
    directory: Path | None = None,
) -> dict[str, FitResult | ContinuationResult]:
    """Train every member on ``X`` from the same initial weights, through the model cache.

    Parameters
    ----------
    members : sequence of Member
    X : ndarray of shape (m, n)
    max_iter : int
        L-BFGS iterations of every network (of all stages together for a
        continuation).
    seed : int
        Seed of the initial weights, the same for every network.
    l1_widths : sequence of float, optional
        When given, the ``l1`` members are trained by continuation in the
        smoothing width (:func:`autoencoder.experiments.continuation.fit_l1_continuation`)
        through these widths, decreasing to the model's own, with the
        iterations of :func:`stage_iterations`; otherwise by a plain fit.
    l1_stage_iter : int, default 20
        Iterations of each stage after the first, when ``max_iter`` allows.
    directory : Path, optional
        Model cache directory; default :func:`autoencoder.experiments.cache.cache_dir`.

    Returns
    -------
    dict of str to FitResult or ContinuationResult
        By member label; both have ``params``, ``n_iter``, ``loss``, ``message`` and
        ``history``.

    Raises
    ------
    ValueError
        Before any training, for a bad ``max_iter``, ``seed``, width or
        stage count.
    """
    max_iter = check_int("max_iter", max_iter, 1)
    seed = check_int("seed", seed, 0)
    stages = None
    if l1_widths is not None:
        smoothing = next((m.model.l1_smoothing for m in members if m.model.sparsity == "l1"), None)
        if smoothing is not None:
            l1_widths = check_widths(l1_widths, smoothing, name="l1_widths")
            stages = stage_iterations(max_iter, len(l1_widths), l1_stage_iter)
    fits = {}
    for m in members:
        if stages is not None and m.model.sparsity == "l1":
            fits[m.label] = fit_l1_continuation(
                m.model, X, widths=l1_widths, max_iter=stages, seed=seed, directory=directory
            )
        else:
            fits[m.label] = fit_cached(m.model, X, max_iter=max_iter, seed=seed, directory=directory)
    return fits


def measure_members(members: Sequence[Member], fits: dict[str, FitResult], X, X_test=None) -> list[dict]:
    """The measures of :mod:`autoencoder.experiments.measures` for every member, on its training images.

    Parameters
    ----------
    members : sequence of Member
    fits : dict of str to FitResult or ContinuationResult
        By member label (:func:`train_members`).
    X : ndarray of shape (m, n)
        The training images: L0, frequencies, dead and dense units, FVU.
    X_test : ndarray of shape (m_test, n), optional
        Held-out images: ``test_fvu`` (NaN when not given).

    Returns
    -------
    list of dict
        One per member, in order: ``family``, ``label``, ``value``, the
        measures (``fvu``, ``l0``, ``mean_l1_norm``, ``dead``, ``dense``,
        ``frequency``, ``threshold``, ``fraction``), ``rho_hat`` (ndarray of
        shape (p,)), ``test_fvu``, ``hard_fvu`` (:func:`fvu_of_hard_code` on
        ``X``), ``sparsity_term`` (the penalty ``Σ_j
        φ(ρ̂_j)`` without ``β``), and the training's ``n_iter`` and ``message``.
    """
    rows = []
    for member in members:
        fit = fits[member.label]
        measures = sae_measures(member.model, fit.params, X)
        test_fvu = math.nan
        if X_test is not None:
            test_fvu = sae_measures(member.model, fit.params, X_test)["fvu"]
        penalty = member.model.penalty
        rho_hat = member.model.mean_activation(fit.params, X)
        hard = fvu_of_hard_code(member.model, fit.params, X, measures["threshold"])
        rows.append(
            {
                "family": member.family,
                "label": member.label,
                "value": member.value,
                **measures,
                "rho_hat": rho_hat,
                "test_fvu": test_fvu,
                "hard_fvu": hard,
                "sparsity_term": float(np.sum(penalty.value(rho_hat.astype(np.float64), member.model.rho))),
                "n_iter": fit.n_iter,
                "message": fit.message,
            }
        )
    return rows


def frontier(rows: Sequence[dict], family: str) -> tuple[np.ndarray, np.ndarray]:
    """A family's L0–FVU frontier: its members' ``(L0, FVU)``, sorted by increasing L0.

    Parameters
    ----------
    rows : sequence of dict
        With ``family``, ``l0`` and ``fvu`` (:func:`measure_members`).
    family : str
        One of :data:`FAMILIES`.

    Returns
    -------
    l0, fvu : ndarray of shape (n_members,)

    Raises
    ------
    ValueError
        If no row belongs to ``family``.
    """
    points = sorted((r["l0"], r["fvu"]) for r in rows if r["family"] == family)
    if not points:
        raise ValueError(f"family must be one of those in rows; got {family!r}")
    l0, fvu = np.array(points, dtype=np.float64).T
    return l0, fvu


def fvu_at_l0(l0, fvu, target: float) -> float:
    """The FVU of a frontier at L0 = ``target``, by linear interpolation between its neighbouring points.

    Parameters
    ----------
    l0, fvu : array_like of shape (n,)
        A frontier (:func:`frontier`): ``l0`` non-decreasing.
    target : float
        ``≥ 0``.

    Returns
    -------
    float
        NaN when ``target`` lies outside ``[l0[0], l0[-1]]``: a frontier is
        not extrapolated.

    Raises
    ------
    ValueError
        If the arrays differ in length, are empty, or ``l0`` decreases.
    """
    l0, fvu = np.asarray(l0, dtype=np.float64), np.asarray(fvu, dtype=np.float64)
    if l0.ndim != 1 or l0.shape != fvu.shape or l0.size == 0:
        raise ValueError(f"l0 and fvu must be 1-D arrays of one length >= 1; got shapes {l0.shape} and {fvu.shape}")
    if np.any(np.diff(l0) < 0):
        raise ValueError("l0 must be sorted in increasing order (use frontier())")
    target = check_real("target", target, low=0)
    if target < l0[0] or target > l0[-1]:
        return math.nan
    return float(np.interp(target, l0, fvu))


def matched_l0(rows: Sequence[dict], l0_values: Sequence[float]) -> dict[str, list[float]]:
    """Each family's FVU at the given L0s (:func:`fvu_at_l0`), NaN where its frontier does not reach.

    Parameters
    ----------
    rows : sequence of dict
    l0_values : sequence of float

    Returns
    -------
    dict of str to list of float
        By family present in ``rows`` (in the order of :data:`FAMILIES`),
        one FVU per element of ``l0_values``.
    """
    present = [f for f in FAMILIES if any(r["family"] == f for r in rows)]
    return {f: [fvu_at_l0(*frontier(rows, f), target) for target in l0_values] for f in present}


def nearest_member(rows: Sequence[dict], family: str, l0: float) -> dict:
    """The row of ``family`` whose L0 is closest to ``l0`` (the first of a tie)."""
    candidates = [r for r in rows if r["family"] == family]
    if not candidates:
        raise ValueError(f"family must be one of those in rows; got {family!r}")
    return min(candidates, key=lambda r: abs(r["l0"] - l0))


def fvu_of_hard_code(model: Autoencoder, params, X, threshold: float) -> float:
    """The FVU when the decoder gets only the active units: ``a_ij`` set to 0 where ``a_ij <= threshold``.

    For ReLU and TopK units at ``threshold = 0`` this is the FVU itself; for
    sigmoid units, whose inactive activations are small but not zero, it
    measures how much of the reconstruction the L0 of the code leaves out.

    Parameters
    ----------
    model : Autoencoder
    params : Params
    X : ndarray of shape (m, n)
    threshold : float
        ``τ ≥ 0`` (:func:`autoencoder.experiments.measures.activity_threshold`).

    Returns
    -------
    float
    """
    threshold = check_real("threshold", threshold, low=0)
    X = validate_data(X)
    A = model.encode(params, X)
    hard = np.where(A > threshold, A, 0).astype(A.dtype, copy=False)
    return fraction_of_variance_unexplained(X, output(model.g, params.astype(X.dtype), hard)[1])
