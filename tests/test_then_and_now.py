"""The four families of chapter 9: configurations, training through the cache, measures, seeds, matched L0."""

import math

import numpy as np
import pytest

from autoencoder.core.adam import Adam
from autoencoder.core.sparsity import L1_SMOOTHING
from autoencoder.experiments import then_and_now
from autoencoder.experiments.knobs import check_knobs
from autoencoder.experiments.measures import fraction_of_variance_unexplained
from autoencoder.experiments.sweep import Engine

ADAM = Adam(learning_rate=1e-2, batch_size=50, max_epochs=2)
SETTING = dict(
    rho_values=[0.1, 0.01],
    kl_beta=3.0,
    weight_decay=1e-3,
    l1_betas=[0.3, 0.0, 0.1],
    k_values=[4, 2],
    aux_k=3,
    adam=ADAM,
)


def test_configurations_are_the_documented_ones():
    members = then_and_now.configurations(6, **SETTING)
    assert [m.family for m in members] == ["2013"] * 2 + ["2013-linear"] * 2 + ["2023"] * 3 + ["2024"] * 2
    assert [m.value for m in members] == [0.01, 0.1, 0.01, 0.1, 0.0, 0.1, 0.3, 2.0, 4.0]  # by increasing value
    for m in members:
        assert m.model.n_hidden == 6
        assert m.optimizer.max_epochs == 2 and m.optimizer.learning_rate == 1e-2
        modern = m.family in ("2023", "2024")
        assert (m.optimizer.unit_norm_decoder, m.optimizer.tied_init, m.optimizer.pre_encoder_bias) == (modern,) * 3
        assert m.optimizer.aux_k == (3 if m.family == "2024" else None)
        assert m.model.weight_decay == (0.0 if modern else 1e-3)
        if m.family.startswith("2013"):
            output = "sigmoid" if m.family == "2013" else "linear"
            assert (m.model.activation, m.model.output_activation, m.model.sparsity) == ("sigmoid", output, "kl")
            assert (m.model.rho, m.model.beta, m.model.top_k, m.threshold) == (m.value, 3.0, None, 0.5)
        else:
            assert (m.model.activation, m.model.output_activation, m.threshold) == ("relu", "linear", 0.0)
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
        ({"l1_betas": [0.1, 0.1]}, "l1_betas must hold distinct numbers; [0.1] repeated"),
        ({"k_values": []}, "k_values must be a non-empty list of integers in [1, 6]"),
        ({"kl_beta": -1.0}, "kl_beta must lie in [0, inf]; got -1.0"),
        ({"weight_decay": float("nan")}, "weight_decay must be a finite real number"),
        ({"aux_k": 7}, "aux_k must be an integer in [1, 6]; got 7"),
        ({"adam": "adam"}, "adam must be an autoencoder.core.adam.Adam"),
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
    with pytest.raises(ValueError, match=r"learning_rate must lie in \(0, inf\]; got 0.0"):
        check_knobs(learning_rate=0.0)
    assert check_knobs(k_values="[5, 10]", l0_values="[5, 10]") == {"k_values": [5, 10], "l0_values": [5.0, 10.0]}


def rows_of(points):
    return [{"family": family, "l0": l0, "fvu": fvu} for family, l0, fvu in points]


def test_frontier_is_sorted_by_l0_and_keeps_the_pairs():
    rows = rows_of([("2024", 5.0, 0.5), ("2024", 2.0, 0.7), ("2013", 1.0, 0.2), ("2024", 8.0, 0.3)])
    l0, fvu = then_and_now.frontier(rows, "2024")
    np.testing.assert_array_equal(l0, [2.0, 5.0, 8.0])
    np.testing.assert_array_equal(fvu, [0.7, 0.5, 0.3])
    with pytest.raises(ValueError, match="family must be one of those in rows"):
        then_and_now.frontier(rows, "2023")


def test_fvu_at_l0_interpolates_between_neighbours():
    l0, fvu = [2.0, 5.0, 7.0], [0.7, 0.4, 0.3]
    assert then_and_now.fvu_at_l0(l0, fvu, 2.0) == pytest.approx(0.7)
    assert then_and_now.fvu_at_l0(l0, fvu, 5.0) == pytest.approx(0.4)
    assert then_and_now.fvu_at_l0(l0, fvu, 6.0) == pytest.approx(0.35)
    assert then_and_now.fvu_at_l0(l0, fvu, 7.0) == 0.3
    assert math.isnan(then_and_now.fvu_at_l0(l0, fvu, 0.5))  # no extrapolation
    assert math.isnan(then_and_now.fvu_at_l0(l0, fvu, 7.5))
    with pytest.raises(ValueError, match="l0 must be sorted"):
        then_and_now.fvu_at_l0([3.0, 1.0], [0.5, 0.9], 2.0)
    with pytest.raises(ValueError, match="target must lie in"):
        then_and_now.fvu_at_l0(l0, fvu, -1.0)


def test_matched_l0_reads_each_seed_at_the_same_l0_and_compare_uses_the_spread():
    rows = []
    for seed, shift in enumerate([0.0, 0.02, -0.02]):
        rows += [dict(r, seed=seed) for r in rows_of([("2013", 2.0, 0.5 + shift), ("2013", 6.0, 0.1 + shift)])]
        rows += [dict(r, seed=seed) for r in rows_of([("2024", 1.0, 0.9 + shift), ("2024", 4.0, 0.6 + shift)])]
    matched = then_and_now.matched_l0(rows, [3.0, 5.0])
    assert list(matched) == ["2013", "2024"]
    np.testing.assert_allclose(matched["2013"][:, 0], [0.4, 0.42, 0.38])
    np.testing.assert_allclose(matched["2013"][:, 1], [0.2, 0.22, 0.18])
    np.testing.assert_allclose(matched["2024"][:, 0], [0.7, 0.72, 0.68])
    assert np.isnan(matched["2024"][:, 1]).all()  # beyond the 2024 frontier
    verdict = then_and_now.compare(matched["2013"], matched["2024"])
    np.testing.assert_allclose(verdict["difference"], [-0.3, np.nan])
    np.testing.assert_allclose(verdict["sd"][0], math.sqrt(2) * 0.02)  # each family's sd is 0.02
    assert verdict["separated"].tolist() == [True, False]
    close = then_and_now.compare(matched["2013"], matched["2013"] + 0.03)  # 0.03 < 2 × 0.028
    assert close["separated"].tolist() == [False, False]
    with pytest.raises(ValueError, match="n_seeds >= 2"):
        then_and_now.compare(matched["2013"][:1], matched["2024"][:1])


def test_seed_summary_gives_mean_and_sample_sd():
    rows = [
        {"family": "2024", "label": "TopK, k = 2", "value": 2.0, "l0": 2.0, "fvu": fvu, "seed": s}
        for s, fvu in enumerate([0.3, 0.5])
    ]
    (summary,) = then_and_now.seed_summary(rows, keys=("l0", "fvu"))
    assert (summary["label"], summary["seeds"], summary["fvu"], summary["l0_sd"]) == ("TopK, k = 2", 2, 0.4, 0.0)
    assert summary["fvu_sd"] == pytest.approx(math.sqrt(0.02))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(300, 16)) * (rng.uniform(size=(300, 16)) < 0.4)  # sparse images in [0, 1]
    members = then_and_now.configurations(6, **(SETTING | dict(rho_values=[0.1], l1_betas=[0.1], k_values=[2])))
    directory = tmp_path_factory.mktemp("models")
    with Engine(n_workers=1) as engine:
        fits = then_and_now.train_members(members, X, [0, 1], engine=engine, directory=directory)
    return members, fits, X, directory


def test_every_member_and_seed_is_trained_through_the_cache(trained):
    members, fits, X, directory = trained
    assert sorted(fits) == sorted((m.label, s) for m in members for s in (0, 1))
    assert len(list(directory.glob("*.npz"))) == 2 * len(members)
    for m in members:  # each trained by Adam for its 2 epochs of 6 steps
        assert fits[m.label, 0].n_iter == 2 and fits[m.label, 0].n_evals == 12
        assert not np.array_equal(fits[m.label, 0].params.flat, fits[m.label, 1].params.flat)
    with Engine(n_workers=1) as engine:
        again = then_and_now.train_members(members, X, [1, 0], engine=engine, directory=directory)
    assert len(list(directory.glob("*.npz"))) == 2 * len(members)
    for key, fit in fits.items():
        np.testing.assert_array_equal(again[key].params.flat, fit.params.flat)


def test_measures_of_the_trained_members(trained):
    members, fits, X, _ = trained
    rows = then_and_now.measure_members(members, fits, X[:50], X)
    assert [(r["family"], r["seed"]) for r in rows] == [(m.family, s) for m in members for s in (0, 1)]
    kl, kl_linear, l1, top = rows[::2]
    assert (kl["threshold"], kl_linear["threshold"], l1["threshold"], top["threshold"]) == (0.5, 0.5, 0.0, 0.0)
    for member, row in zip(members, rows[::2], strict=True):
        params = fits[member.label, 0].params
        expected = fraction_of_variance_unexplained(X[:50], member.model.reconstruct(params, X[:50]))
        assert row["fvu"] == pytest.approx(expected, rel=1e-10)
        assert row["hard_fvu"] == pytest.approx(
            then_and_now.fvu_of_hard_code(member.model, params, X[:50], row["threshold"]), rel=1e-10
        )
        A = member.model.encode(params, X)
        assert row["dead"] == np.count_nonzero((A > row["threshold"]).sum(axis=0) == 0)
        assert (row["epochs"], row["steps"]) == (2, 12)
    # TopK keeps at most k units per example.
    A = members[3].model.encode(fits[top["label"], 0].params, X[:50])
    assert np.count_nonzero(A, axis=1).max() <= 2
    assert top["l0"] == pytest.approx(np.count_nonzero(A) / 50)
    # L1 at rho = 0 is the mean L1 norm of a non-negative code, within eps per unit.
    assert abs(l1["penalty_sum"] - l1["rho_hat"].sum()) <= 6 * L1_SMOOTHING
    # The training pass also counts the dead latents no image reaches, as dead_latent_reach does.
    for member, row in zip(members[2:], rows[4::2], strict=True):
        reach = then_and_now.dead_latent_reach(member, fits[member.label, 0].params, X)
        assert (row["dead"], row["unreachable"]) == (reach["dead"], reach["unreachable"])
    assert math.isnan(kl["unreachable"])
    # A ReLU code has nothing at or below 0 to zero: the hard code's FVU is the FVU.
    assert l1["hard_fvu"] == pytest.approx(l1["fvu"], rel=1e-12)


def test_hard_code_of_sigmoid_units_against_a_hand_forward_pass(trained):
    members, fits, X, _ = trained
    p = fits[members[0].label, 0].params
    A = 1 / (1 + np.exp(-(X @ p.W1.T + p.b1)))
    A = np.where(A > 0.5, A, 0.0)
    H = 1 / (1 + np.exp(-(A @ p.W2.T + p.b2)))
    expected = np.sum((X - H) ** 2) / np.sum((X - X.mean(axis=0)) ** 2)
    assert then_and_now.fvu_of_hard_code(members[0].model, p, X, 0.5) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="threshold must lie in"):
        then_and_now.fvu_of_hard_code(members[0].model, p, X, -0.1)


def test_the_aux_k_control_is_the_same_training_without_aux_k():
    members = then_and_now.configurations(6, **SETTING)
    topk = members[-1]
    control = then_and_now.without_aux_k(topk)
    assert (control.family, control.label, control.model) == ("2024 without AuxK", "TopK, k = 4, no AuxK", topk.model)
    assert control.optimizer.aux_k is None
    assert control.optimizer == topk.optimizer.__class__(**(topk.optimizer.to_dict() | {"aux_k": None}))
    with pytest.raises(ValueError, match="member must be of the 2024 family"):
        then_and_now.without_aux_k(members[0])


def test_the_2013_families_get_their_own_learning_rate():
    members = then_and_now.configurations(6, **SETTING, kl_learning_rate=0.05)
    assert {m.optimizer.learning_rate for m in members if m.family.startswith("2013")} == {0.05}
    assert {m.optimizer.learning_rate for m in members if m.family in ("2023", "2024")} == {1e-2}
    with pytest.raises(ValueError, match="kl_learning_rate must lie in"):
        then_and_now.configurations(6, **SETTING, kl_learning_rate=0.0)


def test_dead_latent_reach_counts_latents_no_image_can_revive(trained):
    members, fits, X, _ = trained
    member = members[3]
    params = fits[member.label, 0].params.copy()
    params.b1[0] = -1e3  # latent 0: negative on every image, dead and unreachable
    params.W1[1] = 0.0
    params.b1[1] = 0.0  # latent 1: pre-activation 0 everywhere, dead and unreachable
    reach = then_and_now.dead_latent_reach(member, params, X)
    A = member.model.encode(params, X)
    dead = ~(A > 0).any(axis=0)
    assert dead[0] and dead[1]
    assert reach["dead"] == dead.sum()
    largest = (X @ params.W1.T + params.b1).max(axis=0)
    assert reach["unreachable"] == np.count_nonzero(dead & (largest <= 0)) >= 2
    with pytest.raises(ValueError, match="member must have ReLU latents"):
        then_and_now.dead_latent_reach(members[0], fits[members[0].label, 0].params, X)
