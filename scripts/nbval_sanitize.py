"""Print the nbval sanitize file that fits this machine: exact numbers, or numbers masked.

The committed notebooks record in their metadata the numerics that produced
their outputs (``metadata.autoencoder.numerics``: the numerics version, the
NumPy and SciPy versions, the BLAS and its kernel; written by
``scripts/record_environment.py``).  Trained numbers are the same bits for any
worker count, but not across BLAS kernels, so:

* where this machine's numerics are the recorded ones, ``tests/nbval_sanitize.cfg``
  (only timings, PNG data and addresses masked): every printed number must
  match exactly;
* elsewhere, ``tests/nbval_sanitize_portable.cfg``, which also masks every
  number: the text, the structure and the errors are compared, and each
  chapter's claims are checked by its own cells within the spread measured
  across kernels (see the Reproducing page).

Used by ``make test``::

    pytest --nbval --nbval-sanitize-with "$(python scripts/nbval_sanitize.py notebooks/*.ipynb)" notebooks
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

from autoencoder.experiments import cache

ROOT = Path(__file__).resolve().parents[1]
EXACT = ROOT / "tests" / "nbval_sanitize.cfg"
PORTABLE = ROOT / "tests" / "nbval_sanitize_portable.cfg"


def recorded_numerics(paths: list[Path]) -> list[dict | None]:
    """The numerics each notebook's outputs were produced with (None where a notebook records none)."""
    return [nbformat.read(path, as_version=4).metadata.get("autoencoder", {}).get("numerics") for path in paths]


def choose(paths: list[Path], here: dict) -> tuple[Path, str]:
    """The sanitize file for notebooks ``paths`` on a machine whose numerics are ``here``, and why."""
    recorded = recorded_numerics(paths)
    missing = [path.name for path, numerics in zip(paths, recorded, strict=True) if numerics is None]
    if missing:
        return PORTABLE, f"{', '.join(missing)} record no numerics: numbers masked"
    others = sorted({json.dumps(n, sort_keys=True) for n in recorded if n != here})
    if others:
        theirs = json.loads(others[0])
        return PORTABLE, (
            f"outputs produced with {theirs.get('blas')} ({theirs.get('kernel')} kernels), "
            f"NumPy {theirs.get('numpy')}, numerics {theirs.get('version')}; "
            f"here {here['blas']} ({here['kernel']} kernels), NumPy {here['numpy']}, numerics {here['version']}: "
            "numbers masked, claims checked within the measured spread"
        )
    return EXACT, f"same numerics as the committed outputs ({here['kernel']} kernels): every number compared"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(arg) for arg in args]
    if not paths:
        print("usage: nbval_sanitize.py NOTEBOOK...", file=sys.stderr)
        return 2
    chosen, reason = choose(paths, cache.numerics())
    print(f"nbval: {reason}", file=sys.stderr)
    print(chosen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
