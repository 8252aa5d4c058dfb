"""The machine the figures come from: CPU, cores, load, NumPy/SciPy and their BLAS threads."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import scipy


def cpu_model() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` where there is one)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def blas_libraries() -> list[dict]:
    """threadpoolctl's description of every BLAS/OpenMP library loaded, with its thread count."""
    import scipy.linalg  # noqa: F401  (loads SciPy's own BLAS, which the optimizer uses)
    from threadpoolctl import threadpool_info

    return [
        {
            "owner": _owner(info["filepath"]),
            "library": f"{info.get('internal_api', '?')} {info.get('version') or ''}".strip(),
            "architecture": info.get("architecture") or "",
            "threads": info["num_threads"],
        }
        for info in threadpool_info()
    ]


def _owner(filepath: str) -> str:
    for package in ("numpy", "scipy", "torch"):
        if f"{package}.libs" in filepath or f"/{package}/" in filepath:
            return package
    return Path(filepath).name


def describe() -> dict:
    """Everything :func:`format_lines` prints, as a dict."""
    return {
        "cpu": cpu_model(),
        "cores": cores(),
        "load": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas": blas_libraries(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
    }


def format_lines(info: dict | None = None) -> list[str]:
    """The machine as short lines of text."""
    info = describe() if info is None else info
    lines = [
        f"CPU: {info['cpu']}, {info['cores']} cores available",
        f"Python {info['python']}, NumPy {info['numpy']}, SciPy {info['scipy']}",
    ]
    for lib in info["blas"]:
        lines.append(f"{lib['owner']}: {lib['library']} ({lib['architecture']}), {lib['threads']} threads")
    if info["openblas_coretype"]:
        lines.append(f"OPENBLAS_CORETYPE={info['openblas_coretype']}")
    if info["load"] is not None:
        lines.append("load average at start: " + ", ".join(f"{x:.2f}" for x in info["load"]))
    return lines
