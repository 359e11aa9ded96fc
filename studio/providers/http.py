"""The one HTTP chokepoint every provider client goes through.

Owns: base URL joining, bearer auth (sent only to the provider's own origin — never to a
storage host or a result CDN), split connect/read timeouts, retries, error parsing into the
typed tree of :mod:`studio.errors`, and streamed downloads (bounded: see
:mod:`studio.tracking.downloads`).

Every answer is read bounded: a JSON body over :data:`MAX_JSON_BYTES` or one that trickles in
past :data:`JSON_DEADLINE_S` is not read (``UnreadableAnswerError``); an error body is read
up to :data:`MAX_ERROR_BYTES`. Provider text that reaches a sentence is scrubbed of keys and
token-shaped strings (:func:`studio.redact.scrub`).

One client holds one API ``requests.Session`` (with the read-retry policy below) and one
transfer session for result downloads (no automatic retries: the work queue retries with
its own backoff, and a download must stop at once when asked), both reused for the client's
life and closed by :meth:`HttpClient.close`. Cookies are never kept, so a session shared by
the tracker, the download pool and the page threads holds no mutable per-request state.

Retry policy (urllib3 ``Retry``): GET/DELETE/HEAD only, on connection errors and
429/500/502/503/504, exponential backoff with jitter, honouring ``Retry-After``. A POST or
PUT is retried only for connection errors raised before the request was sent (urllib3's
``connect`` counter), because a paid POST that may have reached the server must never be
sent twice (Oxen's enqueue and LTX's submit have no idempotency key: oxen.md §3, ltx.md §1).
"""

from __future__ import annotations

import http.cookiejar
import json as jsonlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError
from urllib3.util.retry import Retry

from studio.config import Secret
from studio.errors import (
    ApiError,
    AuthError,
    NetworkError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitedError,
    ServerError,
    TooLargeError,
    UnreadableAnswerError,
    ValidationError,
)
from studio.redact import scrub_optional
from studio.tracking.downloads import Download, DownloadLimits, Fetcher

Progress = Callable[[int, int | None], None]  # (bytes done, bytes total or None)

RETRY_STATUSES = (429, 500, 502, 503, 504)
CHUNK = 1 << 20  # 1 MiB
MAX_JSON_BYTES = 8 << 20  # a status, listing or model answer larger than 8 MiB is not read
MAX_ERROR_BYTES = 64 << 10  # of an error body, only the first 64 KiB are read
JSON_DEADLINE_S = 60.0  # a JSON answer must arrive whole within this many seconds
POOL_MAXSIZE = 16  # connections kept per host: tracker, download pool, SSE and pages share it


class BodyTooLarge(Exception):
    """A body went past its byte cap (``declared`` is its Content-Length, if it gave one)."""

    def __init__(self, cap: int, declared: int | None):
        self.cap, self.declared = cap, declared
        super().__init__(f"over {cap} bytes")


class BodyTooSlow(Exception):
    """A body did not arrive within its deadline."""


def iter_body(resp: requests.Response, size: int = 64 << 10) -> Iterable[bytes]:
    """The (decoded) body of a *streamed* response in pieces as they arrive: each piece is
    returned as soon as the socket has some bytes (``read1``), so a body that trickles in
    never blocks a caller that checks a deadline or a stop flag between pieces. Raises
    ``requests.ConnectionError`` for a broken or timed-out connection."""
    raw = resp.raw
    while True:
        try:
            piece = raw.read1(size, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise requests.ConnectionError(exc) from exc
        if not piece:
            return
        yield piece


def read_capped(resp: requests.Response, cap: int, *, deadline_s: float | None = None) -> bytes:
    """The whole body of a streamed response, refusing more than ``cap`` bytes (checked
    against Content-Length first, then while reading) and, with ``deadline_s``, more than
    that many seconds. Raises :class:`BodyTooLarge`, :class:`BodyTooSlow` or
    ``requests.ConnectionError``; the response is closed either way."""
    if resp.raw is None or not hasattr(resp.raw, "read1"):  # a built Response (tests)
        data = resp.content or b""
        if len(data) > cap:
            raise BodyTooLarge(cap, len(data))
        return data
    declared = resp.headers.get("Content-Length")
    try:
        if declared and declared.isdigit() and int(declared) > cap:
            raise BodyTooLarge(cap, int(declared))
        start = time.monotonic()
        buf = bytearray()
        for piece in iter_body(resp):
            buf += piece
            if len(buf) > cap:
                raise BodyTooLarge(cap, None)
            if deadline_s is not None and time.monotonic() - start > deadline_s:
                raise BodyTooSlow()
        return bytes(buf)
    finally:
        resp.close()


def read_prefix(resp: requests.Response, cap: int, *, deadline_s: float = 10.0) -> bytes:
    """At most the first ``cap`` bytes of a response body (the rest is dropped with the
    connection); never raises. For error bodies, whose size and speed nobody promised."""
    if resp.raw is None or not hasattr(resp.raw, "read1"):
        return (resp.content or b"")[:cap]
    buf = bytearray()
    start = time.monotonic()
    try:
        for piece in iter_body(resp):
            buf += piece
            if len(buf) >= cap or time.monotonic() - start > deadline_s:
                break
    except requests.RequestException:
        pass
    finally:
        resp.close()
    return bytes(buf[:cap])


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Keep no cookies: provider APIs need none, and a jar shared by threads is the one
    mutable part of a ``requests.Session``."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


def _session(retry: Retry | None) -> requests.Session:
    session = requests.Session()
    session.cookies.set_policy(_NoCookies())
    adapter = HTTPAdapter(max_retries=retry if retry is not None else Retry(0, read=False),
                          pool_connections=8, pool_maxsize=POOL_MAXSIZE)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def make_retry(total: int = 5, backoff: float = 0.5) -> Retry:
    """The read-retry policy: idempotent methods only; connect errors for any method."""
    return Retry(
        total=total,
        connect=3,
        read=3,
        status=4,
        other=0,
        allowed_methods=frozenset({"GET", "DELETE", "HEAD"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_jitter=backoff,
        backoff_max=30,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _request_was_not_sent(exc: requests.RequestException) -> bool:
    """True when the failure provably happened before the server got the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, NewConnectionError | NameResolutionError)
    return False


class HttpClient:
    """Base class of the provider clients: one API session and one transfer session per
    instance, reused for every call and closed by :meth:`close` (or ``with client:``).

    ``base_url`` is the provider's root (``https://hub.oxen.ai``, ``https://api.ltx.video``
    or a sandbox URL); ``key`` the bearer key; ``secrets`` every other configured key, so
    provider text that quotes any of them is scrubbed too. Timeouts are seconds (connect,
    read). Safe to share across threads (no cookies are kept; urllib3's pools are
    thread-safe).
    """

    provider = "provider"
    provider_name = "The provider"
    key_setting = "API key"

    def __init__(
        self,
        base_url: str,
        key: Secret,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        retry: Retry | None = None,
        secrets: Iterable[Secret | None] = (),
    ):
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._secrets: tuple[Secret, ...] = tuple(s for s in (key, *secrets) if s)
        self.timeout = (connect_timeout, read_timeout)
        self._session = _session(retry or make_retry())
        self._transfers: requests.Session | None = None
        self._lock = threading.Lock()
        self.closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close both sessions (their pooled connections); the client is not used after."""
        self.closed = True
        self._session.close()
        if self._transfers is not None:
            self._transfers.close()

    @property
    def transfer_session(self) -> requests.Session:
        """The session for result downloads: no automatic retries, no cookies; built once."""
        with self._lock:
            if self._transfers is None:
                self._transfers = _session(None)
            return self._transfers

    def scrub(self, text: object | None) -> str | None:
        """Provider text without this client's key, the other configured keys or anything
        shaped like a token (:func:`studio.redact.scrub`); ``None`` stays ``None``."""
        return scrub_optional(text, self._secrets)

    def auth_headers_for(self, url: str) -> dict[str, str]:
        """The ``Authorization`` header for ``url``: only on the provider's own origin."""
        return self._auth_headers(url)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else urljoin(self.base_url + "/", path.lstrip("/"))

    def _auth_headers(self, url: str) -> dict[str, str]:
        # Only the provider's own origin ever sees the key (a result link may sit on a CDN).
        if _origin(url) == _origin(self.base_url):
            return {"Authorization": f"Bearer {self._key.reveal()}"}
        return {}

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: tuple[float, float] | None = None,
        stream: bool = False,
        what: str = "the request",
        auth: bool = True,
    ) -> requests.Response:
        """Send one request; return the response for 2xx, raise a typed error otherwise.

        Raises ``ApiError`` subclasses for HTTP errors (see :func:`error_from_response`) and
        ``NetworkError`` when no answer came (``maybe_sent`` says whether it may have arrived).
        """
        url = self.url(path)
        auth_headers = self._auth_headers(url) if auth else {}
        all_headers = {"Accept": "application/json", **auth_headers, **(headers or {})}
        try:
            # Always streamed: a body is read only through the capped readers below, never
            # whole into memory by requests itself.
            resp = self._session.request(
                method, url, json=json, params=params, data=data, files=files,
                headers=all_headers, timeout=timeout or self.timeout, stream=True,
            )
        except requests.RequestException as exc:
            not_sent = _request_was_not_sent(exc)
            host = urlsplit(url).netloc
            if not_sent:
                msg = (f"Could not connect to {self.provider_name} at {host} for {what}. "
                       "Check your network and the base URL, then try again.")
            elif isinstance(exc, requests.Timeout):
                msg = (f"{self.provider_name} did not answer {what} within "
                       f"{(timeout or self.timeout)[1]:.0f} s.")
            else:
                msg = f"The connection to {self.provider_name} dropped during {what}."
            raise NetworkError(msg, maybe_sent=not not_sent) from None
        if resp.status_code >= 400:
            try:
                raise error_from_response(self.provider, self.provider_name, resp, what=what,
                                          key_setting=self.key_setting, secrets=self._secrets)
            finally:
                resp.close()
        return resp

    def _json(self, method: str, path: str, *, max_bytes: int = MAX_JSON_BYTES,
              **kw: Any) -> Any:
        """``_request`` and the JSON of its answer, read bounded: over ``max_bytes``, slower
        than :data:`JSON_DEADLINE_S` or not JSON raises ``UnreadableAnswerError``; a
        connection broken mid-body raises ``NetworkError``."""
        what = kw.get("what", "the request")
        resp = self._request(method, path, **kw)
        rid = resp.headers.get("x-request-id")
        # Blocked ``sync`` generate calls wait for headers, not for the body: the deadline
        # counts from here.
        try:
            body = read_capped(resp, max_bytes, deadline_s=JSON_DEADLINE_S)
        except BodyTooLarge:
            raise UnreadableAnswerError(
                f"{self.provider_name} answered {what} with more than "
                f"{max_bytes / (1 << 20):.0f} MB, far more than such an answer holds; it was "
                "not read.", status=resp.status_code, provider=self.provider,
                request_id=rid) from None
        except BodyTooSlow:
            raise UnreadableAnswerError(
                f"{self.provider_name} took more than {JSON_DEADLINE_S:.0f} s to send its "
                f"answer to {what}; it was not read.", status=resp.status_code,
                provider=self.provider, request_id=rid) from None
        except requests.RequestException:
            raise NetworkError(f"The connection to {self.provider_name} dropped while it "
                               f"answered {what}.", maybe_sent=True) from None
        try:
            return jsonlib.loads(body)
        except ValueError:
            raise UnreadableAnswerError(
                f"{self.provider_name} answered {what} with something that is not JSON. "
                "Try again in a minute.", status=resp.status_code, provider=self.provider,
                request_id=rid) from None

    def download(
        self,
        url: str,
        dest: Path,
        *,
        progress: Progress | None = None,
        read_timeout: float = 120.0,
        limits: DownloadLimits | None = None,
        cancel: threading.Event | None = None,
        on_response: Callable[[requests.Response | None], None] | None = None,
    ) -> Download:
        """Stream ``url`` to ``dest`` (via ``dest.part``, renamed when complete), bounded by
        ``limits`` (:class:`studio.tracking.downloads.DownloadLimits`; defaults with
        ``read_timeout`` as the idle timeout), on the transfer session; returns size and
        SHA-256. The key goes only to this provider's origin.

        Raises :class:`studio.tracking.downloads.DownloadError` whose ``kind`` says what
        failed (expired link, too large, refused redirect, transient …).
        """
        limits = limits or DownloadLimits(idle_timeout_s=read_timeout)
        fetcher = Fetcher(self.transfer_session, self._auth_headers, limits)
        return fetcher.fetch(url, dest, progress=progress, cancel=cancel,
                             on_response=on_response, provider_name=self.provider_name)


def _parse_body(resp: requests.Response) -> tuple[str | None, str | None]:
    """(code, human text) from any documented error envelope, else from the raw text; only
    the first :data:`MAX_ERROR_BYTES` of the body are read.

    Oxen envelope A ``{"error": {"type", "title", "detail"}, "status": "error", ...}``,
    Oxen envelope B ``{"error": {"message"}}`` (oxen.md §12), LTX
    ``{"type": "error", "error": {"type", "message"}}`` (ltx.md §5).
    """
    raw = read_prefix(resp, MAX_ERROR_BYTES)
    try:
        body = jsonlib.loads(raw)
    except ValueError:
        text = raw.decode(resp.encoding or "utf-8", errors="replace").strip()
        return None, text[:300] or None
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            code = err.get("type") or body.get("status_message")
            parts = [str(err[k]) for k in ("title", "message", "detail") if err.get(k)]
            return (str(code) if code else None), (" — ".join(parts) or None)
        if isinstance(err, str):
            return body.get("status_message"), err
        if body.get("detail"):
            return None, str(body["detail"])
    return None, None


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def error_from_response(
    provider: str,
    provider_name: str,
    resp: requests.Response,
    *,
    what: str = "the request",
    key_setting: str = "the API key",
    secrets: Iterable[Secret | None] = (),
) -> ApiError:
    """The typed error for an HTTP error response, with a sentence a person can act on.

    The provider's text is scrubbed of ``secrets`` and anything shaped like a token
    (a 401 may echo the ``Authorization`` header) and cut to a readable length."""
    status = resp.status_code
    code, detail = _parse_body(resp)
    code = scrub_optional(code, secrets, limit=80)
    detail = scrub_optional(detail, secrets)
    rid = resp.headers.get("x-request-id")
    said = f" It said: “{detail}”" if detail else ""
    kw: dict[str, Any] = {"status": status, "code": code, "detail": detail,
                          "request_id": rid, "provider": provider}
    if status in (401, 403):
        return AuthError(
            f"{provider_name} rejected the API key for {what} ({status}).{said} Check {key_setting} "
            "in .streamlit/secrets.toml or the environment, then reload.", **kw)
    if status == 402:
        where = ("the namespace being billed (target_namespace, or your user)"
                 if provider == "oxen" else "your LTX account")
        todo = ("Add credits at oxen.ai, or bill an organisation namespace that has credits."
                if provider == "oxen" else
                "Top up credits in the LTX developer console (minimum $5).")
        return PaymentRequiredError(
            f"{provider_name} refused {what}: {where} lacks credits (402).{said} {todo}", **kw)
    if status == 404:
        return NotFoundError(f"{provider_name} could not find what {what} asked for (404).{said}",
                             **kw)
    if status == 413:
        return TooLargeError(
            f"{provider_name} refused {what}: it is too large (413). Upload the file first "
            "instead of embedding it, or use a shorter clip.", **kw)
    if status == 429:
        kind = "concurrency" if code == "concurrency_limit_error" else "rate"
        wait = _retry_after(resp)
        when = f"in {wait:.0f} s" if wait is not None else "in a minute"
        reason = ("too many generations are running at once for this key"
                  if kind == "concurrency" else "too many requests were sent")
        return RateLimitedError(
            f"{provider_name} is limiting requests: {reason} (429). Try again {when}.{said}",
            retry_after=wait, kind=kind, **kw)
    if status in (400, 422):
        if code == "content_filtered_error":
            return ValidationError(
                f"{provider_name} rejected the content of {what} with its safety filters "
                f"(422).{said} Try another clip.", **kw)
        return ValidationError(f"{provider_name} rejected {what} ({status}).{said} "
                               "Fix the parameters and submit again.", **kw)
    if status >= 500:
        return ServerError(
            f"{provider_name} had a server error on {what} ({status}).{said} "
            "Try again in a minute.", **kw)
    return ApiError(f"{provider_name} answered {what} with HTTP {status}.{said}", **kw)
