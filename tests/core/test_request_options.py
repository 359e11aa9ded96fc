"""Issue 10 items 21 and 22 against the sandbox: ``response_format: "b64_json"`` in sync mode
(the video decoded into the result file as it streams; no base64 in the database) and
``target_namespace`` (setting and per request, sent on the wire and kept on the row).
Issue 11 §5: one HTTP session per provider client, reused and closed; a closed Studio stops
its threads."""

from __future__ import annotations

import threading
import time

import pytest

from studio import media
from studio.config import Settings
from studio.errors import ParamError
from studio.jobs import JobStore
from studio.local_sandbox import start_sandbox
from studio.service import Source, Studio
from tests.model_ids import STARLIGHT


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = start_sandbox(tmp_path_factory.mktemp("sbx"), port=None, workers=2)
    yield sb.url
    sb.stop()


def make_studio(tmp_path, sandbox, **env) -> Studio:
    settings = Settings.from_mapping({"OXEN_BASE_URL": sandbox, "LTX_BASE_URL": sandbox,
                                      "STUDIO_DATA_DIR": str(tmp_path), **env})
    return Studio(settings, JobStore(tmp_path / "jobs.sqlite3"), sandbox_url=sandbox)


def test_b64_json_sync_result_is_decoded_into_the_result_file(tmp_path, sandbox, realshort):
    studio = make_studio(tmp_path, sandbox)
    prepared = studio.prepare(STARLIGHT, Source("upload", "realshort.mp4",
                                                        path=realshort),
                              {"resolution": "1080p"})
    [job] = studio.submit(prepared, mode="sync", response_format="b64_json")
    assert job.status == "succeeded" and not job.error
    video = job.result_files["video"]
    clip = media.probe(video)  # a real MP4, whole, decoded from the inline answer
    assert (clip.height, clip.codec) == (1080, "h264")
    assert video.endswith(f"{job.id}/video.mp4") and not job.result_urls
    # base64 of the video is nowhere in the database (its first bytes would be "AAAA…ZnR5cA").
    import base64
    head = base64.b64encode(open(video, "rb").read(48)).decode()[:40]
    for path in tmp_path.glob("jobs.sqlite3*"):
        assert head.encode() not in path.read_bytes()
    assert not list(tmp_path.rglob("inline-*.bin"))
    studio.close()


def test_b64_json_is_refused_where_the_api_does_not_offer_it(tmp_path, sandbox, realshort):
    studio = make_studio(tmp_path, sandbox)
    prepared = studio.prepare(STARLIGHT, Source("upload", "r.mp4", path=realshort),
                              {"resolution": "1080p"})
    with pytest.raises(ParamError, match="b64_json is offered by Oxen's sync route only"):
        studio.submit(prepared, mode="queue", response_format="b64_json")
    assert studio.store.list() == []  # nothing stored, nothing sent
    studio.close()


def test_target_namespace_from_the_setting_and_per_request(tmp_path, sandbox, realshort):
    studio = make_studio(tmp_path, sandbox, OXEN_TARGET_NAMESPACE="acme-studio")
    prepared = studio.prepare(STARLIGHT, Source("upload", "r.mp4", path=realshort),
                              {"resolution": "1080p"})
    [by_setting] = studio.submit(prepared)
    [by_request] = studio.submit(prepared, target_namespace="other-org")
    assert by_setting.target_namespace == "acme-studio"
    assert by_request.target_namespace == "other-org"
    # The sandbox echoes the request's target_namespace on the queue row (oxen.md §4.1).
    client = studio.oxen()
    seen = client._json("GET", f"/api/ai/queue/{by_setting.remote_id}", what="t")
    assert seen["target_namespace"] == "acme-studio"
    seen = client._json("GET", f"/api/ai/queue/{by_request.remote_id}", what="t")
    assert seen["target_namespace"] == "other-org"
    with pytest.raises(ParamError, match="target_namespace"):
        studio.submit(prepared, target_namespace="../../etc")
    studio.close()


def test_one_session_per_provider_reused_and_closed(tmp_path, sandbox):
    studio = make_studio(tmp_path, sandbox)
    first = studio.oxen()
    assert studio.oxen() is first and studio.client("oxen") is first
    assert studio.ltx() is studio.ltx() and studio.ltx() is not first
    client_ids = set()
    for _ in range(5):  # the tracker, the media pool and the pages all get this one
        client_ids.add(id(studio.client_for_job(type("J", (), {"provider": "oxen"})())))
    assert client_ids == {id(first)}
    pool = first._session.get_adapter(sandbox).poolmanager
    for _ in range(3):
        first.model(STARLIGHT)
    assert len(pool.pools) == 1  # three requests, one connection pool: the session is reused
    studio.close()
    assert first.closed and len(pool.pools) == 0  # its connections were closed


def test_a_closed_studio_stops_its_background_threads(tmp_path, sandbox):
    before = {t.ident for t in threading.enumerate()}
    studio = make_studio(tmp_path, sandbox).start_background()
    time.sleep(0.5)
    ours = [t for t in threading.enumerate() if t.ident not in before]
    assert {t.name for t in ours} >= {"studio-tracker", "oxen-events", "studio-work-0"}
    started = time.monotonic()
    studio.close()
    for t in ours:
        t.join(3)
    assert not [t.name for t in ours if t.is_alive()]
    assert time.monotonic() - started < 15  # joined, not left to their 30 s+ waits
