"""What the compare player adds to a model-page rerun (goal: ≤ 30 ms), 1,000 generations in
the store.

Two stores of 1,000 generations each (``bench/page_rerun.py``'s seed), identical but for the
newest one, which the Starlight page's Generations list selects and details:

- **with player**: a real Starlight 1080p result of cockatoo.mp4 on disk (1920×1080, 30
  frames/s, 420 frames, H.264 — made with ffmpeg the way the sandbox makes it) and the
  source's SDR preview, so the detail mounts the compare player (media registered on
  Streamlit's media route on every rerun, the result probed from cache);
- **baseline**: the same generation whose result file is gone, so the detail has no player.

Both pages are opened with Streamlit's AppTest against a real local sandbox and rerun N
times; the figure is the difference of the medians (AppTest's overhead cancels out).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import REPO, SHARED, seed_jobs

from studio.jobs import Job, JobStore
from studio.local_sandbox import start_sandbox
from studio.source_previews import SourcePreviews

N = 30
ROWS = 1000
COCKATOO = SHARED / "video" / "cockatoo.mp4"
STARLIGHT = "topazlabs-upscale-starlight-2-5-video"


def make_result(dest: Path) -> Path:
    """Starlight 1080p of cockatoo as the sandbox shapes it: 1920×1080, 30 frames/s."""
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(COCKATOO),
                    "-vf", "scale=1920:1080,fps=30", "-c:v", "libx264", "-preset", "veryfast",
                    "-pix_fmt", "yuv420p", "-an", str(dest)], check=True)
    return dest


def seed(data: Path, result: Path | None) -> None:
    store = JobStore.from_settings(data, os.environ.get("DATABASE_URL"))
    seed_jobs(store, ROWS, statuses=("succeeded", "succeeded", "failed", "cancelled"),
              downloaded=False)
    now = datetime.now(UTC)
    store.insert_many([Job(
        model_id=STARLIGHT, provider="oxen", owner="bench", params={"resolution": "1080p"},
        source={"kind": "sample", "label": "cockatoo.mp4", "path": str(COCKATOO)},
        status="succeeded", remote_id="gen-newest", target="sandbox",
        quote={"amount_usd": "0.5236", "provenance": "published", "tier": "1080p"},
        charge_usd="0.5236",
        clip={"width": 1280, "height": 720, "fps": 20.0, "duration_s": 14.0, "frame_count": 280},
        created_at=now + timedelta(seconds=5), submitted_at=now, completed_at=now + timedelta(seconds=40),
        result_urls={"video": "https://example.invalid/result.mp4"},
        result_files={"video": str(result)} if result else {"missing": ""})])


def time_page(data: Path, sandbox_url: str) -> tuple[float, float, bool]:
    from streamlit.testing.v1 import AppTest

    os.environ.update(STUDIO_DATA_DIR=str(data), OXEN_BASE_URL=sandbox_url,
                      LTX_BASE_URL=sandbox_url)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/starlight.py")
    at.run()
    at.run()  # caches filled (probe, thumbnail, turnaround, result probe)
    assert not at.exception, at.exception
    has_player = any(getattr(e, "type", "") == "bidi_component" and "compare" in str(e.proto.id)
                     for e in _walk(at.main))
    samples = []
    for _ in range(N):
        t0 = time.perf_counter()
        at.run()
        samples.append(time.perf_counter() - t0)
    return (statistics.median(samples) * 1000, sorted(samples)[int(N * 0.9)] * 1000, has_player)


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sandbox = start_sandbox(root / "sandbox", port=None, workers=1)
        try:
            result = make_result(root / "result-1080p.mp4")
            with_player, baseline = root / "with", root / "without"
            for data in (with_player, baseline):
                data.mkdir()
            # the source preview the page would have made in the background
            state = SourcePreviews(with_player / "previews").wait(COCKATOO, timeout=600)
            assert state.ready, state
            shutil.copytree(with_player / "previews", baseline / "previews")
            seed(with_player, result)
            seed(baseline, None)
            size_mb = result.stat().st_size / 1e6
            med_b, p90_b, player_b = time_page(baseline, sandbox.url)
            med_w, p90_w, player_w = time_page(with_player, sandbox.url)
            assert player_w and not player_b, (player_w, player_b)
        finally:
            sandbox.stop()
    added = med_w - med_b
    print(f"Starlight page rerun, {ROWS + 1} generations in the store, {N} reruns (AppTest):")
    print(f"  baseline (detail without a player): median {med_b:.0f} ms, p90 {p90_b:.0f} ms")
    print(f"  with the compare player (1080p result {size_mb:.1f} MB + source preview): "
          f"median {med_w:.0f} ms, p90 {p90_w:.0f} ms")
    print(f"  the compare player adds {added:.0f} ms (goal ≤ 30 ms): "
          f"{'PASS' if added <= 30 else 'FAIL'}")


if __name__ == "__main__":
    main()
