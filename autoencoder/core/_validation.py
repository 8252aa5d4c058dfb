"""Argument checks shared by the package: each error names the parameter and the allowed range.

:func:`validate_data` is the one check of a data matrix; every function of
the library that takes data goes through it (:mod:`autoencoder.core.model`
re-exports it).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from numbers import Real

import numpy as np

from .params import Params

__all__ = [
    "check_axis",
    "check_int",
    "check_params",
    "check_real",
    "check_values",
    "integer_range",
    "real_interval",
    "validate_data",
]


def check_int(name: str, value, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` (no upper bound when ``high`` is None).

    Raises
    ------
    ValueError
        If ``value`` is not an integer (bools are refused) or lies outside
        the range; the message names ``name`` and the range.
    """
    allowed = integer_range(low, high)
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer {allowed}; got {value!r}") from None
    if number < low or (high is not None and number > high):
        raise ValueError(f"{name} must be an integer {allowed}; got {value!r}")
    return number


def check_real(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """Return ``value`` as a float inside the given interval.

    Parameters
    ----------
    name : str
        Parameter name for the message.
    value : real
    low, high : float, optional
        Bounds; None leaves that side unbounded.
    low_open, high_open : bool, default False
        Exclude the bound itself.

    Raises
    ------
    ValueError
        If ``value`` is not a finite real number (bools are refused) or lies
        outside the interval; the message names ``name`` and the interval.
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        raise ValueError(f"{name} must lie in {real_interval(low, high, low_open, high_open)}; got {value!r}")
    return float(value)


def integer_range(low: int, high: int | None = None) -> str:
    """The range of :func:`check_int` in words: ``">= 1"``, ``"in [1, 60000]"``."""
    return f">= {low}" if high is None else f"in [{low}, {high}]"


def in_interval(value: float, *, low=None, high=None, low_open=False, high_open=False) -> bool:
    """Whether ``value`` lies in the interval of :func:`check_real` with these bounds."""
    above = low is None or (value > low if low_open else value >= low)
    below = high is None or (value < high if high_open else value <= high)
    return bool(above and below)


def real_interval(low=None, high=None, low_open=False, high_open=False) -> str:
    """The interval of :func:`check_real`: ``"(0, 1)"``, ``"[0, inf]"``."""
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_values(
    name: str,
    values,
    element: Callable[[str, object], object],
    *,
    allowed: str,
    example: str | None = None,
    label: Callable[[object], str] | None = None,
) -> list:
    """Return ``values`` as a list: at least one value, each checked by ``element``, no two alike.

    The one check of a list of values (an axis of a grid, a list knob, a
    schedule): the list as a whole here, each value by ``element``.

    Parameters
    ----------
    name : str
        Parameter name for the messages.
    values : sequence
        A list, tuple or 1-D array (text is refused).
    element : callable
        ``element(f"{name}[{i}]", value)`` returns the value to keep, or
        raises ``ValueError`` naming ``f"{name}[{i}]"`` and the allowed range.
    allowed : str
        What one value may be, in words, for the messages about the whole
        list: ``"real numbers in (0, 1)"``, ``"integers >= 1"``.
    example : str, optional
        A valid list, shown when ``values`` is not a non-empty list.
    label : callable, optional
        How a kept value is printed; values printed alike count as repeated
        (default: values equal as numbers).

    Returns
    -------
    list
        What ``element`` returned for each value, in order.

    Raises
    ------
    ValueError
        If ``values`` is not a non-empty sequence, if ``element`` refuses a
        value, or if two values are alike; the message names ``name``.
    """
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray) or len(values) == 0:
        for_example = f", e.g. {example}" if example else ""
        raise ValueError(f"{name} must be a non-empty list of {allowed}{for_example}; got {values!r}")
    kept = [element(f"{name}[{index}]", value) for index, value in enumerate(values)]
    keys = kept if label is None else [label(value) for value in kept]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"{name} must hold distinct numbers; {repeated} repeated in {keys}")
    return kept


def check_seeds(name: str, values) -> list[int]:
    """Return ``values`` as a list of distinct seeds: integers ``>= 0``, at least one (:func:`check_axis`)."""
    inside = lambda s: s >= 0 and s == int(s)  # noqa: E731
    return [int(s) for s in check_axis(name, values, inside=inside, allowed="integers >= 0")]


def check_axis(
    name: str,
    values,
    *,
    inside: Callable[[float], bool] | None = None,
    allowed: str = "",
    label: Callable[[float], str] | None = None,
) -> list:
    """Return the axis of a grid, ``values``, as a list: distinct finite real numbers, at least one.

    :func:`check_values` with each value a finite real number (bools are
    refused) for which ``inside`` holds; the values are kept as given.

    Parameters
    ----------
    name : str
        Parameter name for the message.
    values : sequence of real
    inside : callable, optional
        ``inside(value)`` is True for an allowed value; ``allowed`` says which
        in words (``"in (0, 1)"``).
    label : callable, optional
        How a value is printed; values printed alike count as repeated.

    Raises
    ------
    ValueError
        If ``values`` is not a sequence, is empty, holds something that is
        not a finite real number (bools are refused) or not ``inside``, or
        repeats a value (or a label).
    """
    where = f" {allowed}" if allowed else ""

    def element(item: str, value):
        real = isinstance(value, Real) and not isinstance(value, bool) and np.isfinite(value)
        if not real or (inside is not None and not inside(value)):
            raise ValueError(f"{item} must be a real number{where}; got {value!r}")
        return value

    return check_values(name, values, element, allowed=f"real numbers{where}", label=label)


def validate_data(X, *, unit_interval: bool = False, parameter: str = "X") -> np.ndarray:
    """Check a data matrix and return it as a float32 or float64 array.

    Parameters
    ----------
    X : array_like of shape (m, n)
        Examples in rows.
    unit_interval : bool, default False
        Also require every value to lie in [0, 1] (a sigmoid output cannot
        reconstruct anything else).
    parameter : str
        Name used in error messages.

    Returns
    -------
    ndarray of shape (m, n)
        ``X`` itself when it is already a C-contiguous float32/float64 array,
        otherwise a float64 copy.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, is empty, holds NaN or inf, or (with
        ``unit_interval``) leaves [0, 1].
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{parameter} must be a 2-D array (examples in rows); got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{parameter} must have at least one row and one column; got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValueError(f"{parameter} must hold numbers; got dtype {X.dtype}")
        X = X.astype(np.float64)
    X = np.ascontiguousarray(X)
    # min and max propagate NaN and show ±inf: two passes without a temporary of X's shape.
    lo, hi = float(X.min()), float(X.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{parameter} must be finite; it holds NaN or inf")
    if unit_interval:
        if lo < 0 or hi > 1:
            raise ValueError(
                f"{parameter} has values in [{lo:g}, {hi:g}], but a sigmoid output "
                "reconstructs values in [0, 1] only: rescale the data to [0, 1] or use "
                "output_activation='linear'"
            )
    return X


def check_params(params, n_hidden: int, X: np.ndarray) -> Params:
    """Return ``params`` in the dtype of the checked data ``X``, after checking its shapes.

    Raises
    ------
    ValueError
        If ``params`` is not a :class:`autoencoder.Params`, or its ``W1`` is
        not of shape ``(n_hidden, X.shape[1])``.
    """
    if not isinstance(params, Params):
        raise ValueError(f"params must be an autoencoder.Params; got {type(params).__name__}")
    if params.n_hidden != n_hidden or params.n_visible != X.shape[1]:
        raise ValueError(
            f"params has W1 of shape {params.W1.shape}, but the model has n_hidden="
            f"{n_hidden} and X has {X.shape[1]} columns: W1 must have shape "
            f"({n_hidden}, {X.shape[1]})"
        )
    return params.astype(X.dtype)
