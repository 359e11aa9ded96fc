"""The HDR inspector's MaxCLL/MaxFALL comes from the media work queue (AppTest).

While an ``hdr_analysis`` row of the result is being worked on — here by another process,
a ``studio worker`` — the panel shows that row's progress and measures nothing itself; only a
video without a row (a source, or a store from before the queue) is measured in a thread of
the app.
"""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from studio.jobs import Job, JobStore
from studio.media import hdr
from studio.tracking.work import WorkQueue
from tests.core.media_clips import PQ, grey_patch_planes, pq_code, write_code_clip


def _inspector(job_id: str) -> None:
    from components.hdr_inspector import render_hdr_inspector
    from components.services import current_studio

    studio = current_studio()
    render_hdr_inspector(studio, studio.store.get(job_id), key="t")


def _progress_texts(at: AppTest) -> list[str]:
    return [el.proto.text for el in at.get("progress")]


@pytest.fixture
def pq_result(data_dir):
    folder = data_dir / "results" / "g"
    folder.mkdir(parents=True)
    codes = [pq_code(t, 10) for t in (0.1, 100.0, 1000.0)]
    video = write_code_clip(folder / "video.mkv",
                            grey_patch_planes(codes, bits=10, patch=32, chroma_sub=2, frames=3),
                            trc=PQ, bits=10, codec="libx265")
    store = JobStore(data_dir / "jobs.sqlite3")
    job = store.insert(Job(model_id="topazlabs-hyperion-hdr-video", provider="oxen", owner="o",
                           params={}, source={}, status="succeeded", remote_id="g",
                           result_urls={"video": "https://cdn/v"},
                           result_files={"video": str(video)}))
    yield store, job
    store.close()


def test_the_inspector_shows_the_queued_analysis_and_measures_nothing_itself(
        data_dir, pq_result, monkeypatch):
    monkeypatch.setenv("STUDIO_MEDIA_WORKERS", "0")  # the work is a worker's, not this app's
    store, job = pq_result
    started: list[str] = []
    real = hdr.analyse_in_background

    def counted(source, *a, **kw):
        started.append(str(source))
        return real(source, *a, **kw)

    monkeypatch.setattr(hdr, "analyse_in_background", counted)
    queue = WorkQueue(store)
    queue.enqueue(job.id, "hdr_analysis")
    row = queue.claim("worker@elsewhere:1:a", time.time(), kinds=["hdr_analysis"])
    assert row is not None
    queue.renew(row.id, "worker@elsewhere:1:a", progress=0.4,
                detail="measuring MaxCLL/MaxFALL")

    at = AppTest.from_function(_inspector, args=(job.id,), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    assert "Measuring MaxCLL/MaxFALL over every frame… 40%" in _progress_texts(at)
    assert started == [], "the app measured a clip the work queue is measuring"
    assert not (data_dir / "analysis").exists()

    # The row hands back (its worker stopped) and fails for good: the sentence and a retry.
    queue.fail(row.id, "worker@elsewhere:1:a", failure="error", error="the file is damaged",
               retry_at=None, attempts=1)
    at.run()
    assert "MaxCLL/MaxFALL could not be measured: the file is damaged" in [
        w.value for w in at.warning]
    assert started == []
    at.button(key="t:cll-retry").click().run()
    assert queue.for_job(job.id)["hdr_analysis"].status == "pending"

    # Without a row (a store from before the queue) the panel measures in its own thread.
    store.update(job.id, result_files={"video": job.result_files["video"]})
    with store.transaction() as conn:
        conn.exec_driver_sql("DELETE FROM work")
    at.run()
    assert started == [job.result_files["video"]]
