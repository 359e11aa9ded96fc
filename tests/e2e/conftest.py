"""Browser-test fixtures, after Streamlit's own e2e_playwright conftest: find a free port,
start the real app as a subprocess (no keys, no base URLs — so it starts its own sandbox,
exactly like the README's run command), poll until it answers, yield, stop it.

Every app runs in a process group of its own, and stopping it ends the whole group (the app,
the sandbox it started, any encoder still running for either) and waits until none is left:
nothing a test started keeps the two cores busy while the next test runs. Waits that tests
share (an idle app, a download, a value that must eventually hold) live in
:mod:`tests.e2e.waits`.

Chromium is Debian's ``/usr/bin/chromium`` (never ``playwright install``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from studio.local_sandbox import free_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "e2e"  # not test-results/: pytest-playwright wipes it
START_TIMEOUT_S = 120  # a cold start on a busy 2-core machine (imports, sandbox, migrations)
STOP_TIMEOUT_S = 20
# expect()'s own default is 5 s: too short for a rerun on a busy 2-core machine.
expect.set_options(timeout=30_000)


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


@pytest.fixture()
def page(page):
    """pytest-playwright's page with a 60 s default for actions: its 30 s is too short for a
    page that reruns while both cores encode. Waits for a generation pass longer deadlines."""
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(90_000)
    return page


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a process of ours we cannot signal
        return True
    return True


def stop_group(proc: subprocess.Popen, *, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """End ``proc`` and everything in its process group: SIGTERM (the app stops its tracker
    and sandbox), then SIGKILL for whatever is still there after ``timeout_s``; returns
    once the group is empty, so the next test starts on a quiet machine."""
    pgid = proc.pid  # started with start_new_session=True: the group id is its pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _group_alive(pgid):
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.2)
        if proc.poll() is not None and not _group_alive(pgid):
            break
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    deadline = time.monotonic() + 5
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)


@contextlib.contextmanager
def launch_app(data: Path, extra_env: dict[str, str] | None = None):
    """Run ``streamlit run app.py`` on a free port with ``STUDIO_DATA_DIR=data`` in a process
    group of its own; yields its URL; the log is ``data/app-<port>.log`` (two apps may share
    one data dir, each keeps its own log). On exit the whole group
    (app, its sandbox, their encoders) is stopped before this returns."""
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("OXEN_API_KEY", "LTXV_API_KEY", "OXEN_BASE_URL", "LTX_BASE_URL")}
    env.update(STUDIO_DATA_DIR=str(data), **(extra_env or {}))
    log_path = data / f"app-{port}.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed after the process stops
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                if requests.get(f"{url}/_stcore/health", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        else:
            pytest.fail(f"the app did not answer /_stcore/health within {START_TIMEOUT_S} s: "
                        + log_path.read_text()[-2000:])
        if proc.poll() is not None:
            pytest.fail("the app exited at start: " + log_path.read_text()[-2000:])
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield url
    finally:
        stop_group(proc)
        log.close()


@pytest.fixture()
def app_url(tmp_path):
    """The app as the README starts it (no keys, no base URLs, so it starts its own sandbox),
    one per test: a generation still encoding for one test never slows the next."""
    with launch_app(tmp_path / "e2e-data") as url:
        yield url


def upload_clip(page, path: Path) -> None:
    """Choose ``path`` as the model page's source clip through its Upload control and wait
    until the page names it."""
    page.get_by_role("radiogroup", name="Source clip").get_by_text("Upload").click()
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(path))
    expect(page.get_by_text(f"{path.name}").first, "the uploaded file's name").to_be_visible(
        timeout=60_000)
