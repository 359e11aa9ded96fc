"""Where the sandbox keeps bytes on disk, and how URLs map to them.

Owns the data-dir layout and its path safety:

* ``repos/<namespace>/<repo>/<branch>/<path>`` — Oxen repo files, served at
  ``/api/repos/<namespace>/<repo>/file/<branch>/<path>`` (oxen.md §13.1). Generation results
  go to ``<username>/generations`` at ``<generation_id>/<file>`` on ``main``.
* ``uploads/<token>`` — bytes PUT to an LTX pre-signed upload URL (ltx.md §7).
* ``ltx-results/<job_id>/<file>`` — LTX outputs, served at ``/_sandbox/ltx-results/...`` (the
  sandbox's stand-in for LTX's storage bucket URLs).
* ``work/<id>/`` — scratch (downloaded inputs), deleted when a job ends.

Every path component that comes from a request is checked: no empty, ``.`` or ``..``
segments, no backslashes or NUL, and the resolved path must stay under its root.
Copies are chunked (1 MiB) so no whole video is ever held in memory.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote, urlsplit

CHUNK = 1024 * 1024

# mimetypes does not know every format we serve; a browser needs video/mp4 to play a file.
_EXTRA_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".zip": "application/zip",
    ".exr": "image/x-exr",
}


class UnsafePath(ValueError):
    """A request path that would escape its root or is not a plain relative path."""


def media_type_for(path: Path) -> str:
    """Content-Type for a served file, from its extension."""
    ext = path.suffix.lower()
    if ext in _EXTRA_TYPES:
        return _EXTRA_TYPES[ext]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def safe_parts(path: str) -> list[str]:
    """Split a relative URL path into segments; raise :class:`UnsafePath` if any is unsafe."""
    parts = [p for p in path.split("/") if p != ""]
    if not parts:
        raise UnsafePath("empty path")
    for p in parts:
        if p in (".", "..") or "\\" in p or "\x00" in p:
            raise UnsafePath(f"unsafe path segment {p!r}")
    return parts


def _under(root: Path, parts: Iterable[str]) -> Path:
    target = root.joinpath(*parts)
    if not target.resolve().is_relative_to(root.resolve()):
        raise UnsafePath("path escapes its root")
    return target


class DataDir:
    """The sandbox data dir and its sub-trees (created on construction)."""

    def __init__(self, root: Path):
        self.root = root
        self.repos = root / "repos"
        self.uploads = root / "uploads"
        self.ltx_results = root / "ltx-results"
        self.work = root / "work"
        for d in (self.repos, self.uploads, self.ltx_results, self.work):
            d.mkdir(parents=True, exist_ok=True)

    @property
    def db_path(self) -> Path:
        return self.root / "sandbox.sqlite3"

    # -- repos ---------------------------------------------------------------------------------

    def repo_file(self, namespace: str, repo: str, branch: str, path: str) -> Path:
        """Local path of ``path`` on ``branch`` of ``namespace/repo`` (may not exist)."""
        head = safe_parts(f"{namespace}/{repo}/{branch}")
        if len(head) != 3:
            raise UnsafePath("namespace, repo and branch must be single path segments")
        return _under(self.repos, [*head, *safe_parts(path)])

    def repo_exists(self, namespace: str, repo: str) -> bool:
        return _under(self.repos, safe_parts(f"{namespace}/{repo}")).is_dir()

    def create_repo(self, namespace: str, repo: str) -> None:
        (_under(self.repos, safe_parts(f"{namespace}/{repo}")) / "main").mkdir(
            parents=True, exist_ok=True
        )

    # -- LTX -----------------------------------------------------------------------------------

    def upload_file(self, token: str) -> Path:
        return _under(self.uploads, safe_parts(token))

    def ltx_result_dir(self, job_id: str) -> Path:
        return _under(self.ltx_results, safe_parts(job_id))

    def ltx_result_file(self, job_id: str, name: str) -> Path:
        return _under(self.ltx_results, [*safe_parts(job_id), *safe_parts(name)])

    def work_dir(self, job_id: str) -> Path:
        return _under(self.work, safe_parts(job_id))

    # -- URL → local file ----------------------------------------------------------------------

    def local_file_for_path(self, url_path: str) -> Path | None:
        """The local file behind a GET path this sandbox serves, or ``None`` if it is not one.

        Recognises ``/api/repos/<ns>/<repo>/file/<branch>/<path>`` and
        ``/_sandbox/ltx-results/<id>/<name>``. Does not check that the file exists.
        """
        path = unquote(url_path)
        try:
            if path.startswith("/api/repos/"):
                parts = safe_parts(path[len("/api/repos/") :])
                if len(parts) >= 5 and parts[2] == "file":
                    ns, repo, _, branch, *rest = parts
                    return self.repo_file(ns, repo, branch, "/".join(rest))
            elif path.startswith("/_sandbox/ltx-results/"):
                parts = safe_parts(path[len("/_sandbox/ltx-results/") :])
                if len(parts) == 2:
                    return self.ltx_result_file(parts[0], parts[1])
        except UnsafePath:
            return None
        return None


def repo_file_url(base_url: str, namespace: str, repo: str, branch: str, path: str) -> str:
    """Public URL of a repo file (oxen.md §13.1 step 3 shape)."""
    return (
        f"{base_url.rstrip('/')}/api/repos/{quote(namespace)}/{quote(repo)}/file/"
        f"{quote(branch)}/{quote(path)}"
    )


def url_path(url: str) -> str:
    return urlsplit(url).path


def write_stream(dest: Path, source: BinaryIO, *, max_bytes: int | None = None) -> int:
    """Copy ``source`` to ``dest`` in 1 MiB chunks via a temp file + atomic rename.

    Returns the byte count. Raises ``OverflowError`` (and leaves ``dest`` untouched) past
    ``max_bytes``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    total = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                total += len(chunk)
                if max_bytes is not None and total > max_bytes:
                    raise OverflowError(f"more than {max_bytes} bytes")
                out.write(chunk)
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return total


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
