"""A static explorer of a (ρ, β) grid: two sliders that swap pre-rendered figures.

:func:`slider_html` turns a grid of already-rendered PNG figures and metrics
into one self-contained HTML fragment (no library, no network): two
``<input type="range">`` sliders for the sparsity target ρ and the sparsity
weight β, two images and a table of metrics.  An inline script swaps them on
every ``input`` event.  Displayed with ``IPython.display.HTML`` it works in the
built book (MyST-NB writes the fragment into the page, so the script runs at
load) and in a trusted notebook.

:func:`explorer_widget` shows the same grid with ipywidgets, for a live kernel.

The two figures share the width of the page column side by side, the mosaic
on the left, each scaled down as needed; below a column of about 31em (a
phone), the histogram goes under the mosaic.

Each grid point is a mapping with the keys

``mosaic_png``
    PNG bytes of the hidden-unit weight mosaic.
``histogram_png``
    PNG bytes of the histogram of mean hidden activations ``ρ̂_j``.
``metrics``
    ``{name: value}``; every point has the same names, shown in this order.
"""

from __future__ import annotations

import base64
import html
import json
import numbers
import re
from collections.abc import Mapping, Sequence

from ..core._validation import check_axis

__all__ = [
    "slider_html",
    "explorer_widget",
    "format_value",
]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ELEMENT_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_POINT_KEYS = ("mosaic_png", "histogram_png", "metrics")

# Plain JavaScript, run once per fragment.  It finds its own container (the
# parent of the running script, so several copies on a page, even with the same
# id, stay independent), reads the JSON data block and swaps the figures.  The
# JSON leaves the images of the initial point out (they are already the <img>
# sources); the script takes them from the page.
SCRIPT_PRELUDE = """
(function () {
  var script = document.currentScript;
  var root = script ? script.parentElement : document.getElementById(%(element_id)s);
  if (!root || root.getAttribute("data-ready") === "1") { return; }
  root.setAttribute("data-ready", "1");
"""
"""The start of every static widget's script: find its own container once, even with several on a page."""

_SCRIPT = (
    SCRIPT_PRELUDE
    + """  var data = JSON.parse(root.querySelector("script.explorer-data").textContent);
  var rho = root.querySelector("input[data-parameter=rho]");
  var beta = root.querySelector("input[data-parameter=beta]");
  var mosaic = root.querySelector("img.explorer-mosaic");
  var histogram = root.querySelector("img.explorer-histogram");
  var initial = data.points[data.initial];
  initial.mosaic = mosaic.getAttribute("src");
  initial.histogram = histogram.getAttribute("src");
  function update() {
    var i = Number(rho.value), j = Number(beta.value);
    var point = data.points[i + "," + j];
    mosaic.src = point.mosaic;
    histogram.src = point.histogram;
    mosaic.alt = point.mosaic_alt;
    histogram.alt = point.histogram_alt;
    root.querySelector("output[data-parameter=rho]").textContent = data.rho_labels[i];
    root.querySelector("output[data-parameter=beta]").textContent = data.beta_labels[j];
    rho.setAttribute("aria-valuetext", data.rho_labels[i]);
    beta.setAttribute("aria-valuetext", data.beta_labels[j]);
    root.setAttribute("data-rho", data.rho_labels[i]);
    root.setAttribute("data-beta", data.beta_labels[j]);
    data.metric_names.forEach(function (name, k) {
      root.querySelectorAll("td.explorer-metric-value")[k].textContent = point.metrics[k];
    });
  }
  rho.addEventListener("input", update);
  beta.addEventListener("input", update);
})();
"""
)

_STYLE = """
.rho-beta-explorer { margin: 1em 0; }
.rho-beta-explorer .explorer-controls { display: grid;
  grid-template-columns: max-content minmax(8em, 24em); gap: 0.3em 1em; align-items: center; }
.rho-beta-explorer .explorer-figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.rho-beta-explorer figure { margin: 0.5em 0; flex: 1 1 0; min-width: 15em; }
.rho-beta-explorer img { max-width: 100%; height: auto; }
.rho-beta-explorer table.explorer-metrics td { text-align: right;
  font-variant-numeric: tabular-nums; padding-left: 1em; }
"""


def format_value(value: float, decimals: int = 3) -> str:
    """Format a grid value or a metric for display.

    Integers (``int`` or NumPy integers) print without decimals; other numbers
    with ``decimals`` fixed decimals, so reruns print the same text.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"expected a real number, got {value!r}")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    return f"{float(value):.{decimals}f}"


def _grid_label(value: float) -> str:
    return f"{float(value):g}"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _check_grid(
    points: Mapping, rho_values: Sequence[float], beta_values: Sequence[float]
) -> tuple[list[float], list[float], list[str]]:
    """Validate the grid once; return the axes and the metric names."""
    rho_values = check_axis("rho_values", rho_values, label=_grid_label)
    beta_values = check_axis("beta_values", beta_values, label=_grid_label)
    grid = [(rho, beta) for rho in rho_values for beta in beta_values]
    missing = [key for key in grid if key not in points]
    if missing:
        listed = ", ".join(f"(rho={_grid_label(r)}, beta={_grid_label(b)})" for r, b in missing)
        raise ValueError(f"points has no entry for grid point(s) {listed}")
    extra = set(points) - set(grid)
    if extra:
        raise ValueError(f"points has entries outside rho_values x beta_values: {sorted(extra, key=str)}")
    metric_names = None
    for rho, beta in grid:
        where = f"grid point (rho={_grid_label(rho)}, beta={_grid_label(beta)})"
        point = points[rho, beta]
        absent = [key for key in _POINT_KEYS if key not in point]
        if absent:
            raise ValueError(f"{where} lacks {absent}")
        for key in ("mosaic_png", "histogram_png"):
            png = point[key]
            if not isinstance(png, bytes | bytearray) or not bytes(png[:8]) == _PNG_SIGNATURE:
                raise ValueError(f"{where}: {key} must be PNG bytes")
        names = list(point["metrics"])
        if metric_names is None:
            metric_names = names
        elif names != metric_names:
            raise ValueError(f"{where} has metrics {names}, other points have {metric_names}")
        for name, value in point["metrics"].items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{where}: metric {name!r} must be a real number, got {value!r}")
    return rho_values, beta_values, metric_names


def _check_initial(points: Mapping, initial, rho_values: list[float], beta_values: list[float]) -> tuple:
    """The point shown first: ``initial``, or the first of each axis when None."""
    if initial is None:
        return rho_values[0], beta_values[0]
    if tuple(initial) not in points:
        raise ValueError(
            f"initial {initial} is not a grid point; add its rho to rho_values and its beta to beta_values"
        )
    return tuple(initial)


def _json_for_script(payload) -> str:
    # "<" escaped so that no "</script>" or "<!--" can end the data block early.
    return json.dumps(payload, separators=(",", ":")).replace("<", "\\u003c")


def slider_html(
    points: Mapping,
    *,
    rho_values: Sequence[float],
    beta_values: Sequence[float],
    element_id: str = "rho-beta-explorer",
    title: str | None = None,
    initial: tuple[float, float] | None = None,
    decimals: int = 3,
) -> str:
    """Return a self-contained HTML fragment exploring a (ρ, β) grid.

    Parameters
    ----------
    points : mapping
        ``(rho, beta) -> {"mosaic_png": bytes, "histogram_png": bytes,
        "metrics": {name: float}}``, one entry for each pair of
        ``rho_values x beta_values`` and no other.
    rho_values, beta_values : sequence of float
        The grid axes, in slider order.
    element_id : str
        The id of the container; the controls' ids derive from it.
    title : str, optional
        A heading shown above the sliders.
    initial : (rho, beta), optional
        The grid point shown first; the first of each axis by default.
    decimals : int
        Fixed decimals of non-integer metrics.

    Returns
    -------
    str
        A ``<div class="rho-beta-explorer">`` whose attributes ``data-rho`` and
        ``data-beta`` hold the point shown.  Each grid point's images are in it
        exactly once: the initial point's as ``<img src>``, the others in a
        JSON block ``<script type="application/json" class="explorer-data">``
        with ``rho``, ``beta``, their labels, ``metric_names`` and ``points``
        keyed ``"i,j"`` (indices into the axes).

    Raises
    ------
    ValueError
        If a grid point is missing (the message names it), a point lies outside
        the grid, a point lacks a key, an image is not PNG, or the points do not
        share their metric names.
    """
    if not isinstance(element_id, str) or not _ELEMENT_ID.match(element_id):
        raise ValueError(f"element_id must be letters, digits, '-' or '_', got {element_id!r}")
    rho_values, beta_values, metric_names = _check_grid(points, rho_values, beta_values)
    initial = _check_initial(points, initial, rho_values, beta_values)
    i0, j0 = rho_values.index(initial[0]), beta_values.index(initial[1])
    rho_labels = [_grid_label(value) for value in rho_values]
    beta_labels = [_grid_label(value) for value in beta_values]

    def alt(kind: str, i: int, j: int) -> str:
        return f"{kind} for rho = {rho_labels[i]}, beta = {beta_labels[j]}"

    encoded = {}
    for i, rho in enumerate(rho_values):
        for j, beta in enumerate(beta_values):
            point = points[rho, beta]
            first = (i, j) == (i0, j0)
            encoded[f"{i},{j}"] = {
                "mosaic": None if first else _data_uri(point["mosaic_png"]),
                "histogram": None if first else _data_uri(point["histogram_png"]),
                "mosaic_alt": alt("Hidden-unit weight mosaic", i, j),
                "histogram_alt": alt("Histogram of mean hidden activations", i, j),
                "metrics": [format_value(point["metrics"][n], decimals) for n in metric_names],
            }
    payload = {
        "rho": [float(value) for value in rho_values],
        "beta": [float(value) for value in beta_values],
        "rho_labels": rho_labels,
        "beta_labels": beta_labels,
        "metric_names": metric_names,
        "initial": f"{i0},{j0}",
        "points": encoded,
    }
    first = points[initial]
    esc = html.escape
    eid = esc(element_id)

    def slider(parameter: str, symbol: str, meaning: str, labels: list[str], index: int) -> str:
        return (
            f'<label for="{eid}-{parameter}">{symbol} ({meaning}) = '
            f'<output data-parameter="{parameter}" for="{eid}-{parameter}">'
            f"{labels[index]}</output></label>\n"
            f'<input type="range" id="{eid}-{parameter}" data-parameter="{parameter}" '
            f'min="0" max="{len(labels) - 1}" step="1" value="{index}" '
            f'aria-valuetext="{labels[index]}">'
        )

    rows = "\n".join(
        f'<tr data-metric="{esc(name)}"><th scope="row">{esc(name)}</th>'
        f'<td class="explorer-metric-value">{value}</td></tr>'
        for name, value in zip(metric_names, encoded[f"{i0},{j0}"]["metrics"], strict=True)
    )
    heading = f'<p class="explorer-title"><strong>{esc(title)}</strong></p>\n' if title else ""
    return f"""<div class="rho-beta-explorer" id="{eid}" \
data-rho="{rho_labels[i0]}" data-beta="{beta_labels[j0]}">
<style>{_STYLE}</style>
{heading}<div class="explorer-controls">
{slider("rho", "ρ", "sparsity target", rho_labels, i0)}
{slider("beta", "β", "sparsity weight", beta_labels, j0)}
</div>
<div class="explorer-figures">
<figure><img class="explorer-mosaic" id="{eid}-mosaic" src="{_data_uri(first["mosaic_png"])}" \
alt="{esc(alt("Hidden-unit weight mosaic", i0, j0))}">
<figcaption>Hidden-unit weights</figcaption></figure>
<figure><img class="explorer-histogram" id="{eid}-histogram" \
src="{_data_uri(first["histogram_png"])}" \
alt="{esc(alt("Histogram of mean hidden activations", i0, j0))}">
<figcaption>Mean hidden activations ρ̂<sub>j</sub></figcaption></figure>
</div>
<table class="explorer-metrics" id="{eid}-metrics">
<tbody>
{rows}
</tbody>
</table>
<script type="application/json" class="explorer-data" id="{eid}-data">\
{_json_for_script(payload)}</script>
<script>{_SCRIPT % {"element_id": json.dumps(element_id)}}</script>
</div>"""


def explorer_widget(
    points: Mapping,
    rho_values: Sequence[float],
    beta_values: Sequence[float],
    decimals: int = 3,
    initial: tuple[float, float] | None = None,
):
    """Return an ipywidgets box exploring the same grid in a live kernel.

    Two ``SelectionSlider`` s pick ρ and β; two ``Image`` widgets and an
    ``HTML`` table of metrics follow them.  Takes the same ``points`` and
    ``initial`` as :func:`slider_html` (the first of each axis by default);
    needs ``ipywidgets`` (imported here, not at module import).

    Raises
    ------
    ValueError
        As :func:`slider_html`.
    """
    import ipywidgets as widgets

    rho_values, beta_values, metric_names = _check_grid(points, rho_values, beta_values)
    initial = _check_initial(points, initial, rho_values, beta_values)
    rho = widgets.SelectionSlider(options=[(_grid_label(v), v) for v in rho_values], value=initial[0], description="ρ")
    beta = widgets.SelectionSlider(
        options=[(_grid_label(v), v) for v in beta_values], value=initial[1], description="β"
    )
    mosaic = widgets.Image(format="png")
    histogram = widgets.Image(format="png")
    table = widgets.HTML()

    def show(_change=None):
        point = points[rho.value, beta.value]
        mosaic.value = bytes(point["mosaic_png"])
        histogram.value = bytes(point["histogram_png"])
        table.value = (
            '<table class="explorer-metrics">'
            + "".join(
                f"<tr><th>{html.escape(name)}</th><td>{format_value(point['metrics'][name], decimals)}</td></tr>"
                for name in metric_names
            )
            + "</table>"
        )

    rho.observe(show, names="value")
    beta.observe(show, names="value")
    show()
    return widgets.VBox([rho, beta, widgets.HBox([mosaic, histogram]), table])
