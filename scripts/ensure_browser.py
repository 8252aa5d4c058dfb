"""Make sure the browser tests have a Chromium, installing one when there is none.

``make test`` runs this before the tests::

    .venv/bin/python scripts/ensure_browser.py

The browser tests (``tests/browser/``) drive Chromium with Playwright and use
the first of these that exists (:func:`find_browser`):

1. ``$CHROMIUM`` (an error when it names no executable file);
2. ``chromium`` on ``PATH``;
3. ``/usr/bin/chromium``;
4. Playwright's own Chromium, downloaded by ``python -m playwright install
   chromium`` into its cache (``~/.cache/ms-playwright``).

When there is none, the script installs one (:func:`install_plans`):

* as root, or with passwordless ``sudo``, Debian's ``chromium`` package
  (``apt-get update``, then ``apt-get install -y chromium``, noninteractive);
* otherwise, or when that fails, Playwright's own download (it needs the
  internet);
* and when that fails too, it stops with the commands to run by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_CHROMIUM = "/usr/bin/chromium"
APT_ENV = ["env", "DEBIAN_FRONTEND=noninteractive"]


class BrowserError(Exception):
    """No usable Chromium; the message says what to run."""


class Browser(NamedTuple):
    """A Chromium the browser tests can launch.

    Attributes
    ----------
    executable : str or None
        The executable to give Playwright's ``launch(executable_path=...)``;
        ``None`` for Playwright's own Chromium, which it finds by itself.
    source : str
        Where it was found, for messages.
    """

    executable: str | None
    source: str


def is_executable(path: str | os.PathLike | None) -> bool:
    """Whether ``path`` names an existing executable file."""
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def bundled_chromium() -> str | None:
    """The path of Playwright's own Chromium when it has been downloaded, else ``None``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        path = playwright.chromium.executable_path
    return path if is_executable(path) else None


def find_browser(
    environ: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    bundled: Callable[[], str | None] = bundled_chromium,
    system_path: str = SYSTEM_CHROMIUM,
) -> Browser | None:
    """Return the Chromium the browser tests will use, or ``None`` when there is none.

    Parameters
    ----------
    environ : mapping, optional
        The environment to read ``CHROMIUM`` from (default: ``os.environ``).
    which : callable
        ``shutil.which``-like lookup of an executable on ``PATH``.
    bundled : callable
        Returns the path of Playwright's downloaded Chromium, or ``None``.
    system_path : str
        Debian's Chromium.

    Returns
    -------
    Browser or None
        ``$CHROMIUM``, else ``chromium`` on ``PATH``, else ``system_path``, else
        Playwright's own Chromium (``executable=None``).

    Raises
    ------
    BrowserError
        When ``$CHROMIUM`` is set but names no executable file.
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get("CHROMIUM")
    if chosen:
        if not is_executable(chosen):
            raise BrowserError(f"CHROMIUM={chosen} is not an executable file: fix it or unset it")
        return Browser(chosen, "$CHROMIUM")
    on_path = which("chromium")
    if on_path and is_executable(on_path):
        return Browser(on_path, "chromium on PATH")
    if is_executable(system_path):
        return Browser(system_path, system_path)
    if bundled():
        return Browser(None, "Playwright's own Chromium")
    return None


def install_plans(is_root: bool, has_sudo: bool, has_apt: bool, python: str) -> list[tuple[str, list[list[str]]]]:
    """The ways to install a Chromium here, in the order to try them.

    Parameters
    ----------
    is_root : bool
        Whether this process runs as root.
    has_sudo : bool
        Whether ``sudo -n`` works (passwordless sudo).
    has_apt : bool
        Whether ``apt-get`` is on ``PATH``.
    python : str
        The Python that has Playwright installed.

    Returns
    -------
    list of (str, list of list of str)
        ``(name, commands)`` pairs; the commands of one plan run in order.
    """
    plans = []
    if has_apt and (is_root or has_sudo):
        prefix = APT_ENV if is_root else ["sudo", "-n", *APT_ENV]
        plans.append(
            (
                "Debian's chromium (apt-get)",
                [[*prefix, "apt-get", "update", "-qq"], [*prefix, "apt-get", "install", "-y", "-qq", "chromium"]],
            )
        )
    plans.append(("Playwright's own Chromium", [[python, "-m", "playwright", "install", "chromium"]]))
    return plans


def manual_instructions(python: str) -> str:
    """What to run by hand when nothing could be installed."""
    return (
        "No Chromium for the browser tests, and none could be installed. Run one of these, then make test again:\n"
        "  sudo apt-get update && sudo apt-get install -y chromium    # Debian's Chromium (needs root)\n"
        f"  {python} -m playwright install chromium    # Playwright's own Chromium (needs the internet)\n"
        "or point CHROMIUM at a Chromium or Chrome executable: CHROMIUM=/path/to/chromium make test"
    )


def run_command(command: list[str]) -> bool:
    """Run ``command``, showing its output; return whether it succeeded."""
    print("+", " ".join(command), flush=True)
    try:
        return subprocess.run(command, check=False).returncode == 0
    except OSError as error:
        print(f"  could not run it: {error}", file=sys.stderr)
        return False


def passwordless_sudo(which: Callable[[str], str | None] = shutil.which) -> bool:
    """Whether ``sudo`` is installed and works without a password."""
    if not which("sudo"):
        return False
    result = subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False)
    return result.returncode == 0


def display_python(python: str = sys.executable) -> str:
    """``python`` relative to the project when it lives there (``.venv/bin/python``)."""
    path = Path(python)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else python


def ensure_browser(
    find: Callable[[], Browser | None] = find_browser,
    is_root: Callable[[], bool] = lambda: os.geteuid() == 0,
    has_sudo: Callable[[], bool] = passwordless_sudo,
    has_apt: Callable[[], bool] = lambda: shutil.which("apt-get") is not None,
    run: Callable[[list[str]], bool] = run_command,
    python: str = sys.executable,
    log: Callable[[str], None] = print,
) -> Browser:
    """Return a Chromium for the browser tests, installing one first when there is none.

    Parameters
    ----------
    find : callable
        Looks for a Chromium (:func:`find_browser`).
    is_root, has_sudo, has_apt : callable
        Facts about this machine, asked only when something must be installed
        (``has_sudo`` only when not root).
    run : callable
        Runs one command and returns whether it succeeded.
    python : str
        The Python with Playwright, for its browser download.
    log : callable
        Receives progress messages.

    Returns
    -------
    Browser
        The Chromium found, before or after installing.

    Raises
    ------
    BrowserError
        When there is none and every way of installing one failed; the
        message lists the commands to run by hand.
    """
    found = find()
    if found is not None:
        return found
    root = is_root()
    plans = install_plans(root, not root and has_sudo(), has_apt(), python)
    for name, commands in plans:
        log(f"No Chromium for the browser tests: installing {name}")
        if all(run(command) for command in commands):
            found = find()
            if found is not None:
                return found
            log(f"{name} installed, but still no Chromium where the tests look")
        else:
            log(f"Installing {name} failed")
    raise BrowserError(manual_instructions(display_python(python)))


def main() -> int:
    try:
        browser = ensure_browser()
    except BrowserError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"Chromium for the browser tests: {browser.executable or browser.source} ({browser.source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
