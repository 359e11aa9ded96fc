"""The core submit path against a real sandbox process: upload through the provider's own
route, one paid request, tracking to a terminal state, actual charge, streamed download and
an SDR preview where the browser needs one."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest
import requests

from studio import media, ratebook
from studio.config import Settings
from studio.errors import ParamError
from studio.jobs import JobStore
from studio.local_sandbox import start_sandbox
from studio.service import Source, Studio
from tests.model_ids import HYPERION, LTX_DIRECT, LTX_OXEN, RHEA, STARLIGHT


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    sb = start_sandbox(tmp_path_factory.mktemp("sbx"), port=None, workers=2)
    yield sb.url
    sb.stop()


@pytest.fixture()
def studio(tmp_path, sandbox):
    settings = Settings.from_mapping({"OXEN_BASE_URL": sandbox, "LTX_BASE_URL": sandbox,
                                      "STUDIO_DATA_DIR": str(tmp_path)})
    return Studio(settings, JobStore(tmp_path / "jobs.sqlite3"), sandbox_url=sandbox)


def run_until_done(studio: Studio, timeout: float = 120.0):
    """Drive the tracker by hand (poll, then download) until nothing is in flight."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        studio.submit_waiting()
        studio.tracker.poll_due(now=time.time() + 60)  # ignore backoff: the test is the clock
        studio.tracker.download_results()
        if not studio.store.count_active() and not studio.store.needing_download() \
                and not studio.store.list(statuses=["waiting"]):
            return studio.store.list()
        time.sleep(0.3)
    raise AssertionError("generations did not finish in time")


def test_hyperion_pq_end_to_end_with_charge_and_preview(studio, realshort):
    src = Source("upload", "realshort.mp4", path=realshort)
    prepared = studio.prepare(HYPERION, src, {"transfer_function": "pq"})
    assert prepared.ok and prepared.quote.provenance == "proxy"
    [job] = studio.submit(prepared)
    assert job.status == "queued" and job.remote_id
    assert job.source["url"].startswith(studio.sandbox_url + "/api/repos/")
    [done] = run_until_done(studio)
    assert done.status == "succeeded", done.error
    # realshort.mp4: 36 frames at 30.02 frames/s = 1.199 s; 320×240 is Hyperion's 720p tier:
    # 1.199 × $0.0056667 (34 credits / 10 min at $0.10, pricing.md rows 11–12) = $0.0068.
    assert_charge_matches_quote(done, "0.0068")  # the charge is Oxen's cost, from /generations
    result = media.probe(done.result_files["video"])
    assert result.codec == "hevc" and result.color_transfer == "smpte2084"
    preview = media.probe(done.preview_path)  # HDR HEVC is not browser-playable
    assert media.browser_playable(preview)


def assert_charge_matches_quote(job, amount: str) -> None:
    """The sandbox's charge (its own price list) equals the client's quote (the client's rate
    book), and both equal ``amount``, worked by hand from pricing.md."""
    assert Decimal(job.charge_usd) == Decimal(job.quote["amount_usd"]), (
        f"charged {job.charge_usd}, quoted {job.quote['amount_usd']}")
    assert Decimal(job.charge_usd) == Decimal(amount)


@pytest.fixture
def client_rates_times_10(monkeypatch):
    """A mutation of the client only: every bundled rate ×10 (surcharge factors kept)."""
    mutated = tuple(r if r.unit == "factor" else dataclasses.replace(r, usd=r.usd * 10)
                    for r in ratebook.bundled_rates())
    monkeypatch.setattr(ratebook, "bundled_rates", lambda: mutated)
    ratebook.bundled_book.cache_clear()
    yield
    ratebook.bundled_book.cache_clear()


CHARGE_CASES = [
    # realshort.mp4 at 1080p, target_fps 30: 36 frames = 1.2 output s × $0.0374 (row 1).
    pytest.param(STARLIGHT, {"resolution": "1080p"}, "0.0449", id="starlight"),
    # 9 frames of 320×240 = 0.69 → 1 MP × $0.0027075 (fal, row 4) = $0.0027.
    pytest.param(LTX_OXEN, {"prompt": "cinematic HDR", "num_frames": 9}, "0.0027",
                 id="ltx-2.3"),
]


@pytest.mark.parametrize("mutation", [
    None,
    pytest.param("client_rates_times_10", marks=pytest.mark.xfail(
        strict=True, raises=AssertionError,
        reason="the sandbox prices from its own list, so a ×10 client rate is caught")),
])
@pytest.mark.parametrize(("model_id", "params", "amount"), CHARGE_CASES)
def test_oxen_charge_equals_the_quote_end_to_end(studio, realshort, request, mutation,
                                                 model_id, params, amount):
    if mutation:
        request.getfixturevalue(mutation)
    prepared = studio.prepare(model_id, Source("upload", "r.mp4", path=realshort), params)
    [job] = studio.submit(prepared)
    [done] = run_until_done(studio)
    assert done.status == "succeeded", done.error
    assert_charge_matches_quote(done, amount)


def test_a_client_price_bug_shows_as_a_charge_that_differs(studio, realshort,
                                                           client_rates_times_10):
    """Under the ×10 mutation the quote moves and the sandbox's charge does not: the sandbox
    shares none of the client's pricing code."""
    prepared = studio.prepare(STARLIGHT, Source("upload", "r.mp4", path=realshort),
                              {"resolution": "1080p"})
    assert prepared.quote.amount_usd == Decimal("0.4488")  # 1.2 s × $0.374
    studio.submit(prepared)
    [done] = run_until_done(studio)
    assert Decimal(done.charge_usd) == Decimal("0.0449")
    with pytest.raises(AssertionError, match="charged 0.0449, quoted 0.4488"):
        assert_charge_matches_quote(done, "0.0449")


def test_prepare_quotes_from_the_rate_book_with_team_overrides(studio, realshort):
    """A team override saved in the store wins over the bundled rate in the quote."""
    from studio.ratebook import OverrideStore

    src = Source("upload", "r.mp4", path=realshort)
    bundled = studio.prepare(RHEA, src, {"resolution": "720p"}).quote
    OverrideStore(studio.store).set(
        RHEA, "720p", "0.01", reason="negotiated rate", who="test")
    overridden = studio.prepare(RHEA, src, {"resolution": "720p"}).quote
    assert bundled.provenance != "override" and overridden.provenance == "override"
    assert overridden.amount_usd == (overridden.units * Decimal("0.01")).quantize(Decimal("0.0001"))
    assert studio.rate_book().rate_for(RHEA, "720p").usd == Decimal("0.01")


def _uploads(sandbox: str) -> int:
    """File bodies the sandbox has received: Oxen repo-file PUTs and LTX upload-slot PUTs."""
    routes = requests.get(f"{sandbox}/_sandbox/stats", timeout=10).json()["routes"]
    return sum(n for route, n in routes.items() if route.startswith("PUT "))


@pytest.mark.parametrize("provider", ["oxen", "ltx"])
def test_same_clip_is_uploaded_once(studio, sandbox, realshort, provider):
    # The upload path is content-addressed, so equal URLs prove nothing: count the bodies
    # the provider received.
    src = Source("upload", "realshort.mp4", path=realshort)
    before = _uploads(sandbox)
    a = studio.resolve_source(provider, src)
    assert _uploads(sandbox) == before + 1
    b = studio.resolve_source(provider, src)
    assert _uploads(sandbox) == before + 1, "the same clip was uploaded again"
    assert a == b


def test_num_generations_gives_one_row_per_generation(studio, realshort):
    prepared = studio.prepare(RHEA, Source("upload", "r.mp4", path=realshort),
                              {"resolution": "720p"})
    jobs = studio.submit(prepared, num_generations=2)
    assert len(jobs) == 2 and len({j.remote_id for j in jobs}) == 2
    assert all(j.batch_id == jobs[0].batch_id for j in jobs)
    done = run_until_done(studio)
    assert [j.status for j in done] == ["succeeded", "succeeded"]
    assert all(media.probe(j.result_files["video"]).height == 720 for j in done)


def test_bad_queue_parameter_fails_late_with_the_field_named(studio, realshort):
    # The form cannot produce it, but a hand-edited or live-schema request can: Oxen validates
    # queue parameters only when the job runs (oxen.md §3.3).
    prepared = studio.prepare(STARLIGHT, Source("upload", "r.mp4", path=realshort),
                              {"resolution": "1080p"})
    object.__setattr__(prepared, "params", {"resolution": "8k"})
    [job] = studio.submit(prepared)
    [done] = run_until_done(studio)
    assert done.status == "failed" and "resolution" in done.error and "1080p" in done.error


def test_invalid_request_is_refused_before_anything_is_sent(studio, realshort):
    prepared = studio.prepare(LTX_OXEN, Source("upload", "r.mp4", path=realshort),
                              {"num_frames": 5})
    assert not prepared.ok and any(p.field == "num_frames" for p in prepared.problems)
    with pytest.raises(ParamError):
        studio.submit(prepared)
    assert studio.store.list() == []


def test_ltx_direct_round_trip_with_computed_charge(studio, realshort):
    prepared = studio.prepare(LTX_DIRECT, Source("upload", "r.mp4", path=realshort), {})
    [job] = studio.submit(prepared)
    assert job.source["url"].startswith("ltx://")
    [done] = run_until_done(studio)
    assert done.status == "succeeded", done.error
    summary = media.exr_zip_summary(done.result_files["exr_frames"])
    assert (summary.frame_count, summary.width, summary.height) == (36, 320, 240)
    assert summary.dtype == "float16" and summary.max_value > 1.0
    # LTX reports no charge: the client computes it. 1.199 input s × $0.20 (≤1080p tier,
    # pricing.md row 6) = $0.2398, for the quote and the computed charge alike.
    assert done.quote["amount_usd"] == "0.2398" and done.charge_usd == Decimal("0.2398")
    assert done.charge_source == "computed"
    assert media.browser_playable(media.probe(done.preview_path))


def test_cancel_an_oxen_generation(studio, cockatoo):
    prepared = studio.prepare(STARLIGHT, Source("sample", "c.mp4", path=cockatoo), {})
    [job] = studio.submit(prepared)
    studio.cancel(job)
    [done] = run_until_done(studio)
    assert done.status == "cancelled"  # 4K of a 14 s clip cannot finish before the DELETE


def test_sync_mode_blocks_until_the_video_exists(studio, realshort):
    prepared = studio.prepare(LTX_OXEN, Source("upload", "r.mp4", path=realshort),
                              {"prompt": "cinematic HDR", "num_frames": 9})
    [job] = studio.submit(prepared, mode="sync")
    # One blocking POST /api/ai/videos/generate; the MP4 and the EXR ZIP both come back.
    assert job.status == "succeeded" and set(job.result_urls) == {"video", "exr_frames"}
    [done] = run_until_done(studio)
    assert media.exr_zip_summary(done.result_files["exr_frames"]).frame_count == 9


def test_sync_mode_with_several_generations_is_refused_before_anything_is_stored(
        studio, realshort):
    """The sync route returns one video: 2–4 generations there would leave rows behind that
    nothing sends. Refused with a sentence before any upload, row or paid request."""
    import requests

    prepared = studio.prepare(LTX_OXEN, Source("upload", "r.mp4", path=realshort),
                              {"prompt": "cinematic HDR", "num_frames": 9})
    before = requests.get(f"{studio.sandbox_url}/_sandbox/stats", timeout=10).json()["routes"]
    for n in (2, 4):
        with pytest.raises(ParamError) as err:
            studio.submit(prepared, mode="sync", num_generations=n, confirmed=True)
        assert err.value.problems == [
            f"num_generations: sync mode runs one generation; use queue mode for 2–4 (got {n})"]
        with pytest.raises(ParamError, match="sync mode runs one generation"):
            studio.check_submit(prepared, mode="sync", num_generations=n, confirmed=True)
    assert studio.store.list() == []
    after = requests.get(f"{studio.sandbox_url}/_sandbox/stats", timeout=10).json()["routes"]
    assert after == before  # no upload, no paid request
    with pytest.raises(ParamError, match="mode: must be queue or sync"):
        studio.check_submit(prepared, mode="batch")


def test_third_ltx_generation_waits_client_side_instead_of_a_429(studio, realshort):
    prepared = studio.prepare(LTX_DIRECT, Source("upload", "r.mp4", path=realshort), {})
    jobs = [studio.submit(prepared)[0] for _ in range(3)]
    assert [j.status for j in jobs] == ["queued", "queued", "waiting"]
    assert jobs[2].remote_id is None  # nothing was sent for it yet
    done = run_until_done(studio, timeout=180)
    assert [j.status for j in done] == ["succeeded"] * 3
    assert len({j.remote_id for j in done}) == 3


def test_sse_makes_completion_a_two_poll_affair(studio, realshort):
    studio.events.start()
    deadline = time.time() + 20
    while not studio.events.healthy and time.time() < deadline:
        time.sleep(0.1)
    assert studio.events.healthy
    prepared = studio.prepare(STARLIGHT, Source("upload", "r.mp4", path=realshort),
                              {"resolution": "1080p"})
    [job] = studio.submit(prepared)
    studio.tracker.poll_due(now=time.time() + 10)  # the first poll, 5 s after submit
    after_first = studio.store.get(job.id)
    if after_first.is_active:  # with SSE healthy the next poll is only a safety net
        assert after_first.next_poll_at > time.time() + 500, (
            f"next poll in {after_first.next_poll_at - time.time():.0f} s with the event stream "
            f"{'healthy' if studio.events.healthy else 'down'}")
        deadline = time.time() + 60
        while studio.store.get(job.id).next_poll_at != 0.0 and time.time() < deadline:
            time.sleep(0.2)  # the completion event makes it due at once
        studio.tracker.poll_due()
    done = studio.store.get(job.id)
    assert (done.status, done.poll_count <= 2) == ("succeeded", True), (
        f"{done.status} after {done.poll_count} polls ({done.error}); events seen "
        f"{studio.events.events}, stream {'healthy' if studio.events.healthy else 'down'}")
    assert studio.events.events >= 1
    studio.events.stop()
