"""Fault injection, the queue TTL, credit limits and ``/_sandbox/stats`` of the sandbox.

Each fault kind is forced with the ``X-Sandbox-Fault`` header and checked from the client's
side: what ``requests`` raises or receives, and whether the request took effect (a dropped
paid POST either created its generations or did not). Processing is real (realshort.mp4,
1.2 s of 320×240), on in-process servers: one shared by the header tests, and small ones for
the TTL, credit and seeded-rate tests. One test starts ``python -m sandbox`` with the
new flags.
"""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.__main__ import parse_args
from sandbox.auth import user_for_token
from sandbox.faults import KINDS, FaultPlan, classify
from sandbox.store import STATUSES
from tests.conftest import REPO
from tests.core.conftest_sandbox import Api, RunningSandbox, running_sandbox, validate

STARLIGHT = "topazlabs-upscale-starlight-2-5-video"  # asked for at 1080p: its default 4K is slower
NIL = "00000000-0000-4000-8000-000000000000"
SLOW_S = 0.4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    # A long keep-alive, so an event stream that ends quickly was ended by the fault.
    with running_sandbox(
        tmp_path_factory.mktemp("faults"), workers=1, keepalive_s=30, slow_s=SLOW_S
    ) as s:
        yield s




def fault(kind: str) -> dict[str, str]:
    return {"X-Sandbox-Fault": kind}


def stats(base: str) -> dict[str, Any]:
    r = requests.get(f"{base}/_sandbox/stats", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def queue_ids(api: Api) -> set[str]:
    """Every generation id the user's ``GET /api/ai/queue`` shows, in any status."""
    ids: set[str] = set()
    for status in STATUSES:
        r = api.get("/api/ai/queue", params={"status": status})
        assert r.status_code == 200, r.text
        ids |= {g["generation_id"] for g in r.json()["generations"]}
    return ids


def history_ids(api: Api) -> set[str]:
    r = api.get("/api/ai/generations")
    assert r.status_code == 200, r.text
    return {g["generation_id"] for g in r.json()["generations"]}


def oxen_error(r: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    validate("extra", "OxenErrorEnvelope", body)
    assert body["error"]["type"] == code and body["status_message"] == code
    return body  # type: ignore[no-any-return]


def ltx_error(r: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    validate("ltx", "Error", body)
    assert body["error"]["type"] == code
    return body  # type: ignore[no-any-return]


# -- error answers ---------------------------------------------------------------------------


def test_429_in_both_envelopes_with_retry_after(
    api: Api, clip_url: str, server: RunningSandbox
) -> None:
    before = stats(server.url)
    r = api.post(
        "/api/ai/queue",
        json={"model": STARLIGHT, "resolution": "1080p", "input_video": clip_url},
        headers=fault("429"),
    )
    oxen_error(r, 429, "rate_limited")
    assert r.headers["Retry-After"] == "1"
    assert r.headers["X-Sandbox-Fault"] == "429"
    assert r.headers.get("x-request-id")
    assert queue_ids(api) == set()  # refused before it took effect
    after = stats(server.url)
    assert after["paid_posts"] == before["paid_posts"]
    assert after["faults"]["429"] == before["faults"].get("429", 0) + 1

    r = api.get(f"/v2/video-to-video-hdr/{NIL}", headers=fault("429"))
    ltx_error(r, 429, "rate_limit_error")
    assert r.headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("kind", "ltx_code"), [("500", "api_error"), ("503", "service_unavailable")]
)
def test_server_errors_in_both_envelopes(api: Api, kind: str, ltx_code: str) -> None:
    r = api.get("/api/ai/queue", headers=fault(kind))
    oxen_error(r, int(kind), "unknown_error")
    r = api.post("/v2/video-to-video-hdr", json={"video_uri": "x"}, headers=fault(kind))
    ltx_error(r, int(kind), ltx_code)
    assert "Retry-After" not in r.headers


# -- dropped connections ---------------------------------------------------------------------


def test_drop_before_paid_post_creates_nothing(
    api: Api, clip_url: str, server: RunningSandbox
) -> None:
    before = stats(server.url)
    with pytest.raises(requests.ConnectionError):
        api.post(
            "/api/ai/queue",
            json={
                "model": STARLIGHT,
                "resolution": "1080p",
                "input_video": clip_url,
                "num_generations": 2,
            },
            headers=fault("drop-before"),
        )
    assert queue_ids(api) == set() and history_ids(api) == set()
    after = stats(server.url)
    assert after["paid_posts"] == before["paid_posts"]
    assert after["paid_generations"] == before["paid_generations"]
    assert after["generations"] == before["generations"]
    assert after["faults"]["drop-before"] == before["faults"].get("drop-before", 0) + 1


def test_drop_after_paid_post_creates_the_generations(
    api: Api, clip_url: str, server: RunningSandbox
) -> None:
    before = stats(server.url)
    with pytest.raises(requests.ConnectionError):
        api.post(
            "/api/ai/queue",
            json={
                "model": STARLIGHT,
                "resolution": "1080p",
                "input_video": clip_url,
                "num_generations": 2,
            },
            headers=fault("drop-after"),
        )
    # The client never learnt the ids, but the queue has them (and they are charged as usual).
    ids = queue_ids(api)
    assert len(ids) == 2 and history_ids(api) == ids
    after = stats(server.url)
    assert after["paid_posts"] == before["paid_posts"] + 1  # N generations = one POST
    assert after["paid_generations"] == before["paid_generations"] + 2
    assert after["generations"] == before["generations"] + 2
    assert after["faults"]["drop-after"] == before["faults"].get("drop-after", 0) + 1
    for gid in ids:  # a client that finds them can still cancel them
        assert api.delete(f"/api/ai/queue/{gid}").status_code == 200


def test_drop_after_ltx_submit_still_queues_the_job(
    api: Api, clip_url: str, server: RunningSandbox
) -> None:
    before = stats(server.url)
    with pytest.raises(requests.ConnectionError):
        api.post(
            "/v2/video-to-video-hdr", json={"video_uri": clip_url}, headers=fault("drop-after")
        )
    after = stats(server.url)
    assert after["paid_posts"] == before["paid_posts"] + 1
    assert after["generations"] == before["generations"] + 1
    # No LTX route lists jobs; the slot it holds shows it exists (concurrency limit 2).
    user = user_for_token(api.session.headers["Authorization"].split(" ", 1)[1])
    deadline = time.monotonic() + 60
    while server.sandbox.store.count_active(user.user_id, "ltx"):
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.parametrize("kind", ["drop-before", "drop-after"])
def test_drops_on_reads_and_cancel_are_connection_errors(api: Api, kind: str) -> None:
    for method, path in (
        ("GET", "/api/ai/queue"),
        ("GET", "/api/ai/models"),
        ("DELETE", f"/api/ai/queue/{NIL}"),
    ):
        with pytest.raises(requests.ConnectionError):
            api.request(method, path, headers=fault(kind))
    assert api.get("/api/ai/queue").status_code == 200  # the same session reconnects


# -- slow, malformed, SSE ----------------------------------------------------------------------


def test_slow_answers_late_but_normally(api: Api) -> None:
    started = time.monotonic()
    r = api.get("/api/ai/queue", headers=fault("slow"))
    assert time.monotonic() - started >= SLOW_S
    assert r.status_code == 200 and r.json() == {"count": 0, "generations": []}
    assert r.headers["X-Sandbox-Fault"] == "slow"


def test_slow_paid_post_takes_effect_before_the_client_times_out(
    api: Api, clip_url: str, server: RunningSandbox
) -> None:
    before = stats(server.url)
    with pytest.raises(requests.Timeout):
        api.post(
            "/api/ai/queue",
            json={"model": STARLIGHT, "resolution": "1080p", "input_video": clip_url},
            headers=fault("slow"),
            timeout=SLOW_S / 4,
        )
    deadline = time.monotonic() + 10  # the answer was due after the insert; allow for load
    while not (ids := queue_ids(api)) and time.monotonic() < deadline:
        time.sleep(0.05)
    (gid,) = ids
    assert stats(server.url)["paid_posts"] == before["paid_posts"] + 1
    assert api.delete(f"/api/ai/queue/{gid}").status_code == 200


def test_malformed_is_200_json_that_does_not_parse(api: Api) -> None:
    for path in ("/api/ai/queue", "/api/ai/models", f"/v2/video-to-video-hdr/{NIL}"):
        r = api.get(path, headers=fault("malformed"))
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.content
        with pytest.raises(ValueError):
            r.json()


def test_malformed_never_applies_to_a_paid_post(api: Api, server: RunningSandbox) -> None:
    before = stats(server.url)
    r = api.post("/api/ai/queue", json={"model": "nope"}, headers=fault("malformed"))
    oxen_error(r, 404, "resource_not_found")  # served as usual
    assert r.headers["X-Sandbox-Fault-Skipped"] == "malformed"
    assert stats(server.url)["faults"].get("malformed", 0) == before["faults"].get("malformed", 0)


def test_sse_disconnect_closes_the_stream_after_a_keep_alive(
    api: Api, server: RunningSandbox
) -> None:
    started = time.monotonic()
    r = api.get("/api/events", stream=True, headers=fault("sse-disconnect"), timeout=(5, 10))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    lines: list[bytes] = []
    with pytest.raises(requests.RequestException):  # ended mid-stream, not cleanly
        for line in r.iter_lines():
            lines.append(line)
    assert lines[0] == b": keep-alive"
    assert time.monotonic() - started < 15  # the normal keep-alive interval here is 30 s
    user = user_for_token(api.session.headers["Authorization"].split(" ", 1)[1])
    assert server.sandbox.broker.subscriber_count(user.user_id) == 0


# -- where faults do not apply -------------------------------------------------------------------


def test_sandbox_routes_and_repo_file_gets_never_fail(
    api: Api, clip_url: str, server: RunningSandbox
) -> None:
    before = stats(server.url)
    for kind in ("500", "drop-before"):
        r = requests.get(f"{server.url}/_sandbox/health", headers=fault(kind), timeout=10)
        assert r.json() == {"ok": True} and r.headers["X-Sandbox-Fault-Skipped"] == kind
        r = requests.get(f"{server.url}/_sandbox/stats", headers=fault(kind), timeout=10)
        assert r.status_code == 200
        r = requests.get(clip_url, headers=fault(kind), timeout=10)
        assert r.status_code == 200 and r.content[4:8] == b"ftyp"
    assert stats(server.url)["faults"] == before["faults"]


def test_uploads_get_only_server_errors_and_drop_before(api: Api, realshort: Path) -> None:
    url = f"/api/repos/studio/inputs/file/main/{uuid.uuid4().hex}/a.mp4"
    r = api.put(url, files={"file": ("a.mp4", b"x", "video/mp4")}, headers=fault("503"))
    oxen_error(r, 503, "unknown_error")
    r = api.put(url, files={"file": ("a.mp4", b"x", "video/mp4")}, headers=fault("429"))
    assert r.status_code == 200 and r.headers["X-Sandbox-Fault-Skipped"] == "429"

    ltx_error(api.post("/v1/upload", headers=fault("500")), 500, "api_error")
    slot = api.post("/v1/upload", headers=fault("malformed"))
    assert slot.headers["X-Sandbox-Fault-Skipped"] == "malformed"
    with pytest.raises(requests.ConnectionError):
        requests.put(
            slot.json()["upload_url"],
            data=realshort.read_bytes(),
            headers={**slot.json()["required_headers"], **fault("drop-before")},
            timeout=10,
        )


def test_unknown_fault_kind_is_a_400(api: Api) -> None:
    r = api.get("/api/ai/queue", headers=fault("explode"))
    body = oxen_error(r, 400, "invalid_params")
    assert "drop-after" in body["error"]["title"]
    r = api.get("/api/ai/queue", headers=fault("none"))
    assert r.status_code == 200 and "X-Sandbox-Fault-Skipped" not in r.headers


def test_route_kinds() -> None:
    paid = [
        ("POST", "/api/ai/queue"),
        ("POST", "/api/ai/videos/generate"),
        ("POST", "/v2/video-to-video-hdr"),
    ]
    for method, path in paid:
        route = classify(method, path)
        assert route is not None and "drop-after" in route.kinds
        assert "malformed" not in route.kinds and "sse-disconnect" not in route.kinds
    assert classify("GET", "/api/events").kinds == (  # type: ignore[union-attr]
        "429",
        "500",
        "503",
        "drop-before",
        "slow",
        "sse-disconnect",
    )
    for method, path in (
        ("PUT", "/api/repos/a/b/file/main/c.mp4"),
        ("POST", "/v1/upload"),
        ("PUT", "/_sandbox/uploads/tok"),
        ("POST", "/api/repos"),
    ):
        assert classify(method, path).kinds == ("500", "503", "drop-before")  # type: ignore[union-attr]
    for method, path in (
        ("GET", "/api/repos/a/b/file/main/c/d.mp4"),
        ("GET", "/_sandbox/health"),
        ("GET", "/_sandbox/ltx-results/x/frames_exr.zip"),
    ):
        assert classify(method, path).kinds == ()  # type: ignore[union-attr]
    assert classify("GET", "/nowhere") is None
    # LTX's documented 422 (content_filtered_error, ltx.md §5) only on the LTX submit.
    assert "422" in classify("POST", "/v2/video-to-video-hdr").kinds  # type: ignore[union-attr]
    assert "422" not in classify("POST", "/api/ai/queue").kinds  # type: ignore[union-attr]
    assert set(KINDS) == {
        "422",
        "429",
        "500",
        "503",
        "drop-before",
        "drop-after",
        "slow",
        "malformed",
        "sse-disconnect",
    }


# -- stats -----------------------------------------------------------------------------------


def test_stats_count_routes_paid_posts_and_faults(
    api: Api, clip_url: str, server: RunningSandbox
) -> None:
    before = stats(server.url)
    r = api.post(
        "/api/ai/queue", json={"model": STARLIGHT, "resolution": "1080p", "input_video": clip_url}
    )
    assert r.status_code == 200
    api.post("/api/ai/queue", json={"model": "nope"})  # refused: not a paid POST
    for _ in range(3):
        api.get("/api/ai/queue")
    api.get("/api/ai/queue", headers=fault("503"))
    api.get(f"/api/ai/queue/{NIL}")
    api.get("/nowhere")
    after = stats(server.url)

    def delta(key: str) -> int:
        return int(after["routes"].get(key, 0) - before["routes"].get(key, 0))

    assert delta("POST /api/ai/queue") == 2
    assert delta("GET /api/ai/queue") == 4
    assert delta("GET /api/ai/queue/{generation_id}") == 1
    assert delta("unmatched") == 1
    assert delta("GET /_sandbox/stats") == 0  # reading the stats is not counted
    assert after["paid_posts"] == before["paid_posts"] + 1
    assert after["paid_generations"] == before["paid_generations"] + 1
    assert after["generations"] == before["generations"] + 1
    assert after["faults"]["503"] == before["faults"].get("503", 0) + 1
    assert after["recent_faults"][-1] == {"route": "GET /api/ai/queue", "kind": "503"}
    assert sum(after["generations_by_status"].values()) == after["generations"]
    assert "balances" not in after  # no --credits
    api.delete(f"/api/ai/queue/{r.json()['generations'][0]['generation_id']}")


# -- TTL -------------------------------------------------------------------------------------


def test_ttl_hides_terminal_generations_from_the_queue_only(
    tmp_path: Path, realshort: Path
) -> None:
    # The TTL must outlast the in-TTL reads on a machine at load 30 (ci s1: 1.5 s did not).
    ttl_s = 8.0
    with running_sandbox(tmp_path, workers=1, ttl_s=ttl_s) as s:
        api = Api(s.url, "ttl-key")
        clip = api.upload(realshort, "clips/realshort.mp4")
        r = api.post(
            "/api/ai/queue", json={"model": STARLIGHT, "resolution": "1080p", "input_video": clip}
        )
        gid = r.json()["generations"][0]["generation_id"]
        done = api.wait_queue(gid)
        assert done["status"] == "succeeded"
        assert gid in queue_ids(api)  # terminal, but within the TTL: still there
        job = api.post("/v2/video-to-video-hdr", json={"video_uri": clip}).json()
        assert api.wait_ltx(job["id"])["status"] == "completed"  # polled: 200 within the TTL
        both_ended = time.monotonic()  # the later of the two ended before this instant

        time.sleep(max(0.0, both_ended + ttl_s + 0.5 - time.monotonic()))
        oxen_error(api.get(f"/api/ai/queue/{gid}"), 404, "resource_not_found")
        oxen_error(api.delete(f"/api/ai/queue/{gid}"), 404, "resource_not_found")
        assert gid not in queue_ids(api)
        shown = api.get(f"/api/ai/generations/{gid}")  # the history keeps it
        assert shown.status_code == 200
        assert shown.json()["generation"]["result_url"] == done["result_url"]
        assert gid in history_ids(api)
        ltx_error(api.get(f"/v2/video-to-video-hdr/{job['id']}"), 404, "not_found_error")


# -- credits ---------------------------------------------------------------------------------


@pytest.fixture
def starlight_quote() -> Decimal:
    """realshort.mp4 (36 frames, 1.1992 s) at Starlight 1080p, target_fps 30: 36 output frames
    = 1.2 output s × $0.0374 (pricing.md row 1) = $0.04488 → $0.0449."""
    return Decimal("0.0449")


def test_credits_refuse_what_the_balance_does_not_cover(
    tmp_path: Path, realshort: Path, starlight_quote: Decimal
) -> None:
    credits = starlight_quote * Decimal("1.5")
    with running_sandbox(tmp_path, workers=1, credits_usd=credits) as s:
        api = Api(s.url, "credits-key")
        clip = api.upload(realshort, "clips/realshort.mp4")
        job = {"model": STARLIGHT, "input_video": clip, "resolution": "1080p"}

        r = api.post("/api/ai/queue", json={**job, "num_generations": 2})  # 2 × quote > credits
        body = oxen_error(r, 402, "insufficient_credits")
        assert f"${format(credits, 'f')}" in body["error"]["title"]  # names the balance
        r = api.post("/api/ai/queue", json=job)
        assert r.status_code == 200, r.text
        gid = r.json()["generations"][0]["generation_id"]
        # The running job's quote is held, so a second one is refused at once.
        oxen_error(api.post("/api/ai/queue", json=job), 402, "insufficient_credits")
        assert api.wait_queue(gid)["status"] == "succeeded"
        cost = Decimal(api.get(f"/api/ai/generations/{gid}").json()["generation"]["cost"])
        assert cost == starlight_quote
        balance = credits - cost
        oxen_error(api.post("/api/ai/videos/generate", json=job), 402, "insufficient_credits")

        r = api.post("/v2/video-to-video-hdr", json={"video_uri": clip})
        body = ltx_error(r, 402, "insufficient_funds_error")
        # 1.199 input s (realshort.mp4's 1.1992 s) × $0.20 for ≤1080p (pricing.md row 6).
        assert body["error"]["message"].startswith("Insufficient funds. Required: 0.2398 credits")
        got = stats(s.url)
        assert got["balances"] == {user_for_token("credits-key").username: format(balance, "f")}
        assert got["paid_posts"] == 1

        # Another user has their own balance.
        other = Api(s.url, "other-key")
        assert other.post("/api/ai/queue", json=job).status_code == 200


def test_credits_checked_by_the_worker_when_the_input_is_remote(
    tmp_path: Path, realshort: Path, starlight_quote: Decimal
) -> None:
    """An input the sandbox does not serve is only probed when the job runs; a short balance
    then fails the generation with "Insufficient credits" (oxen.md §12) — nothing charged."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(realshort.parent))
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    try:
        remote = f"http://127.0.0.1:{files.server_address[1]}/{realshort.name}"
        credits = starlight_quote / 2
        with running_sandbox(tmp_path, workers=1, credits_usd=credits) as s:
            api = Api(s.url, "remote-key")
            job = {"model": STARLIGHT, "input_video": remote, "resolution": "1080p"}
            r = api.post("/api/ai/queue", json=job)
            assert r.status_code == 200, r.text  # accepted: the input was not read yet
            row = api.wait_queue(r.json()["generations"][0]["generation_id"])
            assert row["status"] == "failed"
            assert row["error_message"].startswith("Insufficient credits")
            r = api.post("/api/ai/videos/generate", json=job)
            oxen_error(r, 402, "insufficient_credits")
            assert stats(s.url)["balances"] == {
                user_for_token("remote-key").username: format(credits, "f")
            }
    finally:
        files.shutdown()
        files.server_close()


# -- the seeded random picker ----------------------------------------------------------------


def _outcomes(base: str, n: int) -> list[str]:
    """What a client sees for a fixed sequence of ``n`` requests over three routes."""
    api = Api(base, "seeded-key")
    seen = []
    for i in range(n):
        method, path, body = (
            ("GET", "/api/ai/queue", None),
            ("GET", "/api/ai/models", None),
            ("POST", "/api/ai/queue", {"model": "nope"}),  # a 404: nothing is created
        )[i % 3]
        try:
            r = api.request(method, path, json=body, timeout=10)
        except requests.ConnectionError:
            seen.append("dropped")
            continue
        seen.append(f"{r.status_code} {r.headers.get('X-Sandbox-Fault', '-')}")
    return seen


def test_fault_rate_with_a_seed_is_deterministic(tmp_path: Path) -> None:
    runs = []
    for i, seed in enumerate((11, 11, 12)):
        with running_sandbox(tmp_path / str(i), fault_rate=0.5, seed=seed, slow_s=0.01) as s:
            runs.append((_outcomes(s.url, 24), stats(s.url)))
    (first, first_stats), (again, again_stats), (other, _) = runs
    assert first == again
    assert first_stats["recent_faults"] == again_stats["recent_faults"]
    assert first != other
    n_faults = sum(first_stats["faults"].values())
    assert 4 <= n_faults <= 20, first  # about half of 24
    assert "dropped" in first and any(o.endswith(" -") for o in first)  # faults and none
    assert first_stats["faults"].get("malformed", 0) == sum(
        1 for f in first_stats["recent_faults"] if f["kind"] == "malformed"
    )
    # Paid POSTs never drew malformed; reads could.
    assert all(
        f["kind"] != "malformed"
        for f in first_stats["recent_faults"]
        if f["route"].startswith("POST")
    )


def test_plan_draws_are_independent_of_headers() -> None:
    route = classify("GET", "/api/ai/queue")
    a, b = FaultPlan(0.5, seed=3), FaultPlan(0.5, seed=3)
    seq_a = [a.pick(route, None) for _ in range(20)]
    seq_b = []
    for i in range(20):  # forcing faults on some requests does not shift the others
        forced = b.pick(route, "500" if i % 4 == 0 else None)
        seq_b.append(None if i % 4 == 0 else forced)
    assert [x for i, x in enumerate(seq_a) if i % 4] == [x for i, x in enumerate(seq_b) if i % 4]
    assert FaultPlan(1.0, seed=1).pick(classify("GET", "/_sandbox/health"), None) is None
    with pytest.raises(ValueError):
        FaultPlan(1.5)


# -- the command line --------------------------------------------------------------------------


def test_cli_flags(tmp_path: Path) -> None:
    args = parse_args(
        [
            "--port",
            "0",
            "--fault-rate",
            "0.25",
            "--seed",
            "7",
            "--slow-s",
            "0.5",
            "--ttl",
            "60",
            "--credits",
            "12.50",
        ]
    )
    assert (args.fault_rate, args.seed, args.slow_s, args.ttl) == (0.25, 7, 0.5, 60.0)
    assert args.credits == Decimal("12.50")
    defaults = parse_args(["--port", "0"])
    assert (defaults.fault_rate, defaults.seed, defaults.ttl, defaults.credits) == (
        0.0,
        None,
        None,
        None,
    )
    for bad in (["--fault-rate", "1.5"], ["--credits", "lots"], ["--ttl", "-1"]):
        with pytest.raises(SystemExit):
            parse_args(["--port", "0", *bad])

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--fault-rate",
            "1",
            "--seed",
            "5",
            "--slow-s",
            "0",
            "--credits",
            "0",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("Sandbox listening on ")
        assert url.startswith("http://127.0.0.1:")
        api = Api(url, "cli-key")
        try:
            r = api.get("/api/ai/models")
            assert r.headers.get("X-Sandbox-Fault") in KINDS  # rate 1: every request
        except requests.ConnectionError:
            pass
        body = stats(url)
        assert sum(body["faults"].values()) == 1
        assert body["routes"]["GET /api/ai/models"] == 1
        assert body["balances"] == {}
    finally:
        proc.terminate()
        proc.wait(timeout=20)
