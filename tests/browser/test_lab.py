"""The ρ/β chapter runs live in JupyterLab: sliders swap the figures, the button retrains.

The test starts JupyterLab from this environment (as ``make lab`` does) on
127.0.0.1, on a free port, with no token, on a temporary copy of
``notebooks/07_explore_rho_beta.ipynb``; every Jupyter directory (config,
data, runtime, settings, workspaces, IPython) and the model cache are
temporary too, so nothing is read from or written to the user's own.  The copy
runs with a tiny grid (a cell injected after the ``parameters`` cell), which
also checks that the kernel runs in this environment's Python.  In Chromium the
test runs all cells from the Run menu, moves the live ρ slider and checks that
the weight mosaic changes, then presses the retrain button and follows its
progress bar to the retrained point's figures.  The browser may load nothing
but the server's own pages (conftest's ``open_site`` guard).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "07_explore_rho_beta.ipynb"
# A grid of three trainings of a few iterations: two targets, β = 0 and UFLDL's 3.
SMALL_GRID = {
    "n_train": 300,
    "n_hidden": 9,
    "max_iter": 8,
    "rho": 0.05,
    "beta": 3.0,
    "rho_values": [0.05, 0.1],
    "beta_values": [0.0, 3.0],
    "n_jobs": 1,
}
MOVED_RHO = "0.1"
# Generous for a loaded two-core machine, but bounded.
SERVER_START_S = 120
SERVER_STOP_S = 30
KERNEL_READY_MS = 180_000
RUN_ALL_MS = 300_000
SLIDER_UPDATE_MS = 60_000
RETRAIN_MS = 180_000
PNG_SIGNATURE = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
TRACEBACK = "Traceback (most recent call last)"
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def small_copy(source: Path, target: Path, parameters: dict, python_prefix: str) -> None:
    """Copy the notebook with a cell after its ``parameters`` cell that overrides them.

    The injected cell also asserts that the kernel's ``sys.prefix`` is
    ``python_prefix``, so a kernel from another environment stops the run.
    """
    notebook = nbformat.read(source, as_version=4)
    tagged = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    if not tagged:
        pytest.fail(f"{source.relative_to(ROOT)} has no cell tagged 'parameters'")
    lines = [f"{name} = {value!r}" for name, value in parameters.items()]
    lines += ["import sys", f"assert sys.prefix == {python_prefix!r}, f'kernel runs in {{sys.prefix}}'"]
    injected = nbformat.v4.new_code_cell("\n".join(lines))
    injected.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(tagged[0] + 1, injected)
    nbformat.write(notebook, target)


def wait_until_answering(url: str, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    """Poll ``url`` until it answers 200; fail if the server exits or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer {url} within {timeout_s} s:\n{log.read_text(errors='replace')[-4000:]}")


def stop(process: subprocess.Popen) -> None:
    """Terminate the server, kill it (and its kernels, its process group) if it does not stop."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=SERVER_STOP_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=SERVER_STOP_S)
    try:
        os.killpg(process.pid, signal.SIGKILL)  # a kernel the server left behind
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a small copy of the ρ/β chapter; fails when JupyterLab is missing."""
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.is_file() or importlib.util.find_spec("jupyterlab") is None:
        pytest.fail(f"JupyterLab is not installed next to {sys.executable}: run make setup")
    base = tmp_path_factory.mktemp("lab")
    root_dir = base / "notebooks"
    root_dir.mkdir()
    small_copy(ROOT / "notebooks" / NOTEBOOK, root_dir / NOTEBOOK, SMALL_GRID, sys.prefix)
    env = dict(os.environ)
    for name in (
        "JUPYTER_CONFIG_DIR",
        "JUPYTER_DATA_DIR",
        "JUPYTER_RUNTIME_DIR",
        "JUPYTERLAB_SETTINGS_DIR",
        "JUPYTERLAB_WORKSPACES_DIR",
        "IPYTHONDIR",
        "AUTOENCODER_CACHE_DIR",
    ):
        env[name] = str(base / name.lower())
        Path(env[name]).mkdir()
    env.pop("JUPYTER_PATH", None)
    # No question whether to fetch Jupyter news (a toast over the page); every
    # cell kept in the page, so that an error far above the view can be read.
    for plugin, settings in LAB_SETTINGS.items():
        path = Path(env["JUPYTERLAB_SETTINGS_DIR"], *plugin.split(":")[0].split("/"))
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{plugin.split(':')[1]}.jupyterlab-settings").write_text(json.dumps(settings))
    port = free_port()
    command = [
        str(jupyter),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = base / "jupyterlab.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=root_dir, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until_answering(url + "api/status", process, log, SERVER_START_S)
        yield Lab(url, process, log)
    finally:
        stop(process)


def image_bytes(page, img) -> bytes:
    """The bytes behind an ``<img>``'s ``src`` (a blob: URL of an ipywidgets Image)."""
    values = page.evaluate(
        "async (img) => Array.from(new Uint8Array(await (await fetch(img.src)).arrayBuffer()))", img.element_handle()
    )
    return bytes(values)


def cell_errors(page) -> str:
    """The tracebacks shown in the notebook's outputs."""
    return "\n".join(text for text in page.locator(".jp-OutputArea-output").all_text_contents() if TRACEBACK in text)


def test_the_rho_beta_chapter_runs_live_in_jupyterlab(lab, open_site, screenshots):
    guarded = open_site(lab.url)
    page = guarded.page
    sockets = []
    page.on("websocket", lambda socket_: sockets.append(socket_.url))
    guarded.goto(f"lab/tree/{NOTEBOOK}?reset")

    # The kernel named by the notebook (python3) is up: the status bar says "<its name> | Idle".
    kernel_idle = re.compile(r"^(?!No Kernel).+ \| Idle$")
    page.locator(".jp-StatusBar-TextItem", has_text=kernel_idle).wait_for(timeout=KERNEL_READY_MS)
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    explorer = page.locator(".widget-vbox:has(> .widget-hslider)")
    panel = page.locator(".widget-vbox:has(.widget-button)")
    try:
        page.wait_for_function(
            f"""() => document.querySelector('.widget-vbox .widget-button') !== null
                || [...document.querySelectorAll('.jp-OutputArea-output')]
                   .some(output => output.textContent.includes({TRACEBACK!r}))""",
            timeout=RUN_ALL_MS,
        )
    except PlaywrightTimeoutError:
        pass
    if panel.count() == 0:
        page.screenshot(path=screenshots / "lab-07-run-all-failed.png")
        pytest.fail(f"no live explorer; cell errors:\n{cell_errors(page)[-4000:]}\nJupyterLab log:\n{lab.log_tail()}")
    assert explorer.count() == 1 and panel.count() == 1

    # The explorer: ρ and β sliders at the notebook's point, the mosaic and histogram, the metrics.
    rho_slider, beta_slider = explorer.locator(".widget-hslider").all()
    rho_readout = rho_slider.locator(".widget-readout")
    assert rho_readout.inner_text() == f"{SMALL_GRID['rho']:g}"
    assert beta_slider.locator(".widget-readout").inner_text() == f"{SMALL_GRID['beta']:g}"
    mosaic = explorer.locator("img.widget-image").first
    explorer.evaluate("element => element.scrollIntoView({block: 'center'})")
    page.screenshot(path=screenshots / "lab-07-explorer.png")
    before_src, before = mosaic.get_attribute("src"), image_bytes(page, mosaic)
    assert before.startswith(PNG_SIGNATURE)

    # Moving ρ one step retrains nothing: the kernel swaps in that grid point's mosaic.
    handle = rho_slider.locator(".noUi-handle")
    handle.focus()
    handle.press("ArrowRight")
    page.wait_for_function(
        "([readout, img, src, value]) => readout.textContent === value && img.getAttribute('src') !== src",
        arg=[rho_readout.element_handle(), mosaic.element_handle(), before_src, MOVED_RHO],
        timeout=SLIDER_UPDATE_MS,
    )
    after = image_bytes(page, mosaic)
    assert after.startswith(PNG_SIGNATURE)
    assert after != before, "the mosaic did not change with ρ"
    page.screenshot(path=screenshots / "lab-07-slider-moved.png")

    # The retrain button trains the chosen point from scratch; the bar follows the iterations.
    bar = panel.locator(".widget-hprogress .progress-bar")
    status = panel.locator("div.widget-label")
    assert bar.evaluate("bar => bar.style.width") == "0%"
    bar.evaluate(
        """bar => {
            window.retrainProgress = [];
            new MutationObserver(() => window.retrainProgress.push(parseFloat(bar.style.width)))
                .observe(bar, {attributes: true, attributeFilter: ['style']});
        }"""
    )
    panel.locator(".widget-button", has_text="Retrain this point").click()
    trained = re.compile(rf"^Trained ρ = {MOVED_RHO}, β = {SMALL_GRID['beta']:g}: (\d+) iterations")
    page.wait_for_function(
        "([label, pattern]) => new RegExp(pattern).test(label.textContent)",
        arg=[status.element_handle(), trained.pattern],
        timeout=RETRAIN_MS,
    )
    n_iter = int(trained.match(status.inner_text()).group(1))
    progress = page.evaluate("() => window.retrainProgress")
    assert 1 <= n_iter <= SMALL_GRID["max_iter"]
    assert len(set(progress)) >= 2 and progress == sorted(progress), f"the bar did not advance: {progress}"
    assert progress[-1] == pytest.approx(100 * n_iter / SMALL_GRID["max_iter"])
    new_mosaic, new_histogram = panel.locator("img.widget-image").all()
    assert image_bytes(page, new_mosaic).startswith(PNG_SIGNATURE)
    assert image_bytes(page, new_histogram).startswith(PNG_SIGNATURE)
    rows = panel.locator(".widget-html-content tr").all_inner_texts()
    # Three decimals for every measure, a whole number of pixels for the median effective area.
    assert rows and all(
        re.fullmatch(r"median effective area \(pixels\)\t\d+|[^\t]+\t-?\d+\.\d{3}", row) for row in rows
    ), rows
    assert any(row.startswith("localized features\t") for row in rows), rows
    panel.evaluate("element => element.scrollIntoView({block: 'center'})")
    page.screenshot(path=screenshots / "lab-07-retrained.png")

    outside = [url for url in sockets if not url.startswith(lab.url.replace("http://", "ws://"))]
    assert not outside, f"websockets outside the server: {outside}"
    guarded.assert_clean()
