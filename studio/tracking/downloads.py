"""Bounded, classified result downloads: whatever the provider sends, the download ends.

Owns the rules a result download obeys, whoever runs it (the app's pool or a
``python -m studio worker``):

- **Names come from the generation**, never from the link: ``<results>/<job id>/<label><ext>``
  where ``<ext>`` is the link's extension only when it is a short, plain one
  (:func:`result_name`). A last segment of ``..`` or 300 bytes changes nothing.
- **Schemes and redirects**: only ``http``/``https`` links are fetched, redirects are
  followed by hand (at most :attr:`DownloadLimits.max_redirects`) and only to ``http(s)``; a
  ``file://``, ``ftp://`` or ``javascript:`` link or redirect is refused at once. The key is
  sent only to the provider's own origin (``auth_for``).
- **Size**: ``Content-Length`` over :attr:`DownloadLimits.max_bytes` is refused before a byte
  is read, a body without one stops at the cap; the data disk keeps
  :attr:`DownloadLimits.min_free_bytes` free. A body that ends short of its Content-Length
  is a size mismatch.
- **Time**: each read waits at most ``idle_timeout_s``; the whole download has a deadline of
  ``grace_s`` plus its size at ``min_rate_bps``, so a link that trickles (1 byte per 5 s) ends
  as a transient failure instead of holding a worker for ever. ``cancel`` stops a download
  at the next piece, and :func:`abort` shuts a blocked read's socket from another thread.
- **Kind**: after the bytes are in, :func:`check_result` makes sure the file is what the
  model promises — a video container for ``video``, a ZIP of OpenEXR frames for
  ``exr_frames`` (members streamed, declared and real sizes checked, frame size within a
  pixel budget read from each header) — so an HTML page, a ZIP of something else or a
  truncated file is never shown as a good result.

Every failure is a :class:`DownloadError` whose ``kind`` (:class:`FailureKind`) decides what
happens next: transient ones are tried again with backoff, the rest settle at once with their
sentence (see :mod:`studio.tracking.results`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3.exceptions

from studio.errors import StudioError

Progress = Callable[[int, int | None], None]  # (bytes done, bytes total or None)
AuthFor = Callable[[str], Mapping[str, str]]

CHUNK = 1 << 20  # bytes asked of the socket per read (read1 returns what has arrived)
DISK_CHECK_EVERY = 64 << 20  # re-check free disk space after this many bytes
ALLOWED_SCHEMES = ("http", "https")
_EXT = re.compile(r"^\.[a-z0-9]{1,5}$")
DEFAULT_EXT = {"video": ".mp4", "exr_frames": ".zip"}
EXR_MAGIC = b"\x76\x2f\x31\x01"  # OpenEXR file layout: magic number 20000630, little-endian


class FailureKind(StrEnum):
    """Why a download failed; all but ``TRANSIENT`` (and ``CANCELLED``) settle at once."""

    UNSUPPORTED_SCHEME = "unsupported_scheme"
    REFUSED_REDIRECT = "refused_redirect"
    EXPIRED = "expired"
    SIZE_MISMATCH = "size_mismatch"
    TOO_LARGE = "too_large"
    WRONG_KIND = "wrong_kind"
    TRANSIENT = "transient"
    CANCELLED = "cancelled"  # this process is stopping; the work goes back to the queue


class DownloadError(StudioError):
    """A download that did not produce a good file. ``kind`` is a :class:`FailureKind`;
    ``retry_after`` (seconds) is the server's ``Retry-After`` for a transient one;
    ``str()`` is the sentence shown on the generation."""

    def __init__(self, kind: FailureKind, message: str, *, retry_after: float | None = None):
        self.kind = kind
        self.retry_after = retry_after
        super().__init__(message)

    @property
    def transient(self) -> bool:
        return self.kind in (FailureKind.TRANSIENT, FailureKind.CANCELLED)


@dataclass(frozen=True)
class DownloadLimits:
    """What a result download may take. Bytes, bytes/s and seconds.

    ``max_bytes``: largest result accepted (``STUDIO_MAX_RESULT_MB``). ``min_free_bytes``:
    free space the data disk keeps (``STUDIO_MIN_FREE_DISK_MB``). ``min_rate_bps`` and
    ``grace_s``: the whole download must finish within ``grace_s + size / min_rate_bps``
    (``STUDIO_DOWNLOAD_MIN_RATE_KBPS``, ``STUDIO_DOWNLOAD_GRACE_S``); with no size given,
    the bytes so far set the same pace. ``idle_timeout_s``: longest wait for any byte.
    ``max_member_bytes``: largest single file inside a result ZIP; ``max_frame_pixels``:
    largest EXR frame (width × height) accepted for previews and analyses.
    """

    max_bytes: int = 20 << 30
    min_free_bytes: int = 1 << 30
    min_rate_bps: float = 64 * 1024
    grace_s: float = 60.0
    idle_timeout_s: float = 60.0
    connect_timeout_s: float = 10.0
    max_redirects: int = 5
    max_member_bytes: int = 1 << 30
    max_frame_pixels: int = 8192 * 8192

    def deadline_s(self, size: int) -> float:
        """Seconds a download of ``size`` bytes may take in all."""
        return self.grace_s + size / self.min_rate_bps


@dataclass(frozen=True)
class Download:
    """A finished download: local ``path``, ``size`` in bytes, hex ``sha256``."""

    path: Path
    size: int
    sha256: str


def _mb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def result_name(label: str, url: str) -> str:
    """The local file name of artifact ``label``: the label itself (``video``,
    ``exr_frames``; anything else made safe) plus the link's extension when it is a plain
    one of 1–5 letters or digits, else the label's usual one. Never a path, never ``..``."""
    stem = re.sub(r"[^a-z0-9_-]", "_", label.lower())[:40] or "result"
    try:
        last = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    except ValueError:
        last = ""
    ext = os.path.splitext(last)[1].lower() if len(last) <= 255 else ""
    if not _EXT.match(ext):
        ext = DEFAULT_EXT.get(label, ".bin")
    return stem + ext


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def link_host(url: str) -> str:
    """The host of a result link, for per-host limits (``"?"`` when it has none)."""
    return _host(url)


def check_scheme(url: str, *, what: str = "The result link") -> None:
    """Raise ``DownloadError(UNSUPPORTED_SCHEME)`` unless ``url`` is http(s) with a host."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        parts = None
    scheme = (parts.scheme if parts else "").lower()
    if scheme not in ALLOWED_SCHEMES or not (parts and parts.hostname):
        shown = f"a {scheme}: address" if scheme else "not a web address"
        raise DownloadError(
            FailureKind.UNSUPPORTED_SCHEME,
            f"{what} is {shown}; only http(s) links are downloaded, so nothing was fetched.")


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _status_error(resp: requests.Response, host: str) -> DownloadError:
    status = resp.status_code
    if status in (404, 410):
        return DownloadError(FailureKind.EXPIRED, (
            f"the result link has expired or was removed ({host} answered {status}). "
            "Result links are temporary: download results soon after they finish"))
    if status in (401, 403):
        return DownloadError(FailureKind.EXPIRED, (
            f"{host} refused the result link ({status}), which is what an expired signed "
            "link answers"))
    if status == 429 or status >= 500:
        return DownloadError(FailureKind.TRANSIENT, (
            f"{host} answered {status} to the result download"),
            retry_after=_retry_after(resp))
    return DownloadError(FailureKind.EXPIRED, (
        f"{host} answered {status} to the result download; the link no longer works"))


def _total_from(resp: requests.Response, offset: int) -> int | None:
    """The whole file's size: Content-Range's total on a 206, else offset + Content-Length."""
    if resp.status_code == 206:
        m = re.match(r"bytes (\d+)-(\d+)/(\d+)", resp.headers.get("Content-Range", ""))
        if m:
            return int(m.group(3))
    length = resp.headers.get("Content-Length", "")
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    if length.isdigit() and encoding in ("", "identity"):
        return offset + int(length)
    return None


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 1 << 62  # cannot tell: do not block on it


def _is_short_body(exc: BaseException) -> bool:
    """True for a body that ended cleanly before its Content-Length (not a reset)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, urllib3.exceptions.IncompleteRead):
            return True
        if isinstance(e, BaseException):
            stack.extend([e.__cause__, e.__context__, *[a for a in e.args
                                                        if isinstance(a, BaseException)]])
    return False


class Fetcher:
    """Runs downloads on one ``requests.Session`` and can abort them from another thread.

    ``session`` should have no automatic retries (see
    :attr:`studio.providers.http.HttpClient.transfer_session`); ``auth_for(url)`` gives the
    headers for a URL (the key only on the provider's origin).
    """

    def __init__(self, session: requests.Session, auth_for: AuthFor, limits: DownloadLimits):
        self.session = session
        self.auth_for = auth_for
        self.limits = limits

    def fetch(self, url: str, dest: Path, *, progress: Progress | None = None,
              cancel: threading.Event | None = None,
              on_response: Callable[[requests.Response | None], None] | None = None,
              provider_name: str = "The provider") -> Download:
        """Stream ``url`` into ``dest`` (through ``dest.part``, renamed when whole).

        A ``.part`` left by an interrupted attempt is resumed with a ``Range`` request when
        the server allows it, else started over. ``on_response`` receives the live response
        (and ``None`` when it ends) so a stopping process can shut its socket
        (:func:`abort`). Raises :class:`DownloadError`; on any failure but a transient one
        after some bytes the ``.part`` file is removed.
        """
        lim = self.limits
        check_scheme(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        offset = part.stat().st_size if part.exists() else 0
        resp = self._open(url, offset, on_response)
        try:
            if resp.status_code == 200 and offset:
                offset = 0  # the server ignored the Range: start over
            elif resp.status_code == 206 and not resp.headers.get(
                    "Content-Range", "").startswith(f"bytes {offset}-"):
                offset = 0
                resp.close()
                part.unlink(missing_ok=True)
                resp = self._open(url, 0, on_response)
            total = _total_from(resp, offset)
            host = _host(resp.url or url)
            if total is not None and total > lim.max_bytes:
                raise DownloadError(FailureKind.TOO_LARGE, (
                    f"the result is {_mb(total)}, over the {_mb(lim.max_bytes)} limit "
                    "(STUDIO_MAX_RESULT_MB); nothing was downloaded"))
            need = (total - offset) if total is not None else 0
            free = _free_bytes(dest.parent)
            if free - need < lim.min_free_bytes:
                raise DownloadError(FailureKind.TRANSIENT, (
                    f"the data disk has {_mb(free)} free, and this {_mb(need)} result would "
                    f"leave less than the {_mb(lim.min_free_bytes)} kept free "
                    "(STUDIO_MIN_FREE_DISK_MB)"))
            return self._stream(resp, part, dest, offset, total, host, progress, cancel,
                                provider_name)
        except DownloadError as exc:
            if not exc.transient or exc.kind is FailureKind.CANCELLED:
                part.unlink(missing_ok=True)
            raise
        finally:
            resp.close()
            if on_response:
                on_response(None)

    def _open(self, url: str, offset: int,
              on_response: Callable[[requests.Response | None], None] | None
              ) -> requests.Response:
        """GET with redirects followed by hand (http(s) only, at most ``max_redirects``)."""
        lim = self.limits
        current = url
        for _hop in range(lim.max_redirects + 1):
            headers = {"Accept": "*/*", "Accept-Encoding": "identity",
                       **self.auth_for(current)}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            host = _host(current)
            try:
                resp = self.session.get(current, headers=headers, stream=True,
                                        allow_redirects=False,
                                        timeout=(lim.connect_timeout_s, lim.idle_timeout_s))
            except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL,
                    requests.exceptions.MissingSchema):
                raise DownloadError(FailureKind.UNSUPPORTED_SCHEME,
                                    f"the result link {host} is not a valid web address; "
                                    "nothing was fetched") from None
            except requests.Timeout:
                raise DownloadError(FailureKind.TRANSIENT, (
                    f"{host} did not answer the result download within "
                    f"{lim.idle_timeout_s:.0f} s")) from None
            except requests.RequestException:
                raise DownloadError(FailureKind.TRANSIENT, (
                    f"could not connect to {host} for the result download")) from None
            if on_response:
                on_response(resp)
            if resp.is_redirect:
                location = resp.headers.get("Location", "")
                resp.close()
                target = urljoin(current, location)
                try:
                    check_scheme(target, what="The result link redirects to an address that")
                except DownloadError:
                    scheme = urlsplit(target).scheme or "unknown"
                    raise DownloadError(FailureKind.REFUSED_REDIRECT, (
                        f"the result link redirects to a {scheme}: address, which is never "
                        "followed; nothing was fetched")) from None
                current = target
                continue
            if resp.status_code >= 400 or resp.status_code not in (200, 206):
                try:
                    raise _status_error(resp, host)
                finally:
                    resp.close()
            return resp
        raise DownloadError(FailureKind.REFUSED_REDIRECT, (
            f"the result link redirects more than {lim.max_redirects} times; nothing was "
            "fetched"))

    def _stream(self, resp: requests.Response, part: Path, dest: Path, offset: int,
                total: int | None, host: str, progress: Progress | None,
                cancel: threading.Event | None, provider_name: str) -> Download:
        lim = self.limits
        digest = hashlib.sha256()
        done, since_disk_check = offset, 0
        start = time.monotonic()
        deadline = lim.deadline_s(total - offset) if total is not None else None
        raw = resp.raw
        with open(part, "ab") as fh:
            try:  # a worker whose lease expired while it still runs must not write here too
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise DownloadError(FailureKind.TRANSIENT, (
                    "another worker is still downloading this result")) from None
            if offset:
                with open(part, "rb") as old:
                    for block in iter(lambda: old.read(CHUNK), b""):
                        digest.update(block)
            else:
                fh.truncate(0)
            while True:
                if cancel is not None and cancel.is_set():
                    raise DownloadError(FailureKind.CANCELLED, "the download was stopped")
                try:
                    piece = raw.read1(CHUNK, decode_content=True)
                except Exception as exc:  # noqa: BLE001 - sorted out below
                    if cancel is not None and cancel.is_set():
                        raise DownloadError(FailureKind.CANCELLED,
                                            "the download was stopped") from None
                    if not isinstance(exc, urllib3.exceptions.HTTPError | OSError):
                        raise
                    if _is_short_body(exc) and total is not None:
                        raise DownloadError(FailureKind.SIZE_MISMATCH, (
                            f"{host} promised {total:,} bytes and sent {done:,} before "
                            "closing the connection: the file is incomplete")) from None
                    timed_out = isinstance(exc, urllib3.exceptions.ReadTimeoutError) or \
                        "timed out" in str(exc)
                    raise DownloadError(FailureKind.TRANSIENT, (
                        f"{host} sent nothing for {lim.idle_timeout_s:.0f} s during the result "
                        "download" if timed_out else
                        f"the connection to {host} broke during the result download after "
                        f"{_mb(done)}")) from None
                if not piece:
                    break
                fh.write(piece)
                digest.update(piece)
                done += len(piece)
                since_disk_check += len(piece)
                if done > lim.max_bytes:
                    raise DownloadError(FailureKind.TOO_LARGE, (
                        f"the result went past the {_mb(lim.max_bytes)} limit "
                        "(STUDIO_MAX_RESULT_MB) and was stopped there; the partial file was "
                        "removed"))
                if total is not None and done > total:
                    raise DownloadError(FailureKind.SIZE_MISMATCH, (
                        f"{host} sent more than the {total:,} bytes it promised"))
                if since_disk_check >= DISK_CHECK_EVERY:
                    since_disk_check = 0
                    if _free_bytes(part.parent) < lim.min_free_bytes:
                        raise DownloadError(FailureKind.TRANSIENT, (
                            f"the data disk fell below the {_mb(lim.min_free_bytes)} kept "
                            "free (STUDIO_MIN_FREE_DISK_MB) during the download"))
                elapsed = time.monotonic() - start
                allowed = deadline if deadline is not None else lim.deadline_s(done - offset)
                if elapsed > allowed:
                    raise DownloadError(FailureKind.TRANSIENT, (
                        f"{host} sent the result too slowly ({_mb(done - offset)} in "
                        f"{elapsed:.0f} s, under the {lim.min_rate_bps / 1024:.0f} KB/s "
                        "minimum)"))
                if progress:
                    progress(done, total)
        if cancel is not None and cancel.is_set():
            raise DownloadError(FailureKind.CANCELLED, "the download was stopped")
        if total is not None and done != total:
            raise DownloadError(FailureKind.SIZE_MISMATCH, (
                f"{host} promised {total:,} bytes and sent {done:,} before closing the "
                "connection: the file is incomplete"))
        os.replace(part, dest)
        return Download(dest, done, digest.hexdigest())


def abort(resp: requests.Response | None) -> None:
    """Shut the socket of a live response (for reading) so a read blocked in another thread
    returns now; the reading thread closes it. Falls back to closing it when the socket
    cannot be shut down."""
    if resp is None:
        return
    try:
        resp.raw.shutdown()
        return
    except Exception:  # noqa: BLE001 - released already, or no socket to shut: close instead
        pass
    try:
        resp.close()
    except Exception:  # noqa: BLE001
        pass


# -- is it what the model promised? -------------------------------------------------------

def _head(path: Path, n: int = 64) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _describe(head: bytes) -> str:
    """What a file that is not the promised kind looks like, for the sentence."""
    low = head.lstrip()[:32].lower()
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if low.startswith((b"{", b"[")):
        return "a JSON document"
    if low.startswith(b"<?xml") or low.startswith(b"<"):
        return "an XML or HTML document"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff"):
        return "a still image"
    if not head:
        return "an empty file"
    return "a file of another kind"


def _is_video_container(head: bytes) -> bool:
    return (head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
            or head.startswith(b"\x1a\x45\xdf\xa3")  # Matroska / WebM (EBML)
            or head.startswith(b"RIFF") and head[8:12] == b"AVI ")


def check_result(label: str, path: Path, limits: DownloadLimits,
                 probe: Callable[[Path], Any] | None = None) -> ExrZipCheck | None:
    """Raise ``DownloadError(WRONG_KIND | SIZE_MISMATCH | TOO_LARGE)`` unless ``path`` is
    what artifact ``label`` promises.

    ``video``: a video container (ISO BMFF/QuickTime, Matroska/WebM, AVI) that ``probe``
    (:func:`studio.media.probe`, header only) can read — a truncated file fails there.
    ``exr_frames``: :func:`check_exr_zip` (its findings are returned). Other labels are
    accepted as they are.
    """
    head = _head(path)
    if label == "video":
        if not _is_video_container(head):
            raise DownloadError(FailureKind.WRONG_KIND, (
                f"the result should be a video but is {_describe(head)}; it is kept out of "
                "the player"))
        if probe is not None:
            try:
                probe(path)
            except StudioError as exc:
                raise DownloadError(FailureKind.WRONG_KIND,
                                    f"the result video cannot be read: {exc}") from None
    elif label == "exr_frames":
        if not head.startswith(b"PK"):
            raise DownloadError(FailureKind.WRONG_KIND, (
                f"the result should be a ZIP of EXR frames but is {_describe(head)}"))
        return check_exr_zip(path, limits)
    return None


@dataclass(frozen=True)
class ExrZipCheck:
    """What :func:`check_exr_zip` found: frame count, the largest frame's width and height
    (pixels, from the headers) and the largest member (bytes)."""

    frames: int
    width: int
    height: int
    largest_member: int

    def preview_problem(self, limits: DownloadLimits) -> str | None:
        """Why no preview or analysis should decode these frames (a sentence), or ``None``."""
        if self.width * self.height > limits.max_frame_pixels:
            return (f"its frames are {self.width:,}×{self.height:,} pixels, over the "
                    f"{limits.max_frame_pixels / 1e6:.0f} MP a frame may be decoded in "
                    "(STUDIO_MAX_FRAME_MP); download the ZIP to view them")
        if self.largest_member > limits.max_member_bytes:
            return (f"one frame file is {_mb(self.largest_member)}, over the "
                    f"{_mb(limits.max_member_bytes)} a frame may be")
        return None


def _exr_header_window(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an OpenEXR file's ``dataWindow`` from the first bytes of the file
    (the header: name\\0 type\\0 size(int32) value, up to an empty name; OpenEXR file layout),
    or ``None`` when the header is not within ``data``."""
    if not data.startswith(EXR_MAGIC) or len(data) < 8:
        return None
    pos = 8
    while pos < len(data):
        end = data.find(b"\0", pos)
        if end < 0:
            return None
        name = data[pos:end]
        if not name:
            return None  # end of header without a dataWindow
        tend = data.find(b"\0", end + 1)
        if tend < 0 or tend + 5 > len(data):
            return None
        kind = data[end + 1:tend]
        (size,) = struct.unpack_from("<i", data, tend + 1)
        value_at = tend + 5
        if size < 0 or value_at + size > len(data):
            return None
        if name == b"dataWindow" and kind == b"box2i" and size == 16:
            x0, y0, x1, y1 = struct.unpack_from("<iiii", data, value_at)
            return x1 - x0 + 1, y1 - y0 + 1
        pos = value_at + size
    return None


def _stream_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> Iterator[bytes]:
    """A member's bytes in pieces, stopping with ``SIZE_MISMATCH`` past ``limit``."""
    real = 0
    with zf.open(info) as fh:
        while True:
            piece = fh.read(CHUNK)
            if not piece:
                return
            real += len(piece)
            if real > limit:
                raise DownloadError(FailureKind.SIZE_MISMATCH, (
                    f"the frame '{info.filename[:80]}' in the result ZIP holds more data than "
                    f"its declared {_mb(info.file_size)}; the archive is not trusted"))
            yield piece


def _check_exr_head(name: str, head: bytes) -> tuple[int, int]:
    """(width, height) from the first bytes of a frame; ``DownloadError(WRONG_KIND)`` when
    they are not an OpenEXR header with a plausible ``dataWindow``."""
    if not head.startswith(EXR_MAGIC):
        raise DownloadError(FailureKind.WRONG_KIND, (
            f"the frame '{name}' in the result ZIP is not an OpenEXR image (it is "
            f"{_describe(head[:64])})"))
    window = _exr_header_window(head)
    if window is None:
        raise DownloadError(FailureKind.WRONG_KIND, (
            f"the frame '{name}' in the result ZIP has no readable OpenEXR header"))
    w, h = window
    if w <= 0 or h <= 0:
        raise DownloadError(FailureKind.WRONG_KIND, (
            f"the frame '{name}' in the result ZIP claims a {w}×{h} picture"))
    return w, h


def check_exr_zip(path: Path, limits: DownloadLimits, *, verify: bool = True) -> ExrZipCheck:
    """Check a result ZIP of EXR frames without holding a member in memory.

    Every member is streamed once: its real size must equal its declared size and its CRC
    must match, and each ``.exr`` must start with the OpenEXR magic number and a readable
    header with a ``dataWindow``. The sum of declared sizes must stay under ``max_bytes``.
    Frame size is *reported* (:meth:`ExrZipCheck.preview_problem` decides about previews),
    not refused: the frames are what the model promised. Raises ``DownloadError``
    (``WRONG_KIND``, ``SIZE_MISMATCH``, ``TOO_LARGE``) with a sentence naming the member.

    ``verify=False`` reads only each member's first 64 KiB (the header): a quick look at
    frame sizes for a ZIP already verified once.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DownloadError(FailureKind.WRONG_KIND, (
            f"the result ZIP cannot be opened ({str(exc)[:80]}); it looks truncated or "
            "damaged")) from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_bytes:
            raise DownloadError(FailureKind.TOO_LARGE, (
                f"the result ZIP unpacks to {_mb(declared)}, over the "
                f"{_mb(limits.max_bytes)} limit (STUDIO_MAX_RESULT_MB)"))
        frames = [i for i in infos if i.filename.lower().endswith(".exr")
                  and "__MACOSX" not in i.filename]
        if not frames:
            raise DownloadError(FailureKind.WRONG_KIND, (
                "the result ZIP holds no .exr frames"
                + (f" (it holds {len(infos)} other file(s))" if infos else " (it is empty)")))
        width = height = largest = 0
        for info in frames:
            name = info.filename[:80]
            largest = max(largest, info.file_size)
            head = bytearray()
            real = 0
            checked = False
            try:  # zipfile checks each member's CRC-32 when it is read to the end
                for piece in _stream_member(zf, info, info.file_size):
                    if len(head) < 1 << 16:
                        head += piece[: (1 << 16) - len(head)]
                    real += len(piece)
                    if not checked and len(head) >= 1 << 16:
                        w, h = _check_exr_head(name, bytes(head))  # fail fast: a bomb of zeros
                        checked = True
                        if not verify:
                            break
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise DownloadError(FailureKind.WRONG_KIND, (
                    f"the frame '{name}' in the result ZIP cannot be read "
                    f"({str(exc)[:80]}); the archive looks truncated")) from None
            if verify and real != info.file_size:
                raise DownloadError(FailureKind.SIZE_MISMATCH, (
                    f"the frame '{name}' in the result ZIP holds {real:,} bytes, not the "
                    f"{info.file_size:,} it declares"))
            if not checked:
                w, h = _check_exr_head(name, bytes(head))
            width, height = max(width, w), max(height, h)
        return ExrZipCheck(len(frames), width, height, largest)


__all__ = ["Download", "DownloadError", "DownloadLimits", "ExrZipCheck", "Fetcher",
           "FailureKind", "abort", "check_exr_zip", "check_result", "check_scheme",
           "link_host", "result_name"]
