"""The review experience in the app (AppTest): the status card right under Submit, its ETA,
completion toasts on another page, review links, the detail's stable action row, and the
sampler's quotes and batch submit."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from studio.jobs import Job, JobStore
from tests.app.conftest import APP, open_page, texts
from tests.model_ids import HYPERION, RHEA, STARLIGHT


def _use_realshort(at, realshort, page):
    at.segmented_control(key=f"{page}:kind").set_value("upload").run()
    at.file_uploader(key=f"{page}:upload").upload("realshort.mp4", realshort.read_bytes(),
                                                  "video/mp4")
    at.run()


def _walk(node, path=()):
    """(path, node) for every element and block, depth first (path = child indexes)."""
    yield path, node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for i, child in children.items():
            yield from _walk(child, (*path, i))


def _find(at, pred):
    return [(p, n) for p, n in _walk(at.main) if pred(n)]


def _compare_data(at, key):
    found = _find(at, lambda n: getattr(n, "type", "") == "bidi_component"
                  and getattr(n.proto, "id", "").endswith(key)
                  or (getattr(n, "type", "") == "bidi_component" and key in str(n.proto.id)))
    assert found, f"no compare player {key!r}"
    return json.loads(found[0][1].proto.json)


def _block_text(node) -> str:
    out = []
    for _, n in _walk(node):
        for attr in ("value", "label", "body"):
            v = getattr(n, attr, None)
            if isinstance(v, str):
                out.append(v)
    return "\n".join(out)


def _media_route(url: str | None) -> bool:
    """A Streamlit media-route URL (AppTest mounts it under /mock)."""
    return bool(url) and re.search(r"/media/[0-9a-f]{32}\.mp4$", url) is not None


def _store(data_dir: Path) -> JobStore:
    return JobStore(data_dir / "jobs.sqlite3")


def _wait_terminal(store: JobStore, job_id: str, timeout: float = 180) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = store.get(job_id)
        if job.is_terminal:
            return job
        time.sleep(0.5)
    raise AssertionError(f"generation {job_id} did not end within {timeout} s")


def test_the_status_card_sits_right_under_submit_with_status_eta_and_the_source(
        data_dir, realshort):
    at = open_page("starlight")
    _use_realshort(at, realshort, "starlight")
    at.segmented_control(key="starlight:resolution").set_value("1080p").run()
    at.button(key="starlight:submit").click().run()
    assert not at.exception, at.exception
    main = list(at.main.children.values())
    submit_at = next(i for i, n in enumerate(main) if getattr(n, "key", None) == "starlight:submit")
    card_path = _find(at, lambda n: getattr(n, "key", None) == "starlight-status-card")[0][0]
    # Submit, then its status line, then the card: nothing else in between.
    assert card_path[0] == submit_at + 2, (card_path, submit_at)
    card = _find(at, lambda n: getattr(n, "key", None) == "starlight-status-card")[0][1]
    shown = _block_text(card)
    assert "Topaz Starlight 2.5" in shown and "1080p · 30 fps" in shown
    assert "Elapsed" in shown and "ETA 5–15 min" in shown and "typical range" in shown
    data = _compare_data(at, "starlight:card:compare")
    # realshort plays as is: the source is there at once, through the media route
    assert _media_route(data["source"]["url"]) and data["results"] == []
    assert str(data_dir) not in json.dumps(data) and "/work/" not in json.dumps(data)


def test_the_eta_is_the_learned_median_when_there_is_one(data_dir, realshort):
    store = _store(data_dir)
    now = datetime.now(UTC)
    # three finished Starlight 1080p generations of a ≤10 s clip: 100, 120 and 140 s
    store.insert_many([Job(
        model_id=STARLIGHT, provider="oxen", owner="someone", params={"resolution": "1080p"},
        source={"kind": "sample", "label": "clip.mp4"}, status="succeeded",
        quote={"amount_usd": "0.0449", "tier": "1080p", "provenance": "published"},
        clip={"duration_s": 1.2, "width": 320, "height": 240, "fps": 30.0},
        submitted_at=now - timedelta(hours=1), completed_at=now - timedelta(hours=1) + timedelta(seconds=s),
        result_files={"missing": ""}) for s in (100, 120, 140)])
    at = open_page("starlight")
    _use_realshort(at, realshort, "starlight")
    at.segmented_control(key="starlight:resolution").set_value("1080p").run()
    at.button(key="starlight:submit").click().run()
    card = _find(at, lambda n: getattr(n, "key", None) == "starlight-status-card")[0][1]
    assert "ETA ≈ 2 min — learned: median of 3" in _block_text(card)


def test_a_finished_generation_is_toasted_on_another_page_and_a_failure_says_why(
        data_dir, realshort):
    at = open_page("starlight")
    _use_realshort(at, realshort, "starlight")
    at.segmented_control(key="starlight:resolution").set_value("1080p").run()
    at.button(key="starlight:submit").click().run()
    job = _store(data_dir).list()[0]
    at.switch_page("pages/forecast.py")
    at.run()
    assert not at.exception, at.exception
    done = _wait_terminal(_store(data_dir), job.id)
    assert done.status == "succeeded", done.error
    at.run()
    toasts = [t.value for t in at.toast]
    assert any("Topaz Starlight 2.5: generation succeeded" in t for t in toasts), toasts

    # A second one fails at the provider: the toast carries the sentence. (The sandbox
    # really runs it; its end is then rewritten as the failure Oxen documents, before this
    # session looks again.)
    at.switch_page("pages/starlight.py")
    at.run()
    _use_realshort(at, realshort, "starlight")
    at.segmented_control(key="starlight:resolution").set_value("1080p").run()
    at.button(key="starlight:submit").click().run()
    second = next(j for j in _store(data_dir).list() if j.id != job.id)
    _wait_terminal(_store(data_dir), second.id)
    _store(data_dir).update(second.id, status="failed", error="Insufficient credits")
    at.switch_page("pages/rates.py")
    at.run()
    assert not at.exception, at.exception
    toasts = [t.value for t in at.toast]
    assert any("generation failed. Insufficient credits" in t for t in toasts), toasts


def _result_job(data_dir: Path, realshort: Path, model_id: str, params: dict, **kw) -> Job:
    results = data_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    out = results / f"{model_id}-{len(list(results.iterdir()))}.mp4"
    shutil.copy(realshort, out)
    now = datetime.now(UTC)
    return Job(model_id=model_id, provider="oxen", owner="ada-fingerprint", owner_name="Ada",
               params=params, status="succeeded", remote_id=f"gen-{out.stem}",
               source={"kind": "upload", "label": "realshort.mp4", "path": str(realshort),
                       "url": "http://127.0.0.1:9/files/abc.mp4", "sha256": "abc"},
               clip={"duration_s": 1.2, "width": 320, "height": 240, "fps": 29.97,
                     "frame_count": 36},
               quote={"amount_usd": kw.get("quote", "0.0449"), "provenance": "published",
                      "tier": "1080p"},
               charge_usd=kw.get("charge"), target="sandbox",
               result_urls={"video": "http://127.0.0.1:9/results/x.mp4"},
               result_files={"video": str(out)}, submitted_at=now - timedelta(seconds=96),
               completed_at=now)


def test_a_review_link_shows_the_comparison_with_its_costs_and_no_server_detail(
        data_dir, realshort):
    store = _store(data_dir)
    a = _result_job(data_dir, realshort, STARLIGHT, {"resolution": "1080p"},
                    quote="0.0449", charge="0.0449")
    b = _result_job(data_dir, realshort, RHEA, {"resolution": "1080p"},
                    quote="0.0152")
    store.insert_many([a, b])
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page("pages/review.py")
    at.query_params["g"] = f"{a.id},{b.id},0000000-not-there"
    at.run()
    assert not at.exception, at.exception
    frame = at.dataframe[0].value
    assert list(frame["Model"]) == ["Topaz Starlight 2.5", "Topaz Rhea"]
    assert list(frame["Quote (USD)"]) == ["$0.0449", "$0.0152"]
    assert list(frame["Charge (USD)"]) == ["$0.0449", ""]
    assert list(frame["Charge from"]) == ["sandbox", ""]
    assert list(frame["Turnaround"]) == ["1 min 36 s", "1 min 36 s"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Quoted"] == "$0.06"  # 0.0449 + 0.0152 = 0.0601, to the cent
    assert "1 of the 3 generations in this link are not in this deployment" in texts(at)
    data = _compare_data(at, "review:compare")
    assert [r["label"] for r in data["results"]] == ["Topaz Starlight 2.5", "Topaz Rhea"]
    assert all(_media_route(r["url"]) for r in data["results"])
    assert _media_route(data["source"]["url"])
    everything = texts(at) + json.dumps(data) + frame.to_csv()
    for secret in (str(data_dir), str(realshort.parent), "127.0.0.1", "/results/"):
        assert secret not in everything
    assert not any(getattr(n, "type", "") == "button" for _, n in _walk(at.main))  # read-only


def test_review_money_reads_like_every_other_screen(data_dir, realshort):
    # One formatter for money (studio.money, issue 10 item 14): one generation's stored quote
    # and charge keep every digit with thousands separated, in the player's tile label and in
    # the review link's cost card alike; an unknown quote reads "—".
    from components.review import job_lines
    from components.review_page import cost_frame

    big = _result_job(data_dir, realshort, STARLIGHT, {"resolution": "4k"},
                      quote="1234.5", charge="1234.5000")
    unpriced = dataclasses.replace(
        _result_job(data_dir, realshort, RHEA, {"resolution": "1080p"}), quote={})
    quote_line = job_lines(big)[1]
    assert quote_line.startswith("quote $1,234.50 (published) · charge $1,234.50 (sandbox)"), \
        quote_line
    assert job_lines(unpriced)[1].startswith("quote — · charge not reported yet")
    frame = cost_frame([big, unpriced])
    assert list(frame["Quote (USD)"]) == ["$1,234.50", "—"]
    assert list(frame["Charge (USD)"]) == ["$1,234.50", ""]


def test_the_detail_keeps_share_link_in_place_when_a_generation_finishes(
        data_dir, realshort, monkeypatch):
    # Streamlit replaces elements by position: if "Cancel" disappears and "Share link"
    # moves up one place, the old one stays drawn beside the new until the run ends
    # (issue 10 item 20, "two Share link buttons for a moment after success").
    from studio.service import Studio

    # No tracker, and no poll due: the made-up generation is unknown to the sandbox, and a
    # poll that got there first (CI d5, under load) failed it with "Oxen does not know
    # generation gen-running", one more element above the action row.
    monkeypatch.setattr(Studio, "start_background", lambda self: self)
    store = _store(data_dir)
    job = _result_job(data_dir, realshort, STARLIGHT, {"resolution": "1080p"})
    running = Job(**{**job.__dict__, "status": "processing", "remote_id": "gen-running",
                     "completed_at": None, "result_files": {},
                     "next_poll_at": time.time() + 3600})
    store.insert_many([running])
    at = open_page("generations")
    at.segmented_control(key="generations:scope").set_value("team").run()
    cancel_key = f"generations:detail:cancel:{running.id}"
    assert at.button(key=cancel_key).label == "Cancel generation…"

    def share_path():
        hits = _find(at, lambda n: getattr(n, "type", "") == "popover"
                     and "Share link" in n.proto.popover.label)
        assert hits, "no Share link"
        return hits[0][0]

    before = share_path()
    store.update(running.id, status="succeeded", completed_at=datetime.now(UTC),
                 result_files=job.result_files)
    at.run()
    assert not at.exception, at.exception
    assert cancel_key not in [b.key for b in at.button]  # Cancel gone, Share link stays put
    assert share_path() == before


def test_the_sampler_quotes_each_variant_and_sends_them_as_one_batch(data_dir, cockatoo):
    at = open_page("sampler")
    assert not at.exception, at.exception
    at.slider(key="sampler:length").set_value(2.0).run()
    for model, resolution in ((STARLIGHT, "1080p"), (STARLIGHT, "4k"),
                              (RHEA, "1080p")):
        at.selectbox(key="sampler:add:model").set_value(model).run()
        slug = "starlight" if model == STARLIGHT else "rhea"
        at.segmented_control(key=f"sampler:add:{slug}:resolution").set_value(resolution).run()
        at.button(key="sampler:add:button").click().run()
        assert not at.exception, at.exception
    shown = texts(at)
    # pricing.md by hand (see tests/core/test_sampler.py): 2 s and 14 s of output. The
    # headline reads to the cent; the basis line under it keeps every digit (studio.money).
    for segment, seg_cents, whole, whole_cents in (("0.0748", "$0.07", "0.5236", "$0.52"),
                                                    ("0.2988", "$0.30", "2.0916", "$2.09"),
                                                    ("0.0253", "$0.03", "0.1773", "$0.18")):
        assert f"Segment (2.00 s): **{seg_cents}**" in shown
        assert f"Whole clip (14.00 s): **{whole_cents}**" in shown
        assert f"= ${segment}" in shown and f"= ${whole}" in shown  # the basis lines
    # 0.0748 + 0.2988 + 0.0253 = 0.3989 → $0.40; whole clip 0.5236 + 2.0916 + 0.1773 = 2.7925
    assert "**Batch total for the segment: $0.40** (3 generations)" in shown
    assert "the whole clip with every variant would be $2.79" in shown
    assert "Exactly $0.3989 for the segment and $2.7925 for the whole clip" in shown
    submit = at.button(key="sampler:submit")
    assert submit.label == "Submit 3 variants · $0.40"
    submit.click().run()
    assert not at.exception, at.exception
    jobs = _store(data_dir).list()
    assert len(jobs) == 3
    assert sorted((j.model_id, j.params["resolution"]) for j in jobs) == sorted(
        [(STARLIGHT, "1080p"), (STARLIGHT, "4k"), (RHEA, "1080p")])
    assert sum((Decimal(j.quote_usd) for j in jobs), Decimal(0)) == Decimal("0.3989")
    assert len({j.source["url"] for j in jobs}) == 1  # one upload for the three
    assert all(j.clip["frame_count"] == 40 for j in jobs)  # the 2 s segment, not the clip
    g = at.query_params["g"]
    assert set((g if isinstance(g, str) else g[0]).split(",")) == {j.id for j in jobs}


@pytest.mark.parametrize("page", ["sampler", "review"])
def test_the_review_pages_render_without_exception(data_dir, page):
    at = open_page(page)
    assert not at.exception, at.exception
    if page == "review":  # no link: it says what a link looks like
        assert "A review link names 1–4 generations" in texts(at)
    else:
        assert "Add at least two variants" in texts(at)


def test_a_model_page_opens_the_sampler_with_its_current_form(data_dir):
    at = open_page("rhea")
    at.segmented_control(key="rhea:resolution").set_value("4k").run()
    link = next(p for p in at.get("page_link") if "Sampler" in p.proto.label)
    assert link.proto.page.endswith("sampler") or "sampler" in link.proto.page
    at.query_params["model"] = "rhea"
    at.switch_page("pages/sampler.py")
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="sampler:add:model").value == RHEA
    assert at.segmented_control(key="sampler:add:rhea:resolution").value == "4k"


def test_the_hdr_inspector_follows_the_compare_players_playhead(data_dir, realshort):
    # Issue 8 "Where it shows": the inspector measures the frame under the player's playhead.
    # The player reports its settled playhead as component state (compare.js "time"); here
    # that hand-off is the session's copy of it, as render_compare stores it each run.
    from tests.e2e.hdr_seed import seed_hdr_generations

    job = seed_hdr_generations(data_dir, realshort, models=(HYPERION,))[HYPERION]
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/review.py")
    at.query_params["g"] = job.id
    at.run()
    assert not at.exception, at.exception
    view_key = "compare-view:review:compare"
    hdr = f"review:compare:hdr:{job.id}"

    def playhead(seconds):
        at.session_state[view_key] = {"mode": "wipe", "zoom": "fit", "selected": 0,
                                      "time": seconds}

    def frame_caption():
        return next(c.value for c in at.caption if c.value.startswith("Frame "))

    # The player paused at 0.55 s (mid-frame 16 at ~30 frames/s: 0.55 × 29.97 = 16.5,
    # 0.55 × 30 = 16.5), then the inspector is switched on: it opens on that frame.
    playhead(0.55)
    at.run()
    at.toggle(key=f"{hdr}:hdr-on").set_value(True).run()
    assert not at.exception, at.exception
    assert frame_caption().startswith("Frame 16 at 0.53 s"), frame_caption()
    # The player is stepped on to 0.85 s (0.85 × 29.97 = 25.5, 0.85 × 30 = 25.5): frame 25.
    playhead(0.85)
    at.run()
    assert frame_caption().startswith("Frame 25 at 0.8"), frame_caption()
    # The inspector's own slider still works, and a rerun with the same playhead keeps it.
    at.slider(key=f"{hdr}:hdr:t").set_value(0.0).run()
    assert frame_caption().startswith("Frame 0 at 0.00 s"), frame_caption()
    at.run()
    assert frame_caption().startswith("Frame 0 at 0.00 s"), frame_caption()
