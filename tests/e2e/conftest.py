"""Browser-test fixtures, after Streamlit's own e2e_playwright conftest: find a free port,
start the real app as a subprocess (no keys, no base URLs — so it starts its own sandbox,
exactly like the README's run command), poll until it answers, yield, stop it.

Chromium is Debian's ``/usr/bin/chromium`` (never ``playwright install``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from studio.local_sandbox import free_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "e2e"  # not test-results/: pytest-playwright wipes it


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (see .ci/run)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1500, "height": 1100}}


@contextlib.contextmanager
def launch_app(data: Path, extra_env: dict[str, str] | None = None):
    """Run ``streamlit run app.py`` on a free port with ``STUDIO_DATA_DIR=data``; yields
    its URL; the log is ``data/app.log``."""
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("OXEN_API_KEY", "LTXV_API_KEY", "OXEN_BASE_URL", "LTX_BASE_URL")}
    env.update(STUDIO_DATA_DIR=str(data), **(extra_env or {}))
    log = open(data / "app.log", "w")  # noqa: SIM115 - closed after the process stops
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the app did not start: " + (data / "app.log").read_text()[-2000:])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The app as the README starts it: no keys, no base URLs, so it starts its own sandbox."""
    with launch_app(tmp_path_factory.mktemp("e2e-data")) as url:
        yield url
