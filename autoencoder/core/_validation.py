"""Argument checks shared by the package: each error names the parameter and the allowed range."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from numbers import Real

import numpy as np

__all__ = ["check_axis", "check_int", "check_real"]


def check_int(name: str, value, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` (no upper bound when ``high`` is None).

    Raises
    ------
    ValueError
        If ``value`` is not an integer (bools are refused) or lies outside
        the range; the message names ``name`` and the range.
    """
    allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
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
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must lie in {left}{lo}, {hi}{right}; got {value!r}")
    return float(value)


def check_axis(
    name: str,
    values,
    *,
    inside: Callable[[float], bool] | None = None,
    allowed: str = "",
    label: Callable[[float], str] | None = None,
) -> list:
    """Return the axis of a grid, ``values``, as a list: distinct finite real numbers, at least one.

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
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise ValueError(f"{name} must be a list of numbers; got {values!r}")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    for value in values:
        real = isinstance(value, Real) and not isinstance(value, bool) and np.isfinite(value)
        if not real or (inside is not None and not inside(value)):
            where = f" {allowed}" if allowed else ""
            raise ValueError(f"{name} must hold real numbers{where}; got {value!r}")
    keys = values if label is None else [label(value) for value in values]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{name} has repeated values: {keys}")
    return values
