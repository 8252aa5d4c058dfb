"""Feature dashboards: a static HTML selector for the book and a live widget for JupyterLab.

The cards come from :func:`autoencoder.experiments.dashboard.feature_cards`;
this module only draws them.

:func:`dashboard_html` turns the cards of a few networks (*families*) into one
self-contained HTML fragment, like :func:`autoencoder.book.explorer.slider_html`:
no library, no network, no kernel.  A drop-down picks the network, a slider
(and previous/next buttons) the feature; every card is pre-rendered as a
``<section>`` of plain HTML and SVG, and an inline script shows one at a time.
The digits and the decoder vectors are two inline PNG sprite sheets (each
digit stored once however many cards show it), cut out with CSS.  Displayed
with ``IPython.display.HTML`` it works in the built book (MyST-NB keeps the
HTML output, so the script runs at load) and in a trusted notebook.

:func:`feature_view` is the live version: an ipywidgets slider over every
feature of one network, redrawing :func:`plot_feature_card` for the feature
chosen.

Colours: digits in grey as in the other figures of the book; a decoder vector
``W2[:, j]`` with a diverging map centred at zero (red positive, blue
negative), scaled by its largest absolute weight.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import re
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from ..core._validation import check_int
from ..experiments.dashboard import N_CLASSES, QUANTILES, FeatureCard, feature_cards
from .explorer import SCRIPT_PRELUDE
from .plotting import mosaic_image, png_bytes

__all__ = [
    "dashboard_html",
    "feature_view",
    "plot_decoder",
    "plot_digits",
    "plot_card_histogram",
    "plot_selectivity",
    "plot_feature_card",
]

DECODER_CMAP = "RdBu_r"
DIGIT_SCALE = 2  # CSS pixels per digit pixel
DECODER_SCALE = 4
GREY_LEVELS = 16  # the digits are stored with 16 greys: half the bytes of 256, the same picture at this size
_SHEET_COLUMNS = 40
_ELEMENT_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")

_STYLE = """
.feature-dashboard { margin: 1em 0; font-size: 0.9em; }
.feature-dashboard .fd-controls { display: flex; flex-wrap: wrap; gap: 0.4em 0.8em; align-items: center; }
.feature-dashboard .fd-controls input[type=range] { flex: 1 1 8em; max-width: 20em; }
.feature-dashboard .fd-card[hidden] { display: none; }
.feature-dashboard .fd-row { display: flex; flex-wrap: wrap; gap: 0.5em 1.5em; align-items: flex-start; }
.feature-dashboard figure { margin: 0.4em 0; }
.feature-dashboard .fd-heading { margin: 0.6em 0 0.2em 0; font-weight: bold; }
.feature-dashboard .fd-strip { display: flex; flex-wrap: wrap; gap: 3px; }
.feature-dashboard .fd-strip i, .feature-dashboard .fd-decoder { display: block; image-rendering: pixelated;
  background-repeat: no-repeat; }
.feature-dashboard .fd-strip > span { display: flex; flex-direction: column; align-items: center;
  font-size: 0.75em; font-variant-numeric: tabular-nums; }
.feature-dashboard .fd-band { margin-right: 1.2em; }
.feature-dashboard svg { display: block; max-width: 100%; height: auto; }
.feature-dashboard .fd-classes { display: grid; grid-template-columns: 1.2em 8em 3.5em; gap: 1px 0.4em;
  align-items: center; font-variant-numeric: tabular-nums; }
.feature-dashboard .fd-classes b { display: block; height: 0.8em; background: #4878a8; }
.feature-dashboard .fd-classes .fd-best { font-weight: bold; }
.feature-dashboard .fd-classes b.fd-best { background: #c0392b; }
"""

# Plain JavaScript, run once per fragment; it finds its own container (the parent
# of the running script), so several fragments on a page stay independent.
_SCRIPT = (
    SCRIPT_PRELUDE
    + """  var cards = Array.prototype.slice.call(root.querySelectorAll("section.fd-card"));
  var family = root.querySelector("select[data-control=family]");
  var position = root.querySelector("input[data-control=position]");
  var label = root.querySelector("output[data-control=label]");
  function members() {
    return cards.filter(function (card) { return card.getAttribute("data-family") === family.value; });
  }
  function show() {
    var list = members();
    var i = Math.max(0, Math.min(Number(position.value), list.length - 1));
    cards.forEach(function (card) { card.hidden = true; });
    var card = list[i];
    card.hidden = false;
    label.textContent = card.getAttribute("data-label");
    position.setAttribute("aria-valuetext", card.getAttribute("data-label"));
    root.setAttribute("data-family", family.value);
    root.setAttribute("data-feature", card.getAttribute("data-feature"));
  }
  function step(delta) {
    var last = members().length - 1;
    position.value = String(Math.max(0, Math.min(last, Number(position.value) + delta)));
    show();
  }
  family.addEventListener("change", function () {
    position.max = String(members().length - 1);
    position.value = "0";
    show();
  });
  position.addEventListener("input", show);
  root.querySelector("button[data-control=previous]").addEventListener("click", function () { step(-1); });
  root.querySelector("button[data-control=next]").addEventListener("click", function () { step(1); });
})();
"""
)


def _number(value: float) -> str:
    """Three significant digits, the same text on every run."""
    return f"{float(value):.3g}"


def _check_images(images, patch_shape) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    h, w = patch_shape
    if images.ndim != 2 or images.shape[1] != h * w:
        raise ValueError(f"images must have shape (m, {h * w}) for patch_shape={patch_shape}; got {images.shape}")
    if not np.all(np.isfinite(images)):
        raise ValueError("images must hold finite numbers")
    return images


def _check_families(families, images: np.ndarray) -> dict[str, list[FeatureCard]]:
    if not isinstance(families, Mapping) or not families:
        raise ValueError("families must be a non-empty mapping {name: list of FeatureCard}")
    checked = {}
    for name, cards in families.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"families must be keyed by non-empty strings; got {name!r}")
        cards = list(cards)
        if not cards or not all(isinstance(card, FeatureCard) for card in cards):
            raise ValueError(f"families[{name!r}] must be a non-empty list of FeatureCard")
        features = [card.feature for card in cards]
        if len(set(features)) != len(features):
            raise ValueError(f"families[{name!r}] shows a feature twice: {features}")
        for card in cards:
            if card.decoder.shape != (images.shape[1],):
                raise ValueError(
                    f"families[{name!r}]: feature {card.feature} has a decoder of shape {card.decoder.shape}, "
                    f"images have {images.shape[1]} pixels"
                )
            shown = np.concatenate([card.top, *card.band_samples])
            if shown.size and shown.max() >= images.shape[0]:
                raise ValueError(
                    f"families[{name!r}]: feature {card.feature} shows digit {shown.max()}, "
                    f"images has {images.shape[0]} rows"
                )
        checked[name] = cards
    return checked


def _png(pixels: np.ndarray, palette: np.ndarray) -> str:
    """A data URI of a PNG of palette indices ``pixels`` (2-D uint8) and ``palette`` (k, 3) uint8 colours."""
    image = Image.fromarray(pixels)
    image.putpalette(palette.ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True, bits=8 if len(palette) > 16 else 4)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _sheet(patches: np.ndarray, patch_shape) -> tuple[np.ndarray, int]:
    """Tile ``patches`` (k, h, w) in rows of at most ``_SHEET_COLUMNS``; return the sheet and its columns."""
    k = patches.shape[0]
    h, w = patch_shape
    columns = min(k, _SHEET_COLUMNS)
    rows = math.ceil(k / columns)
    sheet = np.zeros((rows * h, columns * w), dtype=np.uint8)
    for i in range(k):
        r, c = divmod(i, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = patches[i]
    return sheet, columns


def _grey_levels(images: np.ndarray) -> np.ndarray:
    """Digits as indices of :data:`GREY_LEVELS` greys: [0, 1] when they lie in it, else their own range."""
    low, high = (0.0, 1.0) if images.min() >= 0 and images.max() <= 1 else (images.min(), images.max())
    scaled = (images - low) / (high - low if high > low else 1.0)
    return np.round((GREY_LEVELS - 1) * np.clip(scaled, 0, 1)).astype(np.uint8)


def _grey_palette() -> np.ndarray:
    return np.repeat(np.round(np.linspace(0, 255, GREY_LEVELS)).astype(np.uint8)[:, None], 3, axis=1)


def _decoder_levels(vectors: np.ndarray) -> np.ndarray:
    """Decoder vectors (k, n) as indices 0..255 of :func:`_decoder_palette`, each scaled by its largest weight."""
    scale = np.abs(vectors).max(axis=1, keepdims=True)
    unit = vectors / np.where(scale > 0, scale, 1.0)
    return np.round(127.5 * (unit + 1)).astype(np.uint8)


def _decoder_palette() -> np.ndarray:
    rgba = plt.get_cmap(DECODER_CMAP)(np.linspace(0, 1, 256))
    return np.round(255 * rgba[:, :3]).astype(np.uint8)


def _histogram_svg(card: FeatureCard) -> str:
    """The histogram as one SVG path of bars, 10 units wide each, the tallest 60 high."""
    counts, edges = card.histogram_counts, card.histogram_edges
    bins, height = len(counts), 60
    width = 10 * bins
    tallest = max(int(counts.max()), 1)
    bars = "".join(f"M{10 * b} {height}v-{height * c / tallest:.1f}h9V{height}z" for b, c in enumerate(counts) if c)
    caption = (
        f"Histogram of the {card.n_active} active activations of feature {card.feature}, "
        f"{bins} bins from {_number(edges[0])} to {_number(edges[-1])}, at most {tallest} digits per bin"
    )
    return (
        f'<svg viewBox="0 0 {width} {height + 12}" width="240" role="img" aria-label="{html.escape(caption)}">'
        f'<path fill="#4878a8" d="{bars or "M0 0"}"/><path stroke="currentColor" d="M0 {height}H{width}"/>'
        f'<g font-size="9" fill="currentColor"><text x="0" y="{height + 10}">{_number(edges[0])}</text>'
        f'<text x="{width}" y="{height + 10}" text-anchor="end">{_number(edges[-1])}</text></g></svg>'
    )


def _classes_html(card: FeatureCard) -> str:
    tallest = card.class_fractions.max()
    rows = []
    for c in range(N_CLASSES):
        fraction = card.class_fractions[c]
        best = ' class="fd-best"' if c == card.selective_class else ""
        width = 100 * fraction / tallest if tallest > 0 else 0
        mean = "no digits" if np.isnan(card.class_means[c]) else f"mean a = {_number(card.class_means[c])}"
        rows.append(
            f'<span{best}>{c}</span><span title="{mean}"><b{best} style="width:{width:.0f}%"></b></span>'
            f"<span{best}>{100 * fraction:.0f}%</span>"
        )
    return '<div class="fd-classes">' + "".join(rows) + "</div>"


def _band_caption(card: FeatureCard, b: int) -> str:
    if not card.alive:
        return f"quantiles {card.band_labels[b]}: no active digits"
    low, high = card.band_bounds[b]
    return f"quantiles {card.band_labels[b]}: a in {_number(low)}..{_number(high)}"


def _card_html(
    card: FeatureCard,
    family: str,
    position: int,
    total: int,
    shown: bool,
    digit_at: dict[int, tuple[int, int]],
    decoder_at: tuple[int, int],
    patch_shape,
) -> str:
    h, w = patch_shape
    esc = html.escape

    def digits(indices, activations) -> str:
        shown = []
        for index, activation in zip(indices, activations, strict=True):
            x, y = digit_at[int(index)]
            shown.append(
                f'<span><i style="background-position:-{x * DIGIT_SCALE}px -{y * DIGIT_SCALE}px" '
                f'title="test digit {int(index)}"></i>{_number(activation)}</span>'
            )
        return "".join(shown)

    top = digits(card.top, card.top_activations)
    bands = "".join(
        f'<div class="fd-band"><div>{esc(_band_caption(card, b))}</div><div class="fd-strip">'
        f"{digits(samples, card.band_activations[b])}</div></div>"
        for b, samples in enumerate(card.band_samples)
    )
    label = f"feature {card.feature} ({position + 1} of {total})"
    x, y = decoder_at
    density = (
        f"density ν = {_number(card.density)}: active (a &gt; {_number(card.threshold)}) on {card.n_active} test digits"
    )
    share = 100 * card.class_fractions[card.selective_class]
    selective = f"most selective for {card.selective_class} ({share:.0f}% of its activation mass)"
    return f"""<section class="fd-card" data-family="{esc(family)}" data-feature="{card.feature}" \
data-position="{position}" data-label="{esc(label)}"{"" if shown else " hidden"}>
<div class="fd-row">
<figure><i class="fd-decoder" style="width:{w * DECODER_SCALE}px;height:{h * DECODER_SCALE}px;\
background-position:-{x * DECODER_SCALE}px -{y * DECODER_SCALE}px" role="img" \
aria-label="decoder vector of feature {card.feature}"></i>\
<figcaption>Decoder W2[:, {card.feature}]</figcaption></figure>
<div><p class="fd-heading">Activations</p>{_histogram_svg(card)}<p>{density}</p></div>
<div><p class="fd-heading">Share of activation mass by digit class</p>{_classes_html(card)}\
<p>{esc(selective)}</p></div>
</div>
<p class="fd-heading">Top activations</p><div class="fd-strip">{top or "none: the feature never fires"}</div>
<p class="fd-heading">Samples from quantile bands of the active digits</p><div class="fd-row">{bands}</div>
</section>"""


def dashboard_html(
    families: Mapping[str, Sequence[FeatureCard]],
    images,
    *,
    element_id: str | None = None,
    title: str | None = None,
    patch_shape: tuple[int, int] = (28, 28),
) -> str:
    """Return one self-contained HTML fragment browsing the feature cards of several networks.

    Parameters
    ----------
    families : mapping of str to list of FeatureCard
        ``{network name: cards}``, e.g. ``{"2023: ReLU + L1": feature_cards(...)}``;
        the drop-down lists the names in this order, the slider runs over
        each network's cards in their order.
    images : ndarray of shape (m, h * w)
        The test digits the cards index (the ``images`` given to
        :func:`~autoencoder.experiments.dashboard.feature_cards`).
    element_id : str, optional
        The id of the container; the controls' ids derive from it.  By default
        ``"feature-dashboard-"`` and a digest of the content, so two different
        fragments on one page never share an id, and a rerun writes the same
        text.
    title : str, optional
        A heading shown above the controls.
    patch_shape : tuple of int, default (28, 28)

    Returns
    -------
    str
        A ``<div class="feature-dashboard">`` whose attributes ``data-family``
        and ``data-feature`` name the card shown, holding a family
        ``<select>``, a position slider with previous/next buttons, and one
        ``<section class="fd-card">`` per card (all but one ``hidden``).
        Images are inline PNG sprite sheets; nothing is loaded from elsewhere.

    Raises
    ------
    ValueError
        If ``families`` is empty, a family has no cards or a feature twice, a
        card does not match ``images`` (decoder length, digit index), or
        ``element_id`` is not a valid id.
    """
    images = _check_images(images, patch_shape)
    families = _check_families(families, images)
    if element_id is not None and (not isinstance(element_id, str) or not _ELEMENT_ID.match(element_id)):
        raise ValueError(f"element_id must be letters, digits, '-' or '_', starting with a letter; got {element_id!r}")
    h, w = patch_shape
    all_cards = [card for cards in families.values() for card in cards]

    used = sorted({int(i) for card in all_cards for i in np.concatenate([card.top, *card.band_samples])})
    digit_uri, digit_at, digit_columns = "", {}, 1
    if used:
        digits = _grey_levels(images)[used].reshape(len(used), h, w)
        sheet, digit_columns = _sheet(digits, patch_shape)
        digit_uri = _png(sheet, _grey_palette())
        digit_at = {index: ((k % digit_columns) * w, (k // digit_columns) * h) for k, index in enumerate(used)}
    decoders = _decoder_levels(np.stack([card.decoder for card in all_cards])).reshape(len(all_cards), h, w)
    decoder_sheet, decoder_columns = _sheet(decoders, patch_shape)
    decoder_uri = _png(decoder_sheet, _decoder_palette())

    sections, k = [], 0
    for f, (name, cards) in enumerate(families.items()):
        for position, card in enumerate(cards):
            at = ((k % decoder_columns) * w, (k // decoder_columns) * h)
            sections.append(
                _card_html(card, name, position, len(cards), f == 0 and position == 0, digit_at, at, patch_shape)
            )
            k += 1
    body = "\n".join(sections)
    if element_id is None:
        digest = hashlib.sha256((body + digit_uri + decoder_uri).encode()).hexdigest()[:12]
        element_id = f"feature-dashboard-{digest}"
    eid = html.escape(element_id)
    esc = html.escape
    first_name, first_cards = next(iter(families.items()))
    first = first_cards[0]
    options = "".join(f'<option value="{esc(name)}">{esc(name)}</option>' for name in families)
    digit_rows = math.ceil(max(len(used), 1) / digit_columns)
    style = (
        _STYLE + f"#{eid} .fd-strip i {{ width:{w * DIGIT_SCALE}px; height:{h * DIGIT_SCALE}px; "
        f"background-image:url({digit_uri}); "
        f"background-size:{digit_columns * w * DIGIT_SCALE}px {digit_rows * h * DIGIT_SCALE}px; }}\n"
        f"#{eid} .fd-decoder {{ background-image:url({decoder_uri}); "
        f"background-size:{decoder_sheet.shape[1] * DECODER_SCALE}px {decoder_sheet.shape[0] * DECODER_SCALE}px; }}\n"
    )
    heading = f'<p class="fd-title"><strong>{esc(title)}</strong></p>\n' if title else ""
    label = f"feature {first.feature} (1 of {len(first_cards)})"
    return f"""<div class="feature-dashboard" id="{eid}" data-family="{esc(first_name)}" \
data-feature="{first.feature}">
<style>{style}</style>
{heading}<div class="fd-controls">
<label for="{eid}-family">Network</label>
<select id="{eid}-family" data-control="family">{options}</select>
<button type="button" data-control="previous" aria-label="previous feature">&#9664;</button>
<input type="range" id="{eid}-position" data-control="position" min="0" max="{len(first_cards) - 1}" \
step="1" value="0" aria-label="feature" aria-valuetext="{esc(label)}">
<button type="button" data-control="next" aria-label="next feature">&#9654;</button>
<output data-control="label" for="{eid}-position">{esc(label)}</output>
</div>
{body}
<script>{_SCRIPT % {"element_id": json.dumps(element_id)}}</script>
</div>"""


def plot_decoder(card: FeatureCard, ax=None, patch_shape=(28, 28)):
    """Draw the decoder vector ``W2[:, j]`` as an image, zero at the centre of the map; returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(2.5, 2.5))
    limit = float(np.abs(card.decoder).max()) or 1.0
    ax.imshow(card.decoder.reshape(patch_shape), cmap=DECODER_CMAP, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"decoder $W_2[:, {card.feature}]$", fontsize="medium")
    return ax


def plot_digits(images, indices, ax=None, patch_shape=(28, 28), title=None):
    """Draw the digits ``images[indices]`` side by side in grey; returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 1))
    indices = np.asarray(indices, dtype=np.intp)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize="small", loc="left")
    if indices.size == 0:
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
        return ax
    strip = mosaic_image(np.asarray(images)[indices], patch_shape, n_cols=indices.size, normalize="none")
    ax.imshow(strip, cmap=plt.get_cmap("gray").with_extremes(bad="white"), vmin=0, vmax=1, interpolation="nearest")
    return ax


def plot_card_histogram(card: FeatureCard, ax=None):
    """Draw the histogram of the feature's active activations; returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 2))
    edges = card.histogram_edges
    ax.bar(edges[:-1], card.histogram_counts, width=np.diff(edges), align="edge", color="tab:blue")
    ax.set_xlabel("activation a")
    ax.set_ylabel("test digits")
    ax.set_title(f"density ν = {_number(card.density)} ({card.n_active} digits)", fontsize="medium")
    return ax


def plot_selectivity(card: FeatureCard, ax=None):
    """Draw the share of activation mass by digit class, the most selective class in red; returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 2))
    colours = ["tab:red" if c == card.selective_class else "tab:blue" for c in range(N_CLASSES)]
    ax.bar(np.arange(N_CLASSES), card.class_fractions, color=colours)
    ax.set_xticks(np.arange(N_CLASSES))
    ax.set_xlabel("digit class")
    ax.set_ylabel("share of activation mass")
    ax.set_ylim(0, 1)
    ax.set_title(f"most selective for {card.selective_class}", fontsize="medium")
    return ax


def plot_feature_card(card: FeatureCard, images, fig=None, patch_shape=(28, 28)):
    """Draw every panel of a card in one figure; returns the figure.

    The decoder vector, the activation histogram and the class shares on the
    first row; the top-activating digits; one row of samples per quantile band.
    """
    bands = len(card.band_samples)
    if fig is None:
        fig = plt.figure(figsize=(9, 3.2 + 0.9 * (1 + bands)))
    grid = fig.add_gridspec(2 + bands, 3, height_ratios=[3.2] + [0.9] * (1 + bands), hspace=0.6, wspace=0.35)
    plot_decoder(card, fig.add_subplot(grid[0, 0]), patch_shape)
    plot_card_histogram(card, fig.add_subplot(grid[0, 1]))
    plot_selectivity(card, fig.add_subplot(grid[0, 2]))
    tops = ", ".join(_number(a) for a in card.top_activations)
    plot_digits(images, card.top, fig.add_subplot(grid[1, :]), patch_shape, f"top activations: {tops}")
    for b, samples in enumerate(card.band_samples):
        plot_digits(images, samples, fig.add_subplot(grid[2 + b, :]), patch_shape, _band_caption(card, b))
    fig.suptitle(f"Feature {card.feature}")
    return fig


def feature_view(
    codes,
    decoder,
    images,
    labels,
    *,
    threshold: float = 0.0,
    n_top: int = 8,
    n_samples: int = 4,
    bins: int = 20,
    quantiles: Sequence[float] = QUANTILES,
    seed: int = 0,
    initial: int = 0,
    patch_shape: tuple[int, int] = (28, 28),
):
    """Return an ipywidgets box showing the card of any feature of one network, for a live kernel.

    An ``IntSlider`` runs over all ``p`` features; on each move the card of
    the feature is computed with
    :func:`~autoencoder.experiments.dashboard.feature_cards` (same parameters)
    and drawn with :func:`plot_feature_card` into an ``Image`` widget, with a
    one-line summary under it.  Needs ``ipywidgets`` (imported here).

    Parameters
    ----------
    codes, decoder, images, labels
        As for :func:`~autoencoder.experiments.dashboard.feature_cards`.
    threshold, n_top, n_samples, bins, quantiles, seed
        As for :func:`~autoencoder.experiments.dashboard.feature_cards`.
    initial : int, default 0
        The feature shown first.
    patch_shape : tuple of int, default (28, 28)

    Returns
    -------
    ipywidgets.VBox
        ``children`` are the slider, the image and the summary (``HTML``).

    Raises
    ------
    ValueError
        As :func:`~autoencoder.experiments.dashboard.feature_cards`, or if
        ``initial`` is not a feature.
    """
    import ipywidgets as widgets

    codes, decoder, labels = np.asarray(codes), np.asarray(decoder), np.asarray(labels)
    images = _check_images(images, patch_shape)
    options = {
        "n_top": n_top,
        "n_samples": n_samples,
        "threshold": threshold,
        "bins": bins,
        "quantiles": quantiles,
        "seed": seed,
    }
    if codes.ndim == 2 and codes.shape[1] > 0:
        initial = check_int("initial", initial, 0, codes.shape[1] - 1)
    first = feature_cards(codes, decoder, images, labels, [initial], **options)[0]
    slider = widgets.IntSlider(
        value=first.feature, min=0, max=codes.shape[1] - 1, description="feature", continuous_update=False
    )
    picture = widgets.Image(format="png")
    summary = widgets.HTML()

    def show(card: FeatureCard) -> None:
        picture.value = png_bytes(plot_feature_card(card, images, patch_shape=patch_shape))
        share = 100 * card.class_fractions[card.selective_class]
        summary.value = (
            f"feature {card.feature}: density ν = {_number(card.density)} "
            f"({card.n_active} of {codes.shape[0]} test digits, a &gt; {_number(card.threshold)}); "
            f"most selective for {card.selective_class} ({share:.0f}% of its activation mass)"
        )

    def on_change(change) -> None:
        show(feature_cards(codes, decoder, images, labels, [change["new"]], **options)[0])

    slider.observe(on_change, names="value")
    show(first)
    return widgets.VBox([slider, picture, summary])
