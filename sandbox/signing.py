"""Expiring result links (``--result-ttl S``), the way a CDN's signed URLs expire.

Owns the signing of result URLs and the check of a signed request. The docs say a result URL
"is a temporary link that expires after a period of time" (oxen.md §9.2, the Starlight page)
and LTX result URLs live 24 h (ltx.md §4.2); with ``--result-ttl S`` the sandbox makes that
testable: every result URL it hands out — queue rows, history rows, the sync answer, the
completion event, the LTX job — carries ``Expires`` (Unix seconds, now + S) and ``Signature``
(HMAC-SHA256 over the path and the expiry, keyed by a secret kept in the data dir, so links
survive a restart). A fresh link is minted each time a row is read, as a signing CDN does.

A request for a result file is answered like a storage bucket's pre-signed URL answers
(Amazon S3's documented error body): past its expiry **403** ``AccessDenied`` "Request has
expired"; with no or a wrong signature **403** ``AccessDenied``. Without ``--result-ttl`` result
URLs are plain and never expire.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from starlette.responses import Response

KEY_FILE = "result-links.key"


def _load_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        os.replace(tmp, path)
    return path.read_bytes()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ResultLinks:
    """Signs result URLs and checks signed requests. ``ttl_s=None`` switches signing off."""

    def __init__(self, data_dir: Path, ttl_s: float | None):
        if ttl_s is not None and ttl_s < 0:
            raise ValueError(f"result ttl must be >= 0 seconds (got {ttl_s})")
        self.ttl_s = ttl_s
        self._key = _load_key(data_dir) if ttl_s is not None else b""

    @property
    def enabled(self) -> bool:
        return self.ttl_s is not None

    def _signature(self, path: str, expires: int) -> str:
        mac = hmac.new(self._key, f"{unquote(path)}\n{expires}".encode(), hashlib.sha256)
        return mac.hexdigest()[:40]

    def sign(self, url: str | None, *, now: float | None = None) -> str | None:
        """``url`` with ``Expires`` and ``Signature`` added (unchanged when signing is off)."""
        if url is None or self.ttl_s is None:
            return url
        parts = urlsplit(url)
        expires = int((time.time() if now is None else now) + self.ttl_s)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("Expires", "Signature")]
        query += [("Expires", str(expires)), ("Signature", self._signature(parts.path, expires))]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def refusal(self, path: str, query: Mapping[str, str], *,
                now: float | None = None) -> Response | None:
        """``None`` when a request for the result file at ``path`` may be served, else the
        403 a storage bucket answers (see the module docstring)."""
        if self.ttl_s is None:
            return None
        expires, signature = query.get("Expires", ""), query.get("Signature", "")
        if not expires.isdigit() or not hmac.compare_digest(
                signature, self._signature(path, int(expires))):
            return _access_denied("Request is not signed, or its signature does not match.")
        now = time.time() if now is None else now
        if now > int(expires):
            return _access_denied("Request has expired", expires=int(expires), now=now)
        return None


def _access_denied(message: str, *, expires: int | None = None,
                   now: float | None = None) -> Response:
    extra = ""
    if expires is not None and now is not None:
        extra = f"<Expires>{_iso(expires)}</Expires><ServerTime>{_iso(now)}</ServerTime>"
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>AccessDenied</Code><Message>{message}</Message>{extra}</Error>")
    return Response(body, status_code=403, media_type="application/xml")
