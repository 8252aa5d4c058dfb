"""The chapters' knobs: one table of allowed values and one check, run before any work.

Every chapter's ``parameters`` cell holds plain literals that papermill may
override, and papermill passes what it cannot read as a number as text
(``-p max_iter abc`` arrives as ``'abc'``, ``-p rho_values "[0.05, 0.1]"`` as
``'[0.05, 0.1]'``).  The first cell after it calls :func:`check_knobs` with
every knob of the chapter, so a bad value is refused under the knob's own name
and with its allowed range, and the rest of the chapter sees converted values::

    globals().update(check_knobs(n_train=n_train, max_iter=max_iter, relations=["n_hidden <= n_train"]))

A knob means the same, and has the same range, in every chapter that has it
(:data:`KNOBS`); a knob that is a parameter of the network takes its range
from the library's own rule (:func:`autoencoder.core.model.parameter_bounds`).
What holds between knobs in one chapter only, such as
"no more hidden units than images" where a chapter computes PCA, is given by
that chapter as ``relations``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..core._validation import check_int, check_real, check_values, integer_range, real_interval
from ..core.model import parameter_bounds

__all__ = ["Knob", "KNOBS", "MNIST_TRAIN", "MNIST_TEST", "MNIST_PIXELS", "MNIST_LABELED", "check_knobs", "check_knob"]

MNIST_TRAIN = 60_000
"""Images in the MNIST training set: the largest ``n_train``."""
MNIST_TEST = 10_000
"""Images in the MNIST test set: the largest ``n_test``."""
MNIST_PIXELS = 784
"""Pixels of an MNIST image (28 × 28): the most principal components PCA of MNIST has."""
MNIST_LABELED = 30_596
"""Training images of the digits 0–4, the labeled set of UFLDL's self-taught learning: the largest ``n_labeled``."""


@dataclass(frozen=True)
class Knob:
    """The kind and the allowed values of one knob.

    Attributes
    ----------
    kind : {"int", "real", "bool", "reals", "ints"}
        An integer, a finite real number, True/False, or a non-empty list of
        distinct finite reals or of distinct integers.
    low, high : float, optional
        Bounds of the value (of each element for ``"reals"`` and ``"ints"``);
        None leaves that side unbounded.
    low_open, high_open : bool, default False
        Exclude the bound itself (reals only).
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __post_init__(self):
        if self.kind not in ("int", "real", "bool", "reals", "ints"):
            raise ValueError(f"kind must be 'int', 'real', 'bool', 'reals' or 'ints'; got {self.kind!r}")


_COUNT = Knob("int", 1)
_WEIGHT = Knob("real", **parameter_bounds("beta"))
_TARGET = Knob("real", **parameter_bounds("rho"))  # the KL penalty's targets: every chapter's rho is one

KNOBS: dict[str, Knob] = {
    # shared by the chapters
    "n_train": Knob("int", 1, MNIST_TRAIN),
    "n_hidden": Knob("int", **parameter_bounds("n_hidden")),
    "rho": _TARGET,
    "beta": _WEIGHT,
    "weight_decay": Knob("real", **parameter_bounds("weight_decay")),
    "max_iter": _COUNT,  # at least one iteration: fit accepts 0, a chapter has nothing to show then
    "seed": Knob("int", **parameter_bounds("seed")),
    # chapter-specific
    "n_test": Knob("int", 1, MNIST_TEST),
    "n_show": _COUNT,
    "synthetic_check": Knob("bool"),
    "synthetic_dim": _COUNT,
    "synthetic_hidden": _COUNT,
    "synthetic_samples": _COUNT,
    "synthetic_max_iter": _COUNT,
    "betas": Knob("reals", 0),
    "sweep_n_train": Knob("int", 1, MNIST_TRAIN),
    "sweep_max_iter": _COUNT,
    "converged_n_train": Knob("int", 1, MNIST_TRAIN),
    "converged_max_iter": _COUNT,
    "converged_tol": Knob("real", 0),
    "converged_seeds": Knob("ints", 0),
    "spread_seeds": Knob("ints", 0),
    "n_examples": _COUNT,
    "n_visible": _COUNT,
    "sparse_linear_beta": _WEIGHT,
    "l1_widths": Knob("reals", 0, low_open=True),
    "l1_stage_iter": _COUNT,
    "rho_values": Knob("reals", **parameter_bounds("rho")),
    "beta_values": Knob("reals", 0),
    "n_jobs": _COUNT,
    "n_labeled": Knob("int", 2, MNIST_LABELED),
    "labels_per_class": Knob("ints", 1),
    "probe_weight_decay": _WEIGHT,
    "k_values": Knob("ints", 1),
    "l0_values": Knob("reals", 0, low_open=True),
    # chapter 10, natural images
    "seeds": Knob("ints", 0),
    "overcomplete_hidden": _COUNT,
    "alpha_values": Knob("reals", 0, low_open=True),
    # chapter 11, what makes the strokes
    "published_n_train": Knob("int", 1, MNIST_TRAIN),
    "published_max_iter": _COUNT,
    "published_seeds": Knob("ints", 0),
    # chapter 8, the probe's protocol
    "probe_weight_decays": Knob("reals", 0, low_open=True),
    "label_subsets": _COUNT,
    "untrained_scale": Knob("real", 0, low_open=True),
    # chapter 9, today's sparse autoencoders
    "learning_rate": Knob("real", 0, low_open=True),
    "kl_learning_rate": Knob("real", 0, low_open=True),
    "batch_size": _COUNT,
    "max_epochs": _COUNT,
    "aux_k": _COUNT,
    "n_features": _COUNT,
}
"""Every knob of the chapters, by name: its kind and its allowed values."""

_NAME = r"[A-Za-z_]\w*"
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RELATION = re.compile(rf"\s*({_NAME})\s*(<=|<|>=|>)\s*({_NAME}|{_NUMBER})\s*\Z")
_COMPARISONS = {
    "<=": (operator.le, "at most"),
    "<": (operator.lt, "less than"),
    ">=": (operator.ge, "at least"),
    ">": (operator.gt, "greater than"),
}


def _number_from_text(value, kind: type):
    """``value`` read as ``kind`` when it is text holding one, else ``value`` unchanged."""
    if isinstance(value, str):
        try:
            return kind(value.strip())
        except ValueError:
            return value
    return value


def _as_int(name: str, value, knob: Knob) -> int:
    value = _number_from_text(value, int)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # papermill reads -p n_train 1e4 as 10000.0
    return check_int(name, value, knob.low, knob.high)


def _as_real(name: str, value, knob: Knob) -> float:
    value = _number_from_text(value, float)
    return check_real(name, value, low=knob.low, high=knob.high, low_open=knob.low_open, high_open=knob.high_open)


def _as_bool(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{name} must be True or False; got {value!r}")


def _as_list(name: str, value, knob: Knob) -> list:
    if isinstance(value, str):
        text = value.strip().removeprefix("[").removesuffix("]").strip()
        value = [item.strip() for item in text.split(",")] if text else []
    if knob.kind == "ints":
        element, example = _as_int, "[100, 1000]"
        allowed = f"integers {integer_range(knob.low, knob.high)}"
    else:
        element, example = _as_real, "[0.1, 0.3]"
        allowed = f"real numbers in {real_interval(knob.low, knob.high, knob.low_open, knob.high_open)}"
    return check_values(name, value, lambda item, v: element(item, v, knob), allowed=allowed, example=example)


def check_knob(name: str, value):
    """Return one knob's value validated and converted, as :data:`KNOBS` says.

    Parameters
    ----------
    name : str
        A key of :data:`KNOBS`.
    value
        The value the notebook holds: a literal of its parameters cell or what
        papermill injected, possibly text (``"12"``, ``"[0.1, 0.3]"``,
        ``"False"``).

    Returns
    -------
    int, float, bool, list of float or list of int

    Raises
    ------
    ValueError
        If the value is not of the knob's kind or lies outside its range; the
        message names the knob and what is allowed.  Also for an unknown name.
    """
    if name not in KNOBS:
        raise ValueError(f"{name!r} is not a knob of the chapters; the knobs are {sorted(KNOBS)}")
    knob = KNOBS[name]
    if knob.kind == "int":
        return _as_int(name, value, knob)
    if knob.kind == "real":
        return _as_real(name, value, knob)
    if knob.kind == "bool":
        return _as_bool(name, value)
    return _as_list(name, value, knob)


def _check_relation(relation: str, values: Mapping[str, object]) -> None:
    """Raise ValueError naming the knob when ``relation`` (e.g. ``"n_show <= n_test"``) fails."""
    match = _RELATION.match(relation)
    if match is None:
        raise ValueError(f"relation {relation!r} is not of the form 'knob <= other' ('<', '>=', '>' also)")
    left, symbol, right = match.groups()
    unknown = [name for name in (left, right) if name.isidentifier() and name not in values]
    if unknown:
        raise ValueError(f"relation {relation!r} names {unknown}, which are not among the knobs checked")
    bound = values[right] if right.isidentifier() else float(right)
    compare, words = _COMPARISONS[symbol]
    if not compare(values[left], bound):
        against = f"{right} = {bound:g}" if right.isidentifier() else f"{bound:g}"
        raise ValueError(f"{left} must be {words} {against} in this chapter; got {left} = {values[left]!r}")


def _followed(name: str, rule: tuple, checked: Mapping[str, object]) -> int | list[int]:
    """``factor × leader ** power`` for ``rule = (leader, factor[, power])``, rounded, within ``name``'s range.

    A list of factors gives a list knob its values, one per factor, without repeats.
    """
    leader, factor, power = (*rule, 1) if len(rule) == 2 else rule
    if leader not in checked:
        raise ValueError(f"{name} follows {leader!r}, which is not among the knobs checked")
    high = KNOBS[name].high

    def scaled(f):
        value = max(1, round(f * checked[leader] ** power))
        return value if high is None else min(value, int(high))

    if isinstance(factor, list | tuple):
        return check_knob(name, list(dict.fromkeys(scaled(f) for f in factor)))
    return check_knob(name, scaled(factor))


def check_knobs(
    *, relations: Iterable[str] = (), follow: Mapping[str, tuple] | None = None, **values
) -> dict[str, object]:
    """Return a chapter's knobs validated and converted, in the order given.

    Parameters
    ----------
    relations : iterable of str, optional
        Conditions between knobs of this chapter, each ``"knob <op> other"``
        with ``<op>`` one of ``<=``, ``<``, ``>=``, ``>`` and ``other`` a knob
        of this call or a number, e.g. ``"n_hidden <= n_train"``.  Checked
        after every knob, in order.
    follow : mapping of str to (str, float) or (str, float, float), optional
        ``{knob: (leader, factor)}`` or ``{knob: (leader, factor, power)}``
        for integer knobs of this chapter that follow another (checked before
        it, or itself following one): when such a knob is None, its value is
        ``factor × leader ** power`` (power 1 by default), rounded and capped
        at the knob's largest allowed value; for a list of integers,
        ``factor`` is a list, one factor per value.
        A chapter-specific size then shrinks with the shared knobs in a small
        run (``-p n_train 600 -p max_iter 12``) and keeps its published value
        at the published ones, unless it is given itself.  A power above 1
        shrinks a size faster than its leader (an iteration limit of a
        training to convergence, whose every iteration costs the same
        whatever the data).  Checked before the relations.
    **values
        ``name=value`` for each knob of the chapter (names from :data:`KNOBS`).

    Returns
    -------
    dict
        ``{name: converted value}``: ints, floats, bools and lists of floats or ints.

    Raises
    ------
    ValueError
        At the first bad knob (in the order given), naming it and its allowed
        values, or at the first relation that fails, naming both sides.

    Examples
    --------
    >>> check_knobs(n_train="600", max_iter=12, rho_values="[0.05, 0.1]")
    {'n_train': 600, 'max_iter': 12, 'rho_values': [0.05, 0.1]}
    >>> check_knobs(max_iter=12, converged_max_iter=None, follow={"converged_max_iter": ("max_iter", 1 / 8, 2)})
    {'max_iter': 12, 'converged_max_iter': 18}
    >>> check_knobs(max_iter="abc")
    Traceback (most recent call last):
    ...
    ValueError: max_iter must be an integer >= 1; got 'abc'
    """
    follow = dict(follow or {})
    unknown = sorted(set(follow) - set(values))
    if unknown:
        raise ValueError(f"follow names {unknown}, which are not among the knobs checked")
    checked = {
        name: None if value is None and name in follow else check_knob(name, value) for name, value in values.items()
    }
    for name, rule in follow.items():
        if checked[name] is None:
            checked[name] = _followed(name, rule, checked)
    if isinstance(relations, str):
        relations = [relations]
    for relation in relations:
        _check_relation(relation, checked)
    return checked
