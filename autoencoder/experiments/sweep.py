"""Sweeps from the command line: a TOML file of knobs in, a CSV table of measures out.

The sweep runs on the engine of :mod:`autoencoder.experiments.engine` (chains of
trainings on this process, an embedded ``LocalCluster`` or a Dask cluster given by
address), whose names are importable from here too.

The command line trains a sweep described by a TOML file and writes a CSV
table of the summary measures (:func:`autoencoder.experiments.measures.summarize`)::

    python -m autoencoder.sweep CONFIG.toml [--scheduler ADDRESS] [--workers N]
                                            [--output TABLE.csv] [--cache-dir DIR]

The keys of ``CONFIG.toml`` are the chapters' knob names (``n_train``,
``n_hidden``, ``rho``, ``beta``, ``weight_decay``, ``max_iter``, ``seed``)
and ``activation`` and ``sparsity``; each is a value or a list of values to
sweep over, and a missing key takes the study's UFLDL setting
(:data:`autoencoder.experiments.configurations.UFLDL`, a sigmoid network with KL sparsity).
For example::

    n_train = 2000
    n_hidden = 49
    rho = [0.05, 0.1]
    beta = [0.0, 3.0]
    max_iter = 100

trains the four points of ``rho x beta``, each from the seed's
initialisation, on the first ``n_train`` MNIST training images in float32.
When a point fails, or the scheduler cannot be reached or is lost, the
command ends with status 1 and the ``error:`` line that says so.
A bad file (unknown key, wrong type, empty list, repeated or invalid value)
is refused before anything is submitted, with the key named.  A progress bar
counts the points done out of the total.  The table (by default CONFIG with
the suffix ``.csv``) has one row per point: the knobs, ``n_iter``, the
measures and the cache key; :func:`read_table` reads it back.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..core._validation import check_values
from ..core.activations import ACTIVATIONS
from ..core.model import Autoencoder
from ..core.sparsity import PENALTIES
from . import configurations
from .engine import (
    CONNECT_TIMEOUT,
    RESUBMISSIONS,
    WORKER_ENVIRONMENT,
    Chain,
    Engine,
    SchedulerError,
    SweepError,
    describe_point,
    run_chains,
    tally,
)
from .knobs import check_knob
from .measures import summarize
from .model_store import checked_data, run_key
from .progress import task_progress

__all__ = [
    "CONFIG_KEYS",
    "Chain",
    "CONNECT_TIMEOUT",
    "Engine",
    "RESUBMISSIONS",
    "SchedulerError",
    "SweepError",
    "MEASURES",
    "WORKER_ENVIRONMENT",
    "describe_point",
    "read_config",
    "sweep_points",
    "run_chains",
    "tally",
    "run_sweep",
    "write_table",
    "read_table",
    "main",
]

CONFIG_KEYS = (
    "n_train",
    "n_hidden",
    "activation",
    "sparsity",
    "rho",
    "beta",
    "weight_decay",
    "max_iter",
    "seed",
)
"""The keys of a sweep's configuration file, in the order of the table's columns."""

MEASURES = ("n_iter", "mean_activation", "near_silent", "reconstruction_mse", "objective")
"""The columns of the table after the knobs (then ``cache_key``)."""

_NAMES = {"activation": ACTIVATIONS, "sparsity": PENALTIES}


def _defaults() -> dict[str, object]:
    values = {**configurations.UFLDL, "activation": "sigmoid", "sparsity": "kl"}
    return {key: values[key] for key in CONFIG_KEYS}


def _check_value(key: str, value, where: str):
    """One value of ``key`` (``where`` names it in messages, e.g. ``rho[1]``), checked and converted."""
    if key in _NAMES:
        allowed = sorted(_NAMES[key])
        if not isinstance(value, str) or value not in _NAMES[key]:
            raise ValueError(f"{where} must be one of {allowed}; got {value!r}")
        return value
    if isinstance(value, str | bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} must be a number; got {value!r} ({type(value).__name__})")
    try:
        return check_knob(key, value)
    except ValueError as err:
        raise ValueError(str(err).replace(key, where, 1)) from None


def read_config(source) -> dict[str, list]:
    """A sweep's configuration: every key of :data:`CONFIG_KEYS` with the list of its values.

    Parameters
    ----------
    source : path or mapping
        A TOML file, or the mapping it would hold.  Each key is one of
        :data:`CONFIG_KEYS`; each value a value or a non-empty list of
        distinct values.  Missing keys take the UFLDL setting.

    Returns
    -------
    dict of str to list
        In the order of :data:`CONFIG_KEYS`, values converted.

    Raises
    ------
    ValueError
        Naming the key: an unknown key, a value of the wrong type, an empty
        list, a repeated value, a value outside the knob's range, or a file
        that is not TOML.
    """
    if isinstance(source, Mapping):
        config, name = dict(source), "the configuration"
    else:
        path = Path(source)
        try:
            with path.open("rb") as file:
                config = tomllib.load(file)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path} is not a valid TOML file: {err}") from None
        name = str(path)
    unknown = [key for key in config if key not in CONFIG_KEYS]
    if unknown:
        raise ValueError(f"{name} has unknown key(s) {unknown}; the keys are {list(CONFIG_KEYS)}")
    checked = {}
    for key, default in _defaults().items():
        value = config.get(key, default)
        if isinstance(value, dict):
            raise ValueError(f"{key} must be a value or a list of values; got a table {value!r}")
        if isinstance(value, list):
            values = check_values(
                key, value, lambda label, item, key=key: _check_value(key, item, label), allowed="values", label=str
            )
        else:
            values = [_check_value(key, value, key)]
        checked[key] = values
    return checked


def sweep_points(config: Mapping[str, Sequence]) -> list[dict[str, object]]:
    """Every point of a configuration (:func:`read_config`): the product of its lists, the last key fastest.

    Raises
    ------
    ValueError
        For a point whose network cannot be built (e.g. KL sparsity with a
        transfer function not bounded to (0, 1)), naming it.
    """
    keys = list(config)
    points = [dict(zip(keys, values, strict=True)) for values in itertools.product(*config.values())]
    for point in points:
        try:
            _model(point)
        except ValueError as err:
            raise ValueError(f"the point {point} is not a valid network: {err}") from None
    return points


def _model(point: Mapping[str, object]) -> Autoencoder:
    return Autoencoder(
        point["n_hidden"],
        activation=point["activation"],
        sparsity=point["sparsity"],
        rho=point["rho"],
        beta=point["beta"],
        weight_decay=point["weight_decay"],
    )


def run_sweep(
    config: Mapping[str, Sequence],
    *,
    scheduler=None,
    n_workers: int | None = None,
    directory: Path | None = None,
    load: Callable[[int], np.ndarray] | None = None,
) -> list[dict[str, object]]:
    """Train every point of a configuration through the model cache and measure it.

    Parameters
    ----------
    config : mapping
        As :func:`read_config` returns.
    scheduler, n_workers
        As for :class:`Engine`.
    directory : Path, optional
        Cache directory.
    load : callable, optional
        ``load(n_train) -> X``; default the first ``n_train`` MNIST training
        images in float32.

    Returns
    -------
    list of dict
        One row per point (:func:`sweep_points` order): the knobs,
        :data:`MEASURES` and ``cache_key``.
    """
    points = sweep_points(config)
    engine = Engine(scheduler, n_workers=n_workers)
    if load is None:
        from ..datasets.mnist import load_mnist

        largest = load_mnist("train", n=max(p["n_train"] for p in points), dtype=np.float32)[0]

        def load(n):
            return largest[:n]

    datasets = {f"n_train={n}": load(n) for n in sorted({p["n_train"] for p in points})}
    models = [_model(point) for point in points]
    chains = [
        Chain((model,), f"n_train={point['n_train']}", point["max_iter"], point["seed"])
        for point, model in zip(points, models, strict=True)
    ]
    with task_progress(f"sweep of {len(points)} points", len(points), unit="points") as advance, engine:
        count = tally(advance)
        results = run_chains(chains, datasets, engine=engine, directory=directory, advance=count)
    # Each data set checked and hashed once more for the keys, not once per point.
    checked = {name: checked_data(X, models) for name, X in datasets.items()}
    rows = []
    for point, model, chain, (result,) in zip(points, models, chains, results, strict=True):
        data = checked[chain.data]
        row = {**point, "n_iter": result.n_iter, **summarize(model, result.params, data.X)}
        row["cache_key"] = run_key(chain.run(0, None), data)
        rows.append(row)
    return rows


def write_table(rows: Sequence[Mapping[str, object]], path) -> None:
    """Write the rows of :func:`run_sweep` as CSV, one column per knob, measure and the cache key."""
    columns = [*CONFIG_KEYS, *MEASURES, "cache_key"]
    with Path(path).open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: repr(v) if isinstance(v, float) else v for key, v in row.items()})


_INTEGER_COLUMNS = ("n_train", "n_hidden", "max_iter", "seed", "n_iter")
_TEXT_COLUMNS = ("activation", "sparsity", "cache_key")


def read_table(path) -> list[dict[str, object]]:
    """The rows of a table written by :func:`write_table`, with their numbers as ints and floats again.

    The floats were written with :func:`repr`, so they are read back to the same bits.
    """
    with Path(path).open(newline="") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        for key, value in row.items():
            if key in _INTEGER_COLUMNS:
                row[key] = int(value)
            elif key not in _TEXT_COLUMNS:
                row[key] = float(value)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m autoencoder.sweep CONFIG [--scheduler ADDRESS] [--workers N] [--output CSV]``."""
    parser = argparse.ArgumentParser(
        prog="python -m autoencoder.sweep",
        description="Train every point of a TOML sweep through the model cache and write a CSV of measures.",
    )
    parser.add_argument("config", type=Path, help="TOML file: knob names as keys, a value or a list each")
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address (default: $DASK_SCHEDULER_ADDRESS)")
    parser.add_argument("--workers", type=int, default=None, help="processes of the embedded cluster (1: this one)")
    parser.add_argument("--output", type=Path, default=None, help="CSV table (default: CONFIG with .csv)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="model cache (default: $AUTOENCODER_CACHE_DIR)")
    args = parser.parse_args(argv)
    try:
        config = read_config(args.config)
        sweep_points(config)
        Engine(args.scheduler, n_workers=args.workers)
    except (ValueError, OSError) as err:
        parser.error(str(err))
    try:
        rows = run_sweep(config, scheduler=args.scheduler, n_workers=args.workers, directory=args.cache_dir)
    except (SweepError, SchedulerError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    output = args.output or args.config.with_suffix(".csv")
    write_table(rows, output)
    print(f"{len(rows)} points written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
