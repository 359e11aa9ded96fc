"""Issue 9: no provider answer can stall, bloat or blind the tracker.

One ``python -m studio track --until-done`` process tracks a generation for every case of the
hostile provider (``tests/hostile/server.py``) at once, with a live key the provider echoes.
Each generation must end in a stated state with its reason, the good ones must still be
downloaded (one of them while a 1-byte-per-5-s download runs), the process must exit, and
the key must be nowhere: not in the data dir, not in what the command printed. Nothing may
be written outside the data dir.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.jobs import Job, JobStore, utcnow
from studio.tracker import STALL_AFTER, next_poll_delay
from studio.tracking.results import DOWNLOAD_FAILED, PREVIEW_FAILED
from studio.tracking.work import WorkQueue
from tests.hostile.server import CASES, HostileProvider, build_files

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # about 1.5 min: real track processes against every case
KEY = "sk-live-HOSTILE0123456789abcdef"
MAX_RESULT_MB = 64

# case → (what the user should see). "download": the result file is there;
# a FailureKind value: the download settled with that class; "preview:<kind>": downloaded,
# the preview settled; "stalled": status answers unusable, the generation says why;
# "failed": the provider's failure, scrubbed.
EXPECTED = {
    "good": "download", "late": "download", "dotdot": "download", "longname": "download",
    "expired_refresh": "download",
    "drip": "transient", "endless": "too_large", "short_body": "size_mismatch",
    "file_scheme": "unsupported_scheme", "ftp_scheme": "unsupported_scheme",
    "js_scheme": "unsupported_scheme", "redirect_file": "refused_redirect",
    "html_result": "wrong_kind", "nonexr_zip": "wrong_kind", "truncated_mp4": "wrong_kind",
    "zipbomb": "too_large", "expired": "expired",
    "bigexr": "preview:too_large",
    "hugejson": "stalled", "auth_echo": "stalled", "unknown_status": "stalled",
    "failed_echo": "failed", "markdown_error": "failed",
}
SETTLE_AT_ONCE = {"file_scheme", "ftp_scheme", "js_scheme", "redirect_file", "expired",
                  "html_result", "nonexr_zip", "truncated_mp4", "short_body", "endless",
                  "zipbomb"}


def test_every_case_has_an_expectation():
    assert set(EXPECTED) == set(CASES)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    server = HostileProvider(build_files(tmp_path_factory.mktemp("hostile-files")), KEY)
    yield server.start()
    server.stop()


@pytest.fixture(autouse=True)
def fresh_counts(request):
    """Each test starts with status answers counted from zero (``late`` flips on its 2nd)."""
    if "hostile" in request.fixturenames:
        request.getfixturevalue("hostile").polls.clear()


def seed(data: Path, cases) -> dict[str, str]:
    """One queued live Oxen generation per case (its remote id is the case); job ids."""
    store = JobStore(data / "jobs.sqlite3")
    ids = {}
    for case in cases:
        job = store.insert(Job(
            model_id="topazlabs-rhea-video", provider="oxen", owner="o", params={},
            source={"kind": "url", "label": f"{case}.mp4", "url": "https://example.com/in.mp4"},
            status="queued", remote_id=case, target="live", next_poll_at=0.0,
            submitted_at=utcnow()))
        ids[case] = job.id
    store.close()
    return ids


def track_env(data: Path, url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OXEN_", "LTX", "STUDIO_"))}
    env.update(
        OXEN_API_KEY=KEY, OXEN_BASE_URL=url, LTX_BASE_URL=url, STUDIO_DATA_DIR=str(data),
        HOME=str(home), XDG_DATA_HOME=str(home / "xdg"), PYTHONPATH=str(REPO),
        STUDIO_MAX_RESULT_MB=str(MAX_RESULT_MB), STUDIO_DOWNLOAD_GRACE_S="3",
        STUDIO_DOWNLOAD_TRIES="2", STUDIO_DOWNLOAD_BACKOFF_S="1", STUDIO_MIN_FREE_DISK_MB="1")
    return env


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for path in root.rglob("*"):
        if skip in path.parents or path == skip or not path.is_file():
            continue
        st = path.stat()
        out[str(path)] = (st.st_size, st.st_mtime_ns)
    return out


def _loopback_buffers_mib() -> int:
    """The most a TCP connection's receive and send buffers can hold together, in MiB (the
    third field of ``/proc/sys/net/ipv4/tcp_rmem`` and ``tcp_wmem``; 16 where /proc does
    not say)."""
    try:
        most = sum(int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[2])
                   for name in ("tcp_rmem", "tcp_wmem"))
    except (OSError, ValueError, IndexError):
        return 16
    return -(-most // (1 << 20))


def test_hostile_provider_every_case_ends_with_its_reason(hostile, tmp_path, realshort):
    data, home, cwd = tmp_path / "data", tmp_path / "home", tmp_path / "cwd"
    for folder in (home, cwd):
        folder.mkdir()
    (cwd / "notes.txt").write_text("the user's own file\n")
    ids = seed(data, CASES)
    before = snapshot(tmp_path, data)
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "studio", "track", "--until-done", "--interval", "0.5"],
        cwd=cwd, env=track_env(data, hostile.url, home), capture_output=True, text=True,
        timeout=300)
    took = time.time() - started
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]

    store = JobStore(data / "jobs.sqlite3")
    work = WorkQueue(store)
    problems = []
    for case, expect in EXPECTED.items():
        job = store.get(ids[case])
        rows = work.for_job(job.id)
        download, preview = rows.get("download"), rows.get("preview")
        if expect == "download":
            got = Path(job.result_files.get("video", "/nonexistent"))
            ok = (job.status == "succeeded" and got.read_bytes() == realshort.read_bytes()
                  and got.parent == data / "results" / job.id and not job.error)
        elif expect.startswith("preview:"):
            ok = (job.status == "succeeded" and Path(job.result_files["exr_frames"]).is_file()
                  and preview is not None and preview.status == "failed"
                  and preview.failure == expect.split(":")[1]
                  and job.error == PREVIEW_FAILED.format(preview.error))
        elif expect == "stalled":
            ok = (job.status == "queued" and job.poll_failures >= STALL_AFTER
                  and bool(job.error) and not job.result_files)
        elif expect == "failed":
            ok = job.status == "failed" and bool(job.error)
        else:
            ok = (job.status == "succeeded" and not job.result_files and download is not None
                  and download.status == "failed" and download.failure == expect
                  and job.error == DOWNLOAD_FAILED.format(download.error))
            if ok and case in SETTLE_AT_ONCE:
                ok = download.attempts == 1  # settled at once, not retried
        if not ok:
            problems.append(f"{case}: status={job.status} error={job.error!r} "
                            f"files={job.result_files} work={rows}")
    assert not problems, "\n".join(problems)

    # The sentences say what happened, in words (spot checks of what a person reads).
    said = {case: store.get(ids[case]).error or "" for case in EXPECTED}
    assert "only http(s) links are downloaded" in said["file_scheme"]
    assert "redirects to a file: address" in said["redirect_file"]
    assert "HTML page" in said["html_result"]
    assert "too slowly" in said["drip"] and "gave up after 2 tries" in said["drip"]
    assert f"{MAX_RESULT_MB / 1.048576:.0f}" in said["endless"] or "limit" in said["endless"]
    assert "more than 8 MB" in said["hugejson"]
    assert "“exploding”" in said["unknown_status"]
    assert "16,384×16,384" in said["bigexr"]
    assert "expired" in said["expired"]

    # An endless body stops at the size cap, not later (no draining of the rest): the server
    # can write at most the cap plus what the loopback socket buffers hold before it sees the
    # hang-up. Linux grows those up to net.ipv4.tcp_rmem/tcp_wmem's maximum (32 + 4 MiB here:
    # CI f2 saw 84 MiB sent for a 64 MB cap).
    stopped = [what for _t, who, what in hostile.events
               if who == "endless" and what.startswith("stopped")]
    bound = MAX_RESULT_MB + _loopback_buffers_mib() + 1  # + the 1 MiB block being written
    assert stopped and all(int(w.split()[2]) <= bound for w in stopped), (stopped, bound)

    # The key is nowhere: not in any file of the data dir, not in what track printed.
    assert KEY not in output
    for path in data.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), f"key found in {path}"
    for case in ("failed_echo", "auth_echo"):
        assert "[redacted]" in said[case]

    # Nothing written outside the data dir; inside it, results only under results/<job id>/.
    assert snapshot(tmp_path, data) == before
    for path in (data / "results").rglob("*"):
        if path.is_file():
            assert path.parent.parent == data / "results" and path.parent.name in ids.values()
            assert path.name in ("video.mp4", "exr_frames.zip"), path
    assert not list(data.rglob("*.part"))
    assert took < 240


def test_a_good_result_is_downloaded_while_a_drip_download_runs(hostile, tmp_path):
    """``late`` succeeds on its 2nd status answer; its result must be in within two poll
    intervals of that answer while the 1-byte-per-5-s ``drip`` download holds a worker."""
    data, home = tmp_path / "data", tmp_path / "home"
    home.mkdir()
    ids = seed(data, ["drip", "late"])
    env = track_env(data, hostile.url, home)
    env.update(STUDIO_DOWNLOAD_GRACE_S="60", STUDIO_DOWNLOAD_TRIES="1")  # drip keeps going
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "studio", "track", "--interval", "0.5"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 90
        store = JobStore(data / "jobs.sqlite3")
        while time.time() < deadline and not store.get(ids["late"]).result_files:
            time.sleep(0.2)
        late = store.get(ids["late"])
        assert late.result_files, "the late generation was never downloaded"
        succeeded_at = hostile.first("late", "succeeded", t0)
        sent_at = hostile.first("late", "result sent", t0)
        # A drip connection of this run was open from before until after `late` was sent.
        spans = [(start, end) for start, end in hostile.drips if start >= t0]
        assert any(start < sent_at and (end is None or end > sent_at) for start, end in spans), (
            spans, sent_at)
        interval = next_poll_delay(1)  # the wait between the two polls of `late`
        assert sent_at - succeeded_at <= 2 * interval, (sent_at - succeeded_at, interval)
        # SIGTERM stops it within 2 s and removes the partial drip download.
        stop = time.time()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        took = time.time() - stop
        assert took <= 2.0, f"track took {took:.2f} s to stop"
        assert not list(data.rglob("*.part"))
        drip = WorkQueue(store).for_job(ids["drip"])["download"]
        assert drip.status == "pending" and drip.lease_owner is None  # handed back, resumable
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
