"""The claims a chapter's text makes, checked against its own run.

Each chapter ends with the statements its prose makes about the numbers, as
:class:`Claim` values: what is claimed, the measured value, and the range in
which the statement holds.  :func:`check_claims` shows them as a table and
raises :class:`ClaimFailed` naming every claim that does not hold, so that
re-executing a chapter (``make book``, ``pytest --nbval``) fails when its text
stops being true, on this machine or on another CPU whose BLAS kernel moves
the trained numbers.  The ranges are the statements' own (``below 3 %``,
``above ρ``), chosen, where the text allows, several times the spread of the
value measured across BLAS kernels away from the measured value (the spread is
on the Reproducing page).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .tables import html_table

__all__ = ["Claim", "ClaimFailed", "check_claims"]


class ClaimFailed(AssertionError):
    """A statement of the text does not hold for the run; the message names each one."""


@dataclass(frozen=True)
class Claim:
    """One statement of the text about one measured value.

    Parameters
    ----------
    statement : str
        The statement, as the text makes it.
    value : float
        What the run measured.
    low, high : float, optional
        The statement holds for ``low <= value <= high`` (None: unbounded on
        that side).  At least one bound is required.
    """

    statement: str
    value: float
    low: float | None = None
    high: float | None = None

    def __post_init__(self):
        if self.low is None and self.high is None:
            raise ValueError(f"claim {self.statement!r} needs a bound: give low, high or both")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"claim {self.statement!r} has low = {self.low:g} above high = {self.high:g}")
        object.__setattr__(self, "value", float(self.value))

    @property
    def holds(self) -> bool:
        """Whether the value lies in the range (a NaN never does)."""
        if math.isnan(self.value):
            return False
        return (self.low is None or self.value >= self.low) and (self.high is None or self.value <= self.high)

    @property
    def required(self) -> str:
        """The range in words, e.g. ``≥ 0.8``, ``≤ 0.03`` or ``in [0.1, 0.12]``."""
        if self.high is None:
            return f"≥ {_format(self.low)}"
        if self.low is None:
            return f"≤ {_format(self.high)}"
        return f"in [{_format(self.low)}, {_format(self.high)}]"


def _format(x: float) -> str:
    return f"{x:.3g}"


def check_claims(claims: Sequence[Claim], caption: str | None = None, *, enforce: bool = True) -> str:
    """An HTML table of the claims with their measured values; raises if any does not hold.

    Parameters
    ----------
    claims : sequence of Claim
    caption : str, optional
    enforce : bool, default True
        Raise when a claim does not hold.  A chapter passes False when it
        runs at other parameters than the published ones its text describes
        (a papermill run with small values, say): the table then says which
        statements hold for that run.

    Returns
    -------
    str
        The table, for ``IPython.display.HTML``.

    Raises
    ------
    ClaimFailed
        With ``enforce``, naming every claim that does not hold, with its
        value and range.
    """
    if not claims:
        raise ValueError("claims must hold at least one Claim")
    failed = [c for c in claims if not c.holds]
    if failed and enforce:
        lines = [f"{c.statement}: measured {_format(c.value)}, the text needs {c.required}" for c in failed]
        raise ClaimFailed("the text no longer holds for this run:\n  " + "\n  ".join(lines))
    rows = [["what the text says", "this run", "holds when", "holds"]]
    rows += [[c.statement, _format(c.value), c.required, "yes" if c.holds else "no"] for c in claims]
    return html_table(rows, caption)
