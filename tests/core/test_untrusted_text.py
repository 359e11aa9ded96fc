"""Provider text is untrusted (issue 9 §5): keys and token-shaped strings are scrubbed where it
enters, answers are read bounded, and the inline (b64_json) answer streams to a file."""

from __future__ import annotations

import base64
import io
import json
import random

import pytest
import requests

from studio.config import Secret
from studio.errors import UnreadableAnswerError
from studio.providers.http import error_from_response
from studio.providers.inline import InlineError, InlineSplitter
from studio.providers.ltx import LtxJob
from studio.providers.oxen import OxenGeneration
from studio.redact import REDACTED, scrub

KEY = Secret("sk-live-9f8e7d6c5b4a3210ZYXW")


@pytest.mark.parametrize("text", [
    "Invalid API key: Bearer sk-live-9f8e7d6c5b4a3210ZYXW",
    "upstream said Authorization: Bearer abc.DEF-123_456~+/=",
    "failed with key=sk-live-9f8e7d6c5b4a3210ZYXW&x=1",
    '{"api_key": "k7Hq2pX9mN4vB8cZ1aS5"}',
    "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.SflKxwRJSMeKKF2QT4fwpM",
    "url-encoded sk-live-9f8e7d6c5b4a3210ZYXW%20 and sk%2Dlive",
    "an ltxv_4d9a1c2b3e4f5a6b7c8d key",
])
def test_keys_and_token_shapes_are_removed(text):
    out = scrub(text, [KEY])
    assert KEY.reveal() not in out and REDACTED in out
    for secretish in ("abc.DEF-123", "k7Hq2pX9", "SflKxwRJ", "4d9a1c2b"):
        assert secretish not in out


@pytest.mark.parametrize("text", [
    "resolution: must be one of 1080p, 2k, 4k (got '8k')",
    "key_frame_interval_seconds must be set; the token expired",
    "Insufficient credits",
])
def test_ordinary_sentences_are_kept(text):
    assert scrub(text, [KEY]) == text


def test_long_text_is_cut_and_control_characters_dropped():
    out = scrub("a\x1b[31mred\x00" + "x" * 2000)
    assert len(out) <= 500 and "\x1b" not in out and "\x00" not in out and out.endswith("…")


def _response(status: int, body: bytes) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body
    return r


def test_a_401_echoing_the_key_becomes_a_sentence_without_it():
    body = json.dumps({"error": {"type": "unauthorized",
                                 "title": f"Invalid API key: Bearer {KEY.reveal()}"}}).encode()
    err = error_from_response("oxen", "Oxen", _response(401, body), secrets=[KEY])
    assert KEY.reveal() not in str(err) and KEY.reveal() not in (err.detail or "")
    assert "rejected the API key" in str(err) and REDACTED in str(err)


def test_error_bodies_are_read_only_up_to_their_cap():
    err = error_from_response("ltx", "LTX", _response(500, b"<html>" + b"x" * 10_000_000))
    assert len(str(err)) < 1000


def test_generation_errors_and_unknown_statuses_are_scrubbed():
    row = {"generation_id": "g", "status": "failed",
           "error_message": f"Bearer {KEY.reveal()} was refused"}
    assert KEY.reveal() not in OxenGeneration.from_json(row, (KEY,)).error_message
    with pytest.raises(UnreadableAnswerError) as failed:
        OxenGeneration.from_json({"generation_id": "g", "status": f"Bearer {KEY.reveal()}"},
                                 (KEY,))
    assert KEY.reveal() not in str(failed.value)
    job = LtxJob.from_json({"id": "j", "status": "failed",
                            "error": {"type": "x", "message": f"key={KEY.reveal()}"}}, (KEY,))
    assert KEY.reveal() not in job.error[1]


def test_inline_b64_answer_is_split_into_files_in_any_chunking():
    video, frames = bytes(range(256)) * 400, b"PK\x03\x04" + bytes(5000)
    answer = json.dumps({"model": "m", "videos": [
        {"b64_json": base64.b64encode(video).decode()}, {"url": "https://x/y.zip"},
        {"b64_json": base64.b64encode(frames).decode()}]}).encode()
    answer = answer.replace(b"/", b"\\/")  # JSON may escape every slash, base64's included
    rng = random.Random(7)
    for _ in range(30):
        files: dict[int, bytes] = {}

        class Sink(io.BytesIO):
            def __init__(self, n, out=files):
                super().__init__()
                self.n, self.out = n, out

            def close(self):
                self.out[self.n] = self.getvalue()

        splitter = InlineSplitter(Sink)
        i = 0
        while i < len(answer):
            step = rng.randint(1, 3000)
            splitter.feed(answer[i:i + step])
            i += step
        splitter.close()
        assert files == {0: video, 1: frames}
        parsed = json.loads(splitter.json_text)
        assert parsed["videos"][0] == {"b64_json": None}
        assert parsed["videos"][1] == {"url": "https://x/y.zip"}


def test_inline_answer_over_its_caps_or_malformed_is_refused():
    big = json.dumps({"videos": [{"b64_json": base64.b64encode(b"x" * 3000).decode()}]})
    with pytest.raises(InlineError):
        splitter = InlineSplitter(lambda n: io.BytesIO(), max_file=1000)
        splitter.feed(big.encode())
    with pytest.raises(InlineError):
        splitter = InlineSplitter(lambda n: io.BytesIO())
        splitter.feed(b'{"videos": [{"b64_json": "AAA!"}]}')
    with pytest.raises(InlineError):
        splitter = InlineSplitter(lambda n: io.BytesIO(), max_json=100)
        splitter.feed(b'{"pad": "' + b"y" * 200 + b'"}')
    splitter = InlineSplitter(lambda n: io.BytesIO())
    splitter.feed(b'{"videos": [{"b64_json": "AAAA')
    with pytest.raises(InlineError, match="ended inside"):
        splitter.close()


def test_a_hundred_thousand_problems_read_as_the_first_fifty_and_a_count():
    import re

    from components.text import problem_list

    problems = [f"row {i}: duration_s must be > 0" for i in range(1, 100_001)]
    shown = [re.sub(r"\\(.)", r"\1", line) for line in problem_list(problems).splitlines()]
    assert len(shown) == 51  # 50 problems and the count
    assert shown[0] == "- row 1: duration_s must be > 0"
    assert shown[49] == "- row 50: duration_s must be > 0"
    assert shown[-1] == "- … and 99,950 more (100,000 in all)"
