"""Inline results (``response_format: "b64_json"``) decoded to files while they stream in.

Oxen's sync route can answer ``{"videos": [{"b64_json": "<base64 MP4>"}, …]}`` (oxen.md
§9.2, model_params.md). Parsing that answer as JSON would hold the whole base64 text — a
third larger than the video — in memory, and storing it would put the video in the
database. :class:`InlineSplitter` reads the answer as it arrives: every ``"b64_json"`` string
is base64-decoded straight into its own file, and the rest of the JSON (small: model,
created, urls) is kept as text with each inline value replaced by ``null``. Both sizes are
capped.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from typing import IO

_STOP = re.compile(rb'["\\]')
_WS = b" \t\r\n"


class InlineError(ValueError):
    """The answer is not the JSON shape expected, or one of its parts is over its cap."""


class InlineSplitter:
    """Feed the answer's bytes with :meth:`feed`, then call :meth:`close`.

    ``open_file(n)`` opens (binary, for writing) the file for the ``n``-th inline value
    (0-based); ``max_json`` caps the rest of the JSON in bytes; ``max_file`` caps each
    decoded file in bytes. After :meth:`close`, :attr:`json_text` holds the JSON with inline
    values as ``null`` and :attr:`files` the number of files written.
    """

    def __init__(self, open_file: Callable[[int], IO[bytes]], *, max_json: int = 1 << 20,
                 max_file: int = 20 << 30):
        self.open_file = open_file
        self.max_json = max_json
        self.max_file = max_file
        self.files = 0
        self._skeleton = bytearray()
        self._in_string = False
        self._escape = False
        self._string = bytearray()  # the string being read (keys are short)
        self._after_key: bytes | None = None  # a string just closed, maybe a key
        self._colon = False  # that string was followed by ':'
        self._sink: IO[bytes] | None = None
        self._carry = b""  # base64 characters not yet a whole quantum
        self._pending_escape = False
        self._written = 0

    @property
    def json_text(self) -> str:
        return self._skeleton.decode("utf-8", errors="replace")

    def feed(self, data: bytes) -> None:
        """Consume the next bytes of the answer. Raises :class:`InlineError`."""
        i, n = 0, len(data)
        while i < n:
            if self._sink is not None:
                i = self._feed_inline(data, i)
                continue
            c = data[i:i + 1]
            i += 1
            self._skeleton += c
            if len(self._skeleton) > self.max_json:
                raise InlineError("the answer's JSON outside the inline files is too large")
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif c == b"\\":
                    self._escape = True
                elif c == b'"':
                    self._in_string = False
                    self._after_key = bytes(self._string) if len(self._string) <= 32 else b""
                    self._colon = False
                    continue
                if len(self._string) <= 32:
                    self._string += c
                continue
            if c == b'"':
                if self._after_key == b"b64_json" and self._colon:
                    # The value of "b64_json": decode it into a file instead of keeping it.
                    self._skeleton[-1:] = b"null"
                    self._sink = self.open_file(self.files)
                    self.files += 1
                    self._written = 0
                    self._after_key = None
                    continue
                self._in_string, self._string = True, bytearray()
                self._after_key = None
                continue
            if c == b":" and self._after_key is not None:
                self._colon = True
            elif c not in _WS:
                self._after_key = None

    def _feed_inline(self, data: bytes, i: int) -> int:
        assert self._sink is not None
        if self._pending_escape:
            self._pending_escape = False
            i = self._escaped(data, i)
            return i
        m = _STOP.search(data, i)
        end = m.start() if m else len(data)
        self._b64(data[i:end])
        if m is None:
            return len(data)
        if data[end:end + 1] == b'"':
            self._finish()
            return end + 1
        if end + 1 >= len(data):
            self._pending_escape = True
            return len(data)
        return self._escaped(data, end + 1)

    def _escaped(self, data: bytes, i: int) -> int:
        """Handle the character after a backslash inside an inline value."""
        c = data[i:i + 1]
        if c == b"/":
            self._b64(b"/")
        elif c not in (b"n", b"r", b"t"):  # line breaks some encoders put in base64
            raise InlineError("the inline value holds an escape that base64 never needs")
        return i + 1

    def _b64(self, chunk: bytes) -> None:
        if not chunk:
            return
        text = self._carry + chunk
        whole = len(text) // 4 * 4
        self._carry = text[whole:]
        if whole:
            try:
                decoded = binascii.a2b_base64(text[:whole], strict_mode=True)
            except binascii.Error as exc:
                raise InlineError(f"the inline value is not base64 ({exc})") from None
            self._written += len(decoded)
            if self._written > self.max_file:
                raise InlineError("an inline file is over the result size limit")
            assert self._sink is not None
            self._sink.write(decoded)

    def _finish(self) -> None:
        if self._carry:
            raise InlineError("the inline value ends in the middle of a base64 quantum")
        assert self._sink is not None
        self._sink.close()
        self._sink = None

    def close(self) -> None:
        """End of the answer. Raises :class:`InlineError` when it stopped inside a value."""
        if self._sink is not None:
            self._sink.close()
            self._sink = None
            raise InlineError("the answer ended inside an inline value")
        if self._in_string:
            raise InlineError("the answer ended inside a string")
