"""Only unpaid, idempotent steps (uploads) are retried; each retry decision is table-driven."""

import pytest

from studio.errors import AuthError, NetworkError, RateLimitedError, ServerError, ValidationError
from studio.service import _retry_unpaid


def flaky(errors):
    calls = []

    def send():
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "url"
    return send, calls


@pytest.mark.parametrize("error", [
    RateLimitedError("slow down", status=429, retry_after=0.01),
    ServerError("boom", status=503),
    NetworkError("dropped", maybe_sent=True),
])
def test_transient_upload_failures_are_retried(error, monkeypatch):
    monkeypatch.setattr("studio.service.time.sleep", lambda s: None)
    send, calls = flaky([error, error])
    assert _retry_unpaid(send) == "url" and len(calls) == 3


def test_gives_up_after_three_attempts(monkeypatch):
    monkeypatch.setattr("studio.service.time.sleep", lambda s: None)
    send, calls = flaky([ServerError("x", status=500)] * 3)
    with pytest.raises(ServerError):
        _retry_unpaid(send)
    assert len(calls) == 3


@pytest.mark.parametrize("error", [ValidationError("bad", status=400), AuthError("key", status=401)])
def test_client_errors_are_not_retried(error):
    send, calls = flaky([error])
    with pytest.raises(type(error)):
        _retry_unpaid(send)
    assert len(calls) == 1
