"""The model cache: every training of the book once, reused by every later build.

Every chapter trains through the engine (:func:`autoencoder.experiments.engine.train`,
and :func:`fit_cached` for one run), which looks each run up here first, so
no two notebooks train the same model twice and a rebuild of the book
reuses what was trained before.  The keys and the entries are
:mod:`autoencoder.experiments.model_store`'s; this module gathers the
cache's public names and its command line,
``python -m autoencoder.cache {list,size,clear,where}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .engine import fit_cached
from .model_store import (
    FORMAT_VERSION,
    NUMERICS_VERSION,
    array_digest,
    cache_dir,
    cache_key,
    entries,
    load_result,
    lookup,
    numerics,
    read_meta,
    save_result,
    store,
    training_label,
)

__all__ = [
    "FORMAT_VERSION",
    "NUMERICS_VERSION",
    "array_digest",
    "cache_dir",
    "cache_key",
    "entries",
    "fit_cached",
    "load_result",
    "lookup",
    "main",
    "numerics",
    "read_meta",
    "save_result",
    "store",
    "training_label",
]


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
