"""Feature dashboards: the data of a card, the choice of features, the HTML fragment and the widget."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from bs4 import BeautifulSoup

from autoencoder.book.dashboard_figures import dashboard_html, feature_view, plot_feature_card
from autoencoder.experiments.dashboard import QUANTILES, choose_features, feature_cards

# Six digits of classes 0, 1, 1, 2, 2, 2 and three features: a ReLU-like one,
# a dead one and a sigmoid-like one (active above 0.5).
LABELS = np.array([0, 1, 1, 2, 2, 2])
CODES = np.array(
    [
        [0.0, 0.0, 0.2],
        [3.0, 0.0, 0.6],
        [1.0, 0.0, 0.9],
        [0.0, 0.0, 0.4],
        [2.0, 0.0, 0.7],
        [2.0, 0.0, 0.55],
    ]
)
N_PIXELS = 4
DECODER = np.arange(N_PIXELS * 3, dtype=float).reshape(N_PIXELS, 3)
IMAGES = np.linspace(0, 1, 6 * N_PIXELS).reshape(6, N_PIXELS)
NAN = np.nan


def tiny_cards(features, **options):
    return feature_cards(CODES, DECODER, IMAGES, LABELS, features, **options)


def test_card_of_a_relu_feature_by_hand():
    (card,) = tiny_cards([0], n_top=3, bins=2, n_samples=5)
    assert card.feature == 0
    np.testing.assert_array_equal(card.decoder, DECODER[:, 0])
    # 3 first, then the tie at 2 in index order.
    np.testing.assert_array_equal(card.top, [1, 4, 5])
    np.testing.assert_array_equal(card.top_activations, [3.0, 2.0, 2.0])
    # Active values 1, 2, 2, 3: two bins on [1, 3].
    np.testing.assert_array_equal(card.histogram_edges, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(card.histogram_counts, [1, 3])
    assert card.density == pytest.approx(4 / 6)
    assert card.n_active == 4 and card.alive
    # Class 0: 0; class 1: (3 + 1) / 2; class 2: (0 + 2 + 2) / 3; no digits of 3..9.
    np.testing.assert_allclose(card.class_means, [0, 2, 4 / 3] + [NAN] * 7)
    np.testing.assert_allclose(card.class_fractions, [0, 0.5, 0.5] + [0] * 7)
    assert card.selective_class == 1
    # Quartiles of 1, 2, 2, 3 (linear interpolation): 1, 1.75, 2, 2.25, 3.
    np.testing.assert_allclose(card.band_bounds, [[1, 1.75], [1.75, 2], [2, 2.25], [2.25, 3]])
    assert [s.tolist() for s in card.band_samples] == [[2], [4, 5], [], [1]]
    assert [a.tolist() for a in card.band_activations] == [[1.0], [2.0, 2.0], [], [3.0]]
    assert card.band_labels == ("[0, 0.25]", "(0.25, 0.5]", "(0.5, 0.75]", "(0.75, 1]")


def test_top_is_limited_to_active_digits():
    (card,) = tiny_cards([0], n_top=10)
    np.testing.assert_array_equal(card.top, [1, 4, 5, 2])


def test_card_of_a_sigmoid_feature_with_threshold_one_half():
    (card,) = tiny_cards([2], threshold=0.5, n_top=2)
    np.testing.assert_array_equal(card.top, [2, 4])
    assert card.density == pytest.approx(4 / 6)
    assert card.threshold == 0.5
    # Mass of the active activations: class 1: 0.6 + 0.9, class 2: 0.7 + 0.55.
    np.testing.assert_allclose(card.class_fractions[:3], [0, 1.5 / 2.75, 1.25 / 2.75])
    # Means over all the digits of a class, active or not.
    np.testing.assert_allclose(card.class_means[:3], [0.2, 0.75, 1.65 / 3])
    assert card.selective_class == 1
    assert card.histogram_counts.sum() == 4


def test_card_of_a_dead_feature():
    (card,) = tiny_cards([1], bins=4)
    assert not card.alive and card.density == 0 and card.top.size == 0
    assert all(s.size == 0 for s in card.band_samples)
    np.testing.assert_array_equal(card.histogram_counts, [0, 0, 0, 0])
    np.testing.assert_allclose(card.histogram_edges, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(card.class_fractions, np.zeros(10))
    assert np.isnan(card.band_bounds).all()
    assert card.selective_class == 0


def test_cards_follow_the_order_of_features():
    assert [card.feature for card in tiny_cards([2, 0, 1])] == [2, 0, 1]


@pytest.fixture
def network():
    """300 random 'digits' of 16 pixels, a sparse code of 12 features (one dead) and a decoder."""
    rng = np.random.default_rng(7)
    m, n, p = 300, 16, 12
    codes = np.maximum(rng.normal(size=(m, p)) - np.linspace(-0.5, 2.0, p), 0)
    codes[:, 5] = 0
    return {
        "codes": codes,
        "decoder": rng.normal(size=(n, p)),
        "images": rng.uniform(size=(m, n)),
        "labels": rng.integers(0, 10, size=m),
    }


def test_band_samples_lie_in_their_band(network):
    cards = feature_cards(**network, features=[0, 3, 7, 11], n_samples=6)
    for card in cards:
        a = network["codes"][:, card.feature]
        active = a[a > 0]
        np.testing.assert_allclose(card.band_bounds[:, 0], np.quantile(active, QUANTILES[:-1]))
        np.testing.assert_allclose(card.band_bounds[:, 1], np.quantile(active, QUANTILES[1:]))
        for b, (samples, values) in enumerate(zip(card.band_samples, card.band_activations, strict=True)):
            low, high = card.band_bounds[b]
            np.testing.assert_array_equal(values, a[samples])
            assert len(set(samples.tolist())) == samples.size <= 6
            assert np.all(values <= high) and np.all(values >= low)
            if b > 0:
                assert np.all(values > low)
            assert np.all(np.diff(values) <= 0), "samples are shown by decreasing activation"
        assert sum(s.size for s in card.band_samples) > 0


def test_band_samples_are_reproducible_from_the_seed(network):
    def samples(features, seed):
        cards = feature_cards(**network, features=features, n_samples=3, seed=seed)
        return {card.feature: [s.tolist() for s in card.band_samples] for card in cards}

    first = samples([0, 3], seed=1)
    assert samples([0, 3], seed=1) == first
    # A card does not depend on the other features asked for.
    assert samples([3], seed=1)[3] == first[3]
    assert samples([0, 3], seed=2) != first


def test_cards_are_frozen(network):
    (card,) = feature_cards(**network, features=[0])
    with pytest.raises(AttributeError):
        card.density = 1.0


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"codes": np.zeros((6, 3, 1))}, "codes"),
        ({"codes": np.full((6, 3), np.nan)}, "codes"),
        ({"decoder": np.zeros((N_PIXELS, 2))}, "decoder"),
        ({"images": np.zeros((5, N_PIXELS))}, "images"),
        ({"images": np.zeros((6, N_PIXELS + 1))}, "images"),
        ({"labels": LABELS[:5]}, "labels"),
        ({"labels": LABELS + 8}, "labels"),
        ({"labels": LABELS - 1}, "labels"),
        ({"labels": LABELS.astype(float)}, "labels"),
        ({"features": [3]}, "features"),
        ({"features": [-1]}, "features"),
        ({"features": [0, 0]}, "features"),
        ({"features": []}, "features"),
        ({"features": 0}, "features"),
        ({"n_top": 0}, "n_top"),
        ({"n_samples": 0}, "n_samples"),
        ({"threshold": -0.1}, "threshold"),
        ({"threshold": np.inf}, "threshold"),
        ({"bins": 0}, "bins"),
        ({"quantiles": (0.5, 0.25)}, "quantiles"),
        ({"quantiles": (0.0, 1.5)}, "quantiles"),
        ({"quantiles": (0.5,)}, "quantiles"),
        ({"seed": -1}, "seed"),
    ],
)
def test_feature_cards_validation_names_the_parameter(change, parameter):
    arguments = {"codes": CODES, "decoder": DECODER, "images": IMAGES, "labels": LABELS, "features": [0]}
    arguments.update(change)
    with pytest.raises(ValueError, match=parameter):
        feature_cards(**arguments)


def test_choose_features_is_deterministic_and_alive(network):
    codes = network["codes"]
    chosen = choose_features(codes, 5, seed=3)
    np.testing.assert_array_equal(chosen, choose_features(codes, 5, seed=3))
    assert chosen.size == 5 and len(set(chosen.tolist())) == 5
    density = np.mean(codes > 0, axis=0)
    assert np.all(density[chosen] > 0)
    assert np.all(np.diff(density[chosen]) <= 0), "densest first"


def test_choose_features_spreads_over_the_density_range(network):
    codes = network["codes"]
    density = np.mean(codes > 0, axis=0)
    alive = np.flatnonzero(density > 0)
    ranked = alive[np.lexsort((alive, -density[alive]))]
    for seed in range(5):
        chosen = choose_features(codes, 3, seed=seed)
        strata = np.array_split(ranked, 3)
        assert [int(j) in stratum for j, stratum in zip(chosen, strata, strict=True)] == [True] * 3


def test_choose_features_returns_every_alive_feature_when_few(network):
    chosen = choose_features(network["codes"], 50)
    assert sorted(chosen.tolist()) == [j for j in range(12) if j != 5]


def test_choose_features_honours_the_threshold():
    codes = np.array([[0.4, 0.6, 0.9], [0.3, 0.2, 0.7]])
    np.testing.assert_array_equal(choose_features(codes, 3, threshold=0.5), [2, 1])


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ((np.zeros((3, 2)), 1), "codes"),
        ((np.ones((3, 2)), 0), "count"),
        ((np.ones((3, 2)), 1, {"threshold": -1}), "threshold"),
        ((np.ones((3, 2)), 1, {"seed": -2}), "seed"),
        ((np.ones(3), 1), "codes"),
    ],
)
def test_choose_features_validation_names_the_parameter(arguments, parameter):
    options = arguments[2] if len(arguments) == 3 else {}
    with pytest.raises(ValueError, match=parameter):
        choose_features(arguments[0], arguments[1], **options)


# ---- the HTML fragment


@pytest.fixture
def digits_network():
    """120 digits of 28 x 28 pixels in [0, 1], a code of 20 features and a decoder."""
    rng = np.random.default_rng(11)
    m, n, p = 120, 784, 20
    images = (rng.uniform(size=(m, n)) > 0.8) * rng.uniform(size=(m, n))
    codes = np.maximum(rng.normal(size=(m, p)) - 1.0, 0)
    return {
        "codes": codes,
        "decoder": rng.normal(size=(n, p)),
        "images": images,
        "labels": rng.integers(0, 10, size=m),
    }


def families_of(network, names=("first", "second"), count=4):
    families = {}
    for k, name in enumerate(names):
        features = choose_features(network["codes"], count, seed=k)
        families[name] = feature_cards(**network, features=features, seed=k)
    return families


def test_fragment_is_self_contained(digits_network):
    fragment = dashboard_html(families_of(digits_network), digits_network["images"], title="Two networks")
    for forbidden in ("http://", "https://", "<script src", "<link", "@import"):
        assert forbidden not in fragment
    soup = BeautifulSoup(fragment, "html.parser")
    root = soup.find("div", class_="feature-dashboard")
    assert root is not None and "Two networks" in root.get_text()
    assert not root.find_all(src=True)
    scripts = root.find_all("script")
    assert len(scripts) == 1 and "addEventListener" in scripts[0].string
    assert "url(data:image/png;base64," in root.find("style").string


def test_fragment_has_one_section_per_card(digits_network):
    families = families_of(digits_network, names=("a", "b", "c"), count=3)
    soup = BeautifulSoup(dashboard_html(families, digits_network["images"]), "html.parser")
    sections = soup.find_all("section", class_="fd-card")
    expected = [(name, str(card.feature)) for name, cards in families.items() for card in cards]
    assert [(s["data-family"], s["data-feature"]) for s in sections] == expected
    assert [s.has_attr("hidden") for s in sections] == [False] + [True] * (len(expected) - 1)
    options = [o["value"] for o in soup.find("select", attrs={"data-control": "family"}).find_all("option")]
    assert options == ["a", "b", "c"]
    slider = soup.find("input", attrs={"data-control": "position"})
    assert (slider["min"], slider["max"], slider["value"]) == ("0", str(len(families["a"]) - 1), "0")
    root = soup.find("div", class_="feature-dashboard")
    assert (root["data-family"], root["data-feature"]) == ("a", str(families["a"][0].feature))


def test_each_section_shows_its_card(digits_network):
    (card,) = feature_cards(**digits_network, features=[3], n_top=5, n_samples=2)
    soup = BeautifulSoup(dashboard_html({"net": [card]}, digits_network["images"]), "html.parser")
    section = soup.find("section", class_="fd-card")
    strips = section.find_all("div", class_="fd-strip")
    assert len(strips[0].find_all("i")) == card.top.size
    assert [len(strip.find_all("i")) for strip in strips[1:]] == [s.size for s in card.band_samples]
    titles = [i["title"] for i in strips[0].find_all("i")]
    assert titles == [f"test digit {j}" for j in card.top]
    text = section.get_text()
    assert f"density ν = {card.density:.3g}" in text
    assert f"most selective for {card.selective_class}" in text
    assert len(section.find("div", class_="fd-classes").find_all("b")) == 10
    assert section.find("svg")["aria-label"].startswith(f"Histogram of the {card.n_active} active")


def test_a_dead_feature_has_a_card(digits_network):
    codes = digits_network["codes"].copy()
    codes[:, 4] = 0
    (card,) = feature_cards(**{**digits_network, "codes": codes}, features=[4])
    fragment = dashboard_html({"net": [card]}, digits_network["images"])
    text = BeautifulSoup(fragment, "html.parser").find("section", class_="fd-card").get_text()
    assert "the feature never fires" in text and "no active digits" in text and "nan" not in text
    assert "density ν = 0: active (a > 0) on 0 test digits" in text
    plot_feature_card(card, digits_network["images"])
    matplotlib.pyplot.close("all")


def test_fragments_have_distinct_ids(digits_network):
    images = digits_network["images"]
    first = dashboard_html(families_of(digits_network, names=("x",)), images)
    second = dashboard_html(families_of(digits_network, names=("y",)), images)
    ids = [
        tag["id"] for fragment in (first, second) for tag in BeautifulSoup(fragment, "html.parser").find_all(id=True)
    ]
    assert len(ids) == len(set(ids)) >= 4
    # The same content gives the same text on a rerun.
    assert dashboard_html(families_of(digits_network, names=("x",)), images) == first
    named = dashboard_html(families_of(digits_network, names=("x",)), images, element_id="mine")
    assert BeautifulSoup(named, "html.parser").find("div", class_="feature-dashboard")["id"] == "mine"


def test_fragment_stays_small():
    # 4 networks x 32 features of MNIST-sized digits, the size the chapter shows.
    rng = np.random.default_rng(0)
    m, n, p = 2000, 784, 64
    images = np.clip(rng.normal(0.2, 0.4, size=(m, n)), 0, 1)
    families = {}
    for k in range(4):
        codes = np.maximum(rng.normal(size=(m, p)) - 1.5, 0)
        network = {"codes": codes, "decoder": rng.normal(size=(n, p)), "images": images}
        cards = feature_cards(**network, labels=rng.integers(0, 10, m), features=choose_features(codes, 32))
        families[f"network {k}"] = cards
    assert len(dashboard_html(families, images)) < 2_000_000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"families": {}}, "families"),
        ({"families": {"net": []}}, "families"),
        ({"families": {"": "cards"}}, "families"),
        ({"images": np.zeros((120, 100))}, "images"),
        ({"images": np.zeros((3, 784))}, "images"),
        ({"element_id": "1 bad"}, "element_id"),
    ],
)
def test_dashboard_html_validation(digits_network, change, message):
    (card,) = feature_cards(**digits_network, features=[0])
    arguments = {"families": {"net": [card]}, "images": digits_network["images"]}
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        dashboard_html(**arguments)


def test_dashboard_html_refuses_a_feature_twice(digits_network):
    (card,) = feature_cards(**digits_network, features=[0])
    with pytest.raises(ValueError, match="twice"):
        dashboard_html({"net": [card, card]}, digits_network["images"])


# ---- the figures and the live widget


def test_plot_feature_card_draws_every_panel(digits_network):
    (card,) = feature_cards(**digits_network, features=[2])
    fig = plot_feature_card(card, digits_network["images"])
    # Decoder, histogram, classes, top digits and one row per band.
    assert len(fig.axes) == 4 + len(card.band_samples)
    matplotlib.pyplot.close(fig)


def test_feature_view_follows_its_slider(digits_network):
    pytest.importorskip("ipywidgets")
    box = feature_view(**digits_network, initial=2)
    slider, picture, summary = box.children
    assert (slider.min, slider.max, slider.value) == (0, 19, 2)
    assert summary.value.startswith("feature 2:")
    before = bytes(picture.value)
    assert before.startswith(b"\x89PNG")
    slider.value = 7
    assert summary.value.startswith("feature 7:")
    after = bytes(picture.value)
    assert after.startswith(b"\x89PNG") and after != before


def test_feature_view_validates(digits_network):
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match="initial"):
        feature_view(**digits_network, initial=20)
    with pytest.raises(ValueError, match="threshold"):
        feature_view(**digits_network, threshold=-1)
