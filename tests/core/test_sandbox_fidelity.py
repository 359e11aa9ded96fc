"""The vendor docs' own examples against the sandbox (issue 10, items 21, 25, 26, 27, 29).

Every expected text or shape here is quoted from ``shared/api`` (the Starlight page's error
table and ``response_format`` note in model_params.md §4; oxen.md §9 and §11.1; ltx.md §5),
not produced by the sandbox's code. Real processing on realshort.mp4 (320×240, 36 frames).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.models import LTX_OXEN, STARLIGHT
from studio import media
from studio.config import Secret
from studio.errors import ValidationError
from studio.providers.ltx import LtxClient
from tests.core.conftest_sandbox import Api, RunningSandbox, running_sandbox, validate

RESULT_TTL_S = 8.0  # links must stay good through a few reads at load 30, then expire


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with running_sandbox(tmp_path_factory.mktemp("fidelity"), workers=2,
                         preset="ultrafast") as s:
        yield s


def oxen_400(r: requests.Response) -> dict[str, Any]:
    assert r.status_code == 400, r.text
    body = r.json()
    validate("extra", "OxenErrorEnvelope", body)
    assert body["error"]["type"] == "invalid_params"
    return body["error"]


# -- item 29: the Starlight page's error table -------------------------------------------------


@pytest.mark.parametrize(("body", "text", "field"), [
    ({}, "Field required", "input_video"),  # "missing input_video"
    ({"resolution": "8k"}, "Invalid resolution", "resolution"),  # "unsupported resolution"
    ({"target_fps": 0}, "target_fps must be between 1 and 60", "target_fps"),
    ({"target_fps": 120}, "target_fps must be between 1 and 60", "target_fps"),
])
def test_starlight_error_table_on_the_sync_route(api: Api, clip_url: str, body: dict[str, Any],
                                                 text: str, field: str) -> None:
    request = {"model": STARLIGHT, "input_video": clip_url, **body}
    if field == "input_video":
        del request["input_video"]
    error = oxen_400(api.post("/api/ai/videos/generate", json=request))
    assert error["title"] == text  # verbatim
    assert error["detail"].startswith(f"{field}: ")  # the field, and what to send instead
    assert api.get("/api/ai/generations").json()["total_entries"] == 0  # nothing was run


def test_starlight_error_table_num_generations_on_the_queue(api: Api, clip_url: str) -> None:
    r = api.post("/api/ai/queue", json={"model": STARLIGHT, "input_video": clip_url,
                                        "num_generations": 5})
    assert oxen_400(r)["title"] == "num_generations must be an integer between 1 and 4"


def test_queue_failures_say_the_table_text_first(api: Api, clip_url: str) -> None:
    """On the queue, parameters are checked when the job runs (oxen.md §3.3): the generation
    fails and its error_message opens with the same text."""
    r = api.post("/api/ai/queue", json={"model": STARLIGHT, "input_video": clip_url,
                                        "target_fps": 75})
    row = api.wait_queue(r.json()["generations"][0]["generation_id"])
    assert row["status"] == "failed"
    assert row["error_message"].startswith("target_fps must be between 1 and 60 (target_fps: ")


def test_a_list_rate_inside_1_to_60_that_is_not_listed_is_refused(api: Api,
                                                                  clip_url: str) -> None:
    """48 frames/s is within 1–60 but not one of the schema's eight rates (model_params.md §4:
    "An arbitrary integer like 48 may now be rejected — use the list")."""
    error = oxen_400(api.post("/api/ai/videos/generate", json={
        "model": STARLIGHT, "input_video": clip_url, "target_fps": 48}))
    assert error["title"] == "Invalid target_fps"
    assert "23.976" in error["detail"] and "59.94" in error["detail"]


def test_fields_the_schema_does_not_have_are_refused(api: Api, clip_url: str) -> None:
    """The Starlight page lists creativity, enable_clc and is_optimized_mode as removed ("do
    not send"); a client that still sends one is told so."""
    error = oxen_400(api.post("/api/ai/videos/generate", json={
        "model": STARLIGHT, "input_video": clip_url, "enable_clc": True}))
    assert error["title"] == "Extra inputs are not permitted"
    assert error["detail"].startswith("enable_clc: remove enable_clc")


def test_ltx_2_3_prompt_is_required(api: Api, clip_url: str) -> None:
    error = oxen_400(api.post("/api/ai/videos/generate", json={
        "model": LTX_OXEN, "input_video": clip_url}))
    assert error["title"] == "Field required" and error["detail"].startswith("prompt: ")


# -- item 21: response_format b64_json, as the Starlight page shows -----------------------------


def test_b64_json_answers_the_mp4_bytes_inline(api: Api, clip_url: str, tmp_path: Path) -> None:
    """``response_format: "b64_json"``: ``videos[0].b64_json`` holds the base64 MP4 bytes
    inline (model_params.md §4; oxen.md §9.2) — and no URL."""
    r = api.post("/api/ai/videos/generate", json={
        "model": STARLIGHT, "input_video": clip_url, "resolution": "1080p",
        "response_format": "b64_json"}, timeout=300)
    assert r.status_code == 200, r.text
    body = r.json()
    validate("oxen", "VideoGenerateResponse", body)
    assert body["model"] == STARLIGHT and len(body["videos"]) == 1
    assert set(body["videos"][0]) == {"b64_json"}
    video = tmp_path / "inline.mp4"
    video.write_bytes(base64.b64decode(body["videos"][0]["b64_json"], validate=True))
    clip = media.probe(video)
    # 1080p keeps realshort's 4:3 aspect: 1440×1080; target_fps 30 over its 1.2 s = 36 frames.
    assert (clip.width, clip.height, clip.fps, clip.frame_count) == (1440, 1080, 30.0, 36)
    assert clip.has_audio
    history = api.get("/api/ai/generations").json()
    assert history["total_entries"] == 1 and history["generations"][0]["cost"] == "0.0449"


# -- item 25: the model object carries json_request_schema ---------------------------------------


def test_vendored_schemas_are_the_shared_ones(shared_data: Path, repo_root: Path) -> None:
    """sandbox/schemas/ is a copy of shared/api/schemas/: re-copy when the shared files change."""
    shared = sorted((shared_data.parent / "api" / "schemas").glob("*.json"))
    assert shared
    for path in shared:
        vendored = repo_root / "sandbox" / "schemas" / path.name
        assert vendored.read_bytes() == path.read_bytes(), f"{vendored} differs from {path}"


def test_model_object_has_json_request_schema(api: Api) -> None:
    """The model pages say the model object includes ``json_request_schema``; the spec and the
    overview call it ``request_schema`` (oxen.md §11.1): both are served, the same schema."""
    for model_id in (STARLIGHT, LTX_OXEN):
        model = api.get(f"/api/ai/models/{model_id}").json()
        validate("oxen", "Model", model)
        assert model["json_request_schema"] == model["request_schema"]
        schema = model["json_request_schema"]
        assert schema["type"] == "object" and "input_video" in schema["required"]
        assert schema["properties"]["input_video"]["renderType"] == "video-url"
        orders = [p["x-order"] for p in schema["properties"].values()]
        assert orders == sorted(orders)


# -- item 27: LTX's documented 422 ----------------------------------------------------------------


def test_ltx_content_filter_422_through_the_client(server: RunningSandbox, api: Api,
                                                   realshort: Path) -> None:
    """ltx.md §5: 422 ``content_filtered_error`` "rejected by safety filters". Forced with the
    sandbox's fault header; the client's sentence is what the page shows. Nothing is created."""
    client = LtxClient(server.url, Secret(f"key-{uuid.uuid4()}"))
    slot = client.upload_file(realshort)
    before = requests.get(f"{server.url}/_sandbox/stats", timeout=10).json()["paid_posts"]
    client._session.headers["X-Sandbox-Fault"] = "422"  # our own client's session
    with pytest.raises(ValidationError) as err:
        client.submit_hdr(slot.storage_uri)
    assert err.value.status == 422 and err.value.code == "content_filtered_error"
    assert str(err.value).startswith(
        "LTX rejected the content of the HDR submit with its safety filters (422). It said: "
        "“The input video was rejected by content safety filters.” Try another clip.")
    after = requests.get(f"{server.url}/_sandbox/stats", timeout=10).json()["paid_posts"]
    assert after == before


# -- item 26: result links that expire ------------------------------------------------------------


@pytest.fixture(scope="module")
def expiring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with running_sandbox(tmp_path_factory.mktemp("expiring"), workers=1, preset="ultrafast",
                         result_ttl_s=RESULT_TTL_S) as s:
        yield s


def _wait_until(deadline: float) -> None:
    time.sleep(max(0.0, deadline - time.time()))


def test_result_links_expire_like_a_signed_cdn_url(expiring: RunningSandbox,
                                                   realshort: Path) -> None:
    api = Api(expiring.url, f"key-{uuid.uuid4()}")
    clip = api.upload(realshort, f"clips/{uuid.uuid4().hex}/realshort.mp4")
    r = api.post("/api/ai/queue", json={"model": STARLIGHT, "input_video": clip,
                                        "resolution": "1080p"})
    row = api.wait_queue(r.json()["generations"][0]["generation_id"], timeout=300)
    handed_out = time.time()
    link = row["result_url"]
    assert row["status"] == "succeeded" and "Expires=" in link and "Signature=" in link
    anon = requests.Session()  # a <video> tag or a downloader: no Bearer
    fresh = anon.get(link, timeout=30)
    assert fresh.status_code == 200 and fresh.headers["content-type"] == "video/mp4"
    unsigned = anon.get(link.split("?")[0], timeout=30)
    assert unsigned.status_code == 403 and "<Code>AccessDenied</Code>" in unsigned.text
    tampered = anon.get(link.replace("Expires=", "Expires=9"), timeout=30)
    assert tampered.status_code == 403

    _wait_until(handed_out + RESULT_TTL_S + 1.5)
    expired = anon.get(link, timeout=30)
    assert expired.status_code == 403
    assert expired.headers["content-type"].startswith("application/xml")
    assert "<Message>Request has expired</Message>" in expired.text
    # Reading the row again hands out a fresh link, as the tracker's recovery path expects.
    again = api.get(f"/api/ai/queue/{row['generation_id']}").json()["result_url"]
    assert again != link and anon.get(again, timeout=30).status_code == 200
    # Uploaded inputs are not results: they stay public and permanent.
    assert anon.get(clip, timeout=30).status_code == 200


def test_ltx_result_links_expire_too(expiring: RunningSandbox, realshort: Path) -> None:
    api = Api(expiring.url, f"key-{uuid.uuid4()}")
    data_uri = "data:video/mp4;base64," + base64.b64encode(realshort.read_bytes()).decode()
    r = api.post("/v2/video-to-video-hdr", json={"video_uri": data_uri})
    assert r.status_code == 202, r.text
    job = api.wait_ltx(r.json()["id"], timeout=300)
    handed_out = time.time()
    link = job["result"]["exr_frames_url"]
    assert requests.get(link, timeout=30).status_code == 200
    _wait_until(handed_out + RESULT_TTL_S + 1.5)
    assert requests.get(link, timeout=30).status_code == 403
