"""Turning a job's source reference into a local file.

Owns the three ways a clip reaches the sandbox:

* a URL this sandbox serves itself (a repo file or an LTX result) → the local file, with no
  HTTP round-trip (a worker calling its own server would also deadlock a 1-worker pool);
* any other ``http(s)`` URL → a streamed download into the job's work dir, with connect/read
  timeouts and an overall deadline (LTX fetches time out after 30 s, ltx.md §3.3);
* a ``data:video/<type>;base64,`` URI (LTX only, ≤ 15 MB encoded, ltx.md §3.3) → decoded to a
  file.

``ltx://uploads/<token>`` storage URIs are resolved by the LTX routes (they need the upload
table). Every failure is an :class:`InputError` whose message says what to fix.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from sandbox.files import CHUNK, DataDir

DATA_URI_MAX_CHARS = 15 * 1024 * 1024  # "15 MB encoded" (ltx.md §3.3); MiB, the generous reading
_DATA_URI = re.compile(r"^data:(video/[\w.+-]+);base64,", re.IGNORECASE)
_EXT_BY_TYPE = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/x-matroska": ".mkv",
    "video/webm": ".webm",
}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


class InputError(Exception):
    """The source clip could not be fetched or decoded; ``str()`` says what to fix."""


class InputTooLarge(InputError):
    """The source is over a size limit (LTX answers 413 ``request_too_large``)."""


class SelfAddresses:
    """The ``host:port`` names this sandbox has been reached under (from ``Host`` headers).

    A URL is "served by this sandbox" when its netloc is one of them, or when it names a
    loopback host on one of their ports (``localhost:8502`` vs ``127.0.0.1:8502``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._netlocs: set[str] = set()
        self._ports: set[int] = set()

    def add(self, netloc: str) -> None:
        netloc = netloc.lower()
        if not netloc or netloc in self._netlocs:
            return
        port = urlsplit(f"//{netloc}").port
        with self._lock:
            self._netlocs.add(netloc)
            if port:
                self._ports.add(port)

    def matches(self, url: str) -> bool:
        parts = urlsplit(url)
        netloc = parts.netloc.lower()
        with self._lock:
            if netloc in self._netlocs:
                return True
            host = (parts.hostname or "").lower()
            return _is_loopback(host) and parts.port in self._ports


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_url(
    url: str,
    *,
    field: str,
    data: DataDir,
    own: SelfAddresses,
    dest_dir: Path,
    follow_redirects: bool = True,
    max_bytes: int | None = None,
    timeout_s: float = 30.0,
) -> Path:
    """A local file holding the clip at ``url`` (``field`` names the request field in errors).

    Sandbox-served URLs resolve to the stored file; other URLs are downloaded into
    ``dest_dir``. Raises :class:`InputError` (unreachable, HTTP error, redirect when
    ``follow_redirects`` is false, over ``timeout_s``) or :class:`InputTooLarge`.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"{field} must be an http(s) URL (got {url[:80]!r}).")
    if own.matches(url):
        local = data.local_file_for_path(parts.path)
        if local is None:
            raise InputError(
                f"{field} points at this sandbox but not at a file it serves: {parts.path}"
            )
        if not local.is_file():
            raise InputError(f"{field} not found: no file at {parts.path}")
        return local
    return download(
        url,
        dest_dir=dest_dir,
        field=field,
        follow_redirects=follow_redirects,
        max_bytes=max_bytes,
        timeout_s=timeout_s,
    )


def download(
    url: str,
    *,
    dest_dir: Path,
    field: str,
    follow_redirects: bool = True,
    max_bytes: int | None = None,
    timeout_s: float = 30.0,
) -> Path:
    """Stream ``url`` into ``dest_dir/input<ext>`` in 1 MiB chunks; see :func:`resolve_url`."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    try:
        with requests.get(
            url, stream=True, timeout=(10, timeout_s), allow_redirects=follow_redirects
        ) as resp:
            if resp.is_redirect:
                raise InputError(
                    f"could not fetch {field} {url}: it redirects (HTTP {resp.status_code}) and "
                    "redirects are not followed; pass the final URL."
                )
            if resp.status_code >= 400:
                raise InputError(f"could not fetch {field} {url}: HTTP {resp.status_code}.")
            ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
            dest = dest_dir / f"input{_suffix(url, ctype)}"
            total = 0
            with dest.open("wb") as out:
                for chunk in resp.iter_content(CHUNK):
                    total += len(chunk)
                    if max_bytes is not None and total > max_bytes:
                        raise InputTooLarge(
                            f"{field} is larger than {max_bytes // (1024 * 1024)} MB; "
                            "upload it instead."
                        )
                    if time.monotonic() > deadline:
                        raise InputError(
                            f"could not fetch {field} {url}: download took longer than "
                            f"{timeout_s:g} s."
                        )
                    out.write(chunk)
    except requests.RequestException as exc:
        raise InputError(f"could not fetch {field} {url}: {type(exc).__name__}.") from None
    return dest


def is_data_uri(uri: str) -> bool:
    return uri[:5].lower() == "data:"


def decode_data_uri(uri: str, *, dest_dir: Path, field: str) -> Path:
    """Decode a ``data:video/<type>;base64,`` URI into ``dest_dir/input<ext>``.

    Raises :class:`InputTooLarge` over :data:`DATA_URI_MAX_CHARS` and :class:`InputError` for
    a malformed URI or bad base64. The payload is at most 15 MB, so decoding it in memory is
    bounded.
    """
    if len(uri) > DATA_URI_MAX_CHARS:
        raise InputTooLarge(
            f"{field} data URI is {len(uri) / 1e6:.1f} MB; base64 data URIs are limited to 15 MB. "
            "Use POST /v1/upload for larger files."
        )
    m = _DATA_URI.match(uri)
    if not m:
        raise InputError(f"{field} data URI must start with 'data:video/<type>;base64,'.")
    try:
        payload = base64.b64decode(uri[m.end() :], validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{field} data URI does not contain valid base64.") from None
    if not payload:
        raise InputError(f"{field} data URI is empty.")
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"input{_EXT_BY_TYPE.get(m.group(1).lower(), '.mp4')}"
    dest.write_bytes(payload)
    return dest


def _suffix(url: str, content_type: str) -> str:
    suffix = Path(urlsplit(url).path).suffix.lower()
    if suffix in (".mp4", ".mov", ".mkv", ".webm", ".m4v"):
        return suffix
    return _EXT_BY_TYPE.get(content_type, ".mp4")
