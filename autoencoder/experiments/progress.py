"""Progress of long work: a bar for a reader, a file for the book build, nothing in the outputs.

A chapter's training runs for a minute or more.  :func:`fit_progress` gives
:meth:`autoencoder.Autoencoder.fit` a ``callback`` that reports each L-BFGS
iteration, and :func:`task_progress` counts finished pieces of a larger job
(the trainings of a grid).  Where the reports go is set by two environment
variables, read when the context is entered:

``AUTOENCODER_PROGRESS``
    ``auto`` (the default, also when unset or empty): a tqdm bar (``tqdm.auto``)
    when running in a Jupyter kernel or when stderr is a terminal; ``0``
    (``off``, ``false``, ``no``): no bar; ``1`` (``on``, ``true``, ``yes``): a
    bar wherever this runs.  Whatever executes notebooks whose outputs are kept
    — the book build (``scripts/build_book.py``), ``make notebooks`` — sets
    ``0``, so no committed output and no published page holds a bar.
``AUTOENCODER_PROGRESS_FILE``
    When set, a path to which one JSON line per report is appended, at most one
    every :data:`FILE_INTERVAL` seconds per bar (and always the last): a
    channel outside the notebook's outputs, which the book build reads to show
    what a chapter is training.  :func:`read_record` parses a line and
    :func:`describe` words it.

A line reads, e.g., ``{"description": "sigmoid + KL, p = 196", "unit":
"iteration", "done": 40, "total": 400, "J": 12.81}`` (``J`` is null for a
count of tasks).  Lines are appended with one ``write`` each, so processes
sharing the file (a grid's workers) do not interleave them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..core._validation import check_int

__all__ = [
    "ENV_MODE",
    "ENV_FILE",
    "FILE_INTERVAL",
    "show_bar",
    "fit_progress",
    "task_progress",
    "read_record",
    "describe",
]

ENV_MODE = "AUTOENCODER_PROGRESS"
"""Environment variable choosing the bar: ``auto``, ``0`` or ``1``."""
ENV_FILE = "AUTOENCODER_PROGRESS_FILE"
"""Environment variable naming the file that progress lines are appended to."""
FILE_INTERVAL = 0.25
"""Seconds between two lines of one bar in the progress file (the last is always written)."""
BAR_INTERVAL = 0.2
"""Seconds between two redraws of a bar."""
BAR_DELAY = 1.0
"""Seconds before a bar first shows, so that quick work shows none."""

_OFF = ("0", "off", "false", "no")
_ON = ("1", "on", "true", "yes")
_AUTO = ("", "auto")


def _in_jupyter() -> bool:
    """Whether this runs in a Jupyter kernel (IPython's ZMQ shell), without importing IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def show_bar(environ=os.environ) -> bool:
    """Whether a bar is shown here, from ``AUTOENCODER_PROGRESS`` (see the module notes).

    Raises
    ------
    ValueError
        If the variable holds none of the values listed in the module notes.
    """
    mode = environ.get(ENV_MODE, "").strip().lower()
    if mode in _OFF:
        return False
    if mode in _ON:
        return True
    if mode not in _AUTO:
        raise ValueError(f"{ENV_MODE} must be one of auto, 0 or 1 (off/on); got {environ[ENV_MODE]!r}")
    return _in_jupyter() or sys.stderr.isatty()


class _Reporter:
    """One bar and/or one stream of file lines for a piece of work of ``total`` steps."""

    def __init__(self, description: str | None, total: int, unit: str, bar: bool, path: str | None):
        self.record = {"description": description or "", "unit": unit, "done": 0, "total": total, "J": None}
        self.bar = None
        if bar:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total,
                desc=description,
                unit="it" if unit == "iteration" else f" {unit}",
                leave=False,
                mininterval=BAR_INTERVAL,
                delay=BAR_DELAY,
            )
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if path else None
        self.written = -float("inf")
        self.pending = False

    def update(self, done: int, value: float | None = None) -> None:
        self.record["done"], self.record["J"] = int(done), None if value is None else float(value)
        if self.bar is not None:
            if value is not None:
                self.bar.set_postfix_str(f"J={value:.4g}", refresh=False)
            self.bar.update(done - self.bar.n)
        if self.fd is not None:
            self.pending = True
            if time.monotonic() - self.written >= FILE_INTERVAL:
                self._write()

    def _write(self) -> None:
        os.write(self.fd, (json.dumps(self.record, ensure_ascii=False) + "\n").encode())
        self.written, self.pending = time.monotonic(), False

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.fd is not None:
            try:
                if self.pending:
                    self._write()
            finally:
                os.close(self.fd)


@contextmanager
def _reporting(description: str | None, total: int, unit: str) -> Iterator[_Reporter | None]:
    bar, path = show_bar(), os.environ.get(ENV_FILE) or None
    if not bar and path is None:
        yield None
        return
    reporter = _Reporter(description, total, unit, bar, path)
    try:
        yield reporter
    finally:
        reporter.close()


@contextmanager
def fit_progress(description: str | None, max_iter: int) -> Iterator[Callable | None]:
    """Report the iterations of one training; yield a ``callback`` for :meth:`Autoencoder.fit`.

    Parameters
    ----------
    description : str or None
        What is trained, shown before the bar and in the file lines (e.g. the
        model's configuration); None shows none.
    max_iter : int
        The iteration limit, the length of the bar.

    Yields
    ------
    callable or None
        ``callback(iteration, params, terms)``, which advances the bar to
        ``iteration`` with ``J = terms["total"]`` in its postfix and returns
        None (it never stops the training); None when progress is off (no bar
        and no file), so that ``fit`` does no work for it.

    Examples
    --------
    >>> with fit_progress("sigmoid + KL", max_iter=400) as callback:  # doctest: +SKIP
    ...     result = model.fit(X, max_iter=400, callback=callback)
    """
    max_iter = check_int("max_iter", max_iter, 0)
    with _reporting(description, max_iter, "iteration") as reporter:
        if reporter is None:
            yield None
            return

        def callback(iteration, params, terms):
            reporter.update(iteration, terms["total"])

        yield callback


@contextmanager
def task_progress(description: str | None, total: int, unit: str = "points") -> Iterator[Callable[[int], None]]:
    """Report how many of ``total`` tasks are done; yield ``advance(done)``.

    Parameters
    ----------
    description : str or None
        What the tasks make up (e.g. ``"grid of 6 x 5 (ρ, β)"``).
    total : int
        Number of tasks.
    unit : str, default "points"
        What a task is, for the bar and the file lines.

    Yields
    ------
    callable
        ``advance(done)`` sets the count of finished tasks; it does nothing
        when progress is off.
    """
    total = check_int("total", total, 0)
    with _reporting(description, total, unit) as reporter:
        yield (lambda done: None) if reporter is None else reporter.update


def read_record(line: str) -> dict | None:
    """The report of one line of a progress file, or None for a line that is not one (e.g. cut short).

    Returns
    -------
    dict or None
        ``description`` (str), ``unit`` (str), ``done`` and ``total`` (int) and
        ``J`` (float or None).
    """
    try:
        record = json.loads(line)
    except ValueError:
        return None
    keys = {"description": str, "unit": str, "done": int, "total": int}
    if not isinstance(record, dict) or not all(isinstance(record.get(k), t) for k, t in keys.items()):
        return None
    if record.get("J") is not None and not isinstance(record["J"], int | float):
        return None
    return record


def describe(record: dict) -> str:
    """One line for a report, e.g. ``"sigmoid + KL iteration 40/400 J=12.81"``."""
    text = f"{record['description'] or 'training'} {record['unit']} {record['done']}/{record['total']}"
    return text if record.get("J") is None else f"{text} J={record['J']:.4g}"
