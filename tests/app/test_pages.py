"""Every page renders; a submit on each model page creates a tracked generation; bad input
gets a sentence, not a traceback."""

from __future__ import annotations

import pytest

from studio.jobs import JobStore
from tests.app.conftest import open_page, texts
from tests.model_ids import STARLIGHT

MODEL_PAGES = {
    "hyperion_hdr": "topazlabs-hyperion-hdr-video",
    "ltx_hdr": "ltx-2-3-quality-hdr",
    "ltx_direct": "ltx-video-to-video-hdr",
    "rhea": "topazlabs-rhea-video",
    "starlight": "topazlabs-upscale-starlight-2-5-video",
}


@pytest.mark.parametrize("page", [*MODEL_PAGES, "generations"])
def test_every_page_renders_without_exception(data_dir, page):
    at = open_page(page)
    assert not at.exception, at.exception
    shown = texts(at)
    side = " ".join(m.value for m in at.sidebar.markdown)
    assert "Sandbox" in side and "Oxen key" in side  # the router's sidebar on every page
    if page != "generations":
        assert "$" in shown  # the sample clip is quoted on arrival
        assert at.get("plotly_chart"), "cost chart missing"


def test_sidebar_shows_mode_and_which_keys_never_the_key(data_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    side = " ".join(m.value for m in at.sidebar.markdown)
    assert "Sandbox" in side and "Oxen key: — not set" in side and "LTX key: — not set" in side
    monkeypatch.setenv("LTXV_API_KEY", "ltx-distinctive-key-4711")
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    side = " ".join(m.value for m in at.sidebar.markdown)
    assert "LTX key: ✅ configured" in side and "Sandbox (Oxen) · Live (LTX)" in side
    assert "4711" not in texts(at)


def _use_realshort(at, realshort, page):
    """Upload realshort.mp4 (fast to process) through the page's own file uploader."""
    at.segmented_control(key=f"{page}:kind").set_value("upload").run()
    at.file_uploader(key=f"{page}:upload").upload("realshort.mp4", realshort.read_bytes(),
                                                  "video/mp4")
    at.run()


@pytest.mark.parametrize("page", list(MODEL_PAGES))
def test_submit_creates_a_job_in_the_store(data_dir, realshort, page):
    at = open_page(page)
    _use_realshort(at, realshort, page)
    if page == "ltx_hdr":
        at.text_area(key="ltx_hdr:prompt").set_value("cinematic HDR, natural highlights").run()
    if page == "starlight":
        at.segmented_control(key="starlight:resolution").set_value("1080p").run()
    assert not at.exception, at.exception
    submit = at.button(key=f"{page}:submit")
    assert not submit.disabled, texts(at)
    submit.click().run()
    assert not at.exception, at.exception
    jobs = JobStore(data_dir / "jobs.sqlite3").list()
    assert len(jobs) == 1
    job = jobs[0]
    assert job.model_id == MODEL_PAGES[page]
    assert job.remote_id, job.error
    assert job.status in ("queued", "processing", "succeeded")
    assert job.quote and job.quote["provenance"] in ("published", "proxy")
    assert job.source["label"] == "realshort.mp4" and job.source["url"]
    assert job.remote_id in texts(at)  # the detail panel names the new generation


def test_ltx_direct_offers_trim_for_the_sample_and_explains_the_cap(data_dir):
    at = open_page("ltx_direct")
    toggle = at.toggle(key="ltx_direct:trim")
    assert toggle.value is True and "181" in toggle.label
    assert "$1.81" in texts(at)  # 181 frames at 20 fps = 9.05 s × $0.20
    toggle.set_value(False).run()
    shown = texts(at)
    assert "280 frames" in shown and "181" in shown
    assert at.button(key="ltx_direct:submit").disabled


@pytest.mark.parametrize("name, content, expect", [
    ("photo.mp4", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not a video"),
    ("notes.mov", b"hello, this is text\n" * 10, "not a video"),
    ("empty.mp4", b"", "empty"),
])
def test_bad_uploads_get_a_clear_message(data_dir, name, content, expect):
    at = open_page("rhea")
    at.segmented_control(key="rhea:kind").set_value("upload").run()
    at.file_uploader(key="rhea:upload").upload(name, content, "application/octet-stream")
    at.run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert expect in errors.lower()
    # Issue 10 item 15: the message names the file the user picked, not a stored copy.
    assert f"'{name}'" in errors, errors
    assert at.button(key="rhea:submit").disabled


def test_truncated_mp4_gets_a_clear_message(data_dir, cockatoo):
    data = cockatoo.read_bytes()
    at = open_page("rhea")
    at.segmented_control(key="rhea:kind").set_value("upload").run()
    at.file_uploader(key="rhea:upload").upload("cut.mp4", data[: len(data) // 2], "video/mp4")
    at.run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error).lower()
    assert "truncated" in errors or "incomplete" in errors, errors


def test_live_key_uses_the_models_request_schema_and_live_pricing(data_dir, monkeypatch):
    # A key makes Oxen "live"; pointing OXEN_BASE_URL at the sandbox exercises the very same
    # client path the real service gets: GET /api/ai/models/{id} → request_schema + pricing.
    monkeypatch.setenv("OXEN_API_KEY", "oxen-distinctive-key-0815")
    at = open_page("starlight")
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Parameters: the live request_schema" in shown
    assert "live API rate" in shown and "$2.0916" in shown
    assert "0815" not in shown
    side = " ".join(m.value for m in at.sidebar.markdown)
    assert "Oxen key: ✅ configured" in side


def test_no_page_shows_a_server_path_or_the_sandbox_address(data_dir, sandbox_url, realshort,
                                                             monkeypatch):
    """Issue 10 item 17: every session of every user sees these pages, so they hold no
    server detail — no data folder path (sidebar, a first-release budget.json or
    presets.json that cannot be imported, a result too large for the browser), no sandbox
    address; the sidebar still says the app runs on the sandbox."""
    import shutil
    from datetime import UTC, datetime

    from components import jobs as jobs_view
    from studio.jobs import Job

    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "budget.json").write_text("{not json")
    (data_dir / "presets.json").write_text("[not presets")
    big = data_dir / "results" / "gen-big" / "video.mp4"
    big.parent.mkdir(parents=True)
    shutil.copy(realshort, big)
    monkeypatch.setattr(jobs_view, "MAX_INLINE_DOWNLOAD", 1000)  # realshort is larger
    JobStore(data_dir / "jobs.sqlite3").insert_many([Job(
        model_id=STARLIGHT, provider="oxen", owner="fp", owner_name="Ada",
        params={"resolution": "1080p"}, status="succeeded", remote_id="gen-big",
        source={"kind": "upload", "label": "realshort.mp4", "path": str(realshort)},
        clip={"duration_s": 1.2, "width": 320, "height": 240, "fps": 29.97, "frame_count": 36},
        quote={"amount_usd": "0.0449", "provenance": "published"},
        result_files={"video": str(big)}, completed_at=datetime.now(UTC),
        result_urls={"video": f"{sandbox_url}/files/results/gen-big.mp4"})])
    server_details = (str(data_dir), str(data_dir.parent), sandbox_url, "127.0.0.1",
                      "localhost")
    seen = []
    for page in ("generations", "starlight", "forecast", "ledger", "rates", "sampler"):
        at = open_page(page)
        assert not at.exception, at.exception
        shown = texts(at) + "\n".join(str(j.value) for j in at.json)  # + Request details
        seen.append(shown)
        for detail in server_details:
            assert detail not in shown, f"{page} shows {detail!r}"
        side = " ".join(m.value for m in at.sidebar.markdown)
        assert "Sandbox" in side
    everything = "\n".join(seen)
    assert "budget.json" in everything and "data folder" in everything  # still named
    assert "too large to send through the browser" in everything


def test_the_empty_first_page_points_to_every_model_page(data_dir):
    """Issue 10 item 19: the first page, an empty Generations list, has no form "above":
    it links to each model page (by its one display name) instead of "Submit one above"."""
    at = open_page("generations")
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Submit one above" not in shown and "No generations yet" in shown
    targets = {p.value: p.proto.page for p in at.main.get("page_link")}
    assert set(targets) == {"Topaz Hyperion HDR", "LTX 2.3 Quality HDR", "LTX HDR (direct)",
                            "Topaz Rhea", "Topaz Starlight 2.5"}
    for label, slug in (("Topaz Starlight 2.5", "starlight"), ("LTX HDR (direct)", "ltx_direct"),
                        ("Topaz Hyperion HDR", "hyperion_hdr")):
        assert targets[label].strip("/").endswith(slug), targets
    at = open_page("starlight")  # a model page's own empty list keeps its wording
    assert "No generations yet. Submit one above" in texts(at)
    assert not {p.value for p in at.main.get("page_link")} & set(targets)
