"""HDR analyses are media work claimed from the database (issue 11, scope 4).

``hdr_analysis`` follows a result's download: for a PQ/HLG video it measures MaxCLL/MaxFALL
into ``<data dir>/analysis`` where the HDR inspector reads it; for any other result it
settles as done without decoding a frame; stopping the process hands the row back. Expected
light levels come from the standards (tests/core/media_clips.py: PQ code values of the
patch targets), never from studio.media.hdr.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.jobs import Job, JobStore
from studio.media import hdr
from studio.tracking.downloads import DownloadLimits
from studio.tracking.results import HDR_ANALYSIS, MediaServices, default_registry
from studio.tracking.work import WorkKind, WorkPool, WorkQueue, WorkStatus

from .media_clips import PQ, code_nits, grey_patch_planes, pq_code, write_code_clip

PQ_TARGETS = [0.1, 100.0, 1000.0, 4000.0]


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "data" / "jobs.sqlite3")
    yield s
    s.close()


def _pq_clip(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    codes = [pq_code(t, 10) for t in PQ_TARGETS]
    return write_code_clip(folder / "video.mkv",
                           grey_patch_planes(codes, bits=10, patch=32, chroma_sub=2, frames=3),
                           trc=PQ, bits=10, codec="libx265")


def _result(store: JobStore, files: dict[str, str]) -> Job:
    return store.insert(Job(model_id="topazlabs-hyperion-hdr-video", provider="oxen",
                            owner="o", params={}, source={}, status="succeeded",
                            remote_id="g", result_urls={k: f"https://cdn/{k}" for k in files},
                            result_files=files))


def _pool(store: JobStore, data: Path, *, memory_mb: int | None) -> WorkPool:
    """A pool whose ``download`` finds the file already there (no provider involved)."""
    services = MediaServices(store, lambda job: None, data / "results", data / "previews",
                             DownloadLimits(), media_memory_mb=memory_mb)
    registry = default_registry()
    registry["download"] = WorkKind("download", run=lambda ctx: None)
    return WorkPool(WorkQueue(store), services, threads=0, registry=registry,
                    kinds=["download", HDR_ANALYSIS], worker_id="pool@test:1:a")


def test_a_pq_result_is_measured_after_its_download_into_the_inspectors_cache(
        tmp_path, store, monkeypatch):
    data = tmp_path / "data"
    video = _pq_clip(data / "results" / "g1")
    job = _result(store, {"video": str(video)})
    pool = _pool(store, data, memory_mb=1024)  # the app's default: a memory-capped child
    progress: list[tuple[float | None, str | None]] = []
    renew = pool.queue.renew

    def spy(item_id, worker_id, **kw):
        progress.append((kw.get("progress"), kw.get("detail")))
        return renew(item_id, worker_id, **kw)

    monkeypatch.setattr(pool.queue, "renew", spy)
    pool.queue.enqueue(job.id, "download")
    assert pool.run_due() == 2  # the download, then the analysis it queued

    row = pool.queue.for_job(job.id)[HDR_ANALYSIS]
    assert row.status == WorkStatus.DONE and row.done_by == "pool@test:1:a", row
    measured = hdr.load_clip_analysis(video, data / "analysis",
                                      hlg_peak_nits=hdr.HLG_NOMINAL_PEAK_NITS)
    assert measured is not None, "no analysis where the inspector looks"
    assert measured.max_cll == pytest.approx(4000.0, rel=0.01)  # the brightest PQ patch
    assert measured.max_fall == pytest.approx(
        sum(code_nits(pq_code(t, 10), 10, PQ) for t in PQ_TARGETS) / len(PQ_TARGETS), rel=1e-3)
    assert measured.frame_count == 3
    assert (0.0, "measuring MaxCLL/MaxFALL") in progress


def test_a_result_that_is_not_hdr_settles_without_decoding(tmp_path, store, realshort,
                                                           monkeypatch):
    data = tmp_path / "data"
    sdr = data / "results" / "g2" / "video.mp4"
    sdr.parent.mkdir(parents=True)
    shutil.copy(realshort, sdr)
    sdr_job = _result(store, {"video": str(sdr)})
    exr_job = _result(store, {"exr_frames": str(data / "results" / "g3" / "frames.zip")})

    def boom(*_a, **_k):
        raise AssertionError("an SDR or EXR result must not be decoded for light levels")

    monkeypatch.setattr(hdr, "analyse_clip", boom)
    monkeypatch.setattr(hdr, "frame_light_level", boom)
    pool = _pool(store, data, memory_mb=None)  # in this process, so the patches would see it
    for j in (sdr_job, exr_job):
        pool.queue.enqueue(j.id, "download")
    assert pool.run_due() == 4
    for j in (sdr_job, exr_job):
        row = pool.queue.for_job(j.id)[HDR_ANALYSIS]
        assert row.status == WorkStatus.DONE and row.error is None, row
    assert not (data / "analysis").exists() or not any((data / "analysis").iterdir())


def test_stopping_the_process_hands_the_analysis_back(tmp_path, store):
    data = tmp_path / "data"
    video = _pq_clip(data / "results" / "g4")
    job = _result(store, {"video": str(video)})
    pool = _pool(store, data, memory_mb=None)
    pool.queue.enqueue(job.id, HDR_ANALYSIS)
    pool.stop()  # the process is stopping: its cancel is set
    pool.run_due(limit=1)
    row = pool.queue.for_job(job.id)[HDR_ANALYSIS]
    assert row.status == WorkStatus.PENDING and row.lease_owner is None and row.attempts == 0, row
    assert hdr.load_clip_analysis(video, data / "analysis") is None
