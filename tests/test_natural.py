"""The natural-image patches: digests, grey scale, whitening, sampling and UFLDL's normalization."""

import hashlib

import numpy as np
import pytest

from autoencoder.datasets import natural
from autoencoder.datasets.natural import (
    NaturalImagesError,
    downsample,
    load_sample_images,
    natural_patches,
    normalize_patches,
    radial_power_spectrum,
    sample_patches,
    to_grey,
    whiten,
    whitening_filter,
)


def one_over_f_image(size=256, seed=0):
    """A periodic image whose amplitude spectrum is exactly 1/f, with random phases (power 1/f²)."""
    rng = np.random.default_rng(seed)
    f = np.hypot(np.fft.fftfreq(size)[:, None], np.fft.fftfreq(size)[None, :])
    amplitude = np.divide(1.0, f, out=np.zeros_like(f), where=f > 0)
    phases = np.fft.fft2(rng.standard_normal((size, size)))
    return np.real(np.fft.ifft2(amplitude * phases / np.abs(phases)))


def log_slope(frequency, power, band=(0.02, 0.2)):
    inside = (frequency >= band[0]) & (frequency <= band[1])
    return np.polyfit(np.log(frequency[inside]), np.log(power[inside]), 1)[0]


def test_the_sample_images_are_the_recorded_ones():
    images = load_sample_images()
    assert [image.shape for image in images] == [(427, 640, 3), (427, 640, 3)]
    assert all(image.dtype == np.uint8 for image in images)


def test_an_image_with_other_bytes_is_refused(tmp_path):
    for name in natural.SAMPLE_IMAGES_SHA256:
        (tmp_path / name).write_bytes(b"not the photograph")
    with pytest.raises(NaturalImagesError, match="SHA-256"):
        load_sample_images(tmp_path)


def test_a_missing_image_is_named(tmp_path):
    with pytest.raises(NaturalImagesError, match="china.jpg is missing"):
        load_sample_images(tmp_path)


def test_the_digests_are_those_of_the_installed_files():
    directory = natural._images_dir()
    for name, digest in natural.SAMPLE_IMAGES_SHA256.items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest


def test_grey_is_the_bt601_luma_in_the_unit_interval():
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 255, 255)
    rgb[0, 1] = (255, 0, 0)
    rgb[1, 2] = (0, 0, 255)
    grey = to_grey(rgb)
    assert grey.shape == (2, 3)
    np.testing.assert_allclose([grey[0, 0], grey[0, 1], grey[1, 2], grey[1, 0]], [1.0, 0.299, 0.114, 0.0])


def test_downsample_averages_blocks():
    image = np.arange(20.0).reshape(4, 5)
    np.testing.assert_allclose(downsample(image, 2), [[3.0, 5.0], [13.0, 15.0]])
    np.testing.assert_allclose(downsample(image, 1), image)


def test_the_power_spectrum_of_a_one_over_f_image_falls_as_f_squared():
    frequency, power = radial_power_spectrum(one_over_f_image())
    assert log_slope(frequency, power) == pytest.approx(-2.0, abs=0.15)


def test_whitening_flattens_a_one_over_f_spectrum():
    white = whiten(one_over_f_image())
    frequency, power = radial_power_spectrum(white)
    assert log_slope(frequency, power) == pytest.approx(0.0, abs=0.15)
    # Flat within a factor 1.5 over a decade, and the roll-off takes the power down near Nyquist.
    band = (frequency >= 0.02) & (frequency <= 0.2)
    assert power[band].max() / power[band].min() < 1.5
    assert power[-1] < 0.5 * power[band].mean()


def test_whitening_does_not_flatten_white_noise():
    # The filter is not a normalization: a flat spectrum comes out rising as f².
    noise = np.random.default_rng(1).standard_normal((256, 256))
    frequency, power = radial_power_spectrum(whiten(noise))
    assert log_slope(frequency, power) == pytest.approx(2.0, abs=0.2)


def test_whitened_images_have_zero_mean_and_unit_variance():
    white = whiten(one_over_f_image(128) + 3.0)
    assert white.mean() == pytest.approx(0.0, abs=1e-12)
    assert white.std() == pytest.approx(1.0)


def test_the_filter_is_zero_at_dc_and_peaks_before_the_cutoff():
    gain = whitening_filter((64, 64), cutoff=0.4)
    assert gain[0, 0] == 0
    f = np.hypot(np.fft.fftfreq(64)[:, None], np.fft.fftfreq(64)[None, :])
    assert 0.25 < f.ravel()[np.argmax(gain)] < 0.4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mirroring_keeps_the_borders_from_adding_edges(seed):
    # A crop of a larger 1/f image is not periodic: wrapped around, its opposite borders meet in edges
    # that whitening brightens; mirrored, the borders look like the inside.
    crop = one_over_f_image(512, seed)[:128, :128]

    def border_to_inside(white):
        border = np.concatenate([white[:, :2].ravel(), white[:, -2:].ravel(), white[:2].ravel(), white[-2:].ravel()])
        return border.std() / white[16:-16, 16:-16].std()

    assert border_to_inside(whiten(crop, mirror=False)) > 1.15
    assert border_to_inside(whiten(crop)) == pytest.approx(1.0, abs=0.1)


def test_the_sampler_is_deterministic_given_the_seed():
    images = [np.random.default_rng(0).standard_normal((30, 40)), np.random.default_rng(1).standard_normal((20, 25))]
    first = sample_patches(images, 50, 8, seed=3)
    np.testing.assert_array_equal(first, sample_patches(images, 50, 8, seed=3))
    assert not np.array_equal(first, sample_patches(images, 50, 8, seed=4))
    assert first.shape == (50, 64)


def test_a_patch_is_a_window_of_one_image():
    image = np.arange(30 * 40, dtype=float).reshape(30, 40)
    patch = sample_patches([image], 1, 5, seed=0)[0].reshape(5, 5)
    r, c = divmod(int(patch[0, 0]), 40)
    np.testing.assert_array_equal(patch, image[r : r + 5, c : c + 5])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_patches": 0}, r"n_patches must be an integer >= 1; got 0"),
        ({"n_patches": -5}, r"n_patches must be an integer >= 1; got -5"),
        ({"patch_size": 21}, r"patch_size must be an integer in \[1, 20\]; got 21"),
        ({"patch_size": 0}, r"patch_size must be an integer in \[1, 20\]; got 0"),
        ({"seed": -1}, r"seed must be an integer >= 0; got -1"),
    ],
)
def test_bad_sampler_arguments_are_refused(kwargs, message):
    images = [np.zeros((30, 40)), np.zeros((20, 25))]
    arguments = {"n_patches": 10, "patch_size": 8} | kwargs
    with pytest.raises(ValueError, match=message):
        sample_patches(images, **arguments)


def test_natural_patches_refuse_bad_counts_before_any_work():
    with pytest.raises(ValueError, match=r"n_patches must be an integer >= 1; got 0"):
        natural_patches(0)
    with pytest.raises(ValueError, match=r"patch_size must be an integer in \[1, 213\]; got 500"):
        natural_patches(10, 500)


def test_normalization_is_ufldls():
    patches = np.random.default_rng(0).standard_normal((1000, 64)) * 2.0 + 5.0
    normalized = normalize_patches(patches)
    assert normalized.min() >= 0.1 and normalized.max() <= 0.9
    centred = patches - patches.mean(axis=1, keepdims=True)
    bound = 3 * centred.std()
    unclipped = np.abs(centred) < bound
    np.testing.assert_allclose(normalized[unclipped], 0.5 + 0.4 * centred[unclipped] / bound)
    assert np.all(normalized[centred >= bound] == 0.9)


def test_normalization_refuses_flat_patches_and_bad_clips():
    with pytest.raises(ValueError, match="all flat"):
        normalize_patches(np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"clip must lie in \(0, inf\]"):
        normalize_patches(np.eye(4), clip=0)


def test_the_pipeline_gives_ufldls_training_set():
    X = natural_patches(500, 8, seed=0)
    assert X.shape == (500, 64)
    assert X.min() >= 0.1 and X.max() <= 0.9
    np.testing.assert_array_equal(X, natural_patches(500, 8, seed=0))


def test_whitening_flattens_the_photographs_spectrum():
    grey, white = natural.natural_images()
    slopes = [log_slope(*radial_power_spectrum(image), band=(0.02, 0.2)) for image in grey]
    white_slopes = [log_slope(*radial_power_spectrum(image), band=(0.02, 0.2)) for image in white]
    assert all(s < -1.5 for s in slopes)
    assert all(abs(s) < 0.5 for s in white_slopes)


# -- the networks -----------------------------------------------------------------------------------


def test_the_seeds_train_side_by_side_as_one_at_a_time_and_a_doubled_seed_continues(tmp_path, monkeypatch):
    from autoencoder.experiments import natural_images
    from autoencoder.experiments.cache import fit_cached

    monkeypatch.setenv("AUTOENCODER_CACHE_DIR", str(tmp_path))
    rng = np.random.default_rng(3)
    patches = {s: rng.uniform(0.1, 0.9, size=(40, 64)) for s in (0, 1)}
    settings = dict(n_hidden=3, rho=0.05, beta=3.0, weight_decay=1e-4)
    networks, doubled = natural_images.train_networks(patches, **settings, max_iter=4, doubled=[1])
    assert list(networks) == [0, 1] and list(doubled) == [1]
    for s in (0, 1):
        model, fit = natural_images.train_network(patches[s], **settings, max_iter=4, seed=s)
        assert networks[s][0] == model
        np.testing.assert_array_equal(networks[s][1].params.flat, fit.params.flat)
    again = fit_cached(networks[1][0], patches[1], max_iter=4, seed=1, params=networks[1][1].params)
    np.testing.assert_array_equal(doubled[1].params.flat, again.params.flat)
    assert len(list(tmp_path.glob("*.npz"))) == 3  # nothing trained twice
    with pytest.raises(ValueError, match="doubled must name seeds of patches"):
        natural_images.train_networks(patches, **settings, max_iter=4, doubled=[2])
