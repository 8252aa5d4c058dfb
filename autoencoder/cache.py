"""A disk cache of trained models, keyed by configuration, data, seed and training options.

Every chapter trains through :func:`fit_cached`, so no two notebooks train the
same model twice and a rebuild of the book reuses what was trained before.
Entries are ``.npz`` files read with ``allow_pickle=False`` and written
atomically (a temporary file in the same directory, then :func:`os.replace`),
so a killed process never leaves a half-written entry that a later run trusts.

The directory is ``$AUTOENCODER_CACHE_DIR`` when set, else ``models/`` in the
user cache directory (``platformdirs.user_cache_dir("autoencoder")``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np

from ._idx import write_atomic
from .model import TERMS, Autoencoder, FitResult
from .params import Params

__all__ = ["cache_dir", "cache_key", "fit_cached", "load_result", "save_result"]

FORMAT_VERSION = 1


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


def cache_key(model: Autoencoder, X, *, max_iter: int, seed: int, tol: float, params: Params | None = None) -> str:
    """The key of a training run: configuration, data, seed, options and warm start."""
    description = {
        "format": FORMAT_VERSION,
        "model": model.to_dict(),
        "data": array_digest(X),
        "max_iter": int(max_iter),
        "seed": int(seed),
        "tol": float(tol),
        "start": None if params is None else array_digest(params.flat),
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def save_result(path: Path, result: FitResult) -> None:
    """Write a :class:`FitResult` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"history_{k}": result.history[k] for k in TERMS}
    meta = {
        "n_visible": result.params.n_visible,
        "n_hidden": result.params.n_hidden,
        "n_iter": result.n_iter,
        "n_evals": result.n_evals,
        "message": result.message,
        "success": result.success,
        "wall_time": result.wall_time,
        "objective_time": result.objective_time,
    }
    buffer = io.BytesIO()
    np.savez(buffer, params=result.params.flat, meta=np.array(json.dumps(meta)), **arrays)
    write_atomic(path, buffer.getvalue())


def load_result(path: Path) -> FitResult:
    """Read a :class:`FitResult` written by :func:`save_result`."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        params = Params.from_flat(data["params"].copy(), meta["n_visible"], meta["n_hidden"])
        history = {k: data[f"history_{k}"].copy() for k in TERMS}
    return FitResult(
        params=params,
        history=history,
        n_iter=meta["n_iter"],
        n_evals=meta["n_evals"],
        message=meta["message"],
        success=meta["success"],
        wall_time=meta["wall_time"],
        objective_time=meta["objective_time"],
    )


def fit_cached(
    model: Autoencoder,
    X,
    *,
    max_iter: int = 400,
    seed: int = 0,
    params: Params | None = None,
    tol: float = 1e-12,
    directory: Path | None = None,
) -> FitResult:
    """:meth:`Autoencoder.fit`, or its stored result when this exact run was done before.

    Parameters
    ----------
    model : Autoencoder
    X : ndarray of shape (m, n)
    max_iter, seed, params, tol
        As for :meth:`Autoencoder.fit`; all are part of the key.
    directory : Path, optional
        Cache directory; default :func:`cache_dir`.

    Returns
    -------
    FitResult
        ``wall_time`` is that of the original training run.
    """
    X = model._check_X(X)
    key = cache_key(model, X, max_iter=max_iter, seed=seed, tol=tol, params=params)
    path = Path(directory or cache_dir()) / f"{key}.npz"
    if path.exists():
        try:
            return load_result(path)
        except Exception as err:  # a damaged entry is dropped and retrained
            warnings.warn(f"dropping unreadable cache entry {path}: {err}", stacklevel=2)
            path.unlink(missing_ok=True)
    result = model.fit(X, max_iter=max_iter, seed=seed, params=params, tol=tol)
    save_result(path, result)
    return result
