"""The model cache's store: keys of training runs, and entries read and written.

The store only makes keys, reads entries and writes them.  It takes data
already checked and hashed (:class:`Data`, made once per data set by
:func:`checked_data`) and :class:`~autoencoder.experiments.runs.Run` values;
training is the engine's (:func:`autoencoder.experiments.engine.train`, and
:func:`autoencoder.experiments.cache.fit_cached` for one run).  The public
:func:`lookup`, :func:`store` and :func:`cache_key` take a model and an array
as they always did, and check and hash it themselves.

Entries are ``.npz`` files read with ``allow_pickle=False`` and written
atomically (:func:`autoencoder.core._io.write_atomic`: a temporary file in the same
directory, then :func:`os.replace`), so a killed process never leaves a
half-written entry that a later run trusts.

The key holds everything the trained bits depend on: the configuration, the
data, the seed, the options and the warm start, and the numerics —
:data:`NUMERICS_VERSION` (bumped whenever the objective, the transfer
functions, the penalties or the optimizer settings change a number), the
NumPy and SciPy versions and the BLAS kernel.  The worker count is not part
of it: it changes no bit.  Each entry also records the environment it was
trained in (:func:`autoencoder.experiments.environment.describe`).  An entry that cannot
be read, or whose recorded key is not the one asked for, is dropped with a
warning and trained again.

An entry records the :attr:`~autoencoder.core.model.FitResult.grad_norm` of
its training.  Entries written before results had one lack it: where the
store reads an entry for a run (:func:`find`, and so :func:`lookup`, every
training through the engine), it has the model and the data, computes it
with one evaluation of the objective at the stored parameters, and writes
it into the entry's metadata (atomically, the arrays, the key and the
modification time unchanged), so that it is computed once per entry.
:func:`load_result` alone has no data: it gives NaN for such an entry.

The directory is ``$AUTOENCODER_CACHE_DIR`` when set, else ``models/`` in the
user cache directory (``platformdirs.user_cache_dir("autoencoder")``).
``python -m autoencoder.cache {list,size,clear,where}`` shows and clears it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core._io import write_atomic
from ..core._validation import validate_data
from ..core.model import TERMS, Autoencoder, FitResult
from ..core.params import Params
from . import environment
from .runs import Run
from .training import optimizer_description

__all__ = [
    "NUMERICS_VERSION",
    "Data",
    "cache_dir",
    "cache_key",
    "checked_data",
    "entries",
    "find",
    "keep",
    "load_result",
    "lookup",
    "numerics",
    "run_key",
    "save_result",
    "store",
    "training_label",
]

FORMAT_VERSION = 2
"""Layout of an entry file."""

NUMERICS_VERSION = 3
"""Version of the numbers training produces.  Bump it with any change to the objective, the
transfer functions, the penalties, the optimizer or its settings that can move a bit, so that
models trained before are never served again."""


def cache_dir() -> Path:
    """The directory trained models are stored in (created on demand)."""
    env = os.environ.get("AUTOENCODER_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("autoencoder")) / "models"


def array_digest(X) -> str:
    """SHA-256 of an array's dtype, shape and bytes."""
    X = np.ascontiguousarray(X)
    h = hashlib.sha256(f"{X.dtype.str}{X.shape}".encode())
    h.update(memoryview(X).cast("B"))
    return h.hexdigest()


def numerics() -> dict[str, object]:
    """What, besides the run itself, the trained bits depend on: the numerics version, libraries, BLAS kernel."""
    env = environment.describe()
    return {
        "version": NUMERICS_VERSION,
        "numpy": env["numpy"],
        "scipy": env["scipy"],
        "blas": env["blas"],
        "kernel": env["kernel"],
    }


@dataclass(frozen=True, eq=False)
class Data:
    """A data set checked once and hashed once: what the store keys runs by.

    Attributes
    ----------
    X : ndarray of shape (m, n)
        Checked (:func:`autoencoder.core._validation.validate_data`),
        float32 or float64, C-contiguous.
    digest : str
        :func:`array_digest` of ``X``.
    """

    X: np.ndarray
    digest: str


def checked_data(X, models: Sequence[Autoencoder]) -> Data:
    """``X`` checked for every model of ``models`` at once, and hashed: a :class:`Data`.

    Raises
    ------
    ValueError
        As :func:`autoencoder.core._validation.validate_data`, in [0, 1]
        when one of the models has a sigmoid output.
    """
    X = validate_data(X, unit_interval=any(model.g.unit_range for model in models))
    return Data(X, array_digest(X))


def _run_description(run: Run, digest: str) -> dict:
    description = {
        "format": FORMAT_VERSION,
        "numerics": numerics(),
        "model": run.model.to_dict(),
        "data": digest,
        "max_iter": int(run.max_iter),
        "seed": int(run.seed),
        "tol": float(run.tol),
        "start": None if run.start is None else array_digest(run.start.flat),
    }
    # L-BFGS runs keep the keys they had before a run could name another optimizer.
    if run.optimizer is not None:
        description["optimizer"] = optimizer_description(run.optimizer)
    return description


def _digest(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def run_key(run: Run, data: Data) -> str:
    """The key of ``run`` on ``data``: its configuration, data, seed, options, start, optimizer and numerics."""
    return _digest(_run_description(run, data.digest))


def cache_key(
    model: Autoencoder, X, *, max_iter: int, seed: int, tol: float, params: Params | None = None, optimizer=None
) -> str:
    """The key of a training run: configuration, data, seed, options, warm start, optimizer and :func:`numerics`."""
    return run_key(Run(model, max_iter, seed, tol, params, optimizer), checked_data(X, [model]))


def save_result(path: Path, result: FitResult, description: dict | None = None) -> None:
    """Write a :class:`FitResult` to ``path`` atomically.

    ``description`` (what :func:`fit_cached` keyed the run by) is stored
    with it, with the environment of this process, the worker count and
    ``grad_norm`` (null when it is NaN).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"history_{k}": np.asarray(v) for k, v in result.history.items()}
    meta = {
        "key": None if description is None else _digest(description),
        "description": description,
        "environment": environment.describe(),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "workers": result.workers,
        "n_visible": result.params.n_visible,
        "n_hidden": result.params.n_hidden,
        "n_iter": result.n_iter,
        "n_evals": result.n_evals,
        "message": result.message,
        "success": result.success,
        "wall_time": result.wall_time,
        "objective_time": result.objective_time,
        "grad_norm": _json_float(result.grad_norm),
    }
    _write_entry(path, {"params": result.params.flat, "meta": np.array(json.dumps(meta)), **arrays})


def _json_float(value: float) -> float | None:
    """``value`` for JSON: None for NaN (strict JSON has no NaN)."""
    return None if math.isnan(value) else float(value)


def _write_entry(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the arrays of an entry to ``path`` atomically, as one ``.npz``."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


def load_result(path: Path) -> FitResult:
    """Read a :class:`FitResult` written by :func:`save_result`.

    An entry written before results recorded ``grad_norm`` gives NaN for
    it; :func:`lookup` and :func:`fit_cached`, which have the data, fill it in.
    """
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        params = Params.from_flat(data["params"].copy(), meta["n_visible"], meta["n_hidden"])
        history = {name[len("history_") :]: data[name].copy() for name in data.files if name.startswith("history_")}
    if not set(TERMS) <= set(history):
        raise ValueError(f"the entry {path} lacks the loss history of {sorted(set(TERMS) - set(history))}")
    return FitResult(
        params=params,
        history=history,
        n_iter=meta["n_iter"],
        n_evals=meta["n_evals"],
        message=meta["message"],
        success=meta["success"],
        wall_time=meta["wall_time"],
        objective_time=meta["objective_time"],
        workers=meta.get("workers", 1),
        grad_norm=math.nan if meta.get("grad_norm") is None else float(meta["grad_norm"]),
    )


def read_meta(path: Path) -> dict:
    """The metadata stored with an entry (its key, description and environment among them)."""
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["meta"]))


def _check_entry(path: Path, key: str, model: Autoencoder, n_visible: int) -> FitResult:
    """The entry at ``path`` if it is whole and was stored for ``key``; raises ValueError otherwise."""
    meta = read_meta(path)
    if meta.get("key") != key:
        raise ValueError(f"it was stored for key {meta.get('key')!r}, not {key!r}")
    result = load_result(path)
    if (result.params.n_hidden, result.params.n_visible) != (model.n_hidden, n_visible):
        raise ValueError(f"its parameters have the wrong shape {result.params.W1.shape}")
    if not all(len(v) == len(result.history["total"]) for v in result.history.values()):
        raise ValueError("its loss history is inconsistent")
    if not np.isfinite(result.params.flat).all():
        raise ValueError("its parameters are not finite")
    return result


def _location(run: Run, data: Data, directory: Path | None) -> tuple[dict, str, Path]:
    description = _run_description(run, data.digest)
    key = _digest(description)
    return description, key, Path(directory or cache_dir()) / f"{key}.npz"


def find(run: Run, data: Data, directory: Path | None = None) -> FitResult | None:
    """The stored result of ``run`` on ``data``, or None when there is none.

    An entry that cannot be read, or was stored for another key, is dropped
    with a warning (and None returned).  An entry without ``grad_norm``
    (written before results had one) gets it here, from one evaluation on
    the data (see the module's description).
    """
    _, key, path = _location(run, data, directory)
    return _read(path, key, run.model, data.X)


def lookup(
    model: Autoencoder,
    X,
    *,
    max_iter: int = 400,
    seed: int = 0,
    params: Params | None = None,
    tol: float = 1e-12,
    directory: Path | None = None,
    optimizer=None,
) -> FitResult | None:
    """The stored result of this exact training run, or None when there is none.

    Parameters are those of :func:`autoencoder.experiments.cache.fit_cached`;
    ``X`` is checked and hashed here.  See :func:`find`.
    """
    return find(Run(model, max_iter, seed, tol, params, optimizer), checked_data(X, [model]), directory)


def _read(path: Path, key: str, model: Autoencoder, X: np.ndarray) -> FitResult | None:
    """The entry at ``path`` when it is whole and stored for ``key``; a bad one is dropped with a warning."""
    if not path.exists():
        return None
    try:
        result = _check_entry(path, key, model, X.shape[1])
    except Exception as err:  # a damaged or foreign entry is dropped and retrained
        warnings.warn(f"dropping unreadable cache entry {path}: {err}", stacklevel=4)
        path.unlink(missing_ok=True)
        return None
    if math.isnan(result.grad_norm):
        result = dataclasses.replace(result, grad_norm=model.gradient_norm(result.params, X))
        _record_grad_norm(path, key, result)
    return result


def _record_grad_norm(path: Path, key: str, result: FitResult) -> None:
    """Write ``result.grad_norm`` into the metadata of the entry at ``path``, which lacks it.

    Everything else in the file is written back as it was read, atomically,
    and the file keeps its modification time (the time it was trained).
    Nothing is written when the entry changed meanwhile (another key, other
    parameters, or a ``grad_norm`` already there), nor when the cache cannot
    be written (the value is then only in ``result``).
    """
    try:
        stat = path.stat()
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        meta = json.loads(str(arrays["meta"]))
        if meta.get("key") != key or meta.get("grad_norm") is not None:
            return
        if not np.array_equal(arrays["params"], result.params.flat):
            return
        meta["grad_norm"] = _json_float(result.grad_norm)
        arrays["meta"] = np.array(json.dumps(meta))
        _write_entry(path, arrays)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    except OSError:  # a read-only or full cache: the value lives in memory only
        return


def keep(
    run: Run, data: Data, result: FitResult, directory: Path | None = None, trained_with: dict | None = None
) -> Path:
    """Write the result of ``run`` on ``data`` under its key; return the entry's path.

    Parameters
    ----------
    run : Run
    data : Data
    result : FitResult
        What the run returned, here or in another process.
    directory : Path, optional
        Cache directory; default :func:`cache_dir`.
    trained_with : dict, optional
        The :func:`numerics` of the process that trained it, when not this
        one (a worker of a sweep); the entry is keyed by them, so a result
        computed with another BLAS kernel is never served as this machine's.

    Returns
    -------
    Path
    """
    description, _, path = _location(run, data, directory)
    if trained_with is not None and trained_with != description["numerics"]:
        description["numerics"] = dict(trained_with)
        path = path.with_name(f"{_digest(description)}.npz")
    save_result(path, result, description)
    return path


def store(
    model: Autoencoder,
    X,
    result: FitResult,
    *,
    max_iter: int = 400,
    seed: int = 0,
    params: Params | None = None,
    tol: float = 1e-12,
    directory: Path | None = None,
    trained_with: dict | None = None,
    optimizer=None,
) -> Path:
    """Write the result of a training run under its key; return the entry's path.

    The run's parameters are those of
    :func:`autoencoder.experiments.cache.fit_cached`; ``X`` is checked and
    hashed here.  See :func:`keep`.
    """
    run = Run(model, max_iter, seed, tol, params, optimizer)
    return keep(run, checked_data(X, [model]), result, directory, trained_with)


def training_label(model: Autoencoder, m: int) -> str:
    """A short description of a training for progress reports.

    For example ``sigmoid + kl (rho 0.1, beta 3), p = 196, m = 10,000``.
    """
    transfer = (
        model.activation
        if model.output_activation == model.activation
        else (f"{model.activation}/{model.output_activation}")
    )
    penalty = "no penalty" if model.sparsity == "none" else f"{model.sparsity} (rho {model.rho:g}, beta {model.beta:g})"
    return f"{transfer} + {penalty}, p = {model.n_hidden}, m = {m:,}"


def entries(directory: Path | None = None) -> list[dict]:
    """The entries of the cache, oldest first: path, bytes, and what each records (None when unreadable).

    Returns
    -------
    list of dict
        ``path``, ``bytes``, ``modified`` (seconds since the epoch) and
        ``meta`` (:func:`read_meta`, or None for an entry that cannot be read).
    """
    root = Path(directory or cache_dir())
    found = []
    for path in sorted(root.glob("*.npz"), key=lambda p: p.stat().st_mtime) if root.is_dir() else []:
        try:
            meta = read_meta(path)
        except Exception:  # listed as unreadable; find drops it when asked for it
            meta = None
        stat = path.stat()
        found.append({"path": path, "bytes": stat.st_size, "modified": stat.st_mtime, "meta": meta})
    return found
