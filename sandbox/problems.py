"""Error bodies of the two emulated services, and the handlers that guarantee them.

Owns the rule "no non-contract error body escapes": every 4xx/5xx the sandbox answers —
raised on purpose (:class:`ApiProblem`), from routing (unknown path, wrong method), from
request parsing, or from a bug — is rendered in the envelope of the service whose path was
called:

* Oxen (oxen.md §12, envelope A)::

    {"error": {"type": "<code>", "title": "<text>", "detail"?: "<text>"},
     "status": "error", "status_message": "<code>"}

  codes used: ``unauthenticated``, ``invalid_params``, ``insufficient_credits`` (402, with
  ``--credits``), ``resource_not_found``, ``method_not_allowed``, ``rate_limited`` (429, an
  injected fault), ``unknown_error``.

* LTX (ltx.md §5), on ``/v1/*``, ``/v2/*`` and the pre-signed upload URLs::

    {"type": "error", "error": {"type": "<error_type>", "message": "<text>"}}

Messages never contain request headers, so an API key cannot leak through an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("sandbox")

# Paths answered in the LTX envelope; everything else speaks Oxen.
LTX_PREFIXES = ("/v1/", "/v2/", "/_sandbox/uploads/", "/_sandbox/ltx-results/")

_OXEN_CODES = {
    400: "invalid_params",
    401: "unauthenticated",
    402: "insufficient_credits",
    403: "forbidden",
    404: "resource_not_found",
    405: "method_not_allowed",
    409: "resource_already_exists",
    413: "request_too_large",
    422: "invalid_params",
    429: "rate_limited",
}
_LTX_CODES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_funds_error",
    403: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    422: "content_filtered_error",  # ltx.md §5: LTX's only 422
    429: "rate_limit_error",
    503: "service_unavailable",
}


class ApiProblem(Exception):
    """An HTTP error to answer in the caller's provider envelope.

    ``code`` is the provider's error type; ``None`` picks the usual one for ``status`` on that
    provider (e.g. 404 → ``resource_not_found`` / ``not_found_error``). ``message`` is a
    sentence for a person; ``detail`` (Oxen only) an optional second sentence.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        detail: str | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


def is_ltx_path(path: str) -> bool:
    return path.startswith(LTX_PREFIXES)


def oxen_error_body(
    status: int, title: str, *, code: str | None = None, detail: str | None = None
) -> dict:
    """Oxen envelope A (oxen.md §12)."""
    code = code or _OXEN_CODES.get(status, "unknown_error")
    error: dict[str, str] = {"type": code, "title": title}
    if detail:
        error["detail"] = detail
    return {"error": error, "status": "error", "status_message": code}


def ltx_error_body(status: int, message: str, *, code: str | None = None) -> dict:
    """LTX error envelope (ltx.md §5)."""
    code = code or _LTX_CODES.get(status, "api_error")
    return {"type": "error", "error": {"type": code, "message": message}}


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    code: str | None = None,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The error in the envelope of the provider that owns ``request``'s path."""
    if is_ltx_path(request.url.path):
        body = ltx_error_body(status, message, code=code)
    else:
        body = oxen_error_body(status, message, code=code, detail=detail)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def install_handlers(app: FastAPI) -> None:
    """Replace FastAPI's default 404/405/422/500 bodies with the contract envelopes."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return error_response(
            request, exc.status, exc.message, code=exc.code, detail=exc.detail, headers=exc.headers
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            message = f"No such resource: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return error_response(request, exc.status_code, message, headers=exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Name the field and the rule, never the submitted value.
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}")
        return error_response(request, 400, "; ".join(parts) or "Invalid request")

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("sandbox: unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            request, 500, f"Internal sandbox error ({type(exc).__name__}); see the sandbox log."
        )

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_crash)
