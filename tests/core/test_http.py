"""The HTTP chokepoint: retries only where safe, typed errors with actionable sentences,
keys only sent to the provider's own origin."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from studio.config import Secret
from studio.errors import (
    AuthError,
    NetworkError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitedError,
    ServerError,
    TooLargeError,
    ValidationError,
)
from studio.providers.http import error_from_response, make_retry
from studio.providers.ltx import LtxClient
from studio.providers.oxen import OxenClient
from studio.tracking.downloads import DownloadError


class Recorder(BaseHTTPRequestHandler):
    log: list = []
    status = 503

    def _answer(self):
        Recorder.log.append((self.command, self.path, self.headers.get("Authorization")))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"error": {"type": "unknown_error", "title": "busy"},
                           "status": "error", "status_message": "unknown_error"}).encode()
        self.send_response(Recorder.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = _answer

    def log_message(self, *a):
        pass


@pytest.fixture()
def server():
    Recorder.log = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def fast_client(cls, url):
    return cls(url, Secret("k-123"), retry=make_retry(backoff=0.0))


def test_get_is_retried_on_503_but_paid_post_is_sent_once(server):
    client = fast_client(OxenClient, server)
    with pytest.raises(ServerError):
        client.get_generation("g")
    gets = [r for r in Recorder.log if r[0] == "GET"]
    assert len(gets) == 5  # first try + 4 status retries
    Recorder.log.clear()
    with pytest.raises(ServerError) as err:
        client.enqueue("topazlabs-rhea-video", {"input_video": "http://x"})
    assert [r[0] for r in Recorder.log] == ["POST"]
    assert "server error" in str(err.value) and "busy" in str(err.value)


def test_ltx_submit_is_sent_once(server):
    Recorder.status = 500
    try:
        with pytest.raises(ServerError):
            fast_client(LtxClient, server).submit_hdr("https://x/clip.mp4")
        assert [r[0] for r in Recorder.log] == ["POST"]
    finally:
        Recorder.status = 503


def test_connection_refused_is_not_sent_and_says_so():
    client = OxenClient("http://127.0.0.1:9", Secret("k"), retry=make_retry(backoff=0.0))
    with pytest.raises(NetworkError) as err:
        client.enqueue("m", {})
    assert err.value.maybe_sent is False and "Could not connect" in str(err.value)


def test_key_goes_only_to_the_provider_origin(server):
    client = fast_client(OxenClient, server)
    with pytest.raises(ServerError):
        client.cancel("g")
    assert Recorder.log[0][2] == "Bearer k-123"
    Recorder.log.clear()
    other = server.replace("127.0.0.1", "localhost")
    with pytest.raises(DownloadError) as failed:
        client.download(f"{other}/result.mp4", __import__("pathlib").Path("/tmp/never.mp4"))
    assert failed.value.transient  # a 503 from the result host is tried again later
    assert Recorder.log[0][2] is None


def response(status, body, headers=None):
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps(body).encode() if not isinstance(body, bytes) else body
    r.headers.update(headers or {})
    return r


OXEN_A = {"error": {"type": "unauthenticated", "title": "Invalid token"}, "status": "error",
          "status_message": "unauthenticated"}
LTX = {"type": "error", "error": {"type": "concurrency_limit_error", "message": "2 jobs running"}}


@pytest.mark.parametrize("status, body, headers, cls, words", [
    (401, OXEN_A, {}, AuthError, ["OXEN_API_KEY", "Invalid token"]),
    (402, {"error": {"message": "Insufficient credits"}}, {}, PaymentRequiredError,
     ["namespace", "credits", "Insufficient credits"]),
    (404, {"error": {"type": "resource_not_found", "title": "Generation not found"}}, {},
     NotFoundError, ["404", "Generation not found"]),
    (413, b"too big", {}, TooLargeError, ["too large"]),
    (429, LTX, {"Retry-After": "12"}, RateLimitedError, ["at once", "12 s"]),
    (422, {"type": "error", "error": {"type": "content_filtered_error", "message": "nope"}}, {},
     ValidationError, ["safety filters"]),
    (400, {"error": {"type": "invalid_params", "title": "bad", "detail": "resolution"}}, {},
     ValidationError, ["bad", "resolution"]),
    (503, b"<html>", {"x-request-id": "req-9"}, ServerError, ["Try again", "req-9"]),
])
def test_error_sentences(status, body, headers, cls, words):
    err = error_from_response("oxen", "Oxen", response(status, body, headers), what="the request",
                              key_setting="OXEN_API_KEY")
    assert isinstance(err, cls) and err.status == status
    for w in words:
        assert w in str(err)


def test_rate_limit_kinds():
    err = error_from_response("ltx", "LTX", response(429, LTX, {"Retry-After": "3"}))
    assert err.kind == "concurrency" and err.retry_after == 3.0
    err = error_from_response("ltx", "LTX", response(
        429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}))
    assert err.kind == "rate" and err.retry_after is None


def test_secret_never_prints():
    s = Secret("sk-very-secret-value")
    assert "very-secret" not in repr(s) and "very-secret" not in str(s)
    assert "very-secret" not in repr(OxenClient("http://x", s))
