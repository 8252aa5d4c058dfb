"""Self-taught learning: UFLDL's split, the features of each representation, the softmax probe."""

import numpy as np
import pytest

from autoencoder import Autoencoder
from autoencoder.core.pca import pca
from autoencoder.datasets.mnist import MNISTUnavailableError, load_mnist
from autoencoder.experiments import probes
from autoencoder.experiments.estimator import SparseAutoencoder

# The labels of the first twenty MNIST training images.
FIRST_TWENTY = np.array([5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7, 2, 8, 6, 9])


@pytest.fixture
def labels(rng):
    return rng.integers(0, 10, size=600)


# -- the split ------------------------------------------------------------------------------------


def test_split_of_the_first_twenty_mnist_labels():
    split = probes.self_taught_split(FIRST_TWENTY)
    np.testing.assert_array_equal(split.unlabeled, [0, 4, 11, 13, 15, 17, 18, 19])
    np.testing.assert_array_equal(split.train, [1, 2, 3, 5, 6, 7])
    np.testing.assert_array_equal(split.test, [8, 9, 10, 12, 14, 16])


def test_odd_labeled_count_gives_the_extra_image_to_training_as_matlab_round_does():
    split = probes.self_taught_split(FIRST_TWENTY, n_labeled=11, n_unlabeled=3)
    np.testing.assert_array_equal(split.unlabeled, [0, 4, 11])
    np.testing.assert_array_equal(split.train, [1, 2, 3, 5, 6, 7])
    np.testing.assert_array_equal(split.test, [8, 9, 10, 12, 14])


def test_split_is_disjoint_holds_the_right_digits_in_file_order(labels):
    split = probes.self_taught_split(labels)
    parts = (split.unlabeled, split.train, split.test)
    assert not set(split.unlabeled) & set(split.train)
    assert not set(split.unlabeled) & set(split.test)
    assert not set(split.train) & set(split.test)
    assert set(labels[split.unlabeled]) == {5, 6, 7, 8, 9}
    assert set(labels[split.train]) | set(labels[split.test]) == {0, 1, 2, 3, 4}
    for part in parts:
        assert np.all(np.diff(part) > 0)
    # Nothing is left out: every image is in exactly one part.
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(len(labels)))
    # The training half comes first in the file.
    assert split.train.max() < split.test.min()
    assert len(split.train) - len(split.test) in (0, 1)


def test_split_is_reproducible_and_smaller_counts_are_prefixes(labels):
    full = probes.self_taught_split(labels)
    again = probes.self_taught_split(labels.copy())
    for a, b in zip((full.unlabeled, full.train, full.test), (again.unlabeled, again.train, again.test), strict=True):
        np.testing.assert_array_equal(a, b)
    small = probes.self_taught_split(labels, n_unlabeled=50, n_labeled=101)
    np.testing.assert_array_equal(small.unlabeled, full.unlabeled[:50])
    labeled = np.concatenate([full.train, full.test])
    np.testing.assert_array_equal(small.train, labeled[:51])
    np.testing.assert_array_equal(small.test, labeled[51:101])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_labeled": 1}, r"n_labeled must be an integer in \[2, 12\]; got 1"),
        ({"n_labeled": 13}, r"n_labeled must be an integer in \[2, 12\]; got 13"),
        ({"n_unlabeled": 0}, r"n_unlabeled must be an integer in \[1, 8\]; got 0"),
        ({"n_labeled": 4}, r"n_labeled = 4 leaves the digits \[1, 2, 3\] out of the probe's training half"),
    ],
)
def test_split_refuses_bad_counts_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        probes.self_taught_split(FIRST_TWENTY, **kwargs)


@pytest.mark.parametrize(
    ("labels", "message"),
    [(np.array([0.5, 1.0]), "1-D array of integers"), (np.array([[1, 2]]), "1-D array"), (np.array([3, 10]), "0 to 9")],
)
def test_split_refuses_what_are_not_digit_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        probes.self_taught_split(labels)


def test_more_labels_per_class_than_a_class_has_is_refused_by_name():
    y = np.array([1, 0, 1, 2, 0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"labels_per_class\[0\] must be at most 2, .* digit 2 .*; got 3"):
        probes.check_labels_per_class([3], y)
    with pytest.raises(ValueError, match=r"labels_per_class\[1\] must be at most 2, .*; got 5"):
        probes.check_labels_per_class([1, 5], y)
    with pytest.raises(ValueError, match=r"labels_per_class\[0\] must be an integer >= 1; got 0"):
        probes.check_labels_per_class([0], y)
    assert probes.check_labels_per_class([1, 2], y) == [1, 2]


@pytest.mark.slow
def test_the_split_of_mnist_is_ufldls():
    try:
        _, y = load_mnist("train", download=False)
    except MNISTUnavailableError as exc:
        pytest.fail(f"MNIST is not available locally ({exc}); run `python -m autoencoder.data fetch`")
    split = probes.self_taught_split(y)
    assert (len(split.unlabeled), len(split.train), len(split.test)) == (29_404, 15_298, 15_298)
    np.testing.assert_array_equal(split.unlabeled[:5], [0, 4, 11, 13, 15])
    np.testing.assert_array_equal(split.train[:5], [1, 2, 3, 5, 6])
    np.testing.assert_array_equal(np.bincount(y[split.train]), [2955, 3412, 2944, 3067, 2920])
    np.testing.assert_array_equal(np.bincount(y[split.test]), [2968, 3330, 3014, 3064, 2922])


# -- the features ---------------------------------------------------------------------------------


@pytest.fixture
def trained(rng):
    """A sigmoid and a linear network with random parameters, and images in [0, 1]."""
    X = rng.uniform(0, 1, size=(30, 12))
    sigmoid = Autoencoder(5, activation="sigmoid", sparsity="kl")
    linear = Autoencoder(5, activation="linear", sparsity="l2")
    params = sigmoid.init_params(12, seed=3)
    params.b1[...] = rng.normal(size=5)
    return X, sigmoid, linear, params


def test_sigmoid_features_are_the_hidden_activations(trained):
    X, sigmoid, _, params = trained
    rep = probes.autoencoder_representation("sigmoid", sigmoid, params)
    F = rep.features(X)
    expected = 1 / (1 + np.exp(-(X @ params.W1.T + params.b1)))
    assert F.shape == (30, 5) and F.dtype == np.float64
    np.testing.assert_allclose(F, expected, rtol=1e-12)
    np.testing.assert_allclose(rep.reconstruct(X), sigmoid.reconstruct(params, X), rtol=1e-12)


def test_linear_features_are_the_affine_map(trained):
    X, _, linear, params = trained
    F = probes.autoencoder_representation("linear", linear, params).features(X)
    np.testing.assert_allclose(F, X @ params.W1.T + params.b1, rtol=1e-12)


def test_float32_networks_take_float64_images(trained):
    X, sigmoid, _, params = trained
    rep = probes.autoencoder_representation("sigmoid", sigmoid, params.astype(np.float32))
    F = rep.features(X)
    assert F.dtype == np.float64
    np.testing.assert_allclose(F, sigmoid.encode(params, X), atol=1e-6)


def test_an_untrained_network_has_features_but_no_reconstruction(trained):
    X, sigmoid, _, _ = trained
    rep = probes.random_representation("untrained", sigmoid, 12, seed=3)
    assert isinstance(rep.transformer, SparseAutoencoder)
    np.testing.assert_array_equal(rep.features(X), sigmoid.encode(sigmoid.init_params(12, seed=3), X))
    assert rep.reconstruct(X) is None


def test_pca_features_are_the_coordinates_and_pixels_are_the_images(rng):
    X = rng.uniform(0, 1, size=(40, 12))
    result = pca(X, 4)
    rep = probes.pca_representation(result)
    assert rep.label == "PCA, 4 components"
    np.testing.assert_allclose(rep.features(X), (X - X.mean(axis=0)) @ result.components.T, rtol=1e-12)
    np.testing.assert_allclose(rep.reconstruct(X), result.reconstruct(X))
    raw = probes.pixels()
    np.testing.assert_array_equal(raw.features(X), X)
    np.testing.assert_array_equal(raw.reconstruct(X), X)


# -- the probe -------------------------------------------------------------------------------------


def test_c_is_one_over_lambda_m():
    assert probes.softmax_c(1e-4, 15_298) == pytest.approx(1 / 1.5298)
    assert probes.softmax_c(0, 10) == np.inf
    with pytest.raises(ValueError, match=r"weight_decay must lie in \[0, inf\]"):
        probes.softmax_c(-1, 10)


def ufldl_gradient(F, y, W, b, weight_decay):
    """Gradient of UFLDL's (1/m) Σ −log p(y|f) + (λ/2)‖W‖² (intercepts unpenalized) in W and b."""
    Z = F @ W.T + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(len(y)), y] -= 1
    return P.T @ F / len(y) + weight_decay * W, P.mean(axis=0)


@pytest.fixture
def blobs(rng):
    """Three overlapping Gaussian classes in 6 dimensions, training and test sets."""
    centres = rng.normal(scale=1.5, size=(3, 6))
    y = rng.integers(0, 3, size=400)
    F = centres[y] + rng.normal(size=(400, 6))
    return F[:300], y[:300], F[300:], y[300:]


@pytest.mark.parametrize("weight_decay", [1e-4, 1e-2])
def test_the_probe_minimizes_ufldls_softmax_objective(blobs, weight_decay):
    F_train, y_train, F_test, y_test = blobs
    result = probes.softmax_probe(F_train, y_train, F_test, y_test, weight_decay=weight_decay, tol=1e-10)
    assert result.converged
    gW, gb = ufldl_gradient(F_train, y_train, result.coef, result.intercept, weight_decay)
    assert np.abs(gW).max() < 1e-6
    assert np.abs(gb).max() < 1e-6
    # With another lambda the same weights are not a minimum: the mapping C = 1/(lambda m) matters.
    gW_other, _ = ufldl_gradient(F_train, y_train, result.coef, result.intercept, 10 * weight_decay)
    assert np.abs(gW_other).max() > 1e-4


def test_the_probe_counts_and_is_deterministic(blobs):
    F_train, y_train, F_test, y_test = blobs
    first = probes.softmax_probe(F_train, y_train, F_test, y_test)
    second = probes.softmax_probe(F_train.copy(), y_train, F_test, y_test)
    np.testing.assert_array_equal(first.coef, second.coef)
    predicted = np.argmax(F_test @ first.coef.T + first.intercept, axis=1)
    assert first.errors == np.sum(predicted != y_test)
    assert first.accuracy == pytest.approx(np.mean(predicted == y_test))
    assert (first.n_train, first.n_test) == (300, 100)
    assert 0.5 < first.accuracy < 1


def test_a_probe_stopped_early_says_it_did_not_converge(blobs):
    result = probes.softmax_probe(*blobs, max_iter=2)
    assert result.n_iter == 2
    assert not result.converged


def test_the_probe_refuses_mismatched_shapes(blobs):
    F_train, y_train, F_test, y_test = blobs
    with pytest.raises(ValueError, match="F_train must have one row per label"):
        probes.softmax_probe(F_train[:10], y_train, F_test, y_test)
    with pytest.raises(ValueError, match=r"F_test must have shape \(100, 6\)"):
        probes.softmax_probe(F_train, y_train, F_test[:, :3], y_test)


def test_the_probe_pipeline_freezes_the_features_and_gives_the_bits_of_the_probe_on_them(trained, rng):
    X, sigmoid, _, params = trained
    y = np.repeat([0, 1, 2], 10)
    X_test, y_test = rng.uniform(0, 1, size=(15, 12)), np.repeat([0, 1, 2], 5)
    rep = probes.autoencoder_representation("sigmoid", sigmoid, params)
    before = params.flat.copy()
    pipe = probes.probe_pipeline(rep, len(y), weight_decay=1e-3)
    assert [name for name, _ in pipe.steps] == ["features", "float64", "softmax"]
    pipe.fit(X, y)
    np.testing.assert_array_equal(rep.transformer.params_.flat, before)  # fitting the probe trains no feature
    direct = probes.softmax_probe(rep.features(X), y, rep.features(X_test), y_test, weight_decay=1e-3)
    np.testing.assert_array_equal(pipe.named_steps["softmax"].coef_, direct.coef)
    assert pipe.named_steps["softmax"].C == direct.C == probes.softmax_c(1e-3, 30)
    assert np.mean(pipe.predict(X_test) == y_test) == direct.accuracy


def test_float32_images_give_the_probe_float64_features(trained):
    X, sigmoid, _, params = trained
    rep = probes.autoencoder_representation("sigmoid", sigmoid, params.astype(np.float32))
    pipe = probes.probe_pipeline(rep, 30)
    X32 = X.astype(np.float32)
    assert pipe[:-1].transform(X32).dtype == np.float64
    np.testing.assert_array_equal(pipe[:-1].transform(X32), rep.features(X32))


# -- the protocol: a validation split, random label subsets, a tuned weight decay -----------------


def test_validation_split_holds_out_a_share_of_each_class_and_is_reproducible(labels):
    fit, validation = probes.validation_split(labels, fraction=0.2, seed=1)
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, validation])), np.arange(len(labels)))
    assert not set(fit) & set(validation)
    for c in range(10):
        members = np.sum(labels == c)
        assert np.sum(labels[validation] == c) == round(0.2 * members)
    again = probes.validation_split(labels.copy(), fraction=0.2, seed=1)
    np.testing.assert_array_equal(again[1], validation)
    assert not np.array_equal(probes.validation_split(labels, fraction=0.2, seed=2)[1], validation)


def test_validation_split_refuses_a_class_of_one_and_a_bad_fraction():
    with pytest.raises(ValueError, match="digit 2 has 1 image"):
        probes.validation_split(np.array([0, 0, 1, 1, 2]))
    with pytest.raises(ValueError, match="fraction must lie in"):
        probes.validation_split(np.array([0, 0, 1, 1]), fraction=1.0)


def test_label_subsets_draw_k_of_each_class_differently_and_the_same_again(labels):
    subsets = probes.label_subsets(labels, 7, 5, seed=3)
    assert len(subsets) == 5
    for subset in subsets:
        assert np.all(np.diff(subset) > 0)
        np.testing.assert_array_equal(np.bincount(labels[subset], minlength=10), np.full(10, 7))
    assert len({tuple(s) for s in subsets}) == 5
    for a, b in zip(subsets, probes.label_subsets(labels.copy(), 7, 5, seed=3), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"labels_per_class\[0\] must be at most"):
        probes.label_subsets(labels, 1000, 5)


def test_tune_softmax_picks_the_best_validation_accuracy_strongest_first_and_converges(blobs):
    F_train, y_train, F_test, y_test = blobs
    tuned = probes.tune_softmax(F_train, y_train, F_test, y_test, [1e-4, 10.0, 1e-2])
    assert tuned.weight_decays == (10.0, 1e-2, 1e-4)
    best = max(tuned.validation_accuracy)
    assert tuned.validation_accuracy[tuned.weight_decays.index(tuned.weight_decay)] == best
    assert tuned.weight_decay == tuned.weight_decays[tuned.validation_accuracy.index(best)]  # strongest of ties
    # A λ this strong leaves a near-constant classifier: validation must rule it out.
    assert tuned.validation_accuracy[0] < best
    # The chosen classifier is the optimum of UFLDL's objective at the chosen λ, to the full tolerance.
    exact = probes.softmax_probe(F_train, y_train, F_test, y_test, weight_decay=tuned.weight_decay, tol=1e-10)
    np.testing.assert_allclose(tuned.classifier.coef_, exact.coef, atol=1e-3)


def test_probe_representations_tunes_on_validation_and_pairs_the_subsets(rng):
    X_train = rng.uniform(0, 1, size=(150, 8))
    y_train = np.repeat([0, 1, 2], 50)
    X_train[:, 0] += y_train
    X_test = rng.uniform(0, 1, size=(30, 8))
    y_test = np.repeat([0, 1, 2], 10)
    X_test[:, 0] += y_test
    reps = [probes.pixels(), probes.pca_representation(pca(X_train, 3))]
    grid = [1e-1, 1e-3]
    rows = probes.probe_representations(
        reps, X_train, y_train, X_test, y_test, labels_per_class=[5, None], n_subsets=3, weight_decays=grid
    )
    assert [(r["label"], r["labels_per_class"], r["subset"]) for r in rows] == [
        (label, k, s)
        for label in ("raw pixels", "PCA, 3 components")
        for k, s in ((5, 0), (5, 1), (5, 2), (None, None))
    ]
    assert [r["n_train"] for r in rows[:4]] == [15, 15, 15, 150]  # all labels: refitted on fit and validation
    assert all(r["weight_decay"] in grid and len(r["validation_accuracy"]) == 2 for r in rows)
    assert all(r["correct"].shape == (30,) and r["errors"] == np.sum(~r["correct"]) for r in rows)
    full = rows[3]
    assert full["C"] == pytest.approx(probes.softmax_c(full["weight_decay"], 150))
    assert full["accuracy"] > 0.8
    # The test images choose nothing: other test images give the same λ.
    other = probes.probe_representations(
        reps[:1],
        X_train,
        y_train,
        X_test[::-1],
        y_test[::-1],
        labels_per_class=[5, None],
        n_subsets=3,
        weight_decays=grid,
    )
    assert [r["weight_decay"] for r in other] == [r["weight_decay"] for r in rows[:4]]
    mean, sd = probes.subset_summary(rows, "raw pixels", 5)
    assert mean == pytest.approx(np.mean([r["accuracy"] for r in rows[:3]]))
    assert sd == pytest.approx(np.std([r["accuracy"] for r in rows[:3]], ddof=1))
    diff_mean, diff_sd = probes.subset_difference(rows, "raw pixels", "PCA, 3 components", 5)
    differences = [a["accuracy"] - b["accuracy"] for a, b in zip(rows[:3], rows[4:7], strict=True)]
    assert (diff_mean, diff_sd) == pytest.approx((np.mean(differences), np.std(differences, ddof=1)))
    with pytest.raises(ValueError, match="no rows of 'raw pixels' with labels_per_class = 7"):
        probes.subset_summary(rows, "raw pixels", 7)


def test_an_untrained_network_scaled_spreads_its_preactivations_by_the_factor(trained):
    X, sigmoid, _, _ = trained
    plain = probes.random_representation("untrained", sigmoid, 12, seed=3)
    scaled = probes.random_representation("untrained, x10", sigmoid, 12, seed=3, scale=10)
    assert probes.preactivation_sd(scaled, X) == pytest.approx(10 * probes.preactivation_sd(plain, X))
    W1 = sigmoid.init_params(12, seed=3).W1
    np.testing.assert_allclose(scaled.features(X), 1 / (1 + np.exp(-10 * X @ W1.T)), rtol=1e-12)
    with pytest.raises(ValueError, match="scale must"):
        probes.random_representation("untrained", sigmoid, 12, seed=3, scale=0)


# -- McNemar's exact test ---------------------------------------------------------------------------


def test_mcnemar_counts_the_discordant_pairs_and_gives_the_hand_computed_p_value():
    # a right, b wrong on 1 example; a wrong, b right on 7; concordant on 4 (ignored).
    a = np.array([True] * 1 + [False] * 7 + [True, True, False, False])
    b = np.array([False] * 1 + [True] * 7 + [True, True, False, False])
    n01, n10, p = probes.mcnemar_exact(a, b)
    assert (n01, n10) == (7, 1)
    # Two-sided binomial, n = 8, k = 1: 2 (C(8,0) + C(8,1)) / 2^8 = 2 * 9 / 256.
    assert p == pytest.approx(18 / 256)
    assert probes.mcnemar_exact(b, a) == (1, 7, pytest.approx(18 / 256))


def test_mcnemar_is_one_without_discordant_pairs_and_small_for_a_lopsided_split():
    same = np.array([True, False, True])
    assert probes.mcnemar_exact(same, same) == (0, 0, 1.0)
    a = np.zeros(20, dtype=bool)
    assert probes.mcnemar_exact(a, ~a).p_value == pytest.approx(2 / 2**20)
    # Equal discordant counts are no evidence at all.
    assert probes.mcnemar_exact(np.array([True, False]), np.array([False, True])).p_value == 1.0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.array([1, 0, 1]), np.array([True, False, True])),
        (np.array([True, False]), np.array([True, False, True])),
        (np.array([[True]]), np.array([[True]])),
    ],
)
def test_mcnemar_refuses_what_are_not_paired_boolean_vectors(a, b):
    with pytest.raises(ValueError, match="1-D boolean arrays of one length"):
        probes.mcnemar_exact(a, b)
