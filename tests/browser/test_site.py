"""Browser tests of the built book: every page loads offline and cleanly, the
equations render with the vendored MathJax, the images load, the bibliography
is there, and the (ρ, β) explorer shows the stored data of each grid point.

Run after ``make book``: ``pytest -m browser tests/browser``.  Full-page
screenshots go to ``tests/artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def toc_pages(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """The HTML path of every page in ``_toc.yml``, in reading order."""
    pages = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    pages.append(f"{node[key]}.html")
            for key in ("parts", "chapters", "sections"):
                walk(node.get(key, []))
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc_path.read_text(encoding="utf-8")))
    return pages


pytestmark = pytest.mark.browser

PAGES = toc_pages()
EXPLORER_PAGE = "book/generated/07_explore_rho_beta.html"
REFERENCES_PAGE = "book/references.html"


def screenshot_name(prefix: str, path: str) -> str:
    return prefix + re.sub(r"[^A-Za-z0-9_.-]", "_", path.removesuffix(".html")) + ".png"


def wait_for_math(page) -> int:
    """Wait for MathJax to typeset the page; return the number of equations."""
    equations = page.locator(".math").count()
    if equations:
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
    return equations


def check_math(page) -> None:
    untypeset = page.locator(".math:not(:has(mjx-container))").count()
    assert untypeset == 0, f"{untypeset} equations were not typeset by MathJax"
    assert page.locator("mjx-container").count() > 0
    errors = page.locator("mjx-merror").all_text_contents()
    assert not errors, f"MathJax errors: {errors}"
    failed_fonts = page.evaluate(
        "() => document.fonts.ready.then(fonts => [...fonts].filter(f => f.status === 'error').map(f => f.family))"
    )
    assert not failed_fonts, f"fonts that failed to load: {failed_fonts}"


def broken_images(page) -> list[str]:
    return page.evaluate(
        """() => Promise.all([...document.images].map(img => {
            img.loading = "eager";
            return img.decode().then(() => null, () => null).then(
                () => (img.complete && img.naturalWidth > 0) ? null : img.src.slice(0, 120));
        })).then(srcs => srcs.filter(src => src !== null))"""
    )


def broken_links(page, site: Path, prefix: str) -> list[str]:
    """Links within the site whose target file does not exist."""
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    missing = []
    for href in sorted(set(hrefs)):
        url = urljoin(page.url, href)
        if not url.startswith(prefix):
            continue
        path = unquote(urlsplit(url[len(prefix) :]).path)
        if not (site / path).exists():
            missing.append(href)
    return missing


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_cleanly_offline(path, site, site_url, open_site, screenshots):
    assert (site / path).is_file(), f"{path} is in _toc.yml but was not built"
    view = open_site(site_url)
    page = view.goto(path)
    equations = wait_for_math(page)
    if equations:
        check_math(page)
    assert not broken_images(page), f"images that did not load: {broken_images(page)}"
    assert not broken_links(page, site, site_url), f"links to missing files: {broken_links(page, site, site_url)}"
    page.screenshot(path=screenshots / screenshot_name("", path), full_page=True)
    view.assert_clean()


def test_intro_has_rendered_equations(site, site_url, open_site):
    view = open_site(site_url)
    page = view.goto("book/intro.html")
    assert wait_for_math(page) >= 3
    check_math(page)
    view.assert_clean()


def test_bibliography_renders(site, site_url, open_site):
    view = open_site(site_url)
    page = view.goto(REFERENCES_PAGE)
    entries = page.locator('[role="doc-biblioentry"]')
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    assert entries.count() == len(re.findall(r"^@\w+\{", bib, flags=re.MULTILINE))
    text = page.locator("main").inner_text()
    for author in ("Baldi", "Bourlard", "Ramsundar", "LeCun", "Nocedal"):
        assert author in text
    view.assert_clean()


def test_citations_link_to_the_bibliography(site, site_url, open_site):
    view = open_site(site_url)
    page = view.goto("book/intro.html")
    targets = page.eval_on_selector_all(
        "a.reference.internal[href*='references.html#']", "links => links.map(a => a.hash)"
    )
    assert targets, "the introduction cites nothing"
    references = view.goto(REFERENCES_PAGE)
    for target in targets:
        assert references.locator(target).count() == 1, f"citation target {target} is missing"


class Explorer:
    """The first (ρ, β) explorer of a page, and the data stored in it."""

    def __init__(self, page):
        self.page = page
        self.root = page.locator(".rho-beta-explorer").first
        self.data = json.loads(self.root.locator("script.explorer-data").text_content())
        self.rho = self.root.locator("input[data-parameter=rho]")
        self.beta = self.root.locator("input[data-parameter=beta]")
        self.mosaic = self.root.locator("img.explorer-mosaic")
        self.histogram = self.root.locator("img.explorer-histogram")
        # The initial point's images are the <img> sources served with the page.
        self.initial_images = (self.mosaic.get_attribute("src"), self.histogram.get_attribute("src"))

    def expected(self, i: int, j: int) -> dict:
        key = f"{i},{j}"
        point = dict(self.data["points"][key])
        if key == self.data["initial"]:
            point["mosaic"], point["histogram"] = self.initial_images
        return point

    def shown_metric(self, name: str) -> str:
        """The text the page shows now for the metric ``name``."""
        return self.root.locator(f'tr[data-metric="{name}"] td.explorer-metric-value').text_content()

    def set(self, i: int, j: int) -> None:
        self.rho.fill(str(i))
        self.beta.fill(str(j))

    def check_shows(self, i: int, j: int) -> None:
        point = self.expected(i, j)
        where = f"grid point rho={self.data['rho_labels'][i]}, beta={self.data['beta_labels'][j]}"
        assert self.mosaic.get_attribute("src") == point["mosaic"], where
        assert self.histogram.get_attribute("src") == point["histogram"], where
        shown = self.root.locator("td.explorer-metric-value").all_text_contents()
        assert shown == point["metrics"], where
        assert self.root.get_attribute("data-rho") == self.data["rho_labels"][i]
        assert self.root.get_attribute("data-beta") == self.data["beta_labels"][j]
        outputs = self.root.locator("output").all_text_contents()
        assert outputs == [self.data["rho_labels"][i], self.data["beta_labels"][j]]
        loaded = self.page.evaluate(
            "imgs => imgs.every(img => img.complete && img.naturalWidth > 0)",
            [self.mosaic.element_handle(), self.histogram.element_handle()],
        )
        assert loaded, f"images of {where} did not load"


def explorer_page(open_site, prefix: str):
    view = open_site(prefix)
    page = view.goto(EXPLORER_PAGE)
    count = page.locator(".rho-beta-explorer").count()
    assert count >= 1, f"{EXPLORER_PAGE} has no slider explorer"
    return view, Explorer(page)


def test_explorer_sliders_show_each_stored_grid_point(site, site_url, open_site, screenshots):
    view, explorer = explorer_page(open_site, site_url)
    i0, j0 = map(int, explorer.data["initial"].split(","))
    explorer.check_shows(i0, j0)
    grid = [(i, j) for i in range(len(explorer.data["rho"])) for j in range(len(explorer.data["beta"]))]
    assert len(explorer.data["points"]) == len(grid)
    for i, j in grid:
        explorer.set(i, j)
        explorer.check_shows(i, j)
    explorer.set(i0, j0)
    explorer.check_shows(i0, j0)
    # The keyboard moves one step per key, like a reader would.
    explorer.rho.focus()
    explorer.page.keyboard.press("End")
    explorer.beta.focus()
    explorer.page.keyboard.press("End")
    last = (len(explorer.data["rho"]) - 1, len(explorer.data["beta"]) - 1)
    explorer.check_shows(*last)
    if last[1] > 0:
        explorer.page.keyboard.press("ArrowLeft")
        explorer.check_shows(last[0], last[1] - 1)
    explorer.root.screenshot(path=screenshots / "explorer-moved.png")
    view.assert_clean()


def test_explorer_slider_moves_the_localized_fraction(site, site_url, open_site):
    # The share of localized features is among the numbers under the sliders, and follows them.
    view, explorer = explorer_page(open_site, site_url)
    name = "localized features"
    assert name in explorer.data["metric_names"]
    k = explorer.data["metric_names"].index(name)
    i0, j0 = map(int, explorer.data["initial"].split(","))
    assert explorer.shown_metric(name) == explorer.expected(i0, j0)["metrics"][k]
    others = [
        (i, j)
        for i in range(len(explorer.data["rho"]))
        for j in range(len(explorer.data["beta"]))
        if explorer.expected(i, j)["metrics"][k] != explorer.expected(i0, j0)["metrics"][k]
    ]
    assert others, "every grid point shows the same localized fraction: the check could not fail"
    for i, j in (others[0], others[-1]):
        explorer.set(i, j)
        assert explorer.shown_metric(name) == explorer.expected(i, j)["metrics"][k]
    view.assert_clean()


def test_explorer_works_from_disk(site, open_site, screenshots):
    view, explorer = explorer_page(open_site, site.as_uri() + "/")
    assert wait_for_math(explorer.page) >= 0
    if explorer.page.locator(".math").count():
        check_math(explorer.page)
    last = (len(explorer.data["rho"]) - 1, len(explorer.data["beta"]) - 1)
    explorer.set(*last)
    explorer.check_shows(*last)
    explorer.page.screenshot(path=screenshots / screenshot_name("file-", EXPLORER_PAGE), full_page=True)
    view.assert_clean()


def test_intro_math_renders_from_disk(site, open_site):
    view = open_site(site.as_uri() + "/")
    page = view.goto("book/intro.html")
    assert wait_for_math(page) >= 3
    check_math(page)
    view.assert_clean()
