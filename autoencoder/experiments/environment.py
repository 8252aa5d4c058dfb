"""What a run used: package, Python, NumPy, SciPy, the BLAS and its kernel, cores and workers.

Trained numbers are the same bits for any worker count, but they depend on
the BLAS kernel (which follows the CPU) and on the versions of the numerical
libraries, so every cached model and every page of the book records them.
"""

from __future__ import annotations

import platform
import sys

import numpy as np
import scipy

from .. import __version__
from ..core import _fast

__all__ = ["describe", "summary"]


def _blas_libraries() -> list[dict]:
    from threadpoolctl import threadpool_info

    return [info for info in threadpool_info() if info.get("user_api") == "blas"]


def describe() -> dict[str, object]:
    """The environment of this process as plain values.

    Returns
    -------
    dict
        ``package``, ``python``, ``numpy``, ``scipy`` (versions), ``blas``
        (the library NumPy's products run on, with its version), ``kernel``
        (its CPU kernel, e.g. ``SkylakeX``), ``blas_threads``, ``cores``
        (available to this process), ``workers`` (evaluation workers a fit
        would use by default: :func:`autoencoder.core._fast.default_workers`) and
        ``machine`` (the processor architecture).
    """
    libraries = _blas_libraries()
    numpy_blas = next(
        (lib for lib in libraries if "numpy" in lib.get("filepath", "")), libraries[0] if libraries else {}
    )
    return {
        "package": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas": f"{numpy_blas.get('internal_api', 'unknown')} {numpy_blas.get('version', '')}".strip(),
        "kernel": str(numpy_blas.get("architecture", "unknown")),
        "blas_threads": int(numpy_blas.get("num_threads", 1)),
        "cores": _fast._available_cores(),
        "workers": _fast.default_workers(),
        "machine": platform.machine() or sys.platform,
    }


def summary(environment: dict | None = None) -> str:
    """One line for a page, from :func:`describe` (or ``environment``).

    For example ``autoencoder 0.1.0, Python 3.11.7, NumPy 2.4.6, SciPy 1.17.1,
    OpenBLAS 0.3.31 (SkylakeX kernels), 2 cores, 2 evaluation workers``.
    """
    env = describe() if environment is None else environment
    blas = str(env["blas"]).replace("openblas", "OpenBLAS")
    return (
        f"autoencoder {env['package']}, Python {env['python']}, NumPy {env['numpy']}, SciPy {env['scipy']}, "
        f"{blas} ({env['kernel']} kernels), {env['cores']} cores, {env['workers']} evaluation workers"
    )
