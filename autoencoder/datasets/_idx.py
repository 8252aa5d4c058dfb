"""Reading and writing IDX files (the format of the MNIST distribution).

An IDX file is a 4-byte magic number ``00 00 <type> <ndim>``, then ``ndim``
big-endian ``uint32`` dimensions, then the array in C order, big-endian.
MNIST uses type ``0x08`` (unsigned byte): images have ``ndim = 3``
(``count, 28, 28``), labels ``ndim = 1``.

The reader checks the magic number, the dimensions and the length, and can
check a SHA-256 digest of the (decompressed) bytes first; every error names
the file.  Files are written with :func:`autoencoder.core._io.write_atomic`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "ChecksumError",
    "IDXFormatError",
    "decode_idx",
    "encode_idx",
    "read_bytes",
    "read_idx",
    "sha256_hex",
    "verify_sha256",
]

_TYPE_CODES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_DTYPE = {dtype.newbyteorder(">"): code for code, dtype in _TYPE_CODES.items()}


class IDXFormatError(ValueError):
    """An IDX file is corrupt: wrong magic number, dimensions or length."""


class ChecksumError(ValueError):
    """A file's SHA-256 digest is not the one recorded in the source tree."""


def sha256_hex(data: bytes) -> str:
    """SHA-256 digest of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def verify_sha256(data: bytes, expected: str, *, name: str) -> None:
    """Raise :class:`ChecksumError` naming ``name`` unless ``data`` has digest ``expected``.

    Parameters
    ----------
    data : bytes
        The content to check.
    expected : str
        The SHA-256 digest, hex.
    name : str
        What ``data`` is (a file name), for the message.
    """
    actual = sha256_hex(data)
    if actual != expected.lower():
        raise ChecksumError(f"{name}: SHA-256 is {actual}, expected {expected.lower()}")


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of ``array``.

    Parameters
    ----------
    array : ndarray
        Of one of the IDX element types (uint8, int8, int16, int32, float32,
        float64) and at most 255 dimensions.

    Returns
    -------
    bytes
        Magic number, big-endian dimensions, big-endian data.
    """
    array = np.asarray(array)
    big = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if big not in _CODE_OF_DTYPE or array.ndim > 255:
        raise ValueError(f"array of dtype {array.dtype} and {array.ndim} dims has no IDX type")
    header = bytes([0, 0, _CODE_OF_DTYPE[big], array.ndim])
    dims = np.asarray(array.shape, dtype=">u4").tobytes()
    return header + dims + np.ascontiguousarray(array, dtype=big).tobytes()


def decode_idx(data: bytes, *, name: str, expected_shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """The array held by IDX bytes, checked against their header.

    Parameters
    ----------
    data : bytes
        The whole (decompressed) file.
    name : str
        The file name, for error messages.
    expected_shape : tuple of int or None, optional
        Required shape; ``None`` entries match any length.

    Returns
    -------
    ndarray
        A read-only view of ``data`` with the header's shape and type.

    Raises
    ------
    IDXFormatError
        If the magic number, the dimensions or the length are wrong.
    """
    if len(data) < 4:
        raise IDXFormatError(f"{name}: {len(data)} bytes is too short for an IDX header")
    zero1, zero2, code, ndim = data[:4]
    if zero1 != 0 or zero2 != 0 or code not in _TYPE_CODES:
        raise IDXFormatError(f"{name}: bad magic number {data[:4].hex()}; not an IDX file")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IDXFormatError(f"{name}: truncated inside the header ({len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    if expected_shape is not None and (
        len(shape) != len(expected_shape)
        or any(e is not None and e != s for s, e in zip(shape, expected_shape, strict=False))
    ):
        raise IDXFormatError(f"{name}: dimensions {shape}, expected {expected_shape}")
    dtype = _TYPE_CODES[code]
    expected_size = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected_size:
        kind = "truncated" if len(data) < expected_size else "has trailing bytes"
        raise IDXFormatError(f"{name}: {kind}: {len(data)} bytes, the header {shape} implies {expected_size}")
    return np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)


def read_bytes(path: str | os.PathLike) -> bytes:
    """The content of ``path``, decompressed if it is gzip (by its first two bytes).

    Raises
    ------
    IDXFormatError
        If the file looks like gzip but does not decompress (truncated or corrupt).
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXFormatError(f"{path.name}: corrupt or truncated gzip data ({exc})") from None


def read_idx(
    path: str | os.PathLike,
    *,
    sha256: str | None = None,
    expected_shape: tuple[int | None, ...] | None = None,
) -> np.ndarray:
    """Read an IDX file (plain or gzip), checking its digest and header.

    Parameters
    ----------
    path : path-like
        The file.
    sha256 : str, optional
        SHA-256 of the decompressed content; checked before decoding.
    expected_shape : tuple of int or None, optional
        Required shape, as in :func:`decode_idx`.

    Returns
    -------
    ndarray
        The array (read-only).

    Raises
    ------
    ChecksumError
        If the digest differs.
    IDXFormatError
        If the file is corrupt or truncated.
    """
    path = Path(path)
    data = read_bytes(path)
    if sha256 is not None:
        verify_sha256(data, sha256, name=path.name)
    return decode_idx(data, name=path.name, expected_shape=expected_shape)
