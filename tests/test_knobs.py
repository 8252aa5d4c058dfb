"""The chapters' knob check: each kind converted, each refusal naming the knob and its range."""

import numpy as np
import pytest

from autoencoder.core._validation import check_axis
from autoencoder.experiments.continuation import check_widths
from autoencoder.experiments.knobs import KNOBS, MNIST_LABELED, MNIST_TRAIN, check_knob, check_knobs


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("n_train", 600, 600),
        ("n_train", "600", 600),
        ("n_train", "10_000", 10_000),
        ("n_train", 1e4, 10_000),
        ("n_train", MNIST_TRAIN, MNIST_TRAIN),
        ("seed", 0, 0),
        ("rho", 0.05, 0.05),
        ("rho", "0.05", 0.05),
        ("beta", 1, 1.0),
        ("beta", 0, 0.0),
        ("weight_decay", "3e-3", 0.003),
        ("synthetic_check", False, False),
        ("synthetic_check", "True", True),
        ("synthetic_check", "false", False),
        ("rho_values", [0.05, 0.1], [0.05, 0.1]),
        ("rho_values", (0.3, "0.1"), [0.3, 0.1]),
        ("rho_values", "[0.05, 0.1]", [0.05, 0.1]),
        ("beta_values", "0, 3, 30", [0.0, 3.0, 30.0]),
        ("betas", "[0]", [0.0]),
        ("labels_per_class", [100, 1000], [100, 1000]),
        ("labels_per_class", "[100, 1000]", [100, 1000]),
        ("labels_per_class", (10, 100.0), [10, 100]),
        ("n_labeled", MNIST_LABELED, MNIST_LABELED),
        ("probe_weight_decay", "1e-4", 1e-4),
    ],
)
def test_valid_values_come_back_converted(name, value, expected):
    converted = check_knob(name, value)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("n_train", 0, r"n_train must be an integer in \[1, 60000\]; got 0"),
        ("n_train", MNIST_TRAIN + 1, r"n_train must be an integer in \[1, 60000\]; got 60001"),
        ("n_train", 600.5, r"n_train must be an integer in \[1, 60000\]; got 600.5"),
        ("n_train", True, r"n_train must be an integer"),
        ("max_iter", "abc", r"max_iter must be an integer >= 1; got 'abc'"),
        ("max_iter", None, r"max_iter must be an integer >= 1; got None"),
        ("max_iter", 0, r"max_iter must be an integer >= 1; got 0"),
        ("n_test", 10_001, r"n_test must be an integer in \[1, 10000\]"),
        ("seed", -1, r"seed must be an integer >= 0; got -1"),
        ("rho", 0, r"rho must lie in \(0, 1\); got 0"),
        ("rho", "1", r"rho must lie in \(0, 1\); got 1.0"),
        ("rho", "abc", r"rho must be a finite real number; got 'abc'"),
        ("beta", -0.5, r"beta must lie in \[0, inf\]; got -0.5"),
        ("weight_decay", "nan", r"weight_decay must be a finite real number"),
        ("synthetic_check", "maybe", r"synthetic_check must be True or False; got 'maybe'"),
        ("synthetic_check", 1, r"synthetic_check must be True or False; got 1"),
        ("rho_values", 0.1, r"rho_values must be a non-empty list of real numbers in \(0, 1\), e.g. \[0.1, 0.3\]"),
        ("rho_values", [], r"rho_values must be a non-empty list of real numbers in \(0, 1\).*; got \[\]"),
        ("rho_values", "[]", r"rho_values must be a non-empty list of real numbers in \(0, 1\).*; got \[\]"),
        ("rho_values", [0.05, 1.5], r"rho_values\[1\] must lie in \(0, 1\); got 1.5"),
        ("beta_values", "[0, x]", r"beta_values\[1\] must be a finite real number; got 'x'"),
        ("betas", [3, 3.0], r"betas must hold distinct numbers; \[3.0\] repeated in \[3.0, 3.0\]"),
        (
            "labels_per_class",
            100,
            r"labels_per_class must be a non-empty list of integers >= 1, e\.g\. \[100, 1000\]; got 100",
        ),
        ("labels_per_class", "[100, 0]", r"labels_per_class\[1\] must be an integer >= 1; got 0"),
        ("labels_per_class", [100, 2.5], r"labels_per_class\[1\] must be an integer >= 1; got 2.5"),
        ("labels_per_class", "[10, 10]", r"labels_per_class must hold distinct numbers; \[10\] repeated in"),
        ("n_labeled", 1, r"n_labeled must be an integer in \[2, 30596\]; got 1"),
        ("n_labeled", MNIST_LABELED + 1, r"n_labeled must be an integer in \[2, 30596\]; got 30597"),
        ("probe_weight_decay", -1e-4, r"probe_weight_decay must lie in \[0, inf\]; got -0.0001"),
    ],
)
def test_bad_values_are_refused_under_the_knob_name(name, value, message):
    with pytest.raises(ValueError, match=message):
        check_knob(name, value)


def test_every_knob_kind_is_in_the_table():
    assert {knob.kind for knob in KNOBS.values()} == {"int", "real", "bool", "reals", "ints"}


def test_unknown_knob_is_named():
    with pytest.raises(ValueError, match=r"'n_trian' is not a knob of the chapters.*'n_train'"):
        check_knob("n_trian", 10)


def test_check_knobs_keeps_the_order_and_converts():
    knobs = check_knobs(max_iter="12", n_train=600, rho=0.05, beta=1, rho_values="[0.1, 0.01]")
    assert list(knobs) == ["max_iter", "n_train", "rho", "beta", "rho_values"]
    assert knobs == {"max_iter": 12, "n_train": 600, "rho": 0.05, "beta": 1.0, "rho_values": [0.1, 0.01]}


def test_check_knobs_stops_at_the_first_bad_knob():
    with pytest.raises(ValueError, match="^n_hidden"):
        check_knobs(n_train=600, n_hidden=0, max_iter="abc")


@pytest.mark.parametrize(
    ("knobs", "relation", "message"),
    [
        ({"n_show": 20, "n_test": 10}, "n_show <= n_test", r"n_show must be at most n_test = 10 in this chapter"),
        ({"n_hidden": 900}, "n_hidden <= 784", r"n_hidden must be at most 784 in this chapter; got n_hidden = 900"),
        ({"n_hidden": 3}, "n_hidden >= 4", r"n_hidden must be at least 4"),
        ({"synthetic_samples": 20, "synthetic_dim": 20}, "synthetic_samples > synthetic_dim", r"greater than"),
        ({"n_hidden": 5, "n_train": 5}, "n_hidden < n_train", r"n_hidden must be less than n_train = 5"),
    ],
)
def test_failing_relations_name_both_sides(knobs, relation, message):
    with pytest.raises(ValueError, match=message):
        check_knobs(**knobs, relations=[relation])


def test_relations_that_hold_pass_and_are_checked_after_the_knobs():
    assert check_knobs(n_show="10", n_test=10, relations=["n_show <= n_test"]) == {"n_show": 10, "n_test": 10}
    with pytest.raises(ValueError, match="^n_test must be an integer"):
        check_knobs(n_show=10, n_test="ten", relations=["n_show <= n_test"])


@pytest.mark.parametrize("relation", ["n_show <= ", "n_show == n_test", "n_show <= n_tset"])
def test_malformed_relations_are_refused(relation):
    with pytest.raises(ValueError, match="relation"):
        check_knobs(n_show=10, n_test=10, relations=[relation])


FOLLOW = {"converged_n_train": ("n_train", 6), "converged_max_iter": ("max_iter", 1 / 8, 2)}


def test_a_chapter_size_left_at_none_follows_its_shared_knob():
    published = check_knobs(
        n_train=10_000, converged_n_train=None, max_iter=400, converged_max_iter=None, follow=FOLLOW
    )
    assert published == {"n_train": 10_000, "converged_n_train": 60_000, "max_iter": 400, "converged_max_iter": 20_000}
    small = check_knobs(n_train="600", converged_n_train=None, max_iter="12", converged_max_iter=None, follow=FOLLOW)
    assert small == {"n_train": 600, "converged_n_train": 3_600, "max_iter": 12, "converged_max_iter": 18}
    # Capped at the knob's range: there are no more than 60,000 training images.
    by_images = {"converged_n_train": FOLLOW["converged_n_train"]}
    assert check_knobs(n_train=20_000, converged_n_train=None, follow=by_images)["converged_n_train"] == MNIST_TRAIN


def test_a_chapter_size_given_itself_does_not_follow():
    by_images = {"converged_n_train": FOLLOW["converged_n_train"]}
    given = check_knobs(n_train=600, converged_n_train="5000", follow=by_images)
    assert given == {"n_train": 600, "converged_n_train": 5_000}
    with pytest.raises(ValueError, match=r"converged_n_train must be an integer in \[1, 60000\]; got 0"):
        check_knobs(n_train=600, converged_n_train=0, follow=by_images)


def test_follow_must_name_checked_knobs():
    with pytest.raises(ValueError, match="follow names \\['converged_max_iter'\\]"):
        check_knobs(n_train=600, converged_n_train=None, follow=FOLLOW)
    with pytest.raises(ValueError, match="converged_n_train follows 'n_train', which is not among the knobs checked"):
        check_knobs(converged_n_train=None, follow={"converged_n_train": ("n_train", 6)})
    # None is a value only for a knob that follows another.
    with pytest.raises(ValueError, match="converged_tol must be a finite real number; got None"):
        check_knobs(converged_tol=None)


def test_a_list_of_counts_follows_its_leader_factor_by_factor():
    rule = {"n_labeled": ("n_train", 3.06), "labels_per_class": ("n_labeled", [100 / 30_596, 1_000 / 30_596])}
    published = check_knobs(n_train=10_000, n_labeled=None, labels_per_class=None, follow=rule)
    assert published == {"n_train": 10_000, "n_labeled": MNIST_LABELED, "labels_per_class": [100, 1_000]}
    small = check_knobs(n_train=600, n_labeled=None, labels_per_class=None, follow=rule)
    assert small == {"n_train": 600, "n_labeled": 1_836, "labels_per_class": [6, 60]}
    # Counts that round alike are kept once: a list knob holds distinct values.
    tiny = check_knobs(n_train=2, n_labeled=None, labels_per_class=None, follow=rule)
    assert tiny == {"n_train": 2, "n_labeled": 6, "labels_per_class": [1]}


@pytest.mark.parametrize(
    "values",
    [[], 0.1, [0.1, 0.1]],
    ids=["empty", "a number", "repeated"],
)
def test_every_list_of_values_is_refused_by_the_one_checker(values):
    """A list knob, a grid's axis and a continuation's widths: the same check, the same words."""
    checks = {
        "rho_values": lambda: check_knob("rho_values", values),
        "rhos": lambda: check_axis("rhos", values, inside=lambda rho: 0 < rho < 1, allowed="in (0, 1)"),
        "widths": lambda: check_widths(values, 0.1),
    }
    expected = "repeated in" if values == [0.1, 0.1] else "must be a non-empty list of real numbers in"
    for name, check in checks.items():
        with pytest.raises(ValueError, match=rf"^{name} .*{expected}"):
            check()


def test_the_network_knobs_take_their_ranges_from_the_librarys_rule():
    from autoencoder.core.model import parameter_bounds
    from autoencoder.experiments.knobs import KNOBS

    for name in ("n_hidden", "rho", "beta", "weight_decay", "seed"):
        knob, rule = KNOBS[name], parameter_bounds(name)
        assert {key: getattr(knob, key) for key in rule} == rule, name
    assert parameter_bounds("rho") == {"low": 0.0, "high": 1.0, "low_open": True, "high_open": True}
    assert parameter_bounds("rho", "l1")["low_open"] is False  # L1 and L2 accept rho = 0, the KL penalty does not
    with pytest.raises(ValueError, match="name must be one of"):
        parameter_bounds("lambda")


def test_a_grid_refuses_a_rho_the_library_refuses_and_says_which_are_allowed():
    from autoencoder.experiments import grid

    X = np.random.default_rng(0).uniform(size=(10, 4))
    with pytest.raises(ValueError, match=r"rhos\[0\] must be a real number in \(0, 1\)"):
        grid.train_grid(X, [0.0, 0.1], [0.0], n_hidden=2, weight_decay=0.0, max_iter=1, seed=0, n_jobs=1)
    with pytest.raises(ValueError, match=r"betas\[0\] must be a real number in \[0, inf\]"):
        grid.train_grid(X, [0.1], [-1.0], n_hidden=2, weight_decay=0.0, max_iter=1, seed=0, n_jobs=1)
