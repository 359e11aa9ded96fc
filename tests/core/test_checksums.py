"""Checksums are read once per file version and never stale."""

import hashlib
import os

from studio import checksums


def test_hash_is_memoised_and_follows_changes(tmp_path, monkeypatch):
    f = tmp_path / "clip.mp4"
    f.write_bytes(b"a" * 3_000_000)
    first = checksums.file_sha256(f)
    assert first == hashlib.sha256(b"a" * 3_000_000).hexdigest()
    reads = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: reads.append(a) or real_open(*a, **k))
    assert checksums.file_sha256(f) == first and reads == []  # same version: no I/O
    monkeypatch.undo()
    f.write_bytes(b"b" * 3_000_000)  # same size, new content and mtime
    os.utime(f, ns=(1, 1_000_000_000))
    assert checksums.file_sha256(f) == hashlib.sha256(b"b" * 3_000_000).hexdigest()
