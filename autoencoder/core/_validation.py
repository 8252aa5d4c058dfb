"""Argument checks shared by the package: each error names the parameter and the allowed range."""

from __future__ import annotations

import operator
from numbers import Real

import numpy as np

__all__ = ["check_int", "check_real"]


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
