"""From Submit to something to look at: Starlight 1080p on cockatoo.mp4, in Chromium.

Starts a sandbox and the app (fresh data dir: nothing cached), opens the Starlight page at
1440×900, picks 1080p and clicks Submit as soon as the sample is quoted. Then measures, with
the browser's own clock (``performance.now()``, polled every 50 ms):

- Submit → the source preview playable in the status card (the preview of the H.264 4:4:4
  sample is made in the background from the moment the page chose the clip);
- Submit → the result playable in the compare player (upload, enqueue, processing, the
  tracker's poll and download);

next to the sandbox's processing time alone: the same request sent straight to the same
sandbox with ``requests`` (POST /api/ai/queue, then GET every 0.1 s until it succeeds).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from _common import REPO
from playwright.sync_api import sync_playwright

from studio.jobs import JobStore
from studio.local_sandbox import free_port, start_sandbox

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required"]
STARLIGHT = "topazlabs-upscale-starlight-2-5-video"
CARD = ".st-key-starlight-status-card"


def wait_ms(page, condition: str, timeout_s: float) -> float:
    """Milliseconds (browser clock) until ``condition`` (JS expression) holds."""
    page.wait_for_function(f"() => {{ if ({condition}) {{ window.__benchT = performance.now(); "
                           "return true; } return false; }", timeout=timeout_s * 1000,
                           polling=50)
    return page.evaluate("() => window.__benchT")


def sandbox_alone(url: str, input_video: str) -> tuple[float, int | None]:
    """Wall seconds of one Starlight 1080p generation sent straight to the sandbox, and its
    own started→completed seconds."""
    headers = {"Authorization": "Bearer bench-alone"}
    t0 = time.perf_counter()
    r = requests.post(f"{url}/api/ai/queue", headers=headers, timeout=60, json={
        "model": STARLIGHT, "input_video": input_video, "resolution": "1080p"})
    r.raise_for_status()
    body = r.json()
    gen = (body.get("generations") or [body])[0]
    gid = gen.get("generation_id") or gen.get("id")
    while True:
        row = requests.get(f"{url}/api/ai/queue/{gid}", headers=headers, timeout=30).json()
        if row["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    assert row["status"] == "succeeded", row
    own = (row["completed_at"] - row["started_at"]) if row.get("started_at") else None
    return wall, own


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sandbox = start_sandbox(root / "sandbox", port=None)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("OXEN_API_KEY", "LTXV_API_KEY")}
        env.update(STUDIO_DATA_DIR=str(root / "data"), OXEN_BASE_URL=sandbox.url,
                   LTX_BASE_URL=sandbox.url)
        app = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                                "--server.port", str(port), "--server.headless", "true"],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    if requests.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.3)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(f"http://127.0.0.1:{port}/starlight")
                opened = page.evaluate("() => performance.now()")
                page.get_by_role("radiogroup", name="Resolution").get_by_text("1080p").click(
                    timeout=180_000)
                submit = page.get_by_role("button", name="Submit · $0.5236")
                submit.wait_for(timeout=120_000)
                clicked = page.evaluate("() => performance.now()")
                submit.click()
                src = wait_ms(page, f"""(() => {{ const v = document.querySelector(
                    '{CARD} .vcmp-stage video'); return v && v.readyState >= 2; }})()""", 600)
                res = wait_ms(page, f"""[...document.querySelectorAll('{CARD} .vcmp-stage video')]
                    .filter(v => v.readyState >= 2).length >= 2""", 900)
                browser.close()
            job = JobStore(root / "data" / "jobs.sqlite3").list()[0]
            app_processing = (job.completed_at - job.started_at).total_seconds() \
                if job.started_at and job.completed_at else None
            alone, own = sandbox_alone(sandbox.url, job.source["url"])
        finally:
            app.terminate()
            app.wait(15)
            sandbox.stop()
    print("Starlight 1080p on cockatoo.mp4 (14 s, 1280×720 H.264 4:4:4), fresh data dir:")
    print(f"  page open → Submit clicked: {(clicked - opened) / 1000:.1f} s")
    print(f"  Submit → source preview playable in the status card: {(src - clicked) / 1000:.1f} s "
          f"(page open → playable: {(src - opened) / 1000:.1f} s)")
    print(f"  Submit → result playable in the compare player: {(res - clicked) / 1000:.1f} s")
    print(f"  the sandbox alone, same request by HTTP: {alone:.1f} s wall"
          + (f" ({own} s processing by its own clock)" if own is not None else "")
          + (f"; in the app run it reported {app_processing:.0f} s started → completed"
             if app_processing is not None else ""))


if __name__ == "__main__":
    main()
