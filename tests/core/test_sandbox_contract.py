"""Contract tests: every sandbox route answers in the shapes of oxen.md / ltx.md.

Bodies are validated against the vendored schemas in ``tests/schemas``. Real video processing
is replaced by a fake (copies the source, writes a one-member ZIP) that can be held, so jobs
can be caught in ``queued``/``processing`` deterministically; ``test_sandbox_flow.py`` runs the
real processing.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sandbox import ltx_api, models, processing
from studio.errors import MediaError
from tests.core.conftest_sandbox import (
    Api,
    RunningSandbox,
    SseReader,
    free_port,
    running_sandbox,
    validate,
)

STARLIGHT = "topazlabs-upscale-starlight-2-5-video"
LTX_OXEN = "ltx-2-3-quality-hdr"
OXEN_MODELS = {"topazlabs-hyperion-hdr-video", LTX_OXEN, "topazlabs-rhea-video", STARLIGHT}


class FakeProcessor:
    """Stands in for ``processing.process``: same signature, instant, optionally held."""

    def __init__(self) -> None:
        self._held = threading.Event()
        self.fail_with: Exception | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Jobs that reach processing wait (cancellable) until the block exits."""
        self._held.set()
        try:
            yield
        finally:
            self._held.clear()

    def __call__(
        self,
        model_id: str,
        params: Any,
        source: Path,
        out_dir: Path,
        *,
        preset: str = "veryfast",
        should_cancel: Any = lambda: False,
        progress: Any = None,
    ) -> processing.Output:
        while self._held.is_set():
            if should_cancel():
                raise processing.Cancelled()
            time.sleep(0.02)
        if self.fail_with is not None:
            raise self.fail_with
        out_dir.mkdir(parents=True, exist_ok=True)
        outputs = models.MODELS[model_id].outputs
        files: dict[str, Path] = {}
        if "video" in outputs:
            files["video"] = out_dir / "output.mp4"
            shutil.copyfile(source, files["video"])
        if "exr_frames" in outputs:
            files["exr_frames"] = out_dir / "frames_exr.zip"
            with zipfile.ZipFile(files["exr_frames"], "w") as zf:
                zf.writestr("frame_000000.exr", b"placeholder")
        return processing.Output(files=files, width=320, height=240, fps=29.97, frame_count=36)


@pytest.fixture(scope="module")
def fake() -> FakeProcessor:
    return FakeProcessor()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeProcessor
) -> Iterator[RunningSandbox]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(processing, "process", fake)
        with running_sandbox(tmp_path_factory.mktemp("sandbox"), workers=2, keepalive_s=0.3) as s:
            yield s




def oxen_error(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    validate("extra", "OxenErrorEnvelope", body)
    if code:
        assert body["error"]["type"] == code and body["status_message"] == code
    return body


def ltx_error(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    validate("ltx", "Error", body)
    if code:
        assert body["error"]["type"] == code
    return body


# -- auth, health, generic errors ----------------------------------------------------------------

NIL = "00000000-0000-4000-8000-000000000000"
OXEN_ROUTES = [
    ("POST", "/api/ai/queue"),
    ("GET", "/api/ai/queue"),
    ("GET", f"/api/ai/queue/{NIL}"),
    ("DELETE", f"/api/ai/queue/{NIL}"),
    ("POST", "/api/ai/videos/generate"),
    ("GET", "/api/ai/generations"),
    ("GET", f"/api/ai/generations/{NIL}"),
    ("GET", "/api/events"),
    ("GET", "/api/ai/models"),
    ("GET", f"/api/ai/models/{STARLIGHT}"),
    ("POST", "/api/repos"),
    ("PUT", "/api/repos/someone/inputs/file/main/a.mp4"),
]
LTX_ROUTES = [
    ("POST", "/v2/video-to-video-hdr"),
    ("GET", f"/v2/video-to-video-hdr/{NIL}"),
    ("POST", "/v1/upload"),
]


def test_health_is_public(server: RunningSandbox) -> None:
    r = Api(server.url, None).get("/_sandbox/health")
    assert r.status_code == 200
    validate("extra", "SandboxHealth", r.json())


@pytest.mark.parametrize("auth", [None, "Basic dXNlcjpwYXNz", "Bearer ", "Bearer"])
@pytest.mark.parametrize(("method", "path"), OXEN_ROUTES + LTX_ROUTES)
def test_every_api_route_requires_a_bearer_token(
    server: RunningSandbox, method: str, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth is not None else {}
    r = Api(server.url, None).request(method, path, headers=headers, json={})
    if path.startswith(("/v1/", "/v2/")):
        ltx_error(r, 401, "authentication_error")
    else:
        oxen_error(r, 401, "unauthenticated")
    assert "dXNlcjpwYXNz" not in r.text  # the credential is never echoed


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/ai/queue/{NIL}"),
        ("DELETE", f"/api/ai/queue/{NIL}"),
        ("GET", f"/api/ai/generations/{NIL}"),
        ("GET", "/api/ai/models/no-such-model"),
        ("GET", "/api/ai/no-such-route"),
        ("GET", "/api/repos/nobody/none/file/main/missing.mp4"),
        ("GET", "/api/repos/nobody/none/file/main/%2e%2e/%2e%2e/%2e%2e/sandbox.sqlite3"),
    ],
)
def test_oxen_404_envelope(api: Api, method: str, path: str) -> None:
    oxen_error(api.request(method, path), 404, "resource_not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"model": STARLIGHT, "num_generations": 0},
        {"model": STARLIGHT, "num_generations": 5},
        {"model": STARLIGHT, "num_generations": "2"},
        {"model": STARLIGHT, "num_generations": True},
    ],
)
def test_enqueue_rejects_num_generations_out_of_range(api: Api, body: dict[str, Any]) -> None:
    err = oxen_error(api.post("/api/ai/queue", json=body), 400, "invalid_params")
    assert err["error"]["title"] == "num_generations must be an integer between 1 and 4"


@pytest.mark.parametrize("route", ["/api/ai/queue", "/api/ai/videos/generate"])
def test_unknown_model_is_model_not_found(api: Api, route: str) -> None:
    for model in ("no-such-model", "ltx-video-to-video-hdr"):  # the LTX route is not an Oxen model
        err = oxen_error(api.post(route, json={"model": model}), 404, "resource_not_found")
        assert err["error"]["title"] == f"Model not found: {model}"


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b""])
def test_bad_json_bodies_get_400_envelopes(api: Api, data: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    oxen_error(api.post("/api/ai/queue", data=data, headers=headers), 400, "invalid_params")
    ltx_error(
        api.post("/v2/video-to-video-hdr", data=data, headers=headers), 400, "invalid_request_error"
    )


def test_method_not_allowed_uses_the_provider_envelope(api: Api) -> None:
    oxen_error(api.request("PATCH", "/api/ai/queue"), 405)
    ltx_error(api.delete("/v1/upload"), 405)


def test_crash_is_a_500_envelope_not_a_traceback(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(model_id: str) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(models, "request_schema", broken)
    body = oxen_error(api.get(f"/api/ai/models/{STARLIGHT}"), 500, "unknown_error")
    assert "Traceback" not in body["error"]["title"]


def test_every_response_has_a_request_id(api: Api) -> None:
    assert api.get("/api/ai/queue").headers.get("x-request-id")
    assert api.get(f"/v2/video-to-video-hdr/{NIL}").headers.get("x-request-id")


# -- queue, history, cancel ----------------------------------------------------------------------


def test_queue_lifecycle_shapes(api: Api, clip_url: str, fake: FakeProcessor) -> None:
    params = {"input_video": clip_url, "resolution": "1080p", "target_fps": 24}
    with fake.held():
        r = api.post("/api/ai/queue", json={"model": STARLIGHT, "num_generations": 2, **params})
        assert r.status_code == 200, r.text
        created = r.json()
        validate("oxen", "QueueCreateResponse", created)
        ids = [g["generation_id"] for g in created["generations"]]
        assert len(set(ids)) == 2 and all(g["status"] == "queued" for g in created["generations"])

        for gid in ids:
            row = api.wait_queue(gid, until=lambda row: row["status"] == "processing")
            validate("oxen", "QueueGenerationResponse", row)
            assert row["started_at"] >= row["enqueued_at"] and row["completed_at"] is None
            assert {k: row[k] for k in params} == params  # every enqueue param echoed
            assert row["target_namespace"].startswith("sandbox-")

        active = api.get("/api/ai/queue").json()
        validate("oxen", "QueueListResponse", active)
        assert active["count"] == 2 and {g["generation_id"] for g in active["generations"]} == set(
            ids
        )

    rows = [api.wait_queue(gid) for gid in ids]
    for row in rows:
        validate("oxen", "QueueGenerationResponse", row)
        assert row["status"] == "succeeded" and row["completed_at"] >= row["started_at"]
        assert row["result_url"].endswith(
            f"/generations/file/main/{row['generation_id']}/output.mp4"
        )
        assert api.get(row["result_url"]).status_code == 200

    assert api.get("/api/ai/queue").json()["count"] == 0  # default: active rows only
    done = api.get("/api/ai/queue", params={"status": "succeeded", "model": STARLIGHT}).json()
    validate("oxen", "QueueListResponse", done)
    assert done["count"] == 2
    assert (
        api.get("/api/ai/queue", params={"model": LTX_OXEN, "status": "succeeded"}).json()["count"]
        == 0
    )
    oxen_error(api.get("/api/ai/queue", params={"status": "done"}), 400, "invalid_params")

    history = api.get("/api/ai/generations").json()
    validate("oxen", "GenerationsListResponse", history)
    assert history["total_entries"] == 2 and history["page_number"] == 1
    costs = [Decimal(g["cost"]) for g in history["generations"]]
    assert all(c > 0 for c in costs)
    assert Decimal(history["total_cost"]) == sum(costs)
    for g in history["generations"]:
        assert g["username"].startswith("sandbox-") and uuid.UUID(g["user_id"])
        shown = api.get(f"/api/ai/generations/{g['generation_id']}").json()
        validate("oxen", "GenerationsShowResponse", shown)
        assert shown["status"] == "success" and shown["status_message"] == "resource_found"
        assert shown["generation"]["cost"] == g["cost"]


def test_parameters_are_validated_when_the_job_runs(api: Api, clip_url: str) -> None:
    r = api.post(
        "/api/ai/queue", json={"model": STARLIGHT, "input_video": clip_url, "resolution": "8k"}
    )
    assert r.status_code == 200, r.text  # accepted at enqueue (oxen.md §3.3)
    row = api.wait_queue(r.json()["generations"][0]["generation_id"])
    validate("oxen", "QueueGenerationResponse", row)
    assert row["status"] == "failed" and row["result_url"] is None
    # Starlight's error table: "Invalid resolution" — use "1080p", "2k" or "4k".
    assert row["error_message"].startswith("Invalid resolution")
    assert "1080p, 2k or 4k" in row["error_message"] and "'8k'" in row["error_message"]
    history = api.get("/api/ai/generations").json()
    validate("oxen", "GenerationsListResponse", history)
    assert history["generations"][0]["cost"] is None and history["total_cost"] is None


def test_unfetchable_input_fails_the_generation(api: Api) -> None:
    url = f"http://127.0.0.1:{free_port()}/nothing.mp4"
    r = api.post("/api/ai/queue", json={"model": STARLIGHT, "input_video": url})
    row = api.wait_queue(r.json()["generations"][0]["generation_id"])
    assert row["status"] == "failed" and "could not fetch input_video" in row["error_message"]


def test_cancel_shapes(api: Api, clip_url: str, fake: FakeProcessor) -> None:
    with fake.held():
        r = api.post("/api/ai/queue", json={"model": STARLIGHT, "input_video": clip_url})
        gid = r.json()["generations"][0]["generation_id"]
        api.wait_queue(gid, until=lambda row: row["status"] == "processing")
        r = api.delete(f"/api/ai/queue/{gid}")
        assert r.status_code == 200
        validate("oxen", "QueueDeleteResponse", r.json())
        assert r.json() == {"status": "success", "generation_id": gid}
        row = api.get(f"/api/ai/queue/{gid}").json()
        validate("oxen", "QueueGenerationResponse", row)
        assert row["status"] == "cancelled" and row["completed_at"] is not None
    time.sleep(0.3)  # the worker noticed at its next frame; the row must stay cancelled
    row = api.get(f"/api/ai/queue/{gid}").json()
    assert row["status"] == "cancelled" and row["result_url"] is None
    # Cancelling a terminal row succeeds and changes nothing (oxen.md §7).
    assert api.delete(f"/api/ai/queue/{gid}").status_code == 200
    assert api.get(f"/api/ai/queue/{gid}").json()["status"] == "cancelled"


def test_ltx_on_oxen_echoes_both_result_urls(api: Api, clip_url: str) -> None:
    r = api.post(
        "/api/ai/queue",
        json={
            "model": LTX_OXEN,
            "input_video": clip_url,
            "prompt": "cinematic HDR",
            "num_frames": 33,
        },
    )
    row = api.wait_queue(r.json()["generations"][0]["generation_id"])
    validate("oxen", "QueueGenerationResponse", row)
    assert row["status"] == "succeeded", row
    mp4, zip_url = row["result_urls"]
    assert row["result_url"] == mp4 and mp4.endswith("output.mp4") and zip_url.endswith(".zip")
    assert api.get(zip_url).headers["content-type"] == "application/zip"


def test_generations_pagination(api: Api, clip_url: str) -> None:
    r = api.post(
        "/api/ai/queue", json={"model": STARLIGHT, "input_video": clip_url, "num_generations": 3}
    )
    for g in r.json()["generations"]:
        api.wait_queue(g["generation_id"])
    page = api.get("/api/ai/generations", params={"page": 2, "page_size": 2}).json()
    validate("oxen", "GenerationsListResponse", page)
    assert (
        page["count"],
        page["page_number"],
        page["page_size"],
        page["total_pages"],
        page["total_entries"],
    ) == (1, 2, 2, 2, 3)
    everything = api.get("/api/ai/generations").json()
    assert Decimal(page["total_cost"]) == Decimal(everything["total_cost"])  # whole filter set
    assert api.get("/api/ai/generations", params={"status": "failed"}).json()["total_cost"] is None
    for bad in (
        {"page": 0},
        {"page_size": 0},
        {"page_size": 1001},
        {"page": "x"},
        {"media_type": "audio"},
    ):
        oxen_error(api.get("/api/ai/generations", params=bad), 400, "invalid_params")


# -- synchronous generation ----------------------------------------------------------------------


def test_sync_generate_shapes(api: Api, clip_url: str) -> None:
    r = api.post(
        "/api/ai/videos/generate",
        json={"model": STARLIGHT, "input_video": clip_url, "resolution": "1080p"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    validate("oxen", "VideoGenerateResponse", body)
    assert body["model"] == STARLIGHT and len(body["videos"]) == 1
    assert api.get(body["videos"][0]["url"]).headers["content-type"] == "video/mp4"
    history = api.get("/api/ai/generations").json()
    assert history["total_entries"] == 1 and history["generations"][0]["cost"] is not None


def test_sync_generate_ltx_lists_mp4_then_zip_and_inlines_b64(api: Api, clip_url: str) -> None:
    body = {"model": LTX_OXEN, "input_video": clip_url, "prompt": "HDR", "num_frames": 33}
    urls = api.post("/api/ai/videos/generate", json=body).json()
    validate("oxen", "VideoGenerateResponse", urls)
    assert [v["url"].rsplit(".", 1)[1] for v in urls["videos"]] == ["mp4", "zip"]
    inline = api.post("/api/ai/videos/generate", json={**body, "response_format": "b64_json"})
    assert inline.status_code == 200, inline.text
    validate("oxen", "VideoGenerateResponse", inline.json())
    mp4 = base64.b64decode(inline.json()["videos"][0]["b64_json"])
    assert mp4[4:8] == b"ftyp"
    assert zipfile.is_zipfile(
        __import__("io").BytesIO(base64.b64decode(inline.json()["videos"][1]["b64_json"]))
    )


def test_sync_generate_validates_at_once(api: Api, clip_url: str) -> None:
    r = api.post(
        "/api/ai/videos/generate",
        json={"model": STARLIGHT, "input_video": clip_url, "resolution": "8k", "target_fps": 48},
    )
    title = oxen_error(r, 400, "invalid_params")["error"]["title"]
    assert "resolution" in title and "target_fps" in title  # every problem at once
    oxen_error(
        api.post(
            "/api/ai/videos/generate",
            json={"model": STARLIGHT, "input_video": clip_url, "response_format": "gif"},
        ),
        400,
        "invalid_params",
    )
    assert api.get("/api/ai/generations").json()["total_entries"] == 0


def test_sync_generate_with_unreadable_input_is_400(api: Api) -> None:
    url = f"http://127.0.0.1:{free_port()}/nothing.mp4"
    err = oxen_error(
        api.post("/api/ai/videos/generate", json={"model": STARLIGHT, "input_video": url}),
        400,
        "invalid_params",
    )
    assert "could not fetch input_video" in err["error"]["title"]


# -- models --------------------------------------------------------------------------------------


# Per-second list prices from shared/api/pricing.md: Starlight rows 1–3 (Oxen's published
# $0.0374 and high-res $0.1494); Rhea and Hyperion from Topaz's credit tables at $0.10/credit
# (34, 76 and 302 credits per 10 min ÷ 600 s = 0.0056667, 0.0126667, 0.0503333); LTX 2.3 is
# priced per megapixel, which the object cannot express.
PRICING = {
    STARLIGHT: {"cost_per_second": 0.0374, "cost_per_second_high_res": 0.1494,
                "cost_per_second_by_resolution": {"1080p": 0.0374, "2k": 0.1494, "4k": 0.1494}},
    "topazlabs-rhea-video": {
        "cost_per_second": 0.0126667, "cost_per_second_high_res": 0.0503333,
        "cost_per_second_by_resolution": {"720p": 0.0056667, "1080p": 0.0126667,
                                          "2k": 0.0503333, "4k": 0.0503333}},
    "topazlabs-hyperion-hdr-video": {
        "cost_per_second": 0.0126667, "cost_per_second_high_res": 0.0503333,
        "cost_per_second_by_resolution": {"720p": 0.0056667, "1080p": 0.0126667,
                                          "4k": 0.0503333}},
    LTX_OXEN: {"cost_per_second": None, "cost_per_second_high_res": None,
               "cost_per_second_by_resolution": None},
}


def test_models_list_and_show(api: Api, shared_data: Path) -> None:
    listing = api.get("/api/ai/models").json()
    validate("oxen", "ListModelsResponse", listing)
    assert {m["id"] for m in listing["data"]} == OXEN_MODELS
    for model_id in OXEN_MODELS:
        model = api.get(f"/api/ai/models/{model_id}").json()
        validate("oxen", "Model", model)
        assert model["endpoint"] == "/videos/generate"
        assert model["capabilities"] == {"input": ["video"], "output": ["video"]}
        assert model["pricing"] == {"method": "per_video_output_second",
                                    "cost_per_second_with_audio": None, **PRICING[model_id]}
        # The parameter schema is the vendored one (shared/api/schemas), field for field.
        vendored = json.loads((shared_data.parent / "api" / "schemas"
                               / f"{model_id}.reconstructed.json").read_text("utf-8"))
        served = model["request_schema"]
        assert served["required"] == vendored["required"]
        assert list(served["properties"]) == list(vendored["properties"])
        for name, prop in vendored["properties"].items():
            assert {k: served["properties"][name][k] for k in prop} == prop


# -- SSE -----------------------------------------------------------------------------------------


def test_event_stream_shapes(api: Api, clip_url: str) -> None:
    reader = SseReader(api)
    try:
        assert reader.content_type.startswith("text/event-stream")
        ok = api.post("/api/ai/queue", json={"model": STARLIGHT, "input_video": clip_url}).json()
        bad = api.post(
            "/api/ai/queue", json={"model": STARLIGHT, "input_video": clip_url, "resolution": "8k"}
        ).json()
        ids = [ok["generations"][0]["generation_id"], bad["generations"][0]["generation_id"]]
        assert reader.wait_for(lambda: all(reader.for_generation(i) for i in ids), timeout=30)
        for event, data in reader.events:
            assert event == "media_generation_completed"
            validate("extra", "MediaGenerationCompleted", data)
        (success,), (failure,) = reader.for_generation(ids[0]), reader.for_generation(ids[1])
        assert success["status"] == "succeeded" and success["model"] == STARLIGHT
        assert success["url"] == api.get(f"/api/ai/queue/{ids[0]}").json()["result_url"]
        assert failure["status"] == "failed" and "resolution" in failure["error"]
        assert reader.wait_for(lambda: ": keep-alive" in reader.comments, timeout=5)
    finally:
        reader.close()


# -- repo files ----------------------------------------------------------------------------------


def test_repo_file_put_then_get_with_range(api: Api, realshort: Path) -> None:
    path = f"/api/repos/studio/inputs-{uuid.uuid4().hex[:8]}/file/main/clips/a.mp4"
    form = {"message": "add clip", "name": "Tester", "email": "t@example.com"}
    with realshort.open("rb") as fh:
        first = api.put(path, files={"file": ("realshort.mp4", fh, "video/mp4")}, data=form)
    assert first.status_code == 200, first.text
    validate("extra", "CommitResponse", first.json())
    commit = first.json()["commit"]
    assert (commit["message"], commit["author"], commit["email"], commit["parent_ids"]) == (
        "add clip",
        "Tester",
        "t@example.com",
        [],
    )

    # files[] uploads into the directory; the commit's parent is the previous head.
    directory = path.rsplit("/", 1)[0]
    with realshort.open("rb") as fh:
        second = api.put(directory, files={"files[]": ("b.mp4", fh, "video/mp4")}, data=form)
    validate("extra", "CommitResponse", second.json())
    assert second.json()["commit"]["parent_ids"] == [commit["id"]]

    public = Api(api.base, None)  # repo file GETs are public
    full = public.get(path)
    assert full.status_code == 200 and full.content == realshort.read_bytes()
    assert full.headers["content-type"] == "video/mp4"
    assert public.get(f"{directory}/b.mp4").content == realshort.read_bytes()
    part = public.get(path, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == realshort.read_bytes()[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{realshort.stat().st_size}"
    head = public.request("HEAD", path)
    assert (
        head.status_code == 200 and int(head.headers["content-length"]) == realshort.stat().st_size
    )

    oxen_error(api.put(path, data=b"raw bytes"), 400, "invalid_params")
    oxen_error(api.put(path, data=form), 400, "invalid_params")  # form without a file


def test_create_repo(api: Api) -> None:
    name = f"repo-{uuid.uuid4().hex[:8]}"
    r = api.post("/api/repos", json={"namespace": "studio", "name": name})
    assert r.status_code == 200 and r.json()["status"] == "success"
    oxen_error(api.post("/api/repos", json={"namespace": "studio", "name": name}), 409)


# -- LTX -----------------------------------------------------------------------------------------


def _ltx_upload(api: Api, local: Path) -> str:
    slot = api.post("/v1/upload")
    assert slot.status_code == 200, slot.text
    validate("ltx", "UploadResponse", slot.json())
    put = Api(api.base, None).put(
        slot.json()["upload_url"], data=local.read_bytes(), headers=slot.json()["required_headers"]
    )
    assert put.status_code == 200, put.text
    return slot.json()["storage_uri"]


def test_ltx_upload_submit_poll_shapes(api: Api, realshort: Path, fake: FakeProcessor) -> None:
    slot = api.post("/v1/upload").json()
    validate("ltx", "UploadResponse", slot)
    assert slot["storage_uri"].startswith("ltx://uploads/")
    assert slot["required_headers"] == {"Content-Type": "application/octet-stream"}
    anon = Api(api.base, None)
    ltx_error(anon.put(slot["upload_url"], data=b"x"), 400, "invalid_request_error")
    ltx_error(
        anon.put(api.base + "/_sandbox/uploads/nope", data=b"x", headers=slot["required_headers"]),
        404,
        "not_found_error",
    )
    assert (
        anon.put(
            slot["upload_url"], data=realshort.read_bytes(), headers=slot["required_headers"]
        ).status_code
        == 200
    )

    with fake.held():
        r = api.post("/v2/video-to-video-hdr", json={"video_uri": slot["storage_uri"]})
        assert r.status_code == 202, r.text
        validate("ltx", "V2JobCreatedResponse", r.json())
        job_id = r.json()["id"]
        job = api.get(f"/v2/video-to-video-hdr/{job_id}").json()
        validate("ltx", "V2JobStatusResponse", job)
        assert job["status"] in ("pending", "processing") and "result" not in job
    job = api.wait_ltx(job_id)
    validate("ltx", "V2JobStatusResponse", job)
    assert job["status"] == "completed" and job["completed_at"] >= job["created_at"]
    zip_url = job["result"]["exr_frames_url"]
    got = anon.get(zip_url)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    ltx_error(anon.get(zip_url + "-missing"), 404)


def test_ltx_submit_errors(api: Api, realshort: Path, cockatoo: Path) -> None:
    def submit(body: dict[str, Any]) -> Any:
        return api.post("/v2/video-to-video-hdr", json=body)

    ltx_error(submit({}), 400, "invalid_request_error")
    ltx_error(submit({"video_uri": ""}), 400, "invalid_request_error")
    ltx_error(submit({"video_uri": "ftp://example.com/a.mp4"}), 400, "invalid_request_error")
    ltx_error(submit({"video_uri": "ltx://uploads/unknown"}), 400, "invalid_request_error")
    fetch = ltx_error(
        submit({"video_uri": f"http://127.0.0.1:{free_port()}/a.mp4"}), 400, "invalid_request_error"
    )
    assert fetch["error"]["message"].startswith("could not fetch video_uri")
    not_video = "data:video/mp4;base64," + base64.b64encode(b"hello, not a video").decode()
    ltx_error(submit({"video_uri": not_video}), 400, "invalid_request_error")
    ltx_error(
        submit({"video_uri": "data:video/mp4;base64," + "A" * (15 * 1024 * 1024)}),
        413,
        "request_too_large",
    )
    uri = _ltx_upload(api, realshort)
    bad = ltx_error(submit({"video_uri": uri, "output_colorspace": "rec709"}), 400)
    assert "output_colorspace" in bad["error"]["message"]
    ltx_error(submit({"video_uri": uri, "prompt": "no prompts here"}), 400)
    # cockatoo.mp4: 1280×720, 280 frames — over the 181-frame cap of the ≤1080p tier (ltx.md §3.2).
    capped = ltx_error(
        submit({"video_uri": _ltx_upload(api, cockatoo)}), 400, "invalid_request_error"
    )
    assert "280" in capped["error"]["message"] and "181" in capped["error"]["message"]
    ltx_error(api.get(f"/v2/video-to-video-hdr/{NIL}"), 404, "not_found_error")


def test_ltx_third_concurrent_job_is_429(api: Api, realshort: Path, fake: FakeProcessor) -> None:
    uri = _ltx_upload(api, realshort)
    with fake.held():
        ids = []
        for _ in range(2):
            r = api.post("/v2/video-to-video-hdr", json={"video_uri": uri})
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        third = api.post("/v2/video-to-video-hdr", json={"video_uri": uri})
        body = ltx_error(third, 429, "concurrency_limit_error")
        assert int(third.headers["Retry-After"]) > 0 and "2" in body["error"]["message"]
        # Another key has its own slots.
        other = Api(api.base, f"key-{uuid.uuid4()}")
        assert (
            other.post(
                "/v2/video-to-video-hdr", json={"video_uri": _ltx_upload(other, realshort)}
            ).status_code
            == 202
        )
    for job_id in ids:
        assert api.wait_ltx(job_id)["status"] == "completed"
    assert api.post("/v2/video-to-video-hdr", json={"video_uri": uri}).status_code == 202


def test_ltx_expired_upload_url_is_403(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ltx_api, "UPLOAD_TTL_S", -1)
    slot = api.post("/v1/upload").json()
    r = Api(api.base, None).put(slot["upload_url"], data=b"x", headers=slot["required_headers"])
    ltx_error(r, 403)


def test_ltx_failed_job_shape(api: Api, realshort: Path, fake: FakeProcessor) -> None:
    data_uri = "data:video/mp4;base64," + base64.b64encode(realshort.read_bytes()).decode()
    fake.fail_with = MediaError("The clip could not be decoded at frame 3.")
    try:
        r = api.post("/v2/video-to-video-hdr", json={"video_uri": data_uri})
        assert r.status_code == 202, r.text
        job = api.wait_ltx(r.json()["id"])
    finally:
        fake.fail_with = None
    validate("ltx", "V2JobStatusResponse", job)
    assert job["status"] == "failed"
    assert job["error"] == {
        "type": "invalid_request_error",
        "message": "The clip could not be decoded at frame 3.",
    }


def test_ltx_jobs_are_private_to_their_key(api: Api, realshort: Path) -> None:
    r = api.post("/v2/video-to-video-hdr", json={"video_uri": _ltx_upload(api, realshort)})
    other = Api(api.base, f"key-{uuid.uuid4()}")
    ltx_error(other.get(f"/v2/video-to-video-hdr/{r.json()['id']}"), 404, "not_found_error")
    # ...and so are upload slots.
    slot_uri = _ltx_upload(api, realshort)
    ltx_error(other.post("/v2/video-to-video-hdr", json={"video_uri": slot_uri}), 400)
