"""Build the book: execute the chapters with papermill, then build the HTML.

Run with the project's environment::

    .venv/bin/python scripts/build_book.py          # what `make book` runs
    .venv/bin/python scripts/build_book.py --force  # re-execute every chapter

1. Each notebook listed in ``book/parameters.yml`` is executed from
   ``notebooks/`` (kernel ``python3`` of this Python, working directory
   ``notebooks/``) with its parameters into ``book/generated/<name>.ipynb``.
   A stamp next to it (``<name>.ipynb.sha256``) records what the run depended
   on: the notebook's cells (their type, source and tags, not the outputs a
   ``make notebooks`` rewrites), its parameters, every ``autoencoder/**/*.py``,
   ``requirements.txt`` and this script.  When the stamp still matches, the
   executed copy is reused.
2. In the executed copy, the ``parameters`` and ``injected-parameters`` cells
   are tagged ``remove-cell`` and followed by a note listing the values the page
   was executed with.
3. ``jupyter-book build . --warningiserror --keep-going`` builds ``_build/html``;
   execution is off in ``_config.yml``, so the book shows exactly these runs.

A missing notebook, an unknown parameter, a failing cell or a Sphinx warning
stops the build with a message naming the culprit.

While papermill runs a chapter, its kernel shows no progress bar
(``AUTOENCODER_PROGRESS=0``, so no bar lands in the outputs) and reports its
trainings to a temporary file instead (``AUTOENCODER_PROGRESS_FILE``, see
:mod:`autoencoder.experiments.progress`).  The build reads that file and shows
``chapter k/N name — what it trains, iteration i/max J=...``: on one line kept
up to date in a terminal, as a plain line every ``STATUS_PERIOD`` seconds
otherwise (a CI log).

Each chapter's last line gives its time and, where the system tells it
(Linux's ``/proc/stat``), how busy the machine's cores were meanwhile: the
mean number of busy cores and the share of the time during which all of them
were busy (:class:`CoreUse`), which says how well the engine keeps a
chapter's independent trainings side by side.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
import papermill
import yaml
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from papermill.exceptions import PapermillExecutionError

from autoencoder.experiments import cache, environment
from autoencoder.experiments.progress import ENV_FILE, ENV_MODE, describe, read_record

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
GENERATED = ROOT / "book" / "generated"
PARAMETERS_FILE = ROOT / "book" / "parameters.yml"
TOC_FILE = ROOT / "_toc.yml"
KERNEL_NAME = "python3"
POLL_INTERVAL = 0.5
"""Seconds between two looks at a chapter's progress file."""
STATUS_PERIOD = 15.0
"""Seconds between two plain status lines when stderr is not a terminal."""


CORE_SAMPLE_PERIOD = 1.0
"""Seconds between two readings of the cores' counters during a chapter."""

ALL_BUSY = 0.9
"""An interval counts as "all cores busy" when they spent at least this share of it working."""


def read_cpu_times(path: Path = Path("/proc/stat")) -> tuple[int, int, int] | None:
    """``(busy, total, cores)``: the jiffies all cores spent working and in all, and how many there are.

    None where the file does not exist or cannot be read (not Linux).
    """
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    fields = [int(x) for x in lines[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    total = sum(fields[:8])  # guest time is already counted in user time
    cores = sum(1 for line in lines[1:] if line.startswith("cpu"))
    return total - idle, total, cores


def core_use(samples) -> tuple[float, float] | None:
    """The mean number of busy cores, and the share of the time when all were busy, from counter readings.

    Parameters
    ----------
    samples : sequence of (busy, total, cores)
        Readings of :func:`read_cpu_times`, in order.

    Returns
    -------
    (mean_busy_cores, all_busy_share) or None
        None with fewer than two readings or no time between them.  An
        interval is weighted by its length; it counts as all cores busy when
        the cores worked at least :data:`ALL_BUSY` of it.
    """
    spans = [(b1 - b0, t1 - t0, c) for (b0, t0, _), (b1, t1, c) in zip(samples[:-1], samples[1:], strict=True)]
    spans = [(busy, total, cores) for busy, total, cores in spans if total > 0]
    elapsed = sum(total for _, total, _ in spans)
    if not elapsed:
        return None
    cores = spans[-1][2]
    mean = cores * sum(busy for busy, _, _ in spans) / elapsed
    all_busy = sum(total for busy, total, _ in spans if busy >= ALL_BUSY * total) / elapsed
    return mean, all_busy


class CoreUse:
    """Reads the cores' counters every :data:`CORE_SAMPLE_PERIOD` seconds in a thread while it is entered."""

    def __init__(self, period: float | None = None, reader=None):
        self.period = CORE_SAMPLE_PERIOD if period is None else period
        self.reader = reader or read_cpu_times
        self.samples = []
        self._stop = threading.Event()
        self._thread = None

    def _sample(self) -> None:
        reading = self.reader()
        if reading is not None:
            self.samples.append(reading)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self._sample()

    def __enter__(self) -> CoreUse:
        self._sample()
        self._thread = threading.Thread(target=self._run, name="core-use", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def summary(self) -> str:
        """``, 1.7 cores busy on average, all 2 busy 63 % of the time``, or nothing where unknown."""
        use = core_use(self.samples)
        if use is None:
            return ""
        mean, share = use
        return f", {mean:.1f} cores busy on average, all {self.samples[-1][2]} busy {100 * share:.0f} % of the time"


class BuildError(Exception):
    """A reason to stop the build, worded for the person running it."""


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def load_parameters(path: Path = PARAMETERS_FILE) -> dict[str, dict]:
    """Return ``{notebook name: {parameter: value}}`` from ``book/parameters.yml``."""
    if not path.exists():
        raise BuildError(f"{relative(path)} does not exist")
    listed = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(listed, dict):
        raise BuildError(f"{relative(path)} must map notebook names to parameters")
    runs = {}
    for name, parameters in listed.items():
        parameters = {} if parameters is None else parameters
        if not str(name).endswith(".ipynb") or "/" in str(name):
            raise BuildError(f"{relative(path)}: {name!r} is not a notebook name in notebooks/")
        if not isinstance(parameters, dict):
            raise BuildError(f"{relative(path)}: the parameters of {name} must be a mapping")
        runs[str(name)] = parameters
    missing = [name for name in runs if not (NOTEBOOKS / name).is_file()]
    if missing:
        raise BuildError(
            f"{relative(path)} lists notebooks that do not exist: " + ", ".join(f"notebooks/{name}" for name in missing)
        )
    return runs


def generated_pages(toc_path: Path = TOC_FILE) -> list[str]:
    """Return the ``book/generated/...`` files named in the table of contents."""
    pages = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("file", "root") and str(value).startswith("book/generated/"):
                    pages.append(Path(str(value)).stem)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc_path.read_text(encoding="utf-8")))
    return pages


def check_toc(runs: dict[str, dict]) -> None:
    unlisted = [page for page in generated_pages() if f"{page}.ipynb" not in runs]
    if unlisted:
        raise BuildError(
            f"_toc.yml shows generated pages that {relative(PARAMETERS_FILE)} does not list: "
            + ", ".join(f"{page}.ipynb" for page in unlisted)
        )


def find_cell(nb, tag: str) -> int | None:
    for index, cell in enumerate(nb.cells):
        if tag in cell.get("metadata", {}).get("tags", []):
            return index
    return None


def default_parameters(source: str) -> dict[str, str]:
    """Return ``{name: source text of its value}`` for the assignments of a parameters cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise BuildError(f"the parameters cell does not parse: {error}") from error
    defaults = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                defaults[target.id] = ast.get_source_segment(source, value)
    return defaults


def parameters_of(name: str, parameters: dict) -> dict[str, str]:
    """Return the effective values (source text) of a run, after validating the names."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    index = find_cell(nb, "parameters")
    if index is None:
        raise BuildError(f"notebooks/{name} has no cell tagged 'parameters'")
    try:
        defaults = default_parameters(nb.cells[index].source)
    except BuildError as error:
        raise BuildError(f"notebooks/{name}: {error}") from error
    unknown = sorted(set(parameters) - set(defaults))
    if unknown:
        raise BuildError(
            f"{relative(PARAMETERS_FILE)} sets {unknown} for {name}, whose parameters cell "
            f"defines only {sorted(defaults)}"
        )
    return {**defaults, **{key: repr(value) for key, value in parameters.items()}}


def notebook_inputs(path: Path) -> bytes:
    """What a run of the notebook at ``path`` depends on: each cell's type, source and tags.

    Its outputs and metadata are left out: re-executing the committed notebook
    in place changes them but not what papermill runs.
    """
    nb = nbformat.read(path, as_version=4)
    cells = [(c.cell_type, c.source, sorted(c.metadata.get("tags", []))) for c in nb.cells]
    return json.dumps({"kernel": nb.metadata.get("kernelspec", {}).get("name"), "cells": cells}).encode()


def stamp(name: str, parameters: dict) -> str:
    """The sha256 of everything an executed notebook depends on."""
    digest = hashlib.sha256()
    notebook = NOTEBOOKS / name
    digest.update(relative(notebook).encode() + b"\0" + notebook_inputs(notebook) + b"\0")
    inputs = [ROOT / "requirements.txt", Path(__file__).resolve()]
    inputs += sorted((ROOT / "autoencoder").rglob("*.py"))
    for path in inputs:
        if path.exists():
            digest.update(relative(path).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(parameters, sort_keys=True, default=repr).encode())
    # What the trained numbers depend on besides the code: another BLAS kernel or library version
    # executes the chapter again (the worker count changes no bit, so it is not part of the stamp).
    digest.update(json.dumps(cache.numerics(), sort_keys=True).encode())
    return digest.hexdigest()


def ensure_kernel() -> None:
    """Make kernel ``python3`` run this Python (the project's environment)."""
    share = Path(sys.prefix) / "share" / "jupyter"
    # JUPYTER_PATH is searched before the user's and the system's kernel specs.
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(share), *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
    )
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME],
            check=True,
        )
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    program = spec.argv[0]
    # jupyter_client replaces a bare "python", "python3" or "python3.X" by sys.executable.
    pythons = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info)}
    if program not in pythons and Path(program).resolve() != Path(sys.executable).resolve():
        raise BuildError(
            f"kernel {KERNEL_NAME!r} ({spec.resource_dir}) runs {program}, not {sys.executable}; "
            f"run `{sys.executable} -m ipykernel install --sys-prefix` or remove that kernel spec"
        )


def parameters_note(effective: dict[str, str], overridden: set[str], ran_with: str | None = None) -> str:
    """The note at the top of a page: the values it was executed with, and (``ran_with``) the environment."""
    values = ", ".join(
        f"`{name} = {value}`" + (" (set in `book/parameters.yml`)" if name in overridden else "")
        for name, value in effective.items()
    )
    lines = [
        "```{admonition} Parameters of this run",
        ":class: note",
        "",
        f"This page was executed with {values}.",
        *([f"It ran on {ran_with}."] if ran_with else []),
        "{doc}`Reproducing this book <../reproducing>` explains how to run it with others.",
        "```",
    ]
    return "\n".join(lines)


def decorate(path: Path, effective: dict[str, str], overridden: set[str]) -> None:
    """Hide the parameter cells of an executed copy and show the values it ran with."""
    nb = nbformat.read(path, as_version=4)
    indices = [find_cell(nb, tag) for tag in ("parameters", "injected-parameters")]
    indices = [index for index in indices if index is not None]
    for index in indices:
        tags = nb.cells[index].metadata.setdefault("tags", [])
        if "remove-cell" not in tags:
            tags.append("remove-cell")
    note = parameters_note(effective, overridden, environment.summary())
    nb.cells.insert(max(indices) + 1, nbformat.v4.new_markdown_cell(note))
    nbformat.write(nb, path)


def first_line(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip()]
    return lines[0] if lines else ""


def execution_failure(name: str, output: Path, error: PapermillExecutionError) -> BuildError:
    """Word a failing cell in terms of the source notebook."""
    index = error.cell_index
    try:
        injected = find_cell(nbformat.read(output, as_version=4), "injected-parameters")
    except (OSError, ValueError):
        injected = None
    if injected is not None and index > injected:
        index -= 1  # the injected cell is not in notebooks/
    return BuildError(
        f"notebooks/{name} failed in cell {index} (counting from 0; In [{error.exec_count}]), "
        f"which starts with {first_line(error.source)!r}:\n    {error.ename}: {error.evalue}\n"
        f"The executed copy with the full traceback is {relative(output)}"
    )


class ProgressTail:
    """The reports appended to a progress file since the last look."""

    def __init__(self, path: Path):
        self.path, self.offset, self.partial = path, 0, b""

    def latest(self) -> dict | None:
        """The last complete report appended since the previous call; None when there is none."""
        try:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                data = file.read()
        except FileNotFoundError:
            return None
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        records = [read_record(line.decode("utf-8", "replace")) for line in lines]
        records = [record for record in records if record is not None]
        return records[-1] if records else None


def status_line(position: str, name: str, record: dict) -> str:
    """E.g. ``"chapter 1/7 01_sparse_autoencoder — sigmoid + KL iteration 40/400 J=12.81"``."""
    return f"{position} {Path(name).stem} — {describe(record)}"


class StatusLine:
    """One tqdm line rewritten in place in a terminal; otherwise a plain line at most every STATUS_PERIOD s."""

    def __init__(self, terminal: bool):
        if terminal:
            from tqdm import tqdm

            self.bar = tqdm(bar_format="{desc}", leave=False)
        else:
            self.bar = None
        self.printed = -float("inf")

    def show(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(text)
        elif time.monotonic() - self.printed >= STATUS_PERIOD:
            print(text, flush=True)
            self.printed = time.monotonic()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextmanager
def training_progress(position: str, name: str):
    """While a chapter runs: no bar in its kernel, its reports to a temporary file, shown on a status line."""
    saved = {key: os.environ.get(key) for key in (ENV_MODE, ENV_FILE)}
    with tempfile.TemporaryDirectory(prefix="build_book-") as directory:
        path = Path(directory) / "progress.jsonl"
        os.environ.update({ENV_MODE: "0", ENV_FILE: str(path)})  # inherited by the kernel papermill starts
        tail, status, stop = ProgressTail(path), StatusLine(sys.stderr.isatty()), threading.Event()

        def watch():
            while not stop.wait(POLL_INTERVAL):
                record = tail.latest()
                if record is not None:
                    status.show(status_line(position, name, record))

        watcher = threading.Thread(target=watch, name="progress", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join()
            status.close()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def execute(name: str, parameters: dict, position: str, force: bool) -> None:
    output = GENERATED / name
    stamp_file = output.with_name(name + ".sha256")
    effective = parameters_of(name, parameters)
    digest = stamp(name, parameters)
    if not force and output.exists() and stamp_file.exists():
        if stamp_file.read_text(encoding="utf-8").strip() == digest:
            print(f"{position} {name}: unchanged, reusing {relative(output)}", flush=True)
            return
    stamp_file.unlink(missing_ok=True)
    shown = ", ".join(f"{key}={value!r}" for key, value in parameters.items()) or "its defaults"
    print(f"{position} {name}: executing with {shown}", flush=True)
    start = time.perf_counter()
    try:
        with training_progress(position, name), CoreUse() as cores:
            papermill.execute_notebook(
                str(NOTEBOOKS / name),
                str(output),
                parameters=parameters,
                kernel_name=KERNEL_NAME,
                cwd=str(NOTEBOOKS),
                progress_bar=True,
            )
    except PapermillExecutionError as error:
        raise execution_failure(name, output, error) from None
    decorate(output, effective, set(parameters))
    stamp_file.write_text(digest + "\n", encoding="utf-8")
    print(f"{position} {name}: done in {time.perf_counter() - start:.0f} s{cores.summary()}", flush=True)


def write_environment(path: Path) -> None:
    """The table of the environment this build runs in, for the Reproducing page to include."""
    env = environment.describe()
    names = {
        "package": "autoencoder",
        "python": "Python",
        "numpy": "NumPy",
        "scipy": "SciPy",
        "blas": "BLAS (NumPy's)",
        "kernel": "BLAS kernel",
        "blas_threads": "BLAS threads",
        "cores": "cores available",
        "workers": "evaluation workers",
        "machine": "processor architecture",
    }
    rows = [f"| {names[key]} | {env[key]} |" for key in names]
    path.write_text("| | this build |\n|---|---|\n" + "\n".join(rows) + "\n", encoding="utf-8")


def build_html() -> None:
    print("jupyter-book build . --warningiserror --keep-going", flush=True)
    command = [
        sys.executable,
        "-c",
        "from jupyter_book.cli.main import main; main()",
        "build",
        str(ROOT),
        "--warningiserror",
        "--keep-going",
    ]
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise BuildError("jupyter-book build failed (errors or Sphinx warnings above)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="re-execute every notebook")
    parser.add_argument("--no-html", action="store_true", help="execute the notebooks only, skip jupyter-book")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        runs = load_parameters()
        check_toc(runs)
        ensure_kernel()
        GENERATED.mkdir(parents=True, exist_ok=True)
        for number, (name, parameters) in enumerate(runs.items(), start=1):
            execute(name, parameters, f"chapter {number}/{len(runs)}", args.force)
        if not args.no_html:
            write_environment(GENERATED / "environment.md")
            build_html()
    except BuildError as error:
        print(f"build_book: error: {error}", file=sys.stderr)
        return 1
    print(f"build_book: done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
