"""Tables for the book's pages: HTML for display, aligned plain text for printed outputs.

Every table is built from rows of already formatted cells, the first row the
header: :func:`html_table` and :func:`text_table`; :func:`grid_table` lays
out one measure of a (ρ, β) grid, a row per ρ and a column per β.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

__all__ = ["grid_table", "html_table", "text_table"]


def _cells(rows: Sequence[Sequence]) -> list[list[str]]:
    return [[str(c) for c in row] for row in rows]


def html_table(rows: Sequence[Sequence], caption: str | None = None) -> str:
    """An HTML table from rows of already formatted cells; the first row is the header.

    Parameters
    ----------
    rows : sequence of sequence
        Cells are converted with ``str`` and escaped.
    caption : str, optional

    Returns
    -------
    str
    """
    rows = _cells(rows)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def text_table(rows: Sequence[Sequence], *, rule: bool = True) -> str:
    """A plain text table with aligned columns; the first row is the header.

    Parameters
    ----------
    rows : sequence of sequence
        Cells are converted with ``str``.
    rule : bool, default True
        A line of dashes under the header.

    Returns
    -------
    str
    """
    rows = _cells(rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(r):
        return "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()

    lines = [line(r) for r in rows]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def grid_table(
    summary: Mapping[tuple[float, float], Mapping[str, float]], rhos, betas, metric: str, decimals: int = 3
) -> str:
    """A plain-text table of one metric: a row per ρ, a column per β.

    Parameters
    ----------
    summary : mapping
        :func:`autoencoder.experiments.grid.grid_summary` of the grid.
    rhos, betas : sequence of float
        Row and column order.
    metric : str
        A key of the summaries, e.g. ``"mean_activation"``.
    decimals : int, default 3
        Fixed decimals, so that a rerun prints the same text.

    Returns
    -------
    str
        Columns headed ``β = ...`` (right-aligned), rows headed ``ρ = ...``.
    """
    header = ["", *(f"β = {beta:g}" for beta in betas)]
    rows = [[f"ρ = {rho:g}", *(f"{summary[rho, beta][metric]:.{decimals}f}" for beta in betas)] for rho in rhos]
    return text_table([header, *rows], rule=False)
