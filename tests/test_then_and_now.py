"""The three families of chapter 9: their configurations, the frontier, matched L0, and refusals."""

import math

import numpy as np
import pytest

from autoencoder.core.sparsity import L1_SMOOTHING
from autoencoder.experiments import then_and_now
from autoencoder.experiments.knobs import check_knobs

SETTING = dict(rho_values=[0.1, 0.01], kl_beta=3.0, l1_betas=[0.3, 0.0, 0.1], k_values=[4, 2], weight_decay=1e-3)


def test_configurations_are_the_documented_ones():
    members = then_and_now.configurations(6, **SETTING)
    assert [m.family for m in members] == ["2013"] * 2 + ["2023"] * 3 + ["2024"] * 2
    assert [m.value for m in members] == [0.01, 0.1, 0.0, 0.1, 0.3, 2.0, 4.0]  # each family by increasing value
    for m in members:
        assert (m.model.n_hidden, m.model.weight_decay) == (6, 1e-3)
        if m.family == "2013":
            assert (m.model.activation, m.model.output_activation, m.model.sparsity) == ("sigmoid", "sigmoid", "kl")
            assert (m.model.rho, m.model.beta, m.model.top_k) == (m.value, 3.0, None)
        else:
            assert (m.model.activation, m.model.output_activation) == ("relu", "linear")
        if m.family == "2023":
            assert (m.model.sparsity, m.model.rho, m.model.beta, m.model.top_k) == ("l1", 0.0, m.value, None)
        if m.family == "2024":
            assert (m.model.sparsity, m.model.top_k) == ("none", int(m.value))
    assert len({m.label for m in members}) == len(members)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"k_values": [2, 7]}, "k_values[1] must be an integer in [1, 6]; got 7"),
        ({"k_values": [0]}, "k_values[0] must be an integer in [1, 6]; got 0"),
        ({"rho_values": [0.1, 0.0]}, "rho_values[1] must lie in (0, 1); got 0.0"),
        ({"l1_betas": [-0.1]}, "l1_betas[0] must lie in [0, inf]; got -0.1"),
        ({"l1_betas": [0.1, 0.1]}, "l1_betas must hold distinct values"),
        ({"k_values": []}, "k_values must be a non-empty list"),
        ({"kl_beta": -1.0}, "kl_beta must lie in [0, inf]; got -1.0"),
        ({"weight_decay": float("nan")}, "weight_decay must be a finite real number"),
    ],
)
def test_bad_settings_are_refused_with_their_name(change, message):
    with pytest.raises(ValueError) as error:
        then_and_now.configurations(6, **(SETTING | change))
    assert message in str(error.value)


def test_the_chapter_knobs_are_refused_with_their_name():
    with pytest.raises(ValueError, match=r"k_values\[1\] must be an integer >= 1; got 'abc'"):
        check_knobs(k_values="[5, abc]")
    with pytest.raises(ValueError, match=r"l0_values\[0\] must lie in \(0, inf\]; got 0.0"):
        check_knobs(l0_values=[0.0, 10.0])
    assert check_knobs(k_values="[5, 10]", l0_values="[5, 10]") == {"k_values": [5, 10], "l0_values": [5.0, 10.0]}


def rows_of(points):
    return [{"family": family, "l0": l0, "fvu": fvu} for family, l0, fvu in points]


def test_frontier_is_sorted_by_l0_and_keeps_the_pairs():
    rows = rows_of([("2024", 7.0, 0.3), ("2013", 2.0, 0.6), ("2024", 1.0, 0.9), ("2024", 3.0, 0.5)])
    l0, fvu = then_and_now.frontier(rows, "2024")
    np.testing.assert_array_equal(l0, [1.0, 3.0, 7.0])
    np.testing.assert_array_equal(fvu, [0.9, 0.5, 0.3])
    with pytest.raises(ValueError, match="family must be one of those in rows; got '2023'"):
        then_and_now.frontier(rows, "2023")


def test_fvu_at_l0_interpolates_between_neighbours():
    l0, fvu = [1.0, 3.0, 7.0], [0.9, 0.5, 0.3]
    # By hand: halfway from (1, 0.9) to (3, 0.5) is 0.7; halfway from (3, 0.5) to (7, 0.3) is 0.4.
    assert then_and_now.fvu_at_l0(l0, fvu, 2.0) == pytest.approx(0.7)
    assert then_and_now.fvu_at_l0(l0, fvu, 5.0) == pytest.approx(0.4)
    assert then_and_now.fvu_at_l0(l0, fvu, 6.0) == pytest.approx(0.5 + (0.3 - 0.5) * 3 / 4)
    assert then_and_now.fvu_at_l0(l0, fvu, 7.0) == 0.3
    assert math.isnan(then_and_now.fvu_at_l0(l0, fvu, 0.5))  # no extrapolation
    assert math.isnan(then_and_now.fvu_at_l0(l0, fvu, 7.5))
    with pytest.raises(ValueError, match="l0 must be sorted"):
        then_and_now.fvu_at_l0([3.0, 1.0], [0.5, 0.9], 2.0)
    with pytest.raises(ValueError, match="target must lie in"):
        then_and_now.fvu_at_l0(l0, fvu, -1.0)


def test_matched_l0_reads_each_family_at_the_same_l0():
    rows = rows_of([("2013", 2.0, 0.6), ("2013", 6.0, 0.2), ("2024", 4.0, 0.5), ("2024", 8.0, 0.3)])
    matched = then_and_now.matched_l0(rows, [3.0, 5.0])
    assert list(matched) == ["2013", "2024"]
    assert matched["2013"] == pytest.approx([0.5, 0.3])
    assert math.isnan(matched["2024"][0])
    assert matched["2024"][1] == pytest.approx(0.45)
    assert then_and_now.nearest_member(rows, "2024", 7.0)["l0"] == 8.0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(300, 16)) * (rng.uniform(size=(300, 16)) < 0.4)  # sparse images in [0, 1]
    members = then_and_now.configurations(
        6, rho_values=[0.1], kl_beta=3.0, l1_betas=[0.1], k_values=[2], weight_decay=1e-3
    )
    directory = tmp_path_factory.mktemp("models")
    fits = then_and_now.train_members(members, X, max_iter=5, seed=0, directory=directory)
    return members, fits, X, directory


def test_every_member_is_trained_through_the_cache(trained):
    members, fits, X, directory = trained
    assert len(list(directory.glob("*.npz"))) == len(members)
    again = then_and_now.train_members(members, X, max_iter=5, seed=0, directory=directory)
    for m in members:
        np.testing.assert_array_equal(again[m.label].params.flat, fits[m.label].params.flat)


def test_l1_members_train_by_continuation_within_the_budget(trained):
    members, fits, X, directory = trained
    widths = [1e-2, L1_SMOOTHING]
    cont = then_and_now.train_members(members, X, max_iter=5, seed=0, l1_widths=widths, directory=directory)
    l1 = members[1]
    assert cont[l1.label].widths == tuple(widths)
    assert [s.n_iter for s in cont[l1.label].stages] == [3, 2]
    for m in (members[0], members[2]):  # the others are the plain runs, from the cache
        np.testing.assert_array_equal(cont[m.label].params.flat, fits[m.label].params.flat)
    rows = then_and_now.measure_members(members, cont, X)
    assert rows[1]["n_iter"] == 5 and rows[1]["message"] == cont[l1.label].final.message
    with pytest.raises(ValueError, match=r"l1_widths must end at the model's l1_smoothing"):
        then_and_now.train_members(members, X, max_iter=5, seed=0, l1_widths=[1e-2, 1e-3], directory=directory)


def test_measures_of_the_trained_members(trained):
    members, fits, X, _ = trained
    rows = then_and_now.measure_members(members, fits, X, X[:50])
    kl, l1, top = rows
    assert [r["family"] for r in rows] == ["2013", "2023", "2024"]
    assert (kl["threshold"], l1["threshold"], top["threshold"]) == (0.5, 0.0, 0.0)
    # TopK keeps at most k units per example.
    A = members[2].model.encode(fits[top["label"]].params, X)
    assert np.count_nonzero(A, axis=1).max() <= 2
    assert top["l0"] == pytest.approx(np.count_nonzero(A) / len(X))
    # L1 at rho = 0 is the mean L1 norm of a non-negative code, within eps per unit.
    assert abs(l1["sparsity_term"] - l1["mean_l1_norm"]) <= 6 * L1_SMOOTHING
    assert l1["mean_l1_norm"] == pytest.approx(l1["rho_hat"].sum(), rel=1e-6)
    # A ReLU code has nothing at or below 0 to zero: the hard code's FVU is the FVU.
    assert l1["hard_fvu"] == pytest.approx(l1["fvu"], rel=1e-12)
    assert not math.isnan(kl["test_fvu"])


def test_hard_code_of_sigmoid_units_against_a_hand_forward_pass(trained):
    members, fits, X, _ = trained
    p = fits[members[0].label].params
    A = 1 / (1 + np.exp(-(X @ p.W1.T + p.b1)))
    A = np.where(A > 0.5, A, 0.0)
    H = 1 / (1 + np.exp(-(A @ p.W2.T + p.b2)))
    expected = np.sum((X - H) ** 2) / np.sum((X - X.mean(axis=0)) ** 2)
    assert then_and_now.fvu_of_hard_code(members[0].model, p, X, 0.5) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="threshold must lie in"):
        then_and_now.fvu_of_hard_code(members[0].model, p, X, -0.1)
