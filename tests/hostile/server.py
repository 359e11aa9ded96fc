"""A hostile provider on loopback: Oxen's status routes answering every odd case of issue 9.

Each *case* is a generation id. ``GET /api/ai/queue/<case>`` answers that generation's status
(``succeeded`` with a hostile ``result_url`` for most), and ``GET /r/...?g=<case>`` serves its
result the hostile way. Built on ``http.server`` rather than FastAPI because several cases
need byte-level control of the answer (a body that drips, never ends, or stops short of its
Content-Length).

The server records what happened (``events``: when each case's status first said
``succeeded``, when each result body was sent whole, every request path) so tests assert
from the server's side. ``python -m tests.hostile.server --port 0`` runs it on its own and
prints its URL (for ``bench/hostile_rss.py``).

Cases (see :data:`CASES`): ``good``, ``late`` (succeeds on its 2nd status answer),
``dotdot`` and ``longname`` (odd last URL segments, good MP4), ``drip`` (1 byte per 5 s),
``endless`` (no Content-Length, never ends), ``short_body`` (ends short of its
Content-Length), ``file_scheme`` / ``ftp_scheme`` / ``js_scheme`` (result links that are not
http), ``redirect_file`` (302 to ``file:///etc/passwd``), ``html_result``, ``nonexr_zip``,
``truncated_mp4``, ``zipbomb`` (1 MB ZIP holding a 1 GiB member), ``bigexr`` (ZIP of two
16384×16384 half-float EXRs), ``hugejson`` (a 500 MB status body), ``auth_echo`` (401
echoing the bearer key), ``failed_echo`` (failed, ``error_message`` quoting the key),
``markdown_error`` (failed, ``error_message`` with a remote image in Markdown and HTML),
``unknown_status``, ``expired`` (403 "Request has expired", refreshed link expired too),
``expired_refresh`` (expired link, a fresh one on the next status read). Outside
:data:`CASES`: ``retry_fixes`` serves an HTML page until its case is in
:attr:`HostileProvider.fixed`, then the video (for the retry action).
"""

from __future__ import annotations

import argparse
import json
import struct
import threading
import time
import zipfile
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"

CASES = (
    "good", "late", "dotdot", "longname", "drip", "endless", "short_body", "file_scheme",
    "ftp_scheme", "js_scheme", "redirect_file", "html_result", "nonexr_zip", "truncated_mp4",
    "zipbomb", "bigexr", "hugejson", "auth_echo", "failed_echo", "markdown_error",
    "unknown_status", "expired", "expired_refresh",
)
DRIP_INTERVAL_S = 5.0
HUGE_JSON_BYTES = 500 * 1000 * 1000


# -- files a hostile provider serves ---------------------------------------------------------

def _exr_header(width: int, height: int) -> bytes:
    """An OpenEXR scanline header (half-float B, G, R; ZIP compression) for a frame of
    ``width`` × ``height`` pixels (OpenEXR file layout: attributes name\\0 type\\0 size value)."""

    def attr(name: str, kind: str, value: bytes) -> bytes:
        return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value

    channels = b"".join(c.encode() + b"\0" + struct.pack("<iBBBBii", 1, 0, 0, 0, 0, 1, 1)
                        for c in ("B", "G", "R")) + b"\0"
    window = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    return (b"\x76\x2f\x31\x01" + struct.pack("<I", 2)
            + attr("channels", "chlist", channels)
            + attr("compression", "compression", b"\x03")  # ZIP_COMPRESSION: 16 lines a block
            + attr("dataWindow", "box2i", window) + attr("displayWindow", "box2i", window)
            + attr("lineOrder", "lineOrder", b"\x00")
            + attr("pixelAspectRatio", "float", struct.pack("<f", 1.0))
            + attr("screenWindowCenter", "v2f", struct.pack("<ff", 0.0, 0.0))
            + attr("screenWindowWidth", "float", struct.pack("<f", 1.0)) + b"\0")


def exr_frame(width: int, height: int) -> bytes:
    """A valid OpenEXR file of ``width`` × ``height`` black half-float pixels, built block
    by block so even 16384×16384 needs only one block in memory (~1.5 MB); ZIP-compressed
    zeros make the file small (≈ 1.6 MB at 16384²)."""
    header = _exr_header(width, height)
    lines = 16
    blocks = (height + lines - 1) // lines
    raw_len = lines * 3 * width * 2
    # ZIP compression applies a predictor before zlib: all-zero pixels encode as 0, 128, 128…
    encoded = zlib.compress(b"\x00" + b"\x80" * (raw_len - 1), 9)
    last_rows = height - (blocks - 1) * lines
    last = zlib.compress(b"\x00" + b"\x80" * (last_rows * 3 * width * 2 - 1), 9)
    offsets, chunks, pos = [], [], len(header) + 8 * blocks
    for b in range(blocks):
        data = last if b == blocks - 1 else encoded
        chunk = struct.pack("<ii", b * lines, len(data)) + data
        offsets.append(pos)
        chunks.append(chunk)
        pos += len(chunk)
    return header + b"".join(struct.pack("<Q", o) for o in offsets) + b"".join(chunks)


def build_files(folder: Path) -> dict[str, Path]:
    """The result files the cases serve, made once into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {"mp4": SHARED / "video" / "realshort.mp4"}
    truncated = folder / "truncated.mp4"
    if not truncated.exists():
        data = out["mp4"].read_bytes()
        truncated.write_bytes(data[: len(data) // 3])
    out["truncated"] = truncated
    bomb = folder / "zipbomb.zip"
    if not bomb.exists():
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            with zf.open("frame_0001.exr", "w", force_zip64=True) as fh:
                block = b"\0" * (1 << 20)
                for _ in range(1024):  # 1 GiB of zeros ≈ 1 MB deflated
                    fh.write(block)
    out["zipbomb"] = bomb
    big = folder / "bigexr.zip"
    if not big.exists():
        frame = exr_frame(16384, 16384)
        with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as zf:
            for i in (1, 2):
                zf.writestr(f"frame_{i:04d}.exr", frame)
    out["bigexr"] = big
    nonexr = folder / "nonexr.zip"
    if not nonexr.exists():
        with zipfile.ZipFile(nonexr, "w") as zf:
            zf.writestr("readme.txt", "not frames")
            zf.writestr("frame_0001.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    out["nonexr"] = nonexr
    return out


# -- the server --------------------------------------------------------------------------------

class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hang up on purpose (size caps, stops): not worth a traceback


class HostileProvider:
    """The server; ``key`` is the bearer key the cases echo back."""

    def __init__(self, files: dict[str, Path], key: str, host: str = "127.0.0.1",
                 port: int = 0):
        self.files = files
        self.key = key
        self.events: list[tuple[float, str, str]] = []  # (time, case or path, what)
        self.polls: dict[str, int] = {}
        self.fixed: set[str] = set()  # cases whose provider has fixed its result link
        self.drips: list[list[float | None]] = []  # [started, ended] of each drip connection
        self.lock = threading.Lock()
        self.server = _QuietServer((host, port), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def start(self) -> HostileProvider:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def record(self, who: str, what: str) -> None:
        with self.lock:
            self.events.append((time.time(), who, what))

    def first(self, who: str, what: str, since: float = 0.0) -> float | None:
        """When ``who`` first did ``what`` at or after Unix time ``since`` (else ``None``)."""
        with self.lock:
            return next((t for t, w, x in self.events if w == who and x == what and t >= since),
                        None)

    def hits(self, what: str) -> int:
        with self.lock:
            return sum(1 for _t, _w, x in self.events if x == what)

    # -- status answers ---------------------------------------------------------------------
    def status_row(self, case: str, n: int) -> dict | None:
        base = {"generation_id": case, "model_name": "topazlabs-rhea-video",
                "media_type": "video", "enqueued_at": int(time.time()) - 60,
                "started_at": int(time.time()) - 50, "completed_at": int(time.time())}
        link = f"{self.url}/r/result.mp4?g={case}"
        links = {
            "dotdot": f"{self.url}/r/..?g=dotdot",
            "longname": f"{self.url}/r/{'a' * 300}.mp4?g=longname",
            "file_scheme": "file:///etc/passwd",
            "ftp_scheme": "ftp://127.0.0.1/result.mp4",
            "js_scheme": "javascript:alert(document.cookie)",
            "nonexr_zip": f"{self.url}/r/frames.zip?g=nonexr_zip",
            "zipbomb": f"{self.url}/r/frames.zip?g=zipbomb",
            "bigexr": f"{self.url}/r/frames.zip?g=bigexr",
            "expired_refresh": f"{self.url}/r/result.mp4?g=expired_refresh&sig={n}",
        }
        if case == "late" and n < 2:
            return {**base, "status": "processing", "completed_at": None}
        if case == "failed_echo":
            return {**base, "status": "failed", "error_message": (
                f"Upstream refused the run: Authorization: Bearer {self.key} (key={self.key})")}
        if case == "markdown_error":
            return {**base, "status": "failed", "error_message": (
                f"Model error ![pixel]({self.url}/pixel.png) <img src=\"{self.url}/pixel.png\"> "
                "**bold** [click](javascript:alert(1)) $x^2$")}
        if case == "unknown_status":
            return {**base, "status": "exploding"}
        return {**base, "status": "succeeded", "result_url": links.get(case, link)}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str = "application/json",
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                provider.record(parts.path, "request")
                try:
                    if parts.path.startswith("/api/ai/queue/"):
                        self.status(parts.path.rsplit("/", 1)[-1])
                    elif parts.path.startswith("/api/ai/generations/"):
                        case = parts.path.rsplit("/", 1)[-1]
                        row = provider.status_row(case, 99) or {}
                        self._send(200, json.dumps({"generation": {**row, "cost": 0.25}})
                                   .encode())
                    elif parts.path == "/pixel.png":
                        provider.record("pixel", "pixel fetched")
                        self._send(200, b"\x89PNG", "image/png")
                    elif parts.path.startswith("/r/") or parts.path == "/":
                        case = parse_qs(parts.query).get("g", [""])[0]
                        self.result(case)
                    else:
                        self._send(404, b'{"error": {"type": "resource_not_found", '
                                        b'"title": "Not found"}}')
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def status(self, case: str) -> None:
                with provider.lock:
                    n = provider.polls.get(case, 0) + 1
                    provider.polls[case] = n
                if case == "hugejson":
                    self.huge_json()
                    return
                if case == "auth_echo":
                    body = json.dumps({"error": {"type": "unauthorized", "title": (
                        f"Invalid API key: Bearer {provider.key}")}, "status": "error"})
                    self._send(401, body.encode())
                    return
                row = provider.status_row(case, n)
                if row is None:
                    self._send(404, b"{}")
                    return
                if row.get("status") == "succeeded":
                    provider.record(case, "succeeded")
                self._send(200, json.dumps(row).encode())

            def huge_json(self) -> None:
                head = b'{"generation_id": "hugejson", "status": "processing", "pad": "'
                tail = b'"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(HUGE_JSON_BYTES))
                self.end_headers()
                self.wfile.write(head)
                block = b"x" * (1 << 20)
                left = HUGE_JSON_BYTES - len(head) - len(tail)
                while left > 0:
                    self.wfile.write(block[:min(left, len(block))])
                    left -= len(block)
                self.wfile.write(tail)

            def result(self, case: str) -> None:
                files = provider.files
                if case in ("good", "late", "dotdot", "longname"):
                    self.file(case, files["mp4"], "video/mp4")
                elif case == "expired_refresh":
                    sig = int(parse_qs(urlsplit(self.path).query).get("sig", ["0"])[0])
                    if sig <= 1:
                        self.expired()
                    else:
                        self.file(case, files["mp4"], "video/mp4")
                elif case == "expired":
                    self.expired()
                elif case == "drip":
                    self.drip(case)
                elif case == "endless":
                    self.endless()
                elif case == "short_body":
                    data = files["mp4"].read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", "video/mp4")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                elif case == "redirect_file":
                    self._send(302, b"", "text/plain", {"Location": "file:///etc/passwd"})
                elif case == "retry_fixes":  # HTML until the test says it is fixed
                    if case in provider.fixed:
                        self.file(case, files["mp4"], "video/mp4")
                    else:
                        self._send(200, b"<!DOCTYPE html><html><body>Busy</body></html>",
                                   "text/html")
                elif case == "html_result":
                    self._send(200, b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>",
                               "text/html")
                elif case == "nonexr_zip":
                    self.file(case, files["nonexr"], "application/zip")
                elif case == "truncated_mp4":
                    self.file(case, files["truncated"], "video/mp4")
                elif case in ("zipbomb", "bigexr"):
                    self.file(case, files[case], "application/zip")
                else:
                    self._send(404, b"{}")

            def file(self, case: str, path: Path, ctype: str) -> None:
                self._send(200, path.read_bytes(), ctype)
                provider.record(case, "result sent")

            def expired(self) -> None:
                self._send(403, b"<Error><Code>AccessDenied</Code><Message>Request has "
                                b"expired</Message></Error>", "application/xml")

            def drip(self, case: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(1 << 20))
                self.end_headers()
                provider.record(case, "drip started")
                span: list[float | None] = [time.time(), None]
                with provider.lock:
                    provider.drips.append(span)
                try:
                    for _ in range(1 << 20):
                        self.wfile.write(b"\0")
                        self.wfile.flush()
                        time.sleep(DRIP_INTERVAL_S)
                finally:
                    # Noticed at the next write after the client hung up (≤ 5 s later).
                    span[1] = time.time()
                    provider.record(case, "drip ended")

            def endless(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                block = b"\0" * (1 << 20)
                sent = 0
                try:
                    while True:
                        self.wfile.write(block)
                        sent += len(block)
                finally:
                    provider.record("endless", f"stopped after {sent >> 20} MiB")

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default="sk-live-HOSTILE0123456789abcdef")
    parser.add_argument("--files", default=str(REPO / "artifacts" / "hostile"))
    args = parser.parse_args()
    server = HostileProvider(build_files(Path(args.files)), args.key, port=args.port).start()
    print(f"Hostile provider listening on {server.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()


__all__ = ["CASES", "HostileProvider", "build_files", "exr_frame"]
