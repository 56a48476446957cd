"""The install path besides the dev checkout (docs/operations.md, "Installing from a wheel").

A wheel built from this checkout carries the built front end, templates, migrations, the lifecycle diagrams and
forms, and once installed in a fresh virtual environment runs on its own: from an empty working directory, with
no checkout on the import path and no npm. The server is a real `apflow serve` reached over HTTP.

Building and installing take most of a minute (the dependencies come from the package index configured on this
machine), so one wheel, one virtual environment and one server serve the whole module. Without the package index
the install fails with pip's message: that is a failure, never a skip.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest

from apflow.config import ROOT
from apflow.web.assets import NODE_MODULES, VENDOR
from tests.support import free_port

BUILD_SECONDS = 600
INSTALL_SECONDS = 900
COMMAND_SECONDS = 300
SERVER_START_SECONDS = 120
PASSWORD = "correct horse battery"


def _text(output) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else (output or "")


def run(args, *, what: str, timeout: float = COMMAND_SECONDS, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on a non-zero exit or a timeout, fail the test with everything it printed."""
    args = [str(a) for a in args]
    try:
        result = subprocess.run(args, check=False, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{what} took over {timeout:.0f} s: {' '.join(args)}\n{_text(err.stdout)}{_text(err.stderr)}")
    if result.returncode != 0:
        pytest.fail(f"{what} failed (exit {result.returncode}): {' '.join(args)}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`python -m build --wheel` from the checkout (needs `npm ci` + `npm run build` done, as .ci/setup does)."""
    place = tmp_path_factory.mktemp("wheel")
    dist = place / "dist"
    # setuptools' build/ folder goes to tmp too, not into the checkout (DIST_EXTRA_CONFIG: an extra setup.cfg).
    extra_config = place / "build.cfg"
    extra_config.write_text(f"[build]\nbuild_base = {place / 'build'}\n")
    # --no-isolation: the build backend (setuptools>=70.1, the test extra) is already in this venv, so the
    # build itself needs no network.
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, ROOT],
        what="Building the wheel (pip install -e '.[test]' brings `build`; npm ci + npm run build the front end)",
        timeout=BUILD_SECONDS, cwd=ROOT, env={**os.environ, "DIST_EXTRA_CONFIG": str(extra_config)})
    [built] = dist.glob("apflow-*.whl")
    return built


class Installed:
    def __init__(self, venv: Path, cwd: Path, instance: Path):
        self.venv, self.cwd, self.instance = venv, cwd, instance
        self.python, self.apflow = venv / "bin" / "python", venv / "bin" / "apflow"

    def env(self, **extra) -> dict:
        """This environment less anything that could lead back to the checkout or its settings."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("APFLOW_") and k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}}
        env.update({"PYTHONNOUSERSITE": "1", "APFLOW_INSTANCE_DIR": str(self.instance), **extra})
        return {k: v for k, v in env.items() if v is not None}  # extra NAME=None leaves NAME out

    def run(self, *args, what: str, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("env", self.env())
        return run(args, what=what, cwd=self.cwd, **kwargs)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Installed:
    """A fresh virtual environment with only the wheel (and its dependencies) installed; an empty working directory."""
    root = tmp_path_factory.mktemp("installed")
    venv, cwd = root / "venv", root / "work"
    cwd.mkdir()
    base = getattr(sys, "_base_executable", sys.executable)  # a new venv from the base interpreter, not inside .venv
    run([base, "-m", "venv", venv], what="Creating a virtual environment", cwd=root)
    place = Installed(venv, cwd, root / "instance")
    place.run(place.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel,
              what="Installing the wheel with pip (its dependencies come from the configured package index)",
              timeout=INSTALL_SECONDS)
    return place


@pytest.fixture(scope="module")
def server(installed):
    """`apflow db upgrade`, the shipped diagrams deployed, a manager, then `apflow serve` on a free port."""
    installed.run(installed.apflow, "db", "upgrade", what="apflow db upgrade")
    defaults = json.loads(installed.run(installed.python, "-c", SHOW_DEFAULTS, what="Reading the settings").stdout)
    installed.run(installed.apflow, "deploy", defaults["bpmn_dir"], "--note", "shipped diagrams",
                  what="apflow deploy of the diagrams shipped in the wheel")
    installed.run(installed.apflow, "users", "create", "sam", "--role", "manager", "--password-stdin",
                  input=PASSWORD + "\n", what="apflow users create")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = installed.cwd.parent / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(installed.apflow), "serve", "--port", str(port)], cwd=installed.cwd,
                                env=installed.env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"apflow serve exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(base + "/login", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"apflow serve did not answer on {base} within {SERVER_START_SECONDS} s:\n"
                                f"{log_path.read_text(errors='replace')}")
                time.sleep(0.1)  # polling interval, not a wait for readiness
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


SHOW_DEFAULTS = """
import json, apflow
from apflow.config import Settings
s = Settings.from_env()
print(json.dumps({"apflow": apflow.__file__, "bpmn_dir": str(s.bpmn_dir), "forms_dir": str(s.forms_dir),
                  "instance_dir": str(s.instance_dir), "database_url": s.database_url}))
"""


def served_files() -> set[str]:
    """Every file apflow/web/assets.py serves from the front end, as wheel paths."""
    package = ROOT / "apflow"
    files = set()
    for folder in VENDOR.values():
        for path in (NODE_MODULES / folder).resolve().rglob("*"):
            if path.is_file():
                files.add("apflow/" + path.relative_to(package).as_posix())
    return files


def test_the_wheel_carries_the_built_front_end_and_everything_else_apflow_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    served = served_files()
    assert served, "nothing to serve: run npm ci and npm run build in apflow/web/frontend"
    assert not served - names, f"served front-end files missing from the wheel: {sorted(served - names)[:5]}"
    vendored = {n for n in names if "/node_modules/" in n}
    assert vendored <= served, f"node_modules files the application never serves: {sorted(vendored - served)[:5]}"
    assert "apflow/web/frontend/build/bpmnlint-config.js" in names
    assert not [n for n in names if n.startswith(("apflow/web/frontend/lint/", "apflow/web/frontend/package"))]
    expected = {f"apflow/data/bpmn/{p.name}" for p in (ROOT / "bpmn").glob("*.bpmn")}
    expected |= {f"apflow/data/forms/{p.name}" for p in (ROOT / "forms").glob("*.json")}
    for folder, pattern in [("web/templates", "*.html"), ("web/static", "*"), ("store/migrations/versions", "*.py"),
                            ("data", "*.csv")]:
        expected |= {f"apflow/{p.relative_to(ROOT / 'apflow').as_posix()}"
                     for p in (ROOT / "apflow" / folder).glob(pattern) if p.is_file()}
    expected.add("apflow/store/migrations/env.py")
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)}"


def test_without_the_built_front_end_the_build_stops_and_says_why(tmp_path):
    source = tmp_path / "src"
    for name in ["apflow", "bpmn", "forms", "pyproject.toml", "setup.py", "README.md"]:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("node_modules", "build", "__pycache__", "*.egg-info"))
        else:
            shutil.copy2(ROOT / name, source / name)
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"),
                             str(source)], check=False, capture_output=True, text=True, timeout=BUILD_SECONDS, cwd=tmp_path)
    assert result.returncode != 0 and not list(tmp_path.glob("dist/*.whl"))
    assert "The built front end is missing" in result.stdout + result.stderr
    assert "npm ci --prefix apflow/web/frontend && npm run build" in result.stdout + result.stderr


def test_the_installed_package_runs_without_the_checkout(installed):
    defaults = json.loads(installed.run(installed.python, "-c", SHOW_DEFAULTS, what="Reading the settings",
                                        env=installed.env(APFLOW_INSTANCE_DIR=None)).stdout)
    package = Path(defaults["apflow"]).parent
    assert package.is_relative_to(installed.venv), f"imported apflow from {package}, not from the new venv"
    assert Path(defaults["bpmn_dir"]) == package / "data" / "bpmn"
    assert Path(defaults["forms_dir"]) == package / "data" / "forms"
    assert sorted(p.name for p in Path(defaults["bpmn_dir"]).glob("*.bpmn")) == sorted(p.name for p in (ROOT / "bpmn").glob("*.bpmn"))
    assert Path(defaults["instance_dir"]) == installed.cwd / "instance"  # ./instance when APFLOW_INSTANCE_DIR is unset
    chosen = json.loads(installed.run(installed.python, "-c", SHOW_DEFAULTS, what="Reading the settings").stdout)
    assert Path(chosen["instance_dir"]) == installed.instance
    assert chosen["database_url"] == f"sqlite:///{installed.instance / 'apflow.sqlite3'}"


def test_the_installed_server_serves_the_sign_in_page_and_the_diagram_editor(server, installed):
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(path: str) -> tuple[int, bytes]:
        try:
            with browser.open(server + path, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    status, body = get("/login")
    assert status == 200 and b"Sign in" in body
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
    form = urllib.parse.urlencode({"csrf_token": csrf, "username": "sam", "password": PASSWORD}).encode()
    with browser.open(server + "/login", data=form, timeout=30) as response:
        assert response.status == 200 and not response.url.endswith("/login"), response.url

    status, page = get("/processes/referral_triage/edit")
    assert status == 200, page[:500]
    assets = re.findall(rb'<(?:script src|link rel="stylesheet" href)="([^"]+)"', page)
    editor = "/vendor/bpmn-js/bpmn-modeler.production.min.js"
    assert editor.encode() in assets and b"/vendor/lint-rules/bpmnlint-config.js" in assets, assets
    for url in assets:
        status, body = get(url.decode())
        assert status == 200 and len(body) > 500, (url, status, body[:200])
    status, body = get(editor)
    assert status == 200 and len(body) > 100_000 and b"BpmnJS" in body
    assert not (installed.cwd / "instance").exists()  # APFLOW_INSTANCE_DIR was used throughout
