"""Record in executed notebooks the numerics and environment that produced their outputs.

``make notebooks`` runs it after executing the chapters in place::

    .venv/bin/python scripts/record_environment.py notebooks/*.ipynb

It writes ``metadata.autoencoder.numerics`` (:func:`autoencoder.experiments.cache.numerics`:
what the trained bits depend on) and ``metadata.autoencoder.environment``
(:func:`autoencoder.experiments.environment.describe`), which
``scripts/nbval_sanitize.py`` reads to decide how exactly ``pytest --nbval``
can compare the outputs on another machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from autoencoder.experiments import cache, environment


def record(path: Path, numerics: dict, env: dict) -> None:
    """Write ``numerics`` and ``env`` into the metadata of the notebook at ``path``."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["autoencoder"] = {"numerics": numerics, "environment": env}
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    numerics, env = cache.numerics(), environment.describe()
    for path in paths:
        record(path, numerics, env)
        print(f"{path}: recorded {env['blas']} ({env['kernel']} kernels), numerics {numerics['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
