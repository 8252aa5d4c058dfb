"""Fixtures for the browser tests of the built book (``_build/html``).

The site is served over http on 127.0.0.1 and also opened from disk
(``file://``).  Every page runs in a browser context that aborts, and records,
any request outside the site, so a test can assert that the book made none.
Chromium is the first of ``$CHROMIUM``, ``chromium`` on ``PATH``,
``/usr/bin/chromium`` and Playwright's own download (the order of
``scripts/ensure_browser.py``, which ``make test`` runs first to install one),
driven by the Playwright sync API.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 20_000


def _load_ensure_browser():
    spec = importlib.util.spec_from_file_location("ensure_browser", ROOT / "scripts" / "ensure_browser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ensure_browser = _load_ensure_browser()


@pytest.fixture(scope="session")
def site() -> Path:
    """The built site; the tests fail (they do not skip) when it is missing."""
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE.relative_to(ROOT)} has no built book: run make book first")
    return SITE


@pytest.fixture(scope="session")
def site_url(site: Path):
    """The base URL of the site served by a threaded http.server on a free port."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium; the tests fail (they do not skip) when there is none."""
    try:
        found = ensure_browser.find_browser()
    except ensure_browser.BrowserError as error:
        pytest.fail(str(error))
    if found is None:
        pytest.fail(ensure_browser.manual_instructions(ensure_browser.display_python()))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=found.executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class GuardedPage:
    """A page whose requests outside ``allowed_prefix`` are aborted and recorded."""

    page: object
    allowed_prefix: str
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def goto(self, path: str):
        self.page.goto(self.allowed_prefix + path, wait_until="load")
        return self.page

    def assert_clean(self):
        """No request left the site, no script error, no console error."""
        assert not self.blocked, "requests outside the site were attempted:\n" + "\n".join(self.blocked)
        assert not self.page_errors, "uncaught script errors:\n" + "\n".join(self.page_errors)
        assert not self.console_errors, "console errors:\n" + "\n".join(self.console_errors)


@pytest.fixture
def open_site(browser):
    """``open_site(prefix)`` returns a :class:`GuardedPage` allowed to load only ``prefix``."""
    contexts = []

    def open_(allowed_prefix: str) -> GuardedPage:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        guarded = GuardedPage(context.new_page(), allowed_prefix)

        def guard(route):
            url = route.request.url
            if url.startswith(allowed_prefix) or url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                guarded.blocked.append(url)
                route.abort()

        context.route("**/*", guard)
        guarded.page.on(
            "console",
            lambda message: (
                message.type == "error" and guarded.console_errors.append(f"{message.text} ({message.location})")
            ),
        )
        guarded.page.on("pageerror", lambda error: guarded.page_errors.append(str(error)))
        return guarded

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
