"""Provider text is untrusted: keys and token-shaped strings are removed before it goes anywhere.

Every string a provider sends back (an error body, a generation's ``error_message``, an
LTX ``error.message``) may quote the request's own ``Authorization`` header — "Invalid API
key: Bearer sk-…" is a common shape — or another secret. :func:`scrub` removes

- every configured key, verbatim (and URL-encoded), wherever it appears;
- anything shaped like a bearer token or an API key: ``Bearer <token>``,
  ``Authorization: <value>``, ``api_key=<value>`` / ``"token": "<value>"`` pairs, ``sk-…``
  style keys and JSON Web Tokens;

and caps the text's length, so one answer cannot fill a page or a database row. It is
applied where provider text enters the core (:mod:`studio.providers`) and again before a
sentence is stored on a generation (:mod:`studio.tracker`, :mod:`studio.service`), so no
store, log, CLI output or page ever shows a key even when a provider echoes it.

Provider text is also *shown* as plain text, never Markdown or HTML: see
``components/text.py`` for the page side.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
MAX_PROVIDER_TEXT = 500  # characters of one provider string kept for a sentence

# "Bearer abc.def-123" (RFC 6750 §2.1 b64token: letters, digits and -._~+/ plus trailing =).
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9\-._~+/]{4,}=*")
# "Authorization: xyz", "api_key=xyz", "\"token\": \"xyz\"", "x-api-key: xyz" ...
_PAIR = re.compile(
    r"(?i)\b((?:x-)?(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|token|secret|"
    r"password|authorization|key))(\"?\s*[:=]\s*\"?)(?!\[redacted\]|bearer\b)"
    r"([^\s\"',;&}]{8,})")
# Vendor-style keys: "sk-…", "sk_live_…", "pk-…", "oxen_…", "ltxv_…" and friends.
_PREFIXED = re.compile(r"\b(?:sk|pk|rk|oxen|ltxv?|key)[-_](?=[A-Za-z0-9\-_]*\d)[A-Za-z0-9\-_]{12,}")
# A JSON Web Token: three base64url parts, the first two starting with "eyJ" ('{"').
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}")


def _pair(m: re.Match[str]) -> str:
    """A ``name: value`` pair keeps its name; the value goes when it looks like a credential
    (a digit in it, or 24+ characters), so "key: required" stays readable."""
    value = m.group(3)
    if any(c.isdigit() for c in value) or len(value) >= 24:
        return f"{m.group(1)}{m.group(2)}{REDACTED}"
    return m.group(0)


def _secret_values(secrets: Iterable[object]) -> list[str]:
    values: list[str] = []
    for secret in secrets:
        if secret is None:
            continue
        reveal = getattr(secret, "reveal", None)
        value = reveal() if callable(reveal) else str(secret)
        if value and len(value) >= 4:
            values.append(value)
    return values


def scrub(text: object, secrets: Iterable[object] = (), *, limit: int | None = MAX_PROVIDER_TEXT
          ) -> str:
    """``text`` with every key in ``secrets`` and every token-shaped string replaced by
    ``[redacted]``, control characters turned into spaces, and at most ``limit`` characters
    (an ellipsis marks a cut; ``None`` keeps the whole length).

    ``secrets`` are :class:`studio.config.Secret` objects or plain strings; ``None`` entries
    are skipped. Never raises: anything not a string is ``str()``-ed first.
    """
    out = text if isinstance(text, str) else str(text)
    for value in sorted(_secret_values(secrets), key=len, reverse=True):
        for form in {value, quote(value, safe=""), quote_plus(value)}:
            out = out.replace(form, REDACTED)
    out = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", out)
    out = _PAIR.sub(_pair, out)
    out = _PREFIXED.sub(REDACTED, out)
    out = _JWT.sub(REDACTED, out)
    out = "".join(c if c.isprintable() or c in "\n" else " " for c in out)
    if limit is not None and len(out) > limit:
        out = out[: max(0, limit - 1)].rstrip() + "…"
    return out


def remove_secrets(text: str, secrets: Iterable[object]) -> str:
    """``text`` with only the configured ``secrets`` replaced (verbatim and URL-encoded): for
    links, where token-shaped query values (a CDN's signature) must stay as they are but a
    key must never be stored."""
    out = text
    for value in sorted(_secret_values(secrets), key=len, reverse=True):
        for form in {value, quote(value, safe=""), quote_plus(value)}:
            out = out.replace(form, REDACTED)
    return out


def scrub_optional(text: object | None, secrets: Iterable[object] = (), *,
                   limit: int | None = MAX_PROVIDER_TEXT) -> str | None:
    """:func:`scrub` for an optional value: ``None`` and ``""`` stay ``None``."""
    if text is None or text == "":
        return None
    return scrub(text, secrets, limit=limit)


def contains_secret(text: str, secrets: Iterable[object]) -> bool:
    """True when any of ``secrets`` appears verbatim in ``text`` (for tests and checks)."""
    return any(v in text for v in _secret_values(secrets))


__all__ = ["MAX_PROVIDER_TEXT", "REDACTED", "contains_secret", "remove_secrets", "scrub",
           "scrub_optional"]
