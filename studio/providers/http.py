"""The one HTTP chokepoint every provider client goes through.

Owns: base URL joining, bearer auth (sent only to the provider's own origin — never to a
storage host or a result CDN), split connect/read timeouts, retries, error parsing into the
typed tree of :mod:`studio.errors`, and streamed downloads.

Retry policy (urllib3 ``Retry``): GET/DELETE/HEAD only, on connection errors and
429/500/502/503/504, exponential backoff with jitter, honouring ``Retry-After``. A POST or
PUT is retried only for connection errors raised before the request was sent (urllib3's
``connect`` counter), because a paid POST that may have reached the server must never be
sent twice (Oxen's enqueue and LTX's submit have no idempotency key: oxen.md §3, ltx.md §1).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
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
    ValidationError,
)

Progress = Callable[[int, int | None], None]  # (bytes done, bytes total or None)

RETRY_STATUSES = (429, 500, 502, 503, 504)
CHUNK = 1 << 20  # 1 MiB


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


@dataclass(frozen=True)
class Download:
    """A finished download: local ``path``, ``size`` in bytes, hex ``sha256``."""

    path: Path
    size: int
    sha256: str


class HttpClient:
    """Base class of the provider clients: one ``requests.Session`` per instance.

    ``base_url`` is the provider's root (``https://hub.oxen.ai``, ``https://api.ltx.video``
    or a sandbox URL); ``key`` the bearer key. Timeouts are seconds (connect, read).
    Instances are not shared across threads.
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
    ):
        self.base_url = base_url.rstrip("/")
        self._key = key
        self.timeout = (connect_timeout, read_timeout)
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry or make_retry())
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def close(self) -> None:
        self._session.close()

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
            resp = self._session.request(
                method, url, json=json, params=params, data=data, files=files,
                headers=all_headers, timeout=timeout or self.timeout, stream=stream,
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
                                          key_setting=self.key_setting)
            finally:
                resp.close()
        return resp

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        resp = self._request(method, path, **kw)
        try:
            return resp.json()
        except ValueError:
            raise ServerError(
                f"{self.provider_name} answered {kw.get('what', 'the request')} with something "
                "that is not JSON. Try again in a minute.",
                status=resp.status_code, provider=self.provider,
                request_id=resp.headers.get("x-request-id"),
            ) from None

    def download(
        self,
        url: str,
        dest: Path,
        *,
        progress: Progress | None = None,
        read_timeout: float = 120.0,
    ) -> Download:
        """Stream ``url`` to ``dest`` (via ``dest.part``, renamed when complete) in 1 MiB
        chunks, never holding the file in memory; returns size and SHA-256.

        Raises ``NotFoundError`` (e.g. an expired result link), other ``ApiError``s, or
        ``NetworkError``; a partial file is removed.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        resp = self._request("GET", url, stream=True, headers={"Accept": "*/*"},
                             timeout=(self.timeout[0], read_timeout), what="the result download")
        total = resp.headers.get("Content-Length")
        total_n = int(total) if total and total.isdigit() else None
        digest, done = hashlib.sha256(), 0
        try:
            with resp, open(part, "wb") as fh:
                for chunk in resp.iter_content(CHUNK):
                    fh.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total_n)
        except requests.RequestException:
            part.unlink(missing_ok=True)
            raise NetworkError(f"The download from {self.provider_name} was interrupted; "
                               "it will be tried again.", maybe_sent=True) from None
        if total_n is not None and done != total_n:
            part.unlink(missing_ok=True)
            raise NetworkError(f"The download from {self.provider_name} ended early "
                               f"({done} of {total_n} bytes); it will be tried again.",
                               maybe_sent=True)
        os.replace(part, dest)
        return Download(dest, done, digest.hexdigest())


def _parse_body(resp: requests.Response) -> tuple[str | None, str | None]:
    """(code, human text) from any documented error envelope, else from the raw text.

    Oxen envelope A ``{"error": {"type", "title", "detail"}, "status": "error", ...}``,
    Oxen envelope B ``{"error": {"message"}}`` (oxen.md §12), LTX
    ``{"type": "error", "error": {"type", "message"}}`` (ltx.md §5).
    """
    try:
        body = resp.json()
    except ValueError:
        text = (resp.text or "").strip()
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
) -> ApiError:
    """The typed error for an HTTP error response, with a sentence a person can act on."""
    status = resp.status_code
    code, detail = _parse_body(resp)
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
