"""Bounded result downloads (studio.tracking.downloads) against a local server: names from
the generation, schemes and redirects, size caps, resume, stopping, and the check that a file
is what the model promises."""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from studio.tracking.downloads import (
    DownloadError,
    DownloadLimits,
    FailureKind,
    Fetcher,
    abort,
    check_exr_zip,
    check_result,
    result_name,
)
from tests.hostile.server import exr_frame

BODY = bytes(range(256)) * 4096  # 1 MiB, recognisable


class Files(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ranges: list[str | None] = []
    auth: list[str | None] = []
    drop_after: int | None = None  # first answer stops after this many bytes

    def log_message(self, *a):
        pass

    def do_GET(self):  # noqa: N802
        Files.auth.append(self.headers.get("Authorization"))
        Files.ranges.append(self.headers.get("Range"))
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.path.split("to=", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and self.path.startswith("/ranged"):
            start = int(rng.split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(BODY) - 1}/{len(BODY)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(BODY) - start))
        self.end_headers()
        data = BODY[start:]
        if Files.drop_after is not None:
            self.wfile.write(data[:Files.drop_after])
            self.wfile.flush()
            Files.drop_after = None
            # A reset mid-body (a dropped connection), not a clean short answer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        self.wfile.write(data)


@pytest.fixture
def server():
    Files.ranges, Files.auth, Files.drop_after = [], [], None
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def fetcher(**limits) -> Fetcher:
    origin = "http://127.0.0.1"
    return Fetcher(requests.Session(),
                   lambda url: {"Authorization": "Bearer k"} if url.startswith(origin) else {},
                   DownloadLimits(**{"min_free_bytes": 0, **limits}))


@pytest.mark.parametrize("url, label, expected", [
    ("https://cdn/x/..", "video", "video.mp4"),
    ("https://cdn/x/" + "a" * 300 + ".mov", "video", "video.mp4"),  # too long: default ext
    ("https://cdn/out.MOV?sig=1", "video", "video.mov"),
    ("https://cdn/frames.zip", "exr_frames", "exr_frames.zip"),
    ("https://cdn/f.tar.gz%2F..%2F..%2Fetc", "exr_frames", "exr_frames.zip"),
    ("https://cdn/a", "../../evil", "______evil.bin"),
])
def test_local_names_come_from_the_generation_not_the_link(url, label, expected):
    assert result_name(label, url) == expected


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://h/x.mp4", "javascript:alert(1)",
                                 "data:video/mp4;base64,AAAA", "http:///nohost", "not a url"])
def test_links_that_are_not_http_are_refused_before_any_io(url, tmp_path):
    with pytest.raises(DownloadError) as failed:
        fetcher().fetch(url, tmp_path / "video.mp4")
    assert failed.value.kind is FailureKind.UNSUPPORTED_SCHEME and not failed.value.transient
    assert not list(tmp_path.iterdir())


def test_a_redirect_to_a_file_url_is_refused_and_the_key_never_follows_off_origin(server,
                                                                                 tmp_path):
    with pytest.raises(DownloadError) as failed:
        fetcher().fetch(f"{server}/redirect?to=file:///etc/passwd", tmp_path / "v.mp4")
    assert failed.value.kind is FailureKind.REFUSED_REDIRECT
    other = server.replace("127.0.0.1", "localhost")
    got = fetcher().fetch(f"{server}/redirect?to={other}/plain", tmp_path / "v.mp4")
    assert got.size == len(BODY) and Files.auth == ["Bearer k", "Bearer k", None]


def test_content_length_over_the_cap_is_refused_before_reading(server, tmp_path):
    with pytest.raises(DownloadError) as failed:
        fetcher(max_bytes=1000).fetch(f"{server}/plain", tmp_path / "v.mp4")
    assert failed.value.kind is FailureKind.TOO_LARGE
    assert not list(tmp_path.iterdir())


def test_a_broken_transfer_resumes_with_a_range_request(server, tmp_path):
    Files.drop_after = 300_000
    dest = tmp_path / "v.mp4"
    with pytest.raises(DownloadError) as failed:
        fetcher().fetch(f"{server}/ranged", dest)
    assert failed.value.transient
    part = dest.with_name("v.mp4.part")
    assert 0 < part.stat().st_size <= 300_000  # kept for the next try
    kept = part.stat().st_size
    got = fetcher().fetch(f"{server}/ranged", dest)
    assert Files.ranges[-1] == f"bytes={kept}-"  # only the rest was asked for
    assert dest.read_bytes() == BODY and got.size == len(BODY) and not part.exists()
    assert got.sha256 == hashlib.sha256(BODY).hexdigest()


def test_a_server_that_ignores_range_restarts_cleanly(server, tmp_path):
    dest = tmp_path / "v.mp4"
    dest.with_name("v.mp4.part").write_bytes(b"stale bytes from another try")
    fetcher().fetch(f"{server}/plain", dest)  # answers 200 to the Range: start over
    assert dest.read_bytes() == BODY


def test_abort_from_another_thread_stops_a_blocked_read_at_once(tmp_path):
    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(30)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    live, cancel, outcome = [], threading.Event(), {}

    def run():
        try:
            fetcher().fetch(f"http://127.0.0.1:{srv.server_address[1]}/", tmp_path / "v.mp4",
                            cancel=cancel, on_response=live.append)
        except DownloadError as exc:
            outcome["kind"] = exc.kind

    t = threading.Thread(target=run)
    t.start()
    while not live:
        time.sleep(0.05)
    time.sleep(0.3)
    started = time.monotonic()
    cancel.set()
    abort(live[0])
    t.join(15)
    assert time.monotonic() - started < 10  # not the drip download's minutes
    assert outcome["kind"] is FailureKind.CANCELLED
    assert not list(tmp_path.glob("*.part"))
    srv.shutdown()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_exr_zip_check_reads_headers_and_sizes_without_decoding(tmp_path):
    good = _zip(tmp_path / "g.zip", {"f_0001.exr": exr_frame(64, 32),
                                     "f_0002.exr": exr_frame(64, 32)})
    found = check_exr_zip(good, DownloadLimits())
    assert (found.frames, found.width, found.height) == (2, 64, 32)
    assert found.preview_problem(DownloadLimits(max_frame_pixels=64 * 32)) is None
    assert "64×32" in found.preview_problem(DownloadLimits(max_frame_pixels=100))

    not_exr = _zip(tmp_path / "n.zip", {"f_0001.exr": b"<html>nope</html>" * 10})
    with pytest.raises(DownloadError) as failed:
        check_exr_zip(not_exr, DownloadLimits())
    assert failed.value.kind is FailureKind.WRONG_KIND and "HTML" in str(failed.value)

    empty = _zip(tmp_path / "e.zip", {"notes.txt": b"hello"})
    with pytest.raises(DownloadError, match="holds no .exr frames"):
        check_exr_zip(empty, DownloadLimits())

    truncated = tmp_path / "t.zip"
    truncated.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(DownloadError) as failed:
        check_result("exr_frames", truncated, DownloadLimits())
    assert failed.value.kind is FailureKind.WRONG_KIND


def test_a_zip_member_bigger_than_it_declares_is_not_trusted(tmp_path):
    path = _zip(tmp_path / "lie.zip", {"f_0001.exr": exr_frame(64, 32) + b"\0" * 100_000})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("f_0001.exr")
    # Lower the declared uncompressed size in the local header and the central directory.
    real = info.file_size.to_bytes(4, "little")
    data = data.replace(real, (1000).to_bytes(4, "little"))
    path.write_bytes(bytes(data))
    with pytest.raises(DownloadError) as failed:
        check_exr_zip(path, DownloadLimits())
    assert failed.value.kind in (FailureKind.SIZE_MISMATCH, FailureKind.WRONG_KIND)


def test_a_video_result_must_be_a_video(tmp_path, realshort):
    from studio import media

    page = tmp_path / "page.mp4"
    page.write_bytes(b"<!DOCTYPE html><html><body>Sign in</body></html>")
    with pytest.raises(DownloadError, match="HTML page"):
        check_result("video", page, DownloadLimits(), probe=media.probe)
    half = tmp_path / "half.mp4"
    half.write_bytes(realshort.read_bytes()[: realshort.stat().st_size // 3])
    with pytest.raises(DownloadError) as failed:
        check_result("video", half, DownloadLimits(), probe=media.probe)
    assert failed.value.kind is FailureKind.WRONG_KIND
    check_result("video", realshort, DownloadLimits(), probe=media.probe)  # a real one passes


def test_a_second_worker_never_writes_into_a_download_in_progress(server, tmp_path):
    import fcntl

    dest = tmp_path / "v.mp4"
    part = dest.with_name("v.mp4.part")
    with open(part, "ab") as held:  # a worker whose lease expired, still writing
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write(b"theirs")
        held.flush()
        with pytest.raises(DownloadError, match="another worker") as failed:
            fetcher().fetch(f"{server}/plain", dest)
        assert failed.value.transient
    assert part.read_bytes() == b"theirs" and not dest.exists()


def test_a_download_that_would_fill_the_disk_waits_with_a_sentence(server, tmp_path,
                                                                    monkeypatch):
    """The free-disk floor (STUDIO_MIN_FREE_DISK_MB): with less room than the result plus the
    floor, nothing is written and the failure is a passing one (tried again later)."""
    import shutil

    real = shutil.disk_usage
    free = len(BODY) + 500  # room for the body, but not for the body plus a 1,000 B floor
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda p: real(p)._replace(free=free))
    with pytest.raises(DownloadError) as failed:
        fetcher(min_free_bytes=1000).fetch(f"{server}/plain", tmp_path / "v.mp4")
    assert failed.value.transient
    assert "kept free" in str(failed.value) and "STUDIO_MIN_FREE_DISK_MB" in str(failed.value)
    assert not list(tmp_path.iterdir())
    monkeypatch.setattr(shutil, "disk_usage", real)  # room again: the same fetch succeeds
    assert fetcher(min_free_bytes=1000).fetch(f"{server}/plain", tmp_path / "v.mp4").size \
        == len(BODY)
