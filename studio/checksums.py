"""File checksums, computed once per file version.

Pages rerun often (every widget change, and a live fragment every 2 s) and several of them
need the hash of the same source clip (upload cache, trim cache, preview cache, export). A
file is read once per (path, size, modification time); a changed file is hashed again.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path


def file_sha256(path: Path | str) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks; memoised per (path, size, mtime).

    Raises ``OSError`` when the file cannot be read.
    """
    p = Path(path).resolve()
    st = p.stat()
    return _sha256(str(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=512)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
