"""After a fault run: reopen the app on its data dir in Chromium and check every page.

    .venv/bin/python bench/browser_check.py /tmp/fault20 20

Starts the sandbox on the run's sandbox data dir (no faults) and the app on its app data
dir, opens the Generations page, reads the row count the page shows, and opens every model
page and the three cost pages; fails on any Streamlit exception element or a traceback in
the page text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests
from _common import REPO
from playwright.sync_api import sync_playwright

from studio.local_sandbox import free_port, start_sandbox

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = ["", "hyperion_hdr", "ltx_hdr", "ltx_direct", "rhea", "starlight", "forecast", "ledger",
         "rates"]


def main() -> int:
    data, expected = Path(sys.argv[1]), int(sys.argv[2])
    sandbox = start_sandbox(data / "sandbox", port=None)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("OXEN_API_KEY", "LTXV_API_KEY")}
    env.update(STUDIO_DATA_DIR=str(data / "app"), OXEN_BASE_URL=sandbox.url,
               LTX_BASE_URL=sandbox.url)
    app = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port",
                            str(port), "--server.headless", "true"], cwd=REPO, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = True
    try:
        for _ in range(100):
            try:
                if requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            for slug in PAGES:
                page.goto(f"http://127.0.0.1:{port}/{slug}")
                page.wait_for_selector("h1", timeout=60_000)
                time.sleep(2)
                text = page.inner_text("body")
                exceptions = page.locator('[data-testid="stException"]').count()
                tracebacks = text.count("Traceback")
                line = f"/{slug or '(generations)'}: exceptions {exceptions}, tracebacks {tracebacks}"
                if slug == "":
                    m = re.search(r"(\d+) generation\(s\)", text)
                    listed = int(m.group(1)) if m else -1
                    line += f", generations listed {listed} (expected {expected})"
                    ok &= listed == expected
                ok &= exceptions == 0 and tracebacks == 0
                print(line)
            browser.close()
    finally:
        app.terminate()
        sandbox.stop()
    print(f"RESULT: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
