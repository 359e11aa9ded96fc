"""The error tree of the core package.

Every failure a person can act on is a :class:`StudioError` whose ``str()`` is a sentence
that says what went wrong and what to do. The UI catches the base class in one place and
shows that sentence; nothing below ever needs a traceback to be understood.

    StudioError
    ├── ConfigError            settings missing or inconsistent
    ├── MediaError             a file that is not a usable video / EXR (empty, truncated, wrong type)
    ├── ParamError             request parameters that break the model's spec (all problems at once)
    ├── LimitError             a clip the model cannot take (too many frames, too large)
    ├── NetworkError           no HTTP answer (connection refused, timeout, dropped)
    ├── BudgetExceededError    a submit would cross the team's or the owner's budget
    ├── ConfirmationRequired   a submit quoted above the confirmation threshold, not confirmed
    └── ApiError               an HTTP error from Oxen, LTX or the sandbox
        ├── ValidationError    400 / 422
        ├── AuthError          401 / 403
        ├── PaymentRequiredError 402
        ├── NotFoundError      404
        ├── TooLargeError      413
        ├── RateLimitedError   429 (rate or concurrency limit; ``retry_after`` seconds)
        ├── ServerError        5xx
        └── UnreadableAnswerError  a 2xx answer the app refuses to read (too large, too slow,
                               not JSON, an unknown status): the provider, not the network
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from studio.money import cents


class _Verdict(Protocol):
    """What :class:`BudgetExceededError` needs of a :class:`studio.budget.BudgetVerdict`
    (typed structurally, so this module imports nothing but :mod:`studio.money`)."""

    @property
    def message(self) -> str: ...


def shown_value(value: object) -> str:
    """``repr(value)`` for a problem sentence, at most 40 characters; never raises (an int of
    5000 digits cannot even be repr'd)."""
    try:
        text = repr(value)
    except (ValueError, TypeError, RecursionError):
        text = "a value too long to show"
    return text if len(text) <= 40 else text[:39] + "…"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: ``field`` (the API's own field name, or ``None`` for
    the clip or the request as a whole), ``code`` (what kind of problem, for code to decide
    on: ``"required"``, ``"blank"``, ``"type"``, ``"enum"``, ``"minimum"``, ``"maximum"``,
    ``"not_finite"``, ``"unknown_field"``, ``"limit"``, ...) and ``message`` (for a person,
    without the field name). ``str()`` is the sentence shown: ``"field: message"``.

    Code branches on ``code`` and ``field``, never on the sentence.
    """

    field: str | None
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class StudioError(Exception):
    """Base class: ``str(error)`` is a complete sentence meant for the person using the app."""


class ConfigError(StudioError):
    """Settings are missing or inconsistent (e.g. live Oxen uploads without a namespace)."""


class MediaError(StudioError):
    """A file is not usable media: empty, truncated, not a video, or a damaged EXR."""


class ParamError(StudioError):
    """Request parameters break the model's spec.

    ``problems`` lists every problem at once as sentences, each naming the field and what is
    allowed, e.g. ``"resolution: must be one of 1080p, 2k, 4k (got '8k')"``; ``details`` holds
    the structured :class:`Problem` of each one given as such (plain sentences get
    ``code="other"``), for code that needs to tell problems apart.
    """

    def __init__(self, problems: Sequence[str | Problem]):
        self.details = tuple(p if isinstance(p, Problem) else Problem(None, "other", str(p))
                             for p in problems)
        self.problems = [str(p) for p in problems]
        super().__init__("The request has problems: " + "; ".join(self.problems) + ".")


class LimitError(StudioError):
    """The clip breaks a model limit (frame cap of an input tier, a size over 3840×2160, ...)."""


class NetworkError(StudioError):
    """No HTTP answer came back (connection refused, DNS failure, timeout, dropped connection).

    ``maybe_sent`` is True when the request may have reached the server before the failure
    (a read timeout or a connection dropped mid-response): a paid POST in that state must not
    be resent blindly, its generation is marked ``unknown`` instead.
    """

    def __init__(self, message: str, *, maybe_sent: bool):
        self.maybe_sent = maybe_sent
        super().__init__(message)


class BudgetExceededError(StudioError):
    """A submit would cross a budget cap; nothing was stored or sent.

    ``verdict`` is the :class:`studio.budget.BudgetVerdict`; ``str()`` is its message, which
    shows the cap, the spend so far, the request and the sum.
    """

    def __init__(self, verdict: _Verdict):
        self.verdict = verdict
        super().__init__(verdict.message)


class ConfirmationRequired(StudioError):
    """A submit is quoted above the confirmation threshold and was not confirmed; nothing was
    stored or sent. Ask the person, then submit again with ``confirmed=True``.

    ``total_usd`` is the quote of the whole request (all generations, every row of a batch);
    ``threshold_usd`` is ``Settings.confirm_above_usd``. Both USD.
    """

    def __init__(self, total_usd: Decimal, threshold_usd: Decimal, *, what: str = "This request"):
        self.total_usd = total_usd
        self.threshold_usd = threshold_usd
        super().__init__(
            f"{what} is quoted at {cents(total_usd)}, above the {cents(threshold_usd)} that needs "
            "a confirmation: confirm to send it.")


class ApiError(StudioError):
    """An HTTP error answered by a provider (or the sandbox).

    Attributes:
        status: HTTP status code.
        code: the provider's error code (Oxen ``error.type``, LTX ``error.type``), if any.
        detail: the provider's human text.
        request_id: the ``x-request-id`` response header, if any (quote it to support).
        provider: ``"oxen"`` or ``"ltx"``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        detail: str | None = None,
        request_id: str | None = None,
        provider: str | None = None,
    ):
        self.status = status
        self.code = code
        self.detail = detail
        self.request_id = request_id
        self.provider = provider
        suffix = f" (request id {request_id})" if request_id else ""
        super().__init__(message + suffix)


class ValidationError(ApiError):
    """400 / 422: the service rejected the request's content."""


class AuthError(ApiError):
    """401 / 403: the API key is missing, wrong or revoked."""


class PaymentRequiredError(ApiError):
    """402: the billed account or namespace lacks credits for this request."""


class NotFoundError(ApiError):
    """404: unknown (or expired) generation, model or file."""


class TooLargeError(ApiError):
    """413: the request body is over the service's byte limit."""


class RateLimitedError(ApiError):
    """429: too many requests (``kind == "rate"``) or too many jobs at once (``"concurrency"``).

    ``retry_after`` is the ``Retry-After`` header in seconds, or ``None`` when absent.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, kind: str = "rate", **kw):
        self.retry_after = retry_after
        self.kind = kind
        super().__init__(message, **kw)


class ServerError(ApiError):
    """5xx: the service failed; safe to try a read again later, never a paid POST blindly."""


class UnreadableAnswerError(ApiError):
    """A provider answered, but not with something the app can read: a body over the size
    cap (a 500 MB status answer), one that trickles in past the deadline, one that is not
    JSON, or a generation in a status this app does not know. The tracker records the
    sentence on the generation and stops polling it often after a few in a row."""
