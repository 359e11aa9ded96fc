"""Take README's page pictures in Chromium at 1440 px: the Starlight, LTX 2.3, Forecast and
Estimate-vs-actual pages, on a fresh data dir against the sandbox (run with
``--price-skew 0.05``, so the ledger shows a measured error).

A few generations are made first through the command line (the same sandbox, the same store),
so the pages show a quote, a succeeded generation and a ledger with quote/charge pairs.
Pictures go to ``docs/``. Run from the repository root: ``.venv/bin/python
scripts/readme-screenshots.py`` (about 3 minutes; needs ../shared/data for the short clip).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from studio.local_sandbox import start_sandbox  # noqa: E402
from tests.e2e.conftest import CHROMIUM, launch_app  # noqa: E402
from tests.e2e.waits import wait_for_idle  # noqa: E402

SHARED = Path(os.environ.get("STUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))
DOCS = REPO / "docs"
VIEWPORT = {"width": 1440, "height": 900}
# Short, cheap generations of several models so the ledger has pairs to show.
RUNS = [
    ("topazlabs-upscale-starlight-2-5-video", ["resolution=1080p"]),
    ("topazlabs-upscale-starlight-2-5-video", ["resolution=4k"]),
    ("topazlabs-rhea-video", ["resolution=2k"]),
    ("topazlabs-hyperion-hdr-video", []),
    ("ltx-video-to-video-hdr", []),
]


def say(text: str) -> None:
    print(f"readme-screenshots: {text}", flush=True)


def make_generations(data: Path, env: dict[str, str]) -> None:
    clip = SHARED / "video" / "realshort.mp4"
    for model, params in RUNS:
        say(f"submitting {model} {' '.join(params)}")
        args = [sys.executable, "-m", "studio", "submit", "--model", model, "--input", str(clip),
                "--yes", *(a for p in params for a in ("--param", p))]
        subprocess.run(args, cwd=REPO, env=env, check=True, capture_output=True)
    say("waiting for them to finish")
    subprocess.run([sys.executable, "-m", "studio", "track", "--until-done", "--interval", "1"],
                   cwd=REPO, env=env, check=True, capture_output=True, timeout=900)


def shoot(page, url: str, path: str, name: str, *, ready: str, full: bool = False) -> None:
    page.goto(f"{url}/{path}")
    expect(page.get_by_text(ready).first, f"{name}: '{ready}'").to_be_visible(timeout=180_000)
    wait_for_idle(page, what=f"{name} to settle")
    page.wait_for_timeout(1500)  # charts finish drawing
    page.screenshot(path=str(DOCS / name), full_page=full)
    say(f"wrote docs/{name}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # Charges 5 % off the list price, so the ledger shows a measured error (README: the
        # sandbox's --price-skew), not the 0 % of a sandbox priced from the bundled rates.
        sandbox = start_sandbox(root / "sandbox", port=None, extra_args=["--price-skew", "0.05"])
        base = {"OXEN_BASE_URL": sandbox.url, "LTX_BASE_URL": sandbox.url}
        env = {k: v for k, v in os.environ.items() if k not in ("OXEN_API_KEY", "LTXV_API_KEY")}
        env.update(STUDIO_DATA_DIR=str(root / "data"), **base)
        try:
            make_generations(root / "data", env)
            with launch_app(root / "data", base) as url, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM)
                page = browser.new_context(viewport=VIEWPORT).new_page()
                page.set_default_timeout(60_000)
                shoot(page, url, "starlight", "screenshot.png",
                      ready="Browser preview of the source ready")
                shoot(page, url, "ltx_hdr", "ltx_hdr.png", ready="3 · Quote")
                page.goto(f"{url}/forecast")
                main = page.get_by_test_id("stMain")
                main.get_by_role("tab", name="Import CSV").click(timeout=120_000)
                main.locator("input[type=file]").filter(visible=False).last.set_input_files(
                    str(REPO / "samples" / "plans" / "twenty_clips.csv"))
                wait_for_idle(page, what="the plan upload")
                main.get_by_role("button", name="Import").click()
                total = main.get_by_test_id("stMetric").filter(has_text="Plan total")
                expect(total).to_be_visible(timeout=90_000)
                wait_for_idle(page, what="the forecast")
                total.scroll_into_view_if_needed()
                page.mouse.wheel(0, -160)  # the totals and the priced table under them
                page.wait_for_timeout(1500)
                page.screenshot(path=str(DOCS / "forecast.png"), full_page=False)
                say("wrote docs/forecast.png")
                shoot(page, url, "ledger", "ledger.png", ready="Every generation", full=False)
                browser.close()
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
