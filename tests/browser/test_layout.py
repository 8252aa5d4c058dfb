"""Browser tests of the book's layout: what a page shows fits its column.

At a 1280-pixel window (both sidebars shown, the narrowest column) and at an
800-pixel one (sidebars folded away), on every page of ``_toc.yml``:

* no output box, code block, table or image reaches past the page column
  (``main .bd-article``, inside its padding);
* no output (``div.cell_output`` and what it holds) is cut: its content is not
  wider than its box, so nothing hides behind a horizontal scroll bar.  Code
  blocks of the sources may scroll; the outputs, which carry the numbers the
  text cites, may not.

And the (ρ, β) explorer puts the mosaic on the left of the histogram, as its
text says, when the column is wide, and above it on a phone-sized window.

Run after ``make book``: ``pytest -m browser tests/browser``.  Full-page
screenshots go to ``tests/artifacts/screenshots/layout-<width>-<page>.png``.
"""

from __future__ import annotations

import pytest
from test_site import EXPLORER_PAGE, broken_images, screenshot_name, toc_pages, wait_for_math

pytestmark = pytest.mark.browser

PAGES = toc_pages()
WIDTHS = (1280, 800)
HEIGHT = 900
PHONE_WIDTH = 420
SLACK_PX = 1  # rounding of fractional layout positions

# Every box that must lie inside the column, and whether its content must fit its box (outputs only).
_MEASURE = """slack => {
  const column = document.querySelector("main .bd-article");
  if (!column) { return null; }
  const box = column.getBoundingClientRect(), style = getComputedStyle(column);
  const left = box.left + parseFloat(style.paddingLeft), right = box.right - parseFloat(style.paddingRight);
  const selector = "div.cell_output, .output, pre, table, img";
  const problems = [];
  for (const element of column.querySelectorAll(selector)) {
    const rect = element.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0) { continue; }  // not shown (a folded cell)
    const output = element.closest("div.cell_output") !== null;
    const outside = rect.left < left - slack || rect.right > right + slack;
    const cut = output && element.scrollWidth > element.clientWidth + slack;
    if (outside || cut) {
      const text = (element.innerText || element.getAttribute("alt") || "").trim().split("\\n")[0];
      problems.push(
        `${element.tagName.toLowerCase()}.${element.className || "-"}: ` +
        `${Math.round(rect.left)}-${Math.round(rect.right)} px ` +
        `in a column ${Math.round(left)}-${Math.round(right)} px` +
        (cut ? `, content ${element.scrollWidth} px in ${element.clientWidth} px` : "") +
        ` (${JSON.stringify(text.slice(0, 60))})`
      );
    }
  }
  return {left, right, checked: column.querySelectorAll(selector).length, problems};
}"""


def measure(page) -> dict:
    """The column of the page and the boxes that do not fit it (images decoded first)."""
    assert not broken_images(page), "images did not load, so their size is unknown"
    wait_for_math(page)
    result = page.evaluate(_MEASURE, SLACK_PX)
    assert result is not None, "the page has no main .bd-article column"
    return result


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", PAGES)
def test_every_output_fits_the_page_column(path, width, site, site_url, open_site, screenshots):
    assert (site / path).is_file(), f"{path} is in _toc.yml but was not built"
    view = open_site(site_url)
    page = view.goto(path)
    page.set_viewport_size({"width": width, "height": HEIGHT})
    result = measure(page)
    page.screenshot(path=screenshots / screenshot_name(f"layout-{width}-", path), full_page=True)
    assert result["right"] - result["left"] > 300, f"implausible column {result}"
    assert not result["problems"], f"{path} at {width} px: boxes past or cut by the page column:\n" + "\n".join(
        result["problems"]
    )


def figure_boxes(page) -> tuple[dict, dict]:
    explorer = page.locator(".rho-beta-explorer").first
    explorer.scroll_into_view_if_needed()
    mosaic = explorer.locator("img.explorer-mosaic").bounding_box()
    histogram = explorer.locator("img.explorer-histogram").bounding_box()
    assert mosaic and histogram, "the explorer's figures are not shown"
    return mosaic, histogram


@pytest.mark.parametrize("width", WIDTHS)
def test_explorer_shows_the_mosaic_left_of_the_histogram(width, site_url, open_site, screenshots):
    view = open_site(site_url)
    page = view.goto(EXPLORER_PAGE)
    page.set_viewport_size({"width": width, "height": HEIGHT})
    mosaic, histogram = figure_boxes(page)
    page.locator(".rho-beta-explorer").first.screenshot(path=screenshots / f"layout-{width}-explorer.png")
    assert mosaic["x"] + mosaic["width"] <= histogram["x"] + SLACK_PX, f"mosaic {mosaic}, histogram {histogram}"
    assert abs(mosaic["y"] - histogram["y"]) <= SLACK_PX, f"not side by side: mosaic {mosaic}, histogram {histogram}"


def test_explorer_stacks_its_figures_on_a_phone(site_url, open_site, screenshots):
    view = open_site(site_url)
    page = view.goto(EXPLORER_PAGE)
    page.set_viewport_size({"width": PHONE_WIDTH, "height": HEIGHT})
    mosaic, histogram = figure_boxes(page)
    page.locator(".rho-beta-explorer").first.screenshot(path=screenshots / f"layout-{PHONE_WIDTH}-explorer.png")
    assert histogram["y"] >= mosaic["y"] + mosaic["height"] - SLACK_PX, f"mosaic {mosaic}, histogram {histogram}"
    column = page.locator("main .bd-article").bounding_box()
    for name, box in (("mosaic", mosaic), ("histogram", histogram)):
        assert column["x"] <= box["x"] and box["x"] + box["width"] <= column["x"] + column["width"], name
