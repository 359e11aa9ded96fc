"""A ZIP of chosen generations: their downloaded result files plus a ``manifest.csv``.

Owns the archive layout and the manifest columns (:data:`COLUMNS`, one row per file; a
generation with no file on disk still gets one row with ``file`` and ``sha256`` empty):

- every result file goes in under ``<generation id>/<file name>``, added with
  ``ZipFile.write`` (streamed from disk, stored uncompressed: videos and EXR ZIPs are
  compressed already). The folder is the id the app shows for the generation
  (:attr:`~studio.store.Job.display_id`: the provider's generation id, else ours), made safe
  as one path component (:func:`folder_names`); the manifest holds both ids;
- ``sha256`` is computed by reading each file in 1 MiB blocks, never whole;
- the archive is written to a temporary ``*.part`` file in the output folder and renamed
  when complete, so a half-written ZIP is never served.

What goes into the manifest comes from job rows only. The job store never holds an API key
(a job's owner is the key's SHA-256 fingerprint), and URLs lose any ``user:password@`` part,
so the archive cannot carry a credential.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from studio.checksums import file_sha256
from studio.csvsafe import SafeDictWriter
from studio.jobs import Job
from studio.store import Status

COLUMNS: tuple[str, ...] = (
    "job_id", "generation_id", "model", "parameters", "source_label", "source_url",
    "quote_usd", "quote_provenance", "charge_usd", "status", "created_at", "submitted_at",
    "started_at", "completed_at", "elapsed_s", "file", "sha256",
)
MANIFEST_NAME = "manifest.csv"
EXPORT_PREFIX = "generations-"


@dataclass(frozen=True)
class Archive:
    """A finished ZIP: its ``path``, how many ``files`` it holds (besides the manifest),
    their total ``bytes``, and the job ids whose result files were not on disk."""

    path: Path
    files: int
    bytes: int
    missing: tuple[str, ...] = ()


def _strip_userinfo(url: str | None) -> str:
    """``url`` without a ``user:password@`` part (the only place a URL can carry one)."""
    if not url:
        return ""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def elapsed_s(job: Job) -> float | None:
    """Seconds from creation to completion (``None`` while unfinished), 0.1 s resolution."""
    if job.completed_at is None:
        return None
    return round(max(0.0, (job.completed_at - job.created_at).total_seconds()), 1)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def folder_names(jobs: Iterable[Job]) -> dict[str, str]:
    """Job id → the folder its files go in: its :attr:`~studio.store.Job.display_id` as one
    safe path component (characters other than letters, digits, ``.``, ``_`` and ``-``
    become ``_``, no leading dot, at most 100 characters; a provider's id is untrusted text).
    When two generations would share a folder, the later ones get ``-<first 8 of our id>``
    appended."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for job in jobs:
        name = _UNSAFE.sub("_", job.display_id).lstrip(".")[:100] or job.id
        if name in used:
            name = f"{name}-{job.id[:8]}"
        used.add(name)
        out[job.id] = name
    return out


def result_files(job: Job, folder: str | None = None) -> list[tuple[str, Path]]:
    """``(name inside the ZIP, local path)`` for each downloaded result file that exists.

    Names are ``<folder>/<file name>`` (``folder`` defaults to the job's own entry of
    :func:`folder_names`); two artifacts with the same file name get their label in front
    (``<folder>/<label>-<file name>``).
    """
    folder = folder or folder_names([job])[job.id]
    out: list[tuple[str, Path]] = []
    used: set[str] = set()
    for label, raw in sorted((job.result_files or {}).items()):
        if not raw or label == "missing":
            continue
        path = Path(raw)
        if not path.is_file():
            continue
        name = path.name
        if name in used:
            name = f"{label}-{name}"
        used.add(name)
        out.append((f"{folder}/{name}", path))
    return out


def manifest_row(job: Job, file: str = "", sha256: str = "") -> dict[str, Any]:
    """One manifest row (:data:`COLUMNS`) for ``job`` and one of its files."""
    src = job.source or {}
    quote = job.quote or {}
    elapsed = elapsed_s(job)
    return {
        "job_id": job.id,
        "generation_id": job.remote_id or "",
        "model": job.model_id,
        "parameters": json.dumps(job.params or {}, sort_keys=True, separators=(",", ":")),
        "source_label": src.get("label", ""),
        "source_url": _strip_userinfo(src.get("url")),
        "quote_usd": quote.get("amount_usd") or "",
        "quote_provenance": quote.get("provenance") or "",
        "charge_usd": job.charge_usd or "",
        "status": job.status,
        "created_at": _iso(job.created_at),
        "submitted_at": _iso(job.submitted_at),
        "started_at": _iso(job.started_at),
        "completed_at": _iso(job.completed_at),
        "elapsed_s": "" if elapsed is None else f"{elapsed:.1f}",
        "file": file,
        "sha256": sha256,
    }


def manifest_csv(rows: Iterable[dict[str, Any]]) -> str:
    """The manifest as CSV text (header + rows, ``\\r\\n`` line ends per RFC 4180). Text
    cells a spreadsheet would run as a formula (a source label ``=HYPERLINK(…)``, a URL
    starting with ``-``) start with ``'`` (:mod:`studio.csvsafe`); numbers stay numbers."""
    buf = io.StringIO()
    writer = SafeDictWriter(buf, fieldnames=list(COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def selection_bytes(jobs: Iterable[Job]) -> int:
    """Total size in bytes of the result files :func:`write_zip` would add."""
    return sum(p.stat().st_size for job in jobs for _, p in result_files(job))


def write_zip(jobs: Sequence[Job], out_dir: Path, *, now: datetime | None = None) -> Archive:
    """Write a ZIP of ``jobs`` (their result files + ``manifest.csv``) into ``out_dir``.

    The file is named ``generations-<UTC time>-<random>.zip``; it is complete once this
    returns. Raises ``OSError`` when the folder cannot be written (the partial file is
    removed).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    fd, tmp_name = tempfile.mkstemp(dir=out_dir, prefix=f"{EXPORT_PREFIX}{stamp}-",
                                    suffix=".zip.part")
    tmp = Path(tmp_name)
    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    files = total = 0
    folders = folder_names(jobs)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
            for job in jobs:
                entries = result_files(job, folders[job.id])
                if not entries:
                    if job.status == Status.SUCCEEDED:
                        missing.append(job.id)
                    rows.append(manifest_row(job))
                    continue
                for arcname, path in entries:
                    zf.write(path, arcname)
                    rows.append(manifest_row(job, arcname, file_sha256(path)))
                    files += 1
                    total += path.stat().st_size
            zf.writestr(MANIFEST_NAME, manifest_csv(rows), compress_type=zipfile.ZIP_DEFLATED)
        final = tmp.with_name(tmp.name.removesuffix(".part"))
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return Archive(final, files, total, tuple(missing))


def prune_exports(out_dir: Path, *, max_age_s: float = 3600.0, now: float | None = None) -> int:
    """Delete ZIPs (and stale ``.part`` files) this module wrote into ``out_dir`` more than
    ``max_age_s`` seconds ago; returns how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    for path in Path(out_dir).glob(f"{EXPORT_PREFIX}*.zip*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > max_age_s:
                path.unlink()
                removed += 1
    return removed
