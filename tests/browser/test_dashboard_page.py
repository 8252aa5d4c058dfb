"""Browser test of the feature dashboard fragment, opened from disk.

Two fragments of :func:`autoencoder.book.dashboard_figures.dashboard_html` are
written into one standalone HTML file under ``tmp_path`` and opened with
``file://`` in a context that aborts, and records, any request outside that
folder.  Moving the family drop-down, the slider and the previous/next buttons
of one fragment changes the card it shows and leaves the other alone; no
request leaves the page and no script fails.  Needs no built book.

Run with ``pytest -m browser tests/browser/test_dashboard_page.py``; a
screenshot goes to ``tests/artifacts/screenshots/dashboard-moved.png``.
"""

from __future__ import annotations

import numpy as np
import pytest

from autoencoder.book.dashboard_figures import dashboard_html
from autoencoder.experiments.dashboard import choose_features, feature_cards

pytestmark = pytest.mark.browser


def fragments() -> tuple[str, str, dict]:
    """Two fragments: one of two networks (4 and 3 features), one of a single network."""
    rng = np.random.default_rng(3)
    m, n, p = 150, 784, 16
    images = (rng.uniform(size=(m, n)) > 0.8) * rng.uniform(size=(m, n))
    labels = rng.integers(0, 10, size=m)
    families = {}
    for name, count in (("first net", 4), ("second net", 3)):
        codes = np.maximum(rng.normal(size=(m, p)) - 1.0, 0)
        network = {"codes": codes, "decoder": rng.normal(size=(n, p)), "images": images, "labels": labels}
        families[name] = feature_cards(**network, features=choose_features(codes, count))
    other = {"lone net": families["second net"][:2]}
    expected = {name: [str(card.feature) for card in cards] for name, cards in families.items()}
    return dashboard_html(families, images, title="Two networks"), dashboard_html(other, images), expected


@pytest.fixture
def dashboard_page(tmp_path, open_site):
    first, second, expected = fragments()
    page_file = tmp_path / "dashboard.html"
    page_file.write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Feature dashboard</title></head>\n'
        f"<body>\n{first}\n{second}\n</body></html>\n",
        encoding="utf-8",
    )
    view = open_site(tmp_path.as_uri() + "/")
    view.goto(page_file.name)
    return view, expected


class Dashboard:
    """One fragment on the page."""

    def __init__(self, page, index: int):
        self.page = page
        self.root = page.locator(".feature-dashboard").nth(index)
        self.family = self.root.locator("select[data-control=family]")
        self.slider = self.root.locator("input[data-control=position]")

    def shown(self) -> tuple[str, str]:
        """(family, feature) of the root's attributes, checked against the one visible section."""
        visible = self.root.locator("section.fd-card:visible")
        assert visible.count() == 1, "exactly one card is shown"
        family, feature = self.root.get_attribute("data-family"), self.root.get_attribute("data-feature")
        assert (visible.get_attribute("data-family"), visible.get_attribute("data-feature")) == (family, feature)
        label = self.root.locator("output[data-control=label]").text_content()
        assert label == visible.get_attribute("data-label")
        return family, feature

    def press(self, control: str) -> None:
        self.root.locator(f"button[data-control={control}]").click()

    def sprites_loaded(self) -> bool:
        """Every digit and decoder of the visible card has its sprite sheet decoded."""
        return self.page.evaluate(
            """root => {
              const shown = root.querySelector("section.fd-card:not([hidden])");
              const tiles = [...shown.querySelectorAll(".fd-strip i, .fd-decoder")];
              const urls = new Set(tiles.map(t => getComputedStyle(t).backgroundImage.slice(5, -2)));
              return tiles.length > 0 && [...urls].every(u => u.startsWith("data:image/png;base64,")) &&
                Promise.all([...urls].map(u => { const img = new Image(); img.src = u; return img.decode()
                  .then(() => img.naturalWidth > 0, () => false); })).then(ok => ok.every(Boolean));
            }""",
            self.root.element_handle(),
        )


def test_dashboard_moves_through_features_offline(dashboard_page, screenshots):
    view, expected = dashboard_page
    page = view.page
    first, second = Dashboard(page, 0), Dashboard(page, 1)
    assert page.locator(".feature-dashboard").count() == 2
    first_net, second_net = expected["first net"], expected["second net"]
    assert first.shown() == ("first net", first_net[0])
    assert second.shown() == ("lone net", second_net[0])
    assert first.sprites_loaded()

    first.slider.fill("2")
    assert first.shown() == ("first net", first_net[2])
    first.press("next")
    assert first.shown() == ("first net", first_net[3])
    first.press("next")  # stops at the last feature
    assert first.shown() == ("first net", first_net[3])
    first.press("previous")
    assert first.shown() == ("first net", first_net[2])

    first.family.select_option("second net")
    assert first.shown() == ("second net", second_net[0])
    assert first.slider.get_attribute("max") == str(len(second_net) - 1)
    first.slider.focus()
    page.keyboard.press("End")
    assert first.shown() == ("second net", second_net[-1])
    assert first.sprites_loaded()

    # The other fragment on the page did not move.
    assert second.shown() == ("lone net", second_net[0])
    second.press("next")
    assert second.shown() == ("lone net", second_net[1])
    assert first.shown() == ("second net", second_net[-1])

    first.root.screenshot(path=screenshots / "dashboard-moved.png")
    view.assert_clean()
