"""The static (ρ, β) explorer: structure of the HTML fragment and input validation."""

import base64
import json
import struct
import zlib

import numpy as np
import pytest
from bs4 import BeautifulSoup

from autoencoder.book.explorer import format_value, slider_html

RHO = [0.01, 0.05, 0.1]
BETA = [0.3, 3]


def tiny_png(red: int, green: int, blue: int) -> bytes:
    """A valid 1x1 RGB PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, green, blue]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def make_points(rho_values=RHO, beta_values=BETA):
    points = {}
    for i, rho in enumerate(rho_values):
        for j, beta in enumerate(beta_values):
            points[rho, beta] = {
                "mosaic_png": tiny_png(10 * i, 10 * j, 1),
                "histogram_png": tiny_png(10 * i, 10 * j, 2),
                "metrics": {
                    "mean activation": rho * (1 + 0.01 * j),
                    "near-silent units": np.int64(3 * i + j),
                    "reconstruction error": 1.0 / (1 + i + j),
                },
            }
    return points


def parse(fragment):
    soup = BeautifulSoup(fragment, "html.parser")
    root = soup.find("div", class_="rho-beta-explorer")
    data = json.loads(root.find("script", class_="explorer-data").string)
    return soup, root, data


def data_uri(png):
    return "data:image/png;base64," + base64.b64encode(png).decode()


def test_fragment_structure():
    fragment = slider_html(make_points(), rho_values=RHO, beta_values=BETA, title="A grid")
    soup, root, data = parse(fragment)
    assert root["id"] == "rho-beta-explorer"
    assert (root["data-rho"], root["data-beta"]) == ("0.01", "0.3")
    sliders = root.find_all("input", type="range")
    assert [(s["data-parameter"], s["max"], s["value"]) for s in sliders] == [
        ("rho", "2", "0"),
        ("beta", "1", "0"),
    ]
    assert data["rho_labels"] == ["0.01", "0.05", "0.1"]
    assert data["beta_labels"] == ["0.3", "3"]
    assert sorted(data["points"]) == ["0,0", "0,1", "1,0", "1,1", "2,0", "2,1"]
    assert "A grid" in root.get_text()
    inline = [s for s in root.find_all("script") if not s.get("type")]
    assert len(inline) == 1 and "addEventListener" in inline[0].string
    assert not root.find_all(src=lambda src: src and not src.startswith("data:"))


def test_every_grid_point_appears_exactly_once():
    points = make_points()
    fragment = slider_html(points, rho_values=RHO, beta_values=BETA)
    for point in points.values():
        for key in ("mosaic_png", "histogram_png"):
            assert fragment.count(base64.b64encode(point[key]).decode()) == 1


def test_initial_point_is_shown_and_others_are_in_the_data():
    points = make_points()
    fragment = slider_html(points, rho_values=RHO, beta_values=BETA, initial=(0.05, 3))
    _, root, data = parse(fragment)
    assert data["initial"] == "1,1"
    assert root.find("img", class_="explorer-mosaic")["src"] == data_uri(points[0.05, 3]["mosaic_png"])
    assert data["points"]["1,1"]["mosaic"] is None
    assert data["points"]["2,0"]["histogram"] == data_uri(points[0.1, 0.3]["histogram_png"])
    shown = [td.string for td in root.find_all("td", class_="explorer-metric-value")]
    assert shown == data["points"]["1,1"]["metrics"] == ["0.051", "4", "0.333"]
    assert [tr["data-metric"] for tr in root.find_all("tr")] == data["metric_names"]


def test_several_copies_are_scoped_by_their_id():
    points = make_points()
    page = slider_html(points, rho_values=RHO, beta_values=BETA, element_id="first") + slider_html(
        points, rho_values=RHO, beta_values=BETA, element_id="second"
    )
    soup = BeautifulSoup(page, "html.parser")
    assert [div["id"] for div in soup.find_all("div", class_="rho-beta-explorer")] == [
        "first",
        "second",
    ]
    assert soup.find(id="second-rho")["data-parameter"] == "rho"


def test_data_block_cannot_close_the_script_early():
    points = make_points()
    for point in points.values():
        point["metrics"] = {"</script><b>": 1.0}
    _, root, data = parse(slider_html(points, rho_values=RHO, beta_values=BETA))
    assert data["metric_names"] == ["</script><b>"]
    assert root.find("b") is None


def test_missing_grid_point_is_named():
    points = make_points()
    del points[0.05, 3]
    with pytest.raises(ValueError, match=r"rho=0\.05, beta=3\)"):
        slider_html(points, rho_values=RHO, beta_values=BETA)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.__setitem__((0.2, 3), p[0.1, 3]), "outside"),
        (lambda p: p[0.1, 3].pop("histogram_png"), "lacks"),
        (lambda p: p[0.1, 3].__setitem__("mosaic_png", b"GIF89a"), "PNG"),
        (lambda p: p[0.1, 3]["metrics"].pop("near-silent units"), "metrics"),
        (lambda p: p[0.1, 3]["metrics"].__setitem__("mean activation", "high"), "real number"),
    ],
)
def test_invalid_points_are_rejected(change, message):
    points = make_points()
    change(points)
    with pytest.raises(ValueError, match=message):
        slider_html(points, rho_values=RHO, beta_values=BETA)


def test_invalid_axes_and_id_are_rejected():
    points = make_points()
    with pytest.raises(ValueError, match="empty"):
        slider_html({}, rho_values=[], beta_values=BETA)
    with pytest.raises(ValueError, match="repeated"):
        slider_html(points, rho_values=[0.01, 0.01], beta_values=BETA)
    with pytest.raises(ValueError, match="element_id"):
        slider_html(points, rho_values=RHO, beta_values=BETA, element_id='x" onload="')
    with pytest.raises(ValueError, match="initial"):
        slider_html(points, rho_values=RHO, beta_values=BETA, initial=(0.5, 3))


def test_format_value():
    assert format_value(0.123456) == "0.123"
    assert format_value(np.float64(2), decimals=1) == "2.0"
    assert format_value(np.int32(7)) == "7"
    with pytest.raises(ValueError):
        format_value(True)


def test_widget_follows_the_sliders():
    pytest.importorskip("ipywidgets")
    from autoencoder.book.explorer import explorer_widget

    points = make_points()
    box = explorer_widget(points, RHO, BETA)
    rho, beta, images, table = box.children
    rho.value, beta.value = 0.1, 3
    assert images.children[0].value == points[0.1, 3]["mosaic_png"]
    assert images.children[1].value == points[0.1, 3]["histogram_png"]
    assert "<td>7</td>" in table.value


def test_widget_opens_at_the_initial_point():
    pytest.importorskip("ipywidgets")
    from autoencoder.book.explorer import explorer_widget

    points = make_points()
    rho, beta, images, table = explorer_widget(points, RHO, BETA, initial=(0.05, 3)).children
    assert (rho.value, beta.value) == (0.05, 3)
    assert images.children[0].value == points[0.05, 3]["mosaic_png"]
    with pytest.raises(ValueError, match=r"initial \(0.07, 3\) is not a grid point; add its rho to rho_values"):
        explorer_widget(points, RHO, BETA, initial=(0.07, 3))
