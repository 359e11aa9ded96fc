"""Selection ZIPs: files under <generation id>/, a manifest row per file with a streamed SHA-256,
atomic writes, and never an API key."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from studio import manifest
from studio.config import Settings
from studio.jobs import Job, JobStore
from tests.model_ids import RHEA, STARLIGHT

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def _job(tmp_path, name: str, *, files: dict[str, bytes] | None = None, **kw) -> Job:
    result_files = {}
    for label, data in (files or {}).items():
        p = tmp_path / "results" / name / (f"{label}.mp4" if label == "video" else f"{label}.zip")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        result_files[label] = str(p)
    defaults = dict(
        model_id=STARLIGHT, provider="oxen", owner="abc123abc123",
        params={"resolution": "1080p", "target_fps": 30},
        source={"kind": "url", "label": f"{name}.mp4", "url": f"https://cdn.example/{name}.mp4"},
        status="succeeded", remote_id=f"gen-{name}",
        quote={"amount_usd": "1.2345", "provenance": "published"}, charge_usd="1.2345",
        created_at=T0, submitted_at=T0 + timedelta(seconds=1),
        started_at=T0 + timedelta(seconds=5), completed_at=T0 + timedelta(seconds=65.25),
        result_files=result_files,
    )
    defaults.update(kw)
    return Job(**defaults)


def _read(zip_path):
    with zipfile.ZipFile(zip_path) as zf:
        rows = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
        return zf.namelist(), rows, {n: zf.read(n) for n in zf.namelist()}


def test_zip_holds_files_under_generation_ids_and_a_manifest_row_per_file(tmp_path):
    a = _job(tmp_path, "a", files={"video": b"A-video" * 1000, "exr_frames": b"A-exr"})
    b = _job(tmp_path, "b", files={"video": b"B-video"})
    archive = manifest.write_zip([a, b], tmp_path / "out", now=T0)
    assert archive.path.name.startswith("generations-20260701T120000Z-")
    assert archive.path.suffix == ".zip" and archive.files == 3
    names, rows, blobs = _read(archive.path)
    # Folders are the provider's generation ids, the id the app shows (issue 10 item 13).
    assert sorted(names) == sorted(["gen-a/video.mp4", "gen-a/exr_frames.zip",
                                    "gen-b/video.mp4", "manifest.csv"])
    assert list(rows[0]) == list(manifest.COLUMNS)
    assert len(rows) == 3
    for row in rows:
        assert row["sha256"] == hashlib.sha256(blobs[row["file"]]).hexdigest()
        assert row["file"].startswith(row["generation_id"] + "/")
    row = next(r for r in rows if r["file"] == "gen-b/video.mp4")
    assert row == {
        "job_id": b.id, "generation_id": "gen-b", "model": STARLIGHT,
        "parameters": '{"resolution":"1080p","target_fps":30}', "source_label": "b.mp4",
        "source_url": "https://cdn.example/b.mp4", "quote_usd": "1.2345",
        "quote_provenance": "published", "charge_usd": "1.2345", "status": "succeeded",
        "created_at": "2026-07-01T12:00:00+00:00", "submitted_at": "2026-07-01T12:00:01+00:00",
        "started_at": "2026-07-01T12:00:05+00:00", "completed_at": "2026-07-01T12:01:05.250000+00:00",
        "elapsed_s": "65.2", "file": "gen-b/video.mp4", "sha256": row["sha256"],
    }
    assert json.loads(row["parameters"]) == b.params
    assert [p.name for p in (tmp_path / "out").iterdir()] == [archive.path.name]  # no .part


def test_zip_folders_are_the_shown_id_safe_and_unique(tmp_path):
    """Issue 10 item 13: a folder is the id the Generations page shows — the provider's
    generation id, else ours (a sync call gets none) —; a provider's id is made one safe path
    component, and two generations never share a folder. The manifest keeps both ids."""
    sync = _job(tmp_path, "s", files={"video": b"S"}, remote_id=None, mode="sync")
    hostile = _job(tmp_path, "h", files={"video": b"H"}, remote_id="../../etc/pass wd")
    twin_a = _job(tmp_path, "t1", files={"video": b"T1"}, remote_id="gen-same")
    twin_b = _job(tmp_path, "t2", files={"video": b"T2"}, remote_id="gen-same")
    names, rows, blobs = _read(manifest.write_zip([sync, hostile, twin_a, twin_b],
                                                  tmp_path / "out").path)
    assert sorted(names) == sorted([
        f"{sync.id}/video.mp4", "_.._etc_pass_wd/video.mp4", "gen-same/video.mp4",
        f"gen-same-{twin_b.id[:8]}/video.mp4", "manifest.csv"])
    assert not any(part.startswith(".") for n in names for part in n.split("/"))
    by_file = {r["file"]: r for r in rows}
    assert by_file[f"{sync.id}/video.mp4"]["generation_id"] == ""
    assert by_file[f"{sync.id}/video.mp4"]["job_id"] == sync.id
    assert by_file["_.._etc_pass_wd/video.mp4"]["generation_id"] == "../../etc/pass wd"
    assert blobs["gen-same/video.mp4"] == b"T1"
    assert blobs[f"gen-same-{twin_b.id[:8]}/video.mp4"] == b"T2"
    assert by_file[f"gen-same-{twin_b.id[:8]}/video.mp4"]["job_id"] == twin_b.id


def test_jobs_without_files_still_get_a_row(tmp_path):
    failed = _job(tmp_path, "f", status="failed", completed_at=None, charge_usd=None,
                  error="boom")
    gone = _job(tmp_path, "g", result_files={"video": str(tmp_path / "deleted.mp4")})
    expired = _job(tmp_path, "e", result_files={"missing": ""})
    archive = manifest.write_zip([failed, gone, expired], tmp_path / "out")
    names, rows, _ = _read(archive.path)
    assert names == ["manifest.csv"] and archive.files == 0
    assert [r["job_id"] for r in rows] == [failed.id, gone.id, expired.id]
    assert all(r["file"] == "" and r["sha256"] == "" for r in rows)
    assert rows[0]["elapsed_s"] == "" and rows[0]["completed_at"] == ""
    assert set(archive.missing) == {gone.id, expired.id}  # succeeded but nothing on disk


def test_same_file_name_twice_is_disambiguated(tmp_path):
    d = tmp_path / "r"
    (d / "1").mkdir(parents=True)
    (d / "2").mkdir()
    (d / "1" / "out.mp4").write_bytes(b"one")
    (d / "2" / "out.mp4").write_bytes(b"two")
    job = _job(tmp_path, "x", result_files={"video": str(d / "1" / "out.mp4"),
                                            "preview": str(d / "2" / "out.mp4")})
    names, _, blobs = _read(manifest.write_zip([job], tmp_path / "out").path)
    assert {blobs[n] for n in names if n != "manifest.csv"} == {b"one", b"two"}


def test_sha256_is_streamed_in_blocks(tmp_path, monkeypatch):
    data = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "big.bin").write_bytes(data)
    reads = []
    real_open = open

    class Spy:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def read(self, n=-1):
            reads.append(n)
            return self.fh.read(n)

    from studio import checksums  # the manifest's hashing lives there (memoised per version)

    monkeypatch.setattr(checksums, "open", lambda p, m: Spy(real_open(p, m)), raising=False)
    assert manifest.file_sha256(tmp_path / "big.bin") == hashlib.sha256(data).hexdigest()
    assert reads and all(0 < n <= 1 << 20 for n in reads)


def test_userinfo_is_stripped_from_urls(tmp_path):
    job = _job(tmp_path, "u", source={"kind": "url", "label": "u.mp4",
                                      "url": "https://alice:s3cret@cdn.example/u.mp4?x=1"})
    _, rows, _ = _read(manifest.write_zip([job], tmp_path / "out").path)
    assert rows[0]["source_url"] == "https://cdn.example/u.mp4?x=1"


def test_the_zip_never_contains_the_api_key(tmp_path):
    key = "oxen-live-KEY-do-not-leak-7f3a9c"
    settings = Settings.from_mapping({"OXEN_API_KEY": key, "STUDIO_DATA_DIR": str(tmp_path)})
    store = JobStore(tmp_path / "jobs.sqlite3")
    job = _job(tmp_path, "k", owner=settings.owner(), owner_name="Ada",
               files={"video": b"result bytes"})
    store.insert(job)
    archive = manifest.write_zip(store.list(), tmp_path / "out")
    raw = archive.path.read_bytes()
    with zipfile.ZipFile(archive.path) as zf:
        unpacked = b"".join(zf.read(n) for n in zf.namelist())
    for blob in (raw, unpacked, (tmp_path / "jobs.sqlite3").read_bytes()):
        assert key.encode() not in blob


@pytest.mark.slow
def test_a_real_keyed_generation_exports_without_its_key(tmp_path, realshort):
    """Submit with a distinctive key through the real client (the sandbox accepts any
    bearer token), track it to its downloaded result, export it, grep the ZIP."""
    from studio.local_sandbox import start_sandbox
    from studio.service import Source, Studio

    key = "oxen-live-KEY-do-not-leak-0c1d2e"
    sb = start_sandbox(tmp_path / "sbx", port=None, workers=1)
    try:
        base = {"OXEN_BASE_URL": sb.url, "LTX_BASE_URL": sb.url}
        plain = Studio(Settings.from_mapping({**base, "STUDIO_DATA_DIR": str(tmp_path / "a")}),
                       JobStore(tmp_path / "a.sqlite3"), sandbox_url=sb.url)
        url, _ = plain.resolve_source("oxen", Source("upload", "realshort.mp4", path=realshort))
        keyed = Studio(Settings.from_mapping({**base, "OXEN_API_KEY": key,
                                              "STUDIO_DATA_DIR": str(tmp_path / "b")}),
                       JobStore(tmp_path / "b.sqlite3"), sandbox_url=sb.url)
        prepared = keyed.prepare(RHEA, Source("url", "realshort.mp4", url=url),
                                 {"resolution": "720p"})
        [job] = keyed.submit(prepared)
        deadline = time.monotonic() + 120
        while not (job := keyed.store.get(job.id)).result_files:
            assert time.monotonic() < deadline and job.status not in ("failed", "cancelled"), job
            keyed.tracker.poll_due(now=time.time() + 60)
            keyed.tracker.download_results()
            time.sleep(0.2)
        archive = manifest.write_zip([job], tmp_path / "out")
    finally:
        sb.stop()
    assert archive.files >= 1
    raw = archive.path.read_bytes()
    with zipfile.ZipFile(archive.path) as zf:
        unpacked = b"".join(zf.read(n) for n in zf.namelist())
    assert key.encode() not in raw and key.encode() not in unpacked
    assert job.owner == Settings.from_mapping({"OXEN_API_KEY": key}).owner()


def test_prune_removes_only_old_exports(tmp_path):
    out = tmp_path / "out"
    old = manifest.write_zip([], out).path
    new = manifest.write_zip([], out).path
    (out / "keep.txt").write_text("not ours")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert manifest.prune_exports(out) == 1
    assert not old.exists() and new.exists() and (out / "keep.txt").exists()


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    job = _job(tmp_path, "p", files={"video": b"data"})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(manifest, "file_sha256", boom)
    with pytest.raises(OSError):
        manifest.write_zip([job], tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
