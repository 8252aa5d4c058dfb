"""scripts/ensure_browser.py: where the browser is looked for, and how one is installed when there is none.

Nothing is installed: the machine's facts and the commands are fakes.
"""

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "/project/.venv/bin/python"
APT_UPDATE = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update", "-qq"]
APT_INSTALL = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "chromium"]
PLAYWRIGHT_INSTALL = [PYTHON, "-m", "playwright", "install", "chromium"]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("ensure_browser", ROOT / "scripts" / "ensure_browser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_executable(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


class Machine:
    """A machine without a browser until one of the commands in ``installs`` succeeds."""

    def __init__(self, script, *, root=False, sudo=False, apt=True, failing=(), installs=()):
        self.script = script
        self.root, self.sudo, self.apt = root, sudo, apt
        self.failing, self.installs = [list(c) for c in failing], [list(c) for c in installs]
        self.ran, self.asked_sudo, self.installed = [], False, False

    def find(self):
        return self.script.Browser("/usr/bin/chromium", "test") if self.installed else None

    def run(self, command):
        self.ran.append(command)
        if command in self.failing:
            return False
        self.installed = self.installed or command in self.installs
        return True

    def has_sudo(self):
        self.asked_sudo = True
        return self.sudo

    def ensure(self):
        return self.script.ensure_browser(
            find=self.find,
            is_root=lambda: self.root,
            has_sudo=self.has_sudo,
            has_apt=lambda: self.apt,
            run=self.run,
            python=PYTHON,
            log=lambda message: None,
        )


def test_a_browser_already_there_installs_nothing(script):
    machine = Machine(script, root=True)
    machine.installed = True
    assert machine.ensure().executable == "/usr/bin/chromium"
    assert machine.ran == []
    assert not machine.asked_sudo


def test_root_installs_debian_chromium_after_apt_get_update(script):
    machine = Machine(script, root=True, installs=[APT_INSTALL])
    assert machine.ensure().executable == "/usr/bin/chromium"
    assert machine.ran == [APT_UPDATE, APT_INSTALL]
    assert not machine.asked_sudo


def test_passwordless_sudo_installs_debian_chromium_through_sudo(script):
    machine = Machine(script, sudo=True, installs=[["sudo", "-n", *APT_INSTALL]])
    machine.ensure()
    assert machine.ran == [["sudo", "-n", *APT_UPDATE], ["sudo", "-n", *APT_INSTALL]]


def test_without_root_or_sudo_playwright_downloads_its_own(script):
    machine = Machine(script, installs=[PLAYWRIGHT_INSTALL])
    machine.ensure()
    assert machine.asked_sudo
    assert machine.ran == [PLAYWRIGHT_INSTALL]


def test_root_without_apt_get_uses_playwright(script):
    machine = Machine(script, root=True, apt=False, installs=[PLAYWRIGHT_INSTALL])
    machine.ensure()
    assert machine.ran == [PLAYWRIGHT_INSTALL]


def test_a_failed_apt_get_update_falls_back_to_playwright(script):
    machine = Machine(script, root=True, failing=[APT_UPDATE], installs=[PLAYWRIGHT_INSTALL])
    machine.ensure()
    assert machine.ran == [APT_UPDATE, PLAYWRIGHT_INSTALL]


def test_when_nothing_can_be_installed_the_error_says_what_to_run(script):
    machine = Machine(script, failing=[PLAYWRIGHT_INSTALL])
    with pytest.raises(script.BrowserError) as caught:
        machine.ensure()
    message = str(caught.value)
    assert "sudo apt-get install -y chromium" in message
    assert f"{PYTHON} -m playwright install chromium" in message
    assert "CHROMIUM=" in message


def test_an_install_that_leaves_no_browser_is_not_success(script):
    machine = Machine(script, root=True)
    with pytest.raises(script.BrowserError):
        machine.ensure()
    assert machine.ran == [APT_UPDATE, APT_INSTALL, PLAYWRIGHT_INSTALL]


def test_the_python_inside_the_project_is_shown_relative(script):
    assert script.display_python(str(script.ROOT / ".venv" / "bin" / "python")) == os.path.join(
        ".venv", "bin", "python"
    )
    assert script.display_python("/usr/bin/python3") == "/usr/bin/python3"


def test_chromium_variable_comes_first(script, tmp_path):
    chosen = fake_executable(tmp_path / "mine" / "chrome")
    on_path = fake_executable(tmp_path / "bin" / "chromium")
    found = script.find_browser({"CHROMIUM": chosen, "PATH": str(tmp_path / "bin")}, which=lambda name: on_path)
    assert found == script.Browser(chosen, "$CHROMIUM")


def test_chromium_variable_naming_nothing_is_an_error(script, tmp_path):
    with pytest.raises(script.BrowserError, match="CHROMIUM=.*not an executable"):
        script.find_browser({"CHROMIUM": str(tmp_path / "missing")}, bundled=lambda: "/bundled/chrome")


def test_chromium_on_a_fake_path_is_found(script, tmp_path):
    bin_dir = tmp_path / "bin"
    on_path = fake_executable(bin_dir / "chromium")
    found = script.find_browser(
        {}, which=lambda name: shutil.which(name, path=str(bin_dir)), system_path=str(tmp_path / "none")
    )
    assert found == script.Browser(on_path, "chromium on PATH")


def test_a_file_that_is_not_executable_does_not_count(script, tmp_path):
    plain = tmp_path / "chromium"
    plain.write_text("")
    found = script.find_browser({}, which=lambda name: str(plain), bundled=lambda: None, system_path=str(plain))
    assert found is None


def test_debian_chromium_then_playwright_bundled(script, tmp_path):
    system = fake_executable(tmp_path / "usr" / "bin" / "chromium")
    found = script.find_browser({}, which=lambda name: None, bundled=lambda: None, system_path=system)
    assert found == script.Browser(system, system)
    found = script.find_browser(
        {}, which=lambda name: None, bundled=lambda: "/bundled/chrome", system_path=str(tmp_path / "none")
    )
    assert found == script.Browser(None, "Playwright's own Chromium")
    assert script.find_browser({}, which=lambda name: None, bundled=lambda: None, system_path="/none") is None
