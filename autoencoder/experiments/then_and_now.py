"""Sparse autoencoders then and now, compared fairly: configurations, training, frontiers, matched L0.

Four families at one overcomplete width ``p``, on the same digits, every
network trained by minibatch Adam (:class:`autoencoder.core.adam.Adam`) to the
same stopping rule:

============  ===========================================  ================================  =====
family        hidden units, decoder                        sparsity                          swept
============  ===========================================  ================================  =====
2013          sigmoid, sigmoid output (the paper's)        KL of each ``ρ̂_j`` to ``ρ``      ``ρ``
2013-linear   sigmoid, linear decoder (UFLDL's exercise)   KL of each ``ρ̂_j`` to ``ρ``      ``ρ``
2023          ReLU, linear decoder of unit-norm columns    L1 at ``ρ = 0``: ``β Σ_j ρ̂_j``   ``β``
2024          ReLU TopK, linear decoder of unit-norm cols  none: the ``k`` largest are kept  ``k``
============  ===========================================  ================================  =====

The 2013 families keep the study's recipe (weight decay ``λ`` on both
weight matrices, the UFLDL initialisation).  The modern ones get the recipe
of their papers (Anthropic's *Towards Monosemanticity*, 2023; Gao et al.,
*Scaling and evaluating sparse autoencoders*, 2024): no weight decay but
decoder columns held at unit norm, the encoder initialised as the decoder's
transpose, a pre-encoder bias, and for TopK the auxiliary loss AuxK that
makes dead latents predict the residual.  For units that are never negative,
L1 at ``ρ = 0`` is the mean L1 norm of the code,
``(1/m) Σ_i Σ_j a_ij = Σ_j ρ̂_j`` (Appendix A's ``φ(ρ̂) = |ρ − ρ̂|`` at
``ρ = 0``, within the smoothing ``ε`` per unit).

Every network is trained through the model cache and the sweep engine
(:func:`autoencoder.experiments.engine.run_chains`), from several seeds, and
measured by one forward pass per data set (:func:`evaluate`).  Plotting is in
:mod:`autoencoder.book.then_and_now_figures`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core._validation import check_int, check_real, check_values
from ..core.adam import Adam
from ..core.model import Autoencoder, FitResult, parameter_bounds, validate_data
from ..core.objective import hidden, output
from .engine import Chain, Engine, run_chains
from .measures import (
    DENSE_FRACTION,
    activation_frequency,
    activity_threshold,
    fraction_of_variance_unexplained,
    l0,
    mean_l1_norm,
)
from .measures import evaluate as forward_pass  # this module has an evaluate of its own

__all__ = [
    "FAMILIES",
    "FAMILY_LABELS",
    "Member",
    "STOPPING",
    "compare",
    "configurations",
    "dead_latent_reach",
    "evaluate",
    "frontier",
    "fvu_at_l0",
    "fvu_of_hard_code",
    "matched_l0",
    "measure_members",
    "nearest_member",
    "seed_summary",
    "train_members",
    "without_aux_k",
]

FAMILIES = ("2013", "2013-linear", "2023", "2024")
"""The four families, oldest first."""

FAMILY_LABELS = {
    "2013": "2013: sigmoid + KL, sigmoid decoder",
    "2013-linear": "2013: sigmoid + KL, linear decoder",
    "2023": "2023: ReLU + L1",
    "2024": "2024: TopK + AuxK",
}
"""How each family is named in tables and legends."""

STOPPING = {"plateau": 0.01, "decays": 1, "decay": 0.1}
"""The stopping rule of every network (:class:`~autoencoder.core.adam.Adam`'s settings): a run ends the
second time an epoch's mean training loss falls by less than 1 % from the previous epoch's, the
learning rate having been cut tenfold the first time, or at ``max_epochs``."""


@dataclass(frozen=True)
class Member:
    """One network of a family, and how it is trained.

    Attributes
    ----------
    family : str
        One of :data:`FAMILIES`.
    label : str
        E.g. ``"KL, ρ = 0.03"``, ``"L1, β = 0.1"``, ``"TopK, k = 10"``.
    value : float
        The swept value: ``ρ`` (2013 families), ``β`` (2023) or ``k`` (2024).
    model : Autoencoder
    optimizer : Adam
        Its training, with the recipe's pieces switched on for the modern
        families.
    """

    family: str
    label: str
    value: float
    model: Autoencoder
    optimizer: Adam

    @property
    def threshold(self) -> float:
        """``τ``: the activation above which a unit counts as active (½ for sigmoid units, 0 otherwise)."""
        return activity_threshold(self.model.f)


def _values(name: str, values, *, integer: bool = False, **bounds) -> list:
    """``values`` sorted, checked by the one list checker (:func:`autoencoder.core._validation.check_values`)."""
    if integer:
        high = bounds.get("high")
        allowed = f"integers in [{bounds['low']}, {high}]" if high is not None else f"integers >= {bounds['low']}"

        def element(label, value):
            return check_int(label, value, bounds["low"], high)
    else:
        allowed = "real numbers"

        def element(label, value):
            return check_real(label, value, **bounds)

    return sorted(check_values(name, values, element, allowed=allowed))


def configurations(
    n_hidden: int,
    *,
    rho_values: Sequence[float],
    kl_beta: float,
    weight_decay: float,
    l1_betas: Sequence[float],
    k_values: Sequence[int],
    aux_k: int,
    adam: Adam,
    kl_learning_rate: float | None = None,
) -> list[Member]:
    """The networks of the four families, validated before any training.

    Parameters
    ----------
    n_hidden : int
        Hidden units ``p`` of every network.
    rho_values : sequence of float
        Targets ``ρ`` in (0, 1) of both 2013 families (KL, weight ``kl_beta``).
    kl_beta : float
        ``β ≥ 0`` of the 2013 families.
    weight_decay : float
        ``λ ≥ 0`` of the 2013 families (on ``W1`` and ``W2``); the modern
        families have none (their decoder columns are held at unit norm).
    l1_betas : sequence of float
        Weights ``β ≥ 0`` of the 2023 family's L1 penalty at ``ρ = 0``.
    k_values : sequence of int
        ``k`` of the 2024 family, each in [1, n_hidden].
    aux_k : int
        Dead latents AuxK uses per example in the 2024 family, in [1, n_hidden].
    adam : Adam
        The optimizer and its stopping rule, shared by every network; the
        recipe's switches in it are ignored (each family sets its own).
    kl_learning_rate : float, optional
        Adam's learning rate for the 2013 families (> 0); default that of
        ``adam``.

    Returns
    -------
    list of Member
        By family in the order of :data:`FAMILIES`, each by increasing value.

    Raises
    ------
    ValueError
        Naming the parameter (and the element, e.g. ``k_values[1]``) that is
        out of range, or a list that is empty or repeats a value.
    """
    n_hidden = check_int("n_hidden", n_hidden, 1)
    rhos = _values("rho_values", rho_values, **parameter_bounds("rho"))
    kl_beta = check_real("kl_beta", kl_beta, low=0)
    weight_decay = check_real("weight_decay", weight_decay, low=0)
    betas = _values("l1_betas", l1_betas, **parameter_bounds("beta"))
    ks = _values("k_values", k_values, integer=True, low=1, high=n_hidden)
    aux_k = check_int("aux_k", aux_k, 1, n_hidden)
    if not isinstance(adam, Adam):
        raise ValueError(f"adam must be an autoencoder.core.adam.Adam; got {adam!r}")
    plain = dataclasses.replace(adam, unit_norm_decoder=False, tied_init=False, pre_encoder_bias=False, aux_k=None)
    recipe = dataclasses.replace(plain, unit_norm_decoder=True, tied_init=True, pre_encoder_bias=True)
    if kl_learning_rate is not None:
        plain = dataclasses.replace(
            plain, learning_rate=check_real("kl_learning_rate", kl_learning_rate, low=0, low_open=True)
        )
    kl = dict(activation="sigmoid", sparsity="kl", beta=kl_beta, weight_decay=weight_decay)
    members = [Member("2013", f"KL, ρ = {rho:g}", rho, Autoencoder(n_hidden, rho=rho, **kl), plain) for rho in rhos]
    members += [
        Member(
            "2013-linear",
            f"KL linear, ρ = {rho:g}",
            rho,
            Autoencoder(n_hidden, rho=rho, output_activation="linear", **kl),
            plain,
        )
        for rho in rhos
    ]
    relu = dict(activation="relu", output_activation="linear", weight_decay=0.0)
    members += [
        Member(
            "2023",
            f"L1, β = {beta:g}",
            beta,
            Autoencoder(n_hidden, sparsity="l1", rho=0.0, beta=beta, **relu),
            recipe,
        )
        for beta in betas
    ]
    members += [
        Member(
            "2024",
            f"TopK, k = {k}",
            float(k),
            Autoencoder(n_hidden, sparsity="none", top_k=k, **relu),
            dataclasses.replace(recipe, aux_k=aux_k),
        )
        for k in ks
    ]
    return members


def without_aux_k(member: Member) -> Member:
    """The control of a 2024 member: the same network and training without AuxK (family ``"2024 without AuxK"``).

    Raises
    ------
    ValueError
        If ``member`` is not of the 2024 family.
    """
    if member.family != "2024":
        raise ValueError(f"member must be of the 2024 family (TopK + AuxK); got {member.family!r}")
    return Member(
        "2024 without AuxK",
        f"{member.label}, no AuxK",
        member.value,
        member.model,
        dataclasses.replace(member.optimizer, aux_k=None),
    )


def train_members(
    members: Sequence[Member],
    X,
    seeds: Sequence[int],
    *,
    engine: Engine | None = None,
    directory: Path | None = None,
    advance: Callable[[int], None] | None = None,
) -> dict[tuple[str, int], FitResult]:
    """Train every member from every seed on ``X``, through the model cache and the sweep engine.

    Parameters
    ----------
    members : sequence of Member
    X : ndarray of shape (m, n)
    seeds : sequence of int
        Seeds of the initial weights and of the minibatch order, the same
        for every member.
    engine : Engine, optional
        Where the missing trainings run (default: an embedded cluster, one
        training per core).
    directory : Path, optional
        Model cache directory; default :func:`autoencoder.experiments.cache.cache_dir`.
    advance : callable, optional
        ``advance(count)`` as trainings are done (:func:`run_chains`).

    Returns
    -------
    dict of (str, int) to FitResult
        By ``(member label, seed)``.
    """
    seeds = _values("seeds", list(seeds), integer=True, **parameter_bounds("seed"))
    chains = [
        Chain((m.model,), "train", m.optimizer.max_epochs, seed, optimizer=m.optimizer)
        for m in members
        for seed in seeds
    ]
    results = run_chains(chains, {"train": X}, engine=engine, directory=directory, advance=advance)
    keys = [(m.label, seed) for m in members for seed in seeds]
    return {key: result[0] for key, result in zip(keys, results, strict=True)}


def evaluate(member: Member, params, X_test, X_train=None) -> dict:
    """The measures of one trained network: one forward pass over each data set (:func:`measures.evaluate`).

    Parameters
    ----------
    member : Member
    params : Params
    X_test : ndarray of shape (m_test, n)
        Held-out digits: ``fvu``, ``l0``, ``hard_fvu`` and ``mean_l1_norm``.
    X_train : ndarray of shape (m, n), optional
        The training digits: how often each unit fires (``frequency``),
        ``dead`` and ``dense`` units, ``rho_hat``, ``train_fvu``; NaN or
        None when not given.

    Returns
    -------
    dict
        ``fvu`` (on ``X_test``), ``hard_fvu`` (the FVU when the decoder gets
        only the active units, ``a_ij`` set to 0 where ``a_ij ≤ τ``: the FVU
        itself for ReLU units), ``l0``, ``mean_l1_norm``, ``threshold``
        ``τ``; and from ``X_train``: ``train_fvu``, ``frequency`` (ndarray of
        shape (p,)), ``dead`` and ``dense`` (counts of units firing on no
        training digit, and on more than :data:`DENSE_FRACTION` of them),
        ``rho_hat`` (ndarray of shape (p,)), ``penalty_sum`` (the
        penalty ``Σ_j φ(ρ̂_j)`` without ``β``), and for ReLU latents
        ``unreachable`` (:func:`dead_latent_reach`).
    """
    model, tau = member.model, member.threshold
    X_test = validate_data(X_test)
    test = forward_pass(model, params.astype(X_test.dtype), X_test)
    A = test.A
    row = {
        "fvu": fraction_of_variance_unexplained(test.X, test.H),
        "hard_fvu": _fvu_of_active(model, test.params, test.X, A, tau),
        "l0": l0(A, tau),
        "mean_l1_norm": mean_l1_norm(A),
        "threshold": tau,
        "train_fvu": math.nan,
        "frequency": None,
        "dead": math.nan,
        "dense": math.nan,
        "rho_hat": None,
        "penalty_sum": math.nan,
        "unreachable": math.nan,
    }
    if X_train is not None:
        X_train = validate_data(X_train)
        train = forward_pass(model, params.astype(X_train.dtype), X_train)
        frequency = activation_frequency(train.A, tau)
        row.update(
            train_fvu=fraction_of_variance_unexplained(train.X, train.H),
            frequency=frequency,
            dead=int(np.count_nonzero(frequency == 0)),
            dense=int(np.count_nonzero(frequency > DENSE_FRACTION)),
            rho_hat=train.A.mean(axis=0, dtype=np.float64),  # in float64 whatever the data's dtype
        )
        row["penalty_sum"] = float(np.sum(model.penalty.value(row["rho_hat"], model.rho)))
        if model.activation == "relu":
            row["unreachable"] = _unreachable(train.Z, frequency == 0)
    return row


def _fvu_of_active(model: Autoencoder, params, X: np.ndarray, A: np.ndarray, threshold: float) -> float:
    """The FVU of ``X`` when the decoder gets only the activations of ``A`` above ``threshold``."""
    hard = np.where(A > threshold, A, 0).astype(A.dtype, copy=False)
    return fraction_of_variance_unexplained(X, output(model.g, params, hard)[1])


def _unreachable(Z: np.ndarray, dead: np.ndarray) -> int:
    """Dead latents whose pre-activation (a column of ``Z``) is positive on no example."""
    return int(np.count_nonzero(dead & (Z.max(axis=0) <= 0)))


def measure_members(
    members: Sequence[Member], fits: Mapping[tuple[str, int], FitResult], X_test, X_train=None
) -> list[dict]:
    """:func:`evaluate` for every trained network, with its family, value, seed and training.

    Parameters
    ----------
    members : sequence of Member
    fits : mapping of (str, int) to FitResult
        By ``(member label, seed)`` (:func:`train_members`).
    X_test, X_train
        As for :func:`evaluate`.

    Returns
    -------
    list of dict
        One per network, members in order, seeds in increasing order:
        ``family``, ``label``, ``value``, ``seed``, the measures of
        :func:`evaluate`, and the training's ``epochs`` (``n_iter``),
        ``steps`` (``n_evals``), ``message``, ``success`` and ``loss``.
    """
    rows = []
    for member in members:
        for (label, seed), fit in sorted(fits.items(), key=lambda item: item[0][1]):
            if label != member.label:
                continue
            rows.append(
                {
                    "family": member.family,
                    "label": member.label,
                    "value": member.value,
                    "seed": seed,
                    **evaluate(member, fit.params, X_test, X_train),
                    "epochs": fit.n_iter,
                    "steps": fit.n_evals,
                    "message": fit.message,
                    "success": fit.success,
                    "loss": fit.loss,
                }
            )
    return rows


def seed_summary(rows: Sequence[dict], keys: Sequence[str] = ("l0", "fvu", "hard_fvu", "dead", "dense")) -> list[dict]:
    """Mean and standard deviation over seeds of each member's measures.

    Parameters
    ----------
    rows : sequence of dict
        :func:`measure_members`.
    keys : sequence of str
        Scalar measures to summarize.

    Returns
    -------
    list of dict
        One per member (in the order of first appearance): ``family``,
        ``label``, ``value``, ``seeds`` (their count), and for each key
        ``{key}`` (the mean) and ``{key}_sd`` (the sample standard
        deviation, ``ddof = 1``; NaN for one seed).
    """
    out: dict[str, dict] = {}
    for row in rows:
        entry = out.setdefault(
            row["label"], {"family": row["family"], "label": row["label"], "value": row["value"], "_rows": []}
        )
        entry["_rows"].append(row)
    for entry in out.values():
        members_rows = entry.pop("_rows")
        entry["seeds"] = len(members_rows)
        for key in keys:
            values = np.array([r[key] for r in members_rows], dtype=np.float64)
            entry[key] = float(values.mean())
            entry[f"{key}_sd"] = float(values.std(ddof=1)) if values.size > 1 else math.nan
    return list(out.values())


def frontier(rows: Sequence[dict], family: str, key: str = "fvu") -> tuple[np.ndarray, np.ndarray]:
    """A family's L0–FVU frontier: its networks' ``(L0, key)``, sorted by increasing L0.

    Parameters
    ----------
    rows : sequence of dict
        With ``family``, ``l0`` and ``key`` (one seed's :func:`measure_members`,
        or :func:`seed_summary`).
    family : str
        One of :data:`FAMILIES`.
    key : str, default "fvu"
        The measure read off the frontier (``"hard_fvu"`` for the code cut to
        its active units).

    Returns
    -------
    l0, fvu : ndarray of shape (n_members,)

    Raises
    ------
    ValueError
        If no row belongs to ``family``.
    """
    points = sorted((r["l0"], r[key]) for r in rows if r["family"] == family)
    if not points:
        raise ValueError(f"family must be one of those in rows; got {family!r}")
    l0_values, fvu = np.array(points, dtype=np.float64).T
    return l0_values, fvu


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


def matched_l0(rows: Sequence[dict], l0_values: Sequence[float], key: str = "fvu") -> dict[str, np.ndarray]:
    """Each family's FVU at the given L0s, seed by seed (:func:`fvu_at_l0` on each seed's frontier).

    Parameters
    ----------
    rows : sequence of dict
        :func:`measure_members` (rows without ``seed`` count as seed 0).
    l0_values : sequence of float
    key : str, default "fvu"

    Returns
    -------
    dict of str to ndarray of shape (n_seeds, len(l0_values))
        By family present in ``rows`` (in the order of :data:`FAMILIES`);
        NaN where a seed's frontier does not reach the L0.
    """
    out = {}
    for family in FAMILIES:
        mine = [r for r in rows if r["family"] == family]
        if not mine:
            continue
        seeds = sorted({r.get("seed", 0) for r in mine})
        out[family] = np.array(
            [
                [fvu_at_l0(*frontier([r for r in mine if r.get("seed", 0) == s], family, key), t) for t in l0_values]
                for s in seeds
            ],
            dtype=np.float64,
        ).reshape(len(seeds), len(l0_values))
    return out


def compare(first: np.ndarray, second: np.ndarray) -> dict[str, np.ndarray]:
    """Whether one family's matched-L0 FVU is below another's by more than the seeds' spread.

    Parameters
    ----------
    first, second : ndarray of shape (n_seeds, n_values)
        Two families' :func:`matched_l0` (independent seeds: the seed numbers
        are not paired).

    Returns
    -------
    dict of str to ndarray of shape (n_values,)
        ``difference`` (mean of ``first`` less mean of ``second``), ``sd``
        (of that difference, ``sqrt(s₁²/1 + s₂²/1)`` from the two samples'
        standard deviations: the spread of one seed's difference), and
        ``separated`` (``|difference| > 2 sd``); NaN and False where either
        family misses the L0 on some seed.
    """
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if (
        first.ndim != 2
        or second.ndim != 2
        or first.shape[1] != second.shape[1]
        or min(first.shape[0], second.shape[0]) < 2
    ):
        raise ValueError(
            f"first and second must be (n_seeds >= 2, n_values) arrays with the same n_values; "
            f"got shapes {first.shape} and {second.shape}"
        )
    difference = first.mean(axis=0) - second.mean(axis=0)
    sd = np.sqrt(first.var(axis=0, ddof=1) + second.var(axis=0, ddof=1))
    with np.errstate(invalid="ignore"):
        separated = np.abs(difference) > 2 * sd
    return {"difference": difference, "sd": sd, "separated": separated & np.isfinite(difference)}


def nearest_member(rows: Sequence[dict], family: str, l0_value: float) -> dict:
    """The row of ``family`` whose L0 is closest to ``l0_value`` (the first of a tie)."""
    candidates = [r for r in rows if r["family"] == family]
    if not candidates:
        raise ValueError(f"family must be one of those in rows; got {family!r}")
    return min(candidates, key=lambda r: abs(r["l0"] - l0_value))


def dead_latent_reach(member: Member, params, X) -> dict[str, int]:
    """Dead latents on ``X``, and how many of them no image of ``X`` gives a positive pre-activation.

    AuxK (and any gradient through a ReLU) reaches a dead latent only on the
    images where its pre-activation ``W1 x + b1`` is positive; a latent whose
    pre-activation is negative on every image cannot be revived by it.

    Parameters
    ----------
    member : Member
        Of a ReLU family (2023, 2024).
    params : Params
    X : ndarray of shape (m, n)

    Returns
    -------
    dict
        ``dead`` (latents never active on ``X``) and ``unreachable`` (dead
        latents whose largest pre-activation over ``X`` is at most 0).

    Raises
    ------
    ValueError
        For a member whose hidden units are not ReLU.
    """
    if member.model.activation != "relu":
        raise ValueError(f"member must have ReLU latents; got activation={member.model.activation!r}")
    X = validate_data(X)
    params = params.astype(X.dtype)
    Z, A = hidden(member.model.f, params, X)
    dead = ~(A > 0).any(axis=0)
    return {"dead": int(dead.sum()), "unreachable": _unreachable(Z, dead)}


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
    params = params.astype(X.dtype)
    return _fvu_of_active(model, params, X, model.encode(params, X), threshold)
