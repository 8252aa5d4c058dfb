"""Validate every chapter on another BLAS kernel, from an empty model cache.

A reader whose CPU runs other BLAS kernels than the machine that made the
committed notebooks trains other bits, so ``make test`` compares the
outputs there with the portable rules (numbers masked) and relies on each
chapter's claims, which stop a chapter whose text its numbers no longer
support.  This script measures that on one machine: it makes OpenBLAS run
another of its kernels (``OPENBLAS_CORETYPE``, set for the child processes of
this measurement only), re-executes every chapter under nbval from an empty
model cache with the portable rules, and prints per chapter the cells passed
and failed and the seconds taken::

    .venv/bin/python scripts/cross_kernel.py                  # what `make cross-kernel` runs
    .venv/bin/python scripts/cross_kernel.py --kernel Sandybridge notebooks/01_sparse_autoencoder.ipynb

The kernel is not set in the tests or in CI: it slows a current NumPy, and
some machines set it for their own reasons.  By default the script picks
a kernel this CPU can run other than the one it runs now (Haswell where it
runs SkylakeX or Zen's, Sandybridge where it runs Haswell), and refuses to
run when OpenBLAS does not take the kernel asked for.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORTABLE = ROOT / "tests" / "nbval_sanitize_portable.cfg"
ALTERNATIVE = {"SkylakeX": "Haswell", "Cooperlake": "Haswell", "SapphireRapids": "Haswell", "Zen": "Sandybridge"}
"""The kernel to compare with, by the kernel OpenBLAS picks for this CPU (any other: Sandybridge)."""
_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors)")


def kernel_under(coretype: str | None) -> str:
    """The kernel NumPy's OpenBLAS runs in a fresh process with ``OPENBLAS_CORETYPE=coretype`` (None: unset)."""
    env = dict(os.environ)
    if coretype is None:
        env.pop("OPENBLAS_CORETYPE", None)
    else:
        env["OPENBLAS_CORETYPE"] = coretype
    probe = "import numpy, threadpoolctl; print([i.get('architecture') for i in threadpoolctl.threadpool_info()][0])"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"OpenBLAS did not start with OPENBLAS_CORETYPE={coretype}: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


def choose_kernel(asked: str | None) -> tuple[str, str]:
    """``(native kernel, kernel to run)``; the latter checked to be what OpenBLAS then runs."""
    native = kernel_under(os.environ.get("OPENBLAS_CORETYPE"))
    kernel = asked or ALTERNATIVE.get(native, "Sandybridge" if native != "Sandybridge" else "Haswell")
    if kernel == native:
        raise SystemExit(f"--kernel {kernel} is the kernel this machine runs already; name another one")
    runs = kernel_under(kernel)
    if runs != kernel:
        raise SystemExit(f"OPENBLAS_CORETYPE={kernel} runs {runs} kernels here; name a kernel this CPU supports")
    return native, kernel


def counts(output: str) -> dict[str, int]:
    """``{"passed": n, "failed": n, "error": n}`` from pytest's closing line."""
    found = {"passed": 0, "failed": 0, "error": 0}
    lines = [line for line in output.splitlines() if line.strip()]
    for number, word in _SUMMARY.findall(lines[-1] if lines else ""):
        found["error" if word.startswith("error") else word] += int(number)
    return found


def run_chapter(notebook: Path, env: dict) -> tuple[dict[str, int], float, str]:
    """nbval on one chapter with the portable rules: its counts, its seconds and pytest's output."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval", "--nbval-current-env"]
    command += ["--nbval-sanitize-with", str(PORTABLE), str(notebook)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return counts(done.stdout), time.perf_counter() - start, done.stdout + done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapters to run (default: every chapter, in order)")
    parser.add_argument("--kernel", help="OpenBLAS kernel to run (default: one other than this machine's)")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    missing = [str(path) for path in notebooks if not path.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    native, kernel = choose_kernel(args.kernel)
    cache = Path(tempfile.mkdtemp(prefix="cross-kernel-models-"))
    env = dict(os.environ, OPENBLAS_CORETYPE=kernel, AUTOENCODER_CACHE_DIR=str(cache), AUTOENCODER_PROGRESS="0")
    print(f"{kernel} kernels against this machine's {native}, from an empty model cache ({cache})", flush=True)
    total = {"passed": 0, "failed": 0, "error": 0}
    start = time.perf_counter()
    try:
        for notebook in notebooks:
            found, seconds, output = run_chapter(notebook, env)
            if found["failed"] or found["error"] or not found["passed"]:
                print(output, flush=True)
            for key in total:
                total[key] += found[key]
            print(f"{notebook.stem}: {found['passed']} passed, {found['failed']} failed in {seconds:.0f} s", flush=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    print(f"all chapters on {kernel} kernels in {time.perf_counter() - start:.0f} s")
    print(f"{total['passed']} passed, {total['failed'] + total['error']} failed")
    return 1 if total["failed"] or total["error"] or not total["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
