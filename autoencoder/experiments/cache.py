"""A disk cache of trained models, keyed by configuration, data, seed and training options.

Every chapter trains through :func:`fit_cached`, so no two notebooks train the
same model twice and a rebuild of the book reuses what was trained before.
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
cache reads an entry for a run (:func:`lookup`, :func:`fit_cached`, and so
every sweep), it has the model and the data, computes it with one
evaluation of the objective at the stored parameters, and writes it into the
entry's metadata (atomically, the arrays, the key and the modification time
unchanged), so that it is computed once per entry.  :func:`load_result`
alone has no data: it gives NaN for such an entry.

The directory is ``$AUTOENCODER_CACHE_DIR`` when set, else ``models/`` in the
user cache directory (``platformdirs.user_cache_dir("autoencoder")``).
``python -m autoencoder.cache {list,size,clear,where}`` shows and clears it.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ..core._io import write_atomic
from ..core.model import TERMS, Autoencoder, FitResult
from ..core.params import Params
from . import environment
from .progress import fit_progress
from .training import check_optimizer, optimizer_description, train_run

__all__ = [
    "NUMERICS_VERSION",
    "cache_dir",
    "cache_key",
    "entries",
    "fit_cached",
    "load_result",
    "lookup",
    "numerics",
    "save_result",
    "store",
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


def _description(
    model: Autoencoder, X, *, max_iter: int, seed: int, tol: float, params: Params | None, optimizer=None
) -> dict:
    description = {
        "format": FORMAT_VERSION,
        "numerics": numerics(),
        "model": model.to_dict(),
        "data": array_digest(X),
        "max_iter": int(max_iter),
        "seed": int(seed),
        "tol": float(tol),
        "start": None if params is None else array_digest(params.flat),
    }
    # L-BFGS runs keep the keys they had before a run could name another optimizer.
    if optimizer is not None:
        description["optimizer"] = optimizer_description(check_optimizer(optimizer, max_iter))
    return description


def _digest(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:32]


def cache_key(
    model: Autoencoder, X, *, max_iter: int, seed: int, tol: float, params: Params | None = None, optimizer=None
) -> str:
    """The key of a training run: configuration, data, seed, options, warm start, optimizer and :func:`numerics`."""
    return _digest(_description(model, X, max_iter=max_iter, seed=seed, tol=tol, params=params, optimizer=optimizer))


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


def _location(
    model: Autoencoder, X, *, max_iter, seed, tol, params, directory, optimizer=None
) -> tuple[dict, str, Path]:
    description = _description(model, X, max_iter=max_iter, seed=seed, tol=tol, params=params, optimizer=optimizer)
    key = _digest(description)
    return description, key, Path(directory or cache_dir()) / f"{key}.npz"


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

    Parameters are those of :func:`fit_cached`.  An entry that cannot be read,
    or was stored for another key, is dropped with a warning (and None returned).
    An entry without ``grad_norm`` (written before results had one) gets it
    here, from one evaluation on ``X`` (see the module's description).
    """
    X = model._check_X(X)
    _, key, path = _location(
        model, X, max_iter=max_iter, seed=seed, tol=tol, params=params, directory=directory, optimizer=optimizer
    )
    return _read(path, key, model, X)


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

    Parameters
    ----------
    model, X, max_iter, seed, params, tol, directory, optimizer
        The run, as for :func:`fit_cached`.
    result : FitResult
        What the run returned, here or in another process.
    trained_with : dict, optional
        The :func:`numerics` of the process that trained it, when not this
        one (a worker of a sweep); the entry is keyed by them, so a result
        computed with another BLAS kernel is never served as this machine's.

    Returns
    -------
    Path
    """
    X = model._check_X(X)
    description, _, path = _location(
        model, X, max_iter=max_iter, seed=seed, tol=tol, params=params, directory=directory, optimizer=optimizer
    )
    if trained_with is not None and trained_with != description["numerics"]:
        description["numerics"] = dict(trained_with)
        path = path.with_name(f"{_digest(description)}.npz")
    save_result(path, result, description)
    return path


def fit_cached(
    model: Autoencoder,
    X,
    *,
    max_iter: int = 400,
    seed: int = 0,
    params: Params | None = None,
    tol: float = 1e-12,
    directory: Path | None = None,
    optimizer=None,
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
    optimizer : autoencoder.core.adam.Adam, optional
        A minibatch optimizer instead of L-BFGS (its settings join the key;
        ``max_iter`` must be its ``max_epochs``).  Runs without one keep the
        keys they always had.

    Returns
    -------
    FitResult
        ``wall_time`` is that of the original training run.

    Notes
    -----
    While it trains, :func:`autoencoder.experiments.progress.fit_progress` shows the
    iterations and ``J`` (a bar in Jupyter or a terminal, a line in the book
    build's progress file; nothing when ``$AUTOENCODER_PROGRESS`` is ``0``).
    """
    X = model._check_X(X)
    # One validation, one digest of X and one key for both the look-up and the store.
    description, key, path = _location(
        model, X, max_iter=max_iter, seed=seed, tol=tol, params=params, directory=directory, optimizer=optimizer
    )
    result = _read(path, key, model, X)
    if result is None:
        with fit_progress(training_label(model, X.shape[0]), max_iter) as callback:
            result = train_run(
                model, X, max_iter=max_iter, seed=seed, params=params, tol=tol, optimizer=optimizer, callback=callback
            )
        save_result(path, result, description)
    return result


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
        except Exception:  # listed as unreadable; fit_cached drops it when asked for it
            meta = None
        stat = path.stat()
        found.append({"path": path, "bytes": stat.st_size, "modified": stat.st_mtime, "meta": meta})
    return found


def _describe_entry(entry: dict) -> str:
    meta = entry["meta"]
    size = f"{entry['bytes'] / 1e6:8.2f} MB"
    if meta is None or not meta.get("description"):
        return f"{entry['path'].stem}  {size}  (unreadable or from an older format)"
    d, env = meta["description"], meta.get("environment") or {}
    model = d["model"]
    what = (
        f"{model['activation']}/{model['output_activation']} {model['sparsity']} p={model['n_hidden']} "
        f"rho={model['rho']:g} beta={model['beta']:g} lambda={model['weight_decay']:g}"
    )
    run = f"max_iter={d['max_iter']} seed={d['seed']}" + (" warm" if d.get("start") else "")
    trained = f"numerics {d['numerics']['version']}, {env.get('kernel', '?')}, {meta.get('workers', '?')} workers"
    return f"{entry['path'].stem}  {size}  {what}  {run}  [{trained}, {meta.get('trained_at', '?')}]"


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m autoencoder.cache {list,size,clear,where}``."""
    parser = argparse.ArgumentParser(prog="python -m autoencoder.cache", description="The trained-model cache.")
    parser.add_argument("--dir", type=Path, default=None, help="cache directory (default: $AUTOENCODER_CACHE_DIR)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="one line per entry: the model, the run and what it was trained with")
    commands.add_parser("size", help="number of entries and their total size")
    commands.add_parser("clear", help="delete every entry")
    commands.add_parser("where", help="print the cache directory")
    args = parser.parse_args(argv)
    root = Path(args.dir or cache_dir())
    found = entries(root)
    if args.command == "where":
        print(root)
    elif args.command == "list":
        for entry in found:
            print(_describe_entry(entry))
        print(f"{len(found)} entries, {sum(e['bytes'] for e in found) / 1e6:.1f} MB in {root}")
    elif args.command == "size":
        print(f"{len(found)} entries, {sum(e['bytes'] for e in found) / 1e6:.1f} MB in {root}")
    elif args.command == "clear":
        for entry in found:
            entry["path"].unlink(missing_ok=True)
        print(f"removed {len(found)} entries ({sum(e['bytes'] for e in found) / 1e6:.1f} MB) from {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
