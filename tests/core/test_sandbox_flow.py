"""Flow tests: the sandbox really processes clips, end to end, as a client would drive it.

Uses realshort.mp4 (320×240, 36 frames) so each real run takes a second or two. One
in-process server with a single worker serves the module, which makes "queued" a state a test
can hold a job in (it waits behind the job ahead of it). The last tests start the sandbox the
way the app does — ``python -m sandbox`` as a subprocess — and restart it over the same
data dir.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from sandbox.auth import user_for_token
from sandbox.store import Generation, GenerationStore
from studio import media
from tests.conftest import REPO
from tests.core.conftest_sandbox import Api, RunningSandbox, SseReader, running_sandbox

STARLIGHT = "topazlabs-upscale-starlight-2-5-video"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox"), workers=1, keepalive_s=0.5) as s:
        yield s




def _enqueue(api: Api, **body: object) -> str:
    r = api.post("/api/ai/queue", json={"model": STARLIGHT, **body})
    assert r.status_code == 200, r.text
    return str(r.json()["generations"][0]["generation_id"])


def test_starlight_1080p_end_to_end(api: Api, clip_url: str, tmp_path: Path) -> None:
    reader = SseReader(api)  # connect before enqueuing: events are not replayed (oxen.md §10)
    try:
        gid = _enqueue(api, input_video=clip_url, resolution="1080p")
        row = api.wait_queue(gid)
        assert row["status"] == "succeeded", row
        assert reader.wait_for(lambda: bool(reader.for_generation(gid)), timeout=10)
    finally:
        reader.close()

    (event,) = reader.for_generation(gid)
    assert event == {
        "generation_id": gid,
        "status": "succeeded",
        "media_type": "video",
        "model": STARLIGHT,
        "url": row["result_url"],
    }

    out = tmp_path / "output.mp4"
    out.write_bytes(requests.get(row["result_url"], timeout=30).content)
    clip = media.probe(out)
    assert (clip.width, clip.height) == (1440, 1080)  # 4:3 source at the 1080p tier
    assert clip.fps == pytest.approx(30)  # target_fps default (model_params.md §4)

    history = api.get("/api/ai/generations").json()
    (item,) = history["generations"]
    assert item["generation_id"] == gid and Decimal(item["cost"]) > 0
    assert item["cost"] == history["total_cost"]  # a decimal string, not a float


def test_bad_parameter_fails_the_generation_by_name(api: Api, clip_url: str) -> None:
    gid = _enqueue(api, input_video=clip_url, resolution="8k")
    row = api.wait_queue(gid)
    assert row["status"] == "failed"
    assert "resolution" in row["error_message"] and "8k" in row["error_message"]
    assert row["error_message"].startswith("Invalid resolution")  # Starlight's error table
    assert "use 1080p, 2k or 4k" in row["error_message"]


def test_cancel_queued_and_running_jobs_sends_no_event(
    api: Api, clip_url: str, server: RunningSandbox
) -> None:
    reader = SseReader(api)
    try:
        running = _enqueue(api, input_video=clip_url, resolution="4k")  # takes the only worker
        queued = _enqueue(api, input_video=clip_url, resolution="1080p")
        assert api.get(f"/api/ai/queue/{queued}").json()["status"] == "queued"
        assert api.delete(f"/api/ai/queue/{queued}").status_code == 200
        assert api.get(f"/api/ai/queue/{queued}").json()["status"] == "cancelled"

        api.wait_queue(running, until=lambda row: row["status"] != "queued")
        assert api.delete(f"/api/ai/queue/{running}").status_code == 200

        # The pool runs jobs in order: once this one's event arrives, both above have ended.
        sentinel = _enqueue(api, input_video=clip_url, resolution="8k")
        assert reader.wait_for(lambda: bool(reader.for_generation(sentinel)), timeout=60)
        assert reader.for_generation(queued) == [] and reader.for_generation(running) == []
    finally:
        reader.close()
    for gid in (queued, running):
        row = api.get(f"/api/ai/queue/{gid}").json()
        assert row["status"] == "cancelled" and row["result_url"] is None
        assert not (
            server.data_dir / "repos" / row["target_namespace"] / "generations" / "main" / gid
        ).exists()
    history = api.get("/api/ai/generations", params={"status": "cancelled"}).json()
    assert history["total_entries"] == 2 and history["total_cost"] is None  # not charged


def test_ltx_upload_submit_complete(api: Api, realshort: Path, tmp_path: Path) -> None:
    slot = api.post("/v1/upload").json()
    put = requests.put(
        slot["upload_url"],
        data=realshort.read_bytes(),
        headers=slot["required_headers"],
        timeout=30,
    )
    assert put.status_code == 200
    r = api.post("/v2/video-to-video-hdr", json={"video_uri": slot["storage_uri"]})
    assert r.status_code == 202, r.text
    job = api.wait_ltx(r.json()["id"])
    assert job["status"] == "completed", job
    zip_path = tmp_path / "frames.zip"
    zip_path.write_bytes(requests.get(job["result"]["exr_frames_url"], timeout=30).content)
    with zipfile.ZipFile(zip_path) as zf:
        exrs = [n for n in zf.namelist() if n.endswith(".exr")]
    assert len(exrs) == 36  # one frame per input frame (ltx.md §4.2)
    summary = media.exr_zip_summary(zip_path)
    assert (summary.width, summary.height) == (320, 240)  # output keeps the input size


def test_two_tokens_do_not_see_each_others_generations(
    server: RunningSandbox, clip_url: str, api: Api
) -> None:
    gid = _enqueue(api, input_video=clip_url, resolution="8k")  # fails fast; any row will do
    api.wait_queue(gid)
    other = Api(server.url, f"key-{uuid.uuid4()}")
    assert other.get(f"/api/ai/queue/{gid}").status_code == 404
    assert other.get(f"/api/ai/generations/{gid}").status_code == 404
    assert other.delete(f"/api/ai/queue/{gid}").status_code == 404
    assert other.get("/api/ai/generations").json()["total_entries"] == 0
    assert other.get("/api/ai/queue", params={"status": "failed"}).json()["count"] == 0
    assert api.get("/api/ai/generations").json()["total_entries"] == 1


# -- the standalone process ----------------------------------------------------------------------


def _start(args: list[str], *, log: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m sandbox`` and wait for its one announcement line."""
    stderr = log.open("w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().rstrip("\n")
    assert line.startswith("Sandbox listening on http://127.0.0.1:"), line
    return proc, line.removeprefix("Sandbox listening on ")


def test_cli_port_zero_prints_real_port_and_exits_with_parent(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    log = tmp_path / "sandbox.log"
    args = ["--port", "0", "--data-dir", str(tmp_path / "data"), "--parent-pid", str(parent.pid)]
    proc, url = _start([*args, "--log-level", "debug"], log=log)
    try:
        port = int(url.rsplit(":", 1)[1])
        assert port > 0
        assert requests.get(f"{url}/_sandbox/health", timeout=5).json() == {"ok": True}
        secret = "very-secret-key-0123"
        api = Api(url, secret)
        assert api.get("/api/ai/models").status_code == 200
        assert api.post("/api/ai/queue", json={"model": "nope"}).status_code == 404
        assert secret not in api.get(f"/api/ai/queue/{uuid.uuid4()}").text
        parent.kill()
        parent.wait()
        proc.wait(timeout=15)  # polls every ~2 s, then shuts down
        assert proc.returncode == 0
        assert proc.stdout is not None and proc.stdout.read() == ""  # exactly one line
        assert "GET /api/ai/models" in log.read_text()  # the access log is on ...
        assert secret not in log.read_text()  # ... and never shows the key
    finally:
        for p in (parent, proc):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_restart_keeps_history_and_fails_interrupted_jobs(tmp_path: Path, realshort: Path) -> None:
    proc, url = _start(["--port", "0", "--data-dir", str(tmp_path)])
    api = Api(url, "restart-key")
    try:
        clip = api.upload(realshort, "clips/realshort.mp4")
        done = api.wait_queue(_enqueue(api, input_video=clip, resolution="1080p"))
        assert done["status"] == "succeeded"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode == 0

    # Simulate a crash mid-job: a row left "processing" in the database.
    store = GenerationStore(tmp_path / "sandbox.sqlite3")
    interrupted = str(uuid.uuid4())
    store.insert(
        Generation(
            generation_id=interrupted,
            api="oxen_queue",
            user_id=user_for_token("restart-key").user_id,
            username="x",
            model_name=STARLIGHT,
            media_type="video",
            status="processing",
            enqueued_at=time.time(),
            started_at=time.time(),
            base_url=url,
        )
    )
    store.close()

    proc, url = _start(["--port", "0", "--data-dir", str(tmp_path)])
    api = Api(url, "restart-key")
    try:
        again = api.get(f"/api/ai/queue/{done['generation_id']}").json()
        assert again["status"] == "succeeded" and again["result_url"] == done["result_url"]
        row = api.get(f"/api/ai/queue/{interrupted}").json()
        assert row["status"] == "failed"
        assert row["error_message"] == "sandbox restarted while processing"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
