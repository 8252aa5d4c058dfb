"""Natural-image patches for the sparse autoencoder exercise of UFLDL, from photographs already installed.

UFLDL's exercise trains on 8x8 patches of Olshausen and Field's ten whitened
512x512 photographs (``IMAGES.mat`` of their *sparsenet*), which no package
registry ships.  The photographs here are the two sample images inside the
scikit-learn wheel, ``china.jpg`` and ``flower.jpg`` (427 x 640, RGB JPEG),
so nothing is fetched at run time.  The pipeline:

1. :func:`load_sample_images` reads the two JPEG files from the installed
   scikit-learn, checks each against the SHA-256 digest of its bytes
   recorded here (:data:`SAMPLE_IMAGES_SHA256`), as :mod:`.mnist` checks the
   IDX files, and decodes it with Pillow;
2. :func:`to_grey` takes the luma ``0.299 R + 0.587 G + 0.114 B`` (ITU-R
   BT.601, Pillow's ``"L"``) in ``[0, 1]``;
3. :func:`downsample` averages blocks of ``factor x factor`` pixels: JPEG
   compression quantizes the highest spatial frequencies in 8x8 blocks, and
   whitening amplifies exactly those; averaging 2x2 blocks leaves the band
   whitening works on to frequencies the compression kept;
4. :func:`whiten` applies Olshausen and Field's filter (1996, 1997):
   ``R(f) = f exp(-(f / f_0)^4)`` in the Fourier domain, with ``f`` the
   radial frequency in cycles per pixel and ``f_0 = 0.4``.  The amplitude
   spectrum of natural images falls as ``1/f``; multiplying by ``f``
   flattens it (each frequency band gets the same variance, which removes
   the pairwise correlations between nearby pixels), and the roll-off
   ``exp(-(f/f_0)^4)`` keeps the filter from amplifying the noise and the
   aliasing near the Nyquist frequency ``0.5``.  This is the filter that made
   the images of UFLDL's exercise, which is why it is chosen over ZCA
   whitening of the patches: it whitens the image once, as a whole, and the
   patches are then cut from the whitened image as in the exercise.  The
   image is mirrored at its borders before the transform (the FFT treats it
   as periodic, and a plain wrap-around would add edges that are not in the
   photograph), and the result is scaled to unit variance;
5. :func:`sample_patches` cuts square patches at random positions of random
   images, with an explicit seed;
6. :func:`normalize_patches` is UFLDL's ``normalizeData``: each patch's own
   mean is removed, values are clipped at ``±3`` standard deviations (one
   standard deviation of all pixel values of all patches) and rescaled from
   ``[-3 sd, 3 sd]`` to ``[0.1, 0.9]``, the range of a sigmoid output unit.

:func:`natural_patches` runs the whole pipeline; :func:`radial_power_spectrum`
measures what step 4 does.

References: B. A. Olshausen and D. J. Field, "Emergence of simple-cell
receptive field properties by learning a sparse code for natural images",
Nature 381 (1996); "Sparse coding with an overcomplete basis set: a strategy
employed by V1?", Vision Research 37 (1997).  A. Ng et al., UFLDL Tutorial,
exercise "Sparse Autoencoder".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..core._validation import check_int, check_real

__all__ = [
    "SAMPLE_IMAGES_SHA256",
    "NaturalImagesError",
    "downsample",
    "load_sample_images",
    "natural_images",
    "natural_patches",
    "normalize_patches",
    "radial_power_spectrum",
    "sample_patches",
    "spectral_slope",
    "to_grey",
    "whiten",
    "whitening_filter",
]

SAMPLE_IMAGES_SHA256: Mapping[str, str] = {
    "china.jpg": "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
    "flower.jpg": "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
}
"""SHA-256 of the bytes of each sample image of scikit-learn (``sklearn/datasets/images``), by name."""

IMAGE_SHAPE = (427, 640, 3)
"""Shape of each decoded sample image: rows, columns, RGB."""

LUMA = (0.299, 0.587, 0.114)
"""Weights of R, G and B in the grey value (ITU-R BT.601)."""


class NaturalImagesError(RuntimeError):
    """A sample image is missing, or its bytes are not the ones recorded."""


def _images_dir() -> Path:
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).parent / "images"


def load_sample_images(directory: str | Path | None = None) -> list[np.ndarray]:
    """The two photographs of scikit-learn's wheel, checked against their digests, as RGB arrays.

    Parameters
    ----------
    directory : path-like, optional
        Where ``china.jpg`` and ``flower.jpg`` are; default the ``images``
        folder of the installed ``sklearn.datasets``.

    Returns
    -------
    list of ndarray of shape (427, 640, 3), uint8
        ``china.jpg`` and ``flower.jpg``, in that order.

    Raises
    ------
    NaturalImagesError
        If a file is missing, its SHA-256 is not the recorded one, or it
        decodes to another shape.
    """
    from PIL import Image

    directory = Path(directory) if directory is not None else _images_dir()
    images = []
    for name, expected in SAMPLE_IMAGES_SHA256.items():
        path = directory / name
        if not path.is_file():
            raise NaturalImagesError(f"{path} is missing: reinstall scikit-learn (pinned in requirements.txt)")
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected:
            raise NaturalImagesError(
                f"{path} has SHA-256 {digest}, not the recorded {expected}: "
                "it is not scikit-learn's sample image; reinstall scikit-learn from requirements.txt"
            )
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        if pixels.shape != IMAGE_SHAPE:
            raise NaturalImagesError(f"{path} decodes to shape {pixels.shape}, not {IMAGE_SHAPE}")
        images.append(pixels)
    return images


def to_grey(rgb) -> np.ndarray:
    """The luma ``0.299 R + 0.587 G + 0.114 B`` of an 8-bit RGB image, in ``[0, 1]``.

    Parameters
    ----------
    rgb : array_like of shape (h, w, 3)
        Values 0 to 255.

    Returns
    -------
    ndarray of shape (h, w), float64
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (h, w, 3); got {rgb.shape}")
    return rgb.astype(np.float64) @ np.array(LUMA) / 255.0


def _image(image, parameter: str = "image") -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or min(image.shape) < 2:
        raise ValueError(f"{parameter} must be a 2-D array of at least 2 x 2 pixels; got shape {image.shape}")
    if not np.all(np.isfinite(image)):
        raise ValueError(f"{parameter} must hold finite numbers")
    return image


def downsample(image, factor: int) -> np.ndarray:
    """The means of ``factor x factor`` blocks of ``image`` (rows and columns that do not fill a block dropped).

    Parameters
    ----------
    image : array_like of shape (h, w)
    factor : int
        At least 1 and at most ``min(h, w)``; 1 returns a copy.

    Returns
    -------
    ndarray of shape (h // factor, w // factor)
    """
    image = _image(image)
    factor = check_int("factor", factor, 1, min(image.shape))
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    return image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def _radial_frequency(shape: tuple[int, int]) -> np.ndarray:
    """``|f|`` in cycles per pixel on the grid of ``numpy.fft.fft2`` for an image of ``shape``."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    return np.hypot(fx, fy)


def whitening_filter(shape: tuple[int, int], cutoff: float = 0.4) -> np.ndarray:
    """Olshausen and Field's whitening filter ``R(f) = f exp(-(f / f_0)^4)`` on the FFT grid.

    Parameters
    ----------
    shape : tuple of int
        ``(h, w)`` of the image it is applied to.
    cutoff : float, default 0.4
        ``f_0`` in cycles per pixel, in (0, 0.5 sqrt 2]; sparsenet's is
        ``0.4 N`` cycles per image for ``N``-pixel images, the same 0.4.

    Returns
    -------
    ndarray of shape (h, w)
        The gain at each frequency of ``numpy.fft.fft2``'s grid (0 at DC).
    """
    cutoff = check_real("cutoff", cutoff, low=0, high=np.sqrt(0.5), low_open=True)
    f = _radial_frequency(tuple(shape))
    return f * np.exp(-((f / cutoff) ** 4))


def whiten(image, cutoff: float = 0.4, *, mirror: bool = True) -> np.ndarray:
    """``image`` filtered by :func:`whitening_filter`, scaled to zero mean and unit variance.

    Parameters
    ----------
    image : array_like of shape (h, w)
    cutoff : float, default 0.4
        ``f_0`` of the roll-off, cycles per pixel.
    mirror : bool, default True
        Extend the image by its mirror images to ``(2h, 2w)`` before the
        transform, so that the periodic FFT sees no edge at the borders;
        False filters the image as if it were periodic.

    Returns
    -------
    ndarray of shape (h, w)

    Raises
    ------
    ValueError
        If the image is constant (it has nothing to whiten).
    """
    image = _image(image)
    h, w = image.shape
    if mirror:
        top = np.concatenate([image, image[:, ::-1]], axis=1)
        extended = np.concatenate([top, top[::-1, :]], axis=0)
    else:
        extended = image
    filtered = np.real(np.fft.ifft2(np.fft.fft2(extended) * whitening_filter(extended.shape, cutoff)))[:h, :w]
    filtered -= filtered.mean()
    scale = filtered.std()
    if scale == 0:
        raise ValueError("image is constant: it has no spectrum to whiten")
    return filtered / scale


def radial_power_spectrum(image, n_bins: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """The power spectrum of an image averaged over rings of radial frequency, on a log scale of frequency.

    The image's mean is removed and a Hann window applied first, so that its
    borders do not add power at every frequency.

    Parameters
    ----------
    image : array_like of shape (h, w)
    n_bins : int, default 24
        Rings, equally spaced in ``log f`` from one cycle per image to 0.5
        cycles per pixel.

    Returns
    -------
    frequency : ndarray of shape (k,)
        The centre of each ring that holds a frequency, cycles per pixel
        (geometric mean of its edges); ``k <= n_bins``.
    power : ndarray of shape (k,)
        Mean of ``|FFT|^2 / (h w)`` over the ring.
    """
    image = _image(image)
    n_bins = check_int("n_bins", n_bins, 1)
    h, w = image.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2((image - image.mean()) * window)) ** 2 / (h * w)
    f = _radial_frequency((h, w))
    edges = np.geomspace(1.0 / max(h, w), 0.5, n_bins + 1)
    ring = np.digitize(f, edges) - 1
    inside = (ring >= 0) & (ring < n_bins)
    counts = np.bincount(ring[inside], minlength=n_bins)
    sums = np.bincount(ring[inside], weights=power[inside], minlength=n_bins)
    held = counts > 0
    centres = np.sqrt(edges[:-1] * edges[1:])
    return centres[held], sums[held] / counts[held]


def spectral_slope(frequency, power, band: tuple[float, float] = (0.02, 0.2)) -> float:
    """The slope of ``log power`` against ``log frequency`` over ``band``, by least squares.

    About ``-2`` for a natural image (amplitude ``1/f``), ``0`` for a white one.

    Parameters
    ----------
    frequency, power : array_like of shape (k,)
        As returned by :func:`radial_power_spectrum`.
    band : tuple of float, default (0.02, 0.2)
        Cycles per pixel; at least two frequencies must fall inside.

    Returns
    -------
    float
    """
    frequency, power = np.asarray(frequency, dtype=np.float64), np.asarray(power, dtype=np.float64)
    inside = (frequency >= band[0]) & (frequency <= band[1]) & (power > 0)
    if np.count_nonzero(inside) < 2:
        raise ValueError(f"band {band} holds fewer than two frequencies of the spectrum")
    return float(np.polyfit(np.log(frequency[inside]), np.log(power[inside]), 1)[0])


def sample_patches(images: Sequence, n_patches: int, patch_size: int = 8, *, seed: int = 0) -> np.ndarray:
    """Square patches cut at random positions of random images.

    Each patch picks an image uniformly at random, then a top-left corner
    uniformly among the positions where the patch fits, as UFLDL's
    ``sampleIMAGES`` does.

    Parameters
    ----------
    images : sequence of array_like of shape (h_i, w_i)
    n_patches : int
        At least 1.
    patch_size : int, default 8
        Side of a patch, from 1 to the smallest side of any image.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; the same seed gives the same patches.

    Returns
    -------
    ndarray of shape (n_patches, patch_size ** 2)
        One patch per row, its pixels in row-major order.
    """
    if isinstance(images, np.ndarray) and images.ndim == 2:
        images = [images]
    images = [_image(image, f"images[{i}]") for i, image in enumerate(images)]
    if not images:
        raise ValueError("images must hold at least one image")
    n_patches = check_int("n_patches", n_patches, 1)
    smallest = min(min(image.shape) for image in images)
    patch_size = check_int("patch_size", patch_size, 1, smallest)
    seed = check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    which = rng.integers(len(images), size=n_patches)
    patches = np.empty((n_patches, patch_size * patch_size))
    for i, k in enumerate(which):
        h, w = images[k].shape
        r, c = rng.integers(h - patch_size + 1), rng.integers(w - patch_size + 1)
        patches[i] = images[k][r : r + patch_size, c : c + patch_size].ravel()
    return patches


def normalize_patches(patches, clip: float = 3.0) -> np.ndarray:
    """UFLDL's ``normalizeData``: each patch's mean removed, clipped at ``±clip`` sd, rescaled to [0.1, 0.9].

    Parameters
    ----------
    patches : array_like of shape (m, n)
        One patch per row.
    clip : float, default 3.0
        In standard deviations of all the values after the patch means are
        removed; positive.

    Returns
    -------
    ndarray of shape (m, n)
        ``0.1 + 0.4 (1 + clipped / (clip sd))``, in [0.1, 0.9].
    """
    patches = np.asarray(patches, dtype=np.float64)
    if patches.ndim != 2 or patches.shape[0] == 0 or patches.shape[1] < 2:
        raise ValueError(f"patches must be a 2-D array of at least one patch of 2 pixels; got shape {patches.shape}")
    clip = check_real("clip", clip, low=0, low_open=True)
    centred = patches - patches.mean(axis=1, keepdims=True)
    bound = clip * centred.std()
    if bound == 0:
        raise ValueError("patches are all flat (every patch constant): there is nothing to normalize")
    return 0.1 + 0.4 * (1.0 + np.clip(centred, -bound, bound) / bound)


def natural_images(*, factor: int = 2, cutoff: float = 0.4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The two sample photographs in grey, downsampled, before and after whitening.

    Parameters
    ----------
    factor : int, default 2
        Block size of :func:`downsample`.
    cutoff : float, default 0.4
        ``f_0`` of :func:`whiten`.

    Returns
    -------
    grey : list of ndarray of shape (427 // factor, 640 // factor)
        Grey values in [0, 1].
    whitened : list of ndarray, same shapes
        Zero mean, unit variance.
    """
    grey = [downsample(to_grey(rgb), factor) for rgb in load_sample_images()]
    return grey, [whiten(image, cutoff) for image in grey]


def natural_patches(
    n_patches: int = 10_000, patch_size: int = 8, *, seed: int = 0, factor: int = 2, cutoff: float = 0.4
) -> np.ndarray:
    """UFLDL's training set, from scikit-learn's photographs: whitened, sampled and normalized patches.

    Parameters
    ----------
    n_patches : int, default 10,000
    patch_size : int, default 8
    seed : int, default 0
        Seed of :func:`sample_patches`.
    factor, cutoff
        As for :func:`natural_images`.

    Returns
    -------
    ndarray of shape (n_patches, patch_size ** 2)
        Values in [0.1, 0.9] (:func:`normalize_patches`).
    """
    n_patches = check_int("n_patches", n_patches, 1)
    _, whitened = natural_images(factor=factor, cutoff=cutoff)
    return normalize_patches(sample_patches(whitened, n_patches, patch_size, seed=seed))
