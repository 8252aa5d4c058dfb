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


def test_first_per_class_keeps_the_first_of_each_class_in_order():
    y = np.array([1, 0, 1, 2, 0, 1, 2, 2, 0])
    np.testing.assert_array_equal(probes.first_per_class(y, 2), [0, 1, 2, 3, 4, 6])
    np.testing.assert_array_equal(probes.first_per_class(y, None), np.arange(9))
    np.testing.assert_array_equal(probes.first_per_class(y, 3), np.arange(9))


def test_more_labels_per_class_than_a_class_has_is_refused_by_name():
    y = np.array([1, 0, 1, 2, 0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"labels_per_class\[0\] must be at most 2, .* digit 2 .*; got 3"):
        probes.first_per_class(y, 3)
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


def test_probe_representations_rows_in_order_with_few_labels(rng):
    X_train = rng.uniform(0, 1, size=(90, 8))
    y_train = np.repeat([0, 1, 2], 30)
    X_train[:, 0] += y_train  # a feature that tells the classes apart
    X_test = rng.uniform(0, 1, size=(30, 8))
    y_test = np.repeat([0, 1, 2], 10)
    X_test[:, 0] += y_test
    reps = [probes.pixels(), probes.pca_representation(pca(X_train, 3))]
    rows = probes.probe_representations(reps, X_train, y_train, X_test, y_test, labels_per_class=[5, None])
    assert [(r["label"], r["labels_per_class"]) for r in rows] == [
        ("raw pixels", 5),
        ("raw pixels", None),
        ("PCA, 3 components", 5),
        ("PCA, 3 components", None),
    ]
    assert [r["n_train"] for r in rows] == [15, 90, 15, 90]
    assert [r["n_features"] for r in rows] == [8, 8, 3, 3]
    assert rows[0]["reconstruction_mse"] == 0
    assert rows[2]["reconstruction_mse"] > 0
    assert all(r["n_test"] == 30 for r in rows)
    assert rows[1]["accuracy"] > 0.8
