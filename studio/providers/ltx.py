"""Client for the LTX API's video-to-video HDR route and its upload flow.

Contract: ``shared/api/ltx.md``. Submit is ``POST /v2/video-to-video-hdr`` → 202
``{id, created_at}``; poll ``GET /v2/video-to-video-hdr/{id}`` (pending → processing →
completed | failed); local files go through ``POST /v1/upload`` then a ``PUT`` of the bytes
to the pre-signed ``upload_url`` (which never receives the API key). LTX documents no
idempotency key, so a submit is never retried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from studio.errors import ApiError, UnreadableAnswerError
from studio.providers.http import HttpClient
from studio.redact import scrub

LTX_STATUSES = ("pending", "processing", "completed", "failed")
HDR_ROUTE = "/v2/video-to-video-hdr"


def _iso(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(frozen=True)
class LtxJob:
    """A job status object (ltx.md §4). ``result`` maps output labels (``exr_frames_url``,
    later also ``video_url``) to URLs; ``error`` is ``(type, message)`` when failed."""

    id: str
    status: str
    created_at: datetime | None
    completed_at: datetime | None = None
    result: dict[str, str] = field(default_factory=dict)
    error: tuple[str, str] | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], secrets: tuple[Any, ...] = ()) -> LtxJob:
        """Parse a status object; raises ``UnreadableAnswerError`` for one without an id or
        with an unknown status. The error text is scrubbed of ``secrets`` and anything
        shaped like a token."""
        if not isinstance(data, Mapping) or not data.get("id"):
            raise UnreadableAnswerError("LTX answered with a job without an id; the app "
                                        "cannot read it.", status=200, provider="ltx")
        status = data.get("status")
        if status not in LTX_STATUSES:
            shown = scrub(status, secrets, limit=40) if isinstance(status, str) else \
                type(status).__name__
            raise UnreadableAnswerError(
                f"LTX reports this job as “{shown}”, a status this app does not know (it "
                f"knows {', '.join(LTX_STATUSES)}); it keeps checking. An app update may be "
                "needed.", status=200, provider="ltx")
        err = data.get("error")
        return cls(
            id=str(data["id"]),
            status=str(status),
            created_at=_iso(data.get("created_at")),
            completed_at=_iso(data.get("completed_at")),
            result={str(k): str(v) for k, v in (data.get("result") or {}).items() if v},
            error=(scrub(err.get("type", "error"), secrets, limit=80),
                   scrub(err.get("message", ""), secrets))
            if isinstance(err, Mapping) else None,
        )

    @property
    def artifacts(self) -> dict[str, str]:
        """``{"exr_frames": url, "video": url}`` from ``result`` (iterate, don't assume keys)."""
        out: dict[str, str] = {}
        for key, url in self.result.items():
            label = "exr_frames" if "exr" in key or url.split("?")[0].endswith(".zip") else "video"
            out.setdefault(label, url)
        return out


@dataclass(frozen=True)
class UploadSlot:
    """``POST /v1/upload`` answer (ltx.md §7): PUT the bytes to ``upload_url`` with
    ``required_headers`` before ``expires_at``; then use ``storage_uri`` as ``video_uri``."""

    upload_url: str
    storage_uri: str
    expires_at: datetime | None
    required_headers: dict[str, str]


class ProgressReader:
    """A file wrapper with a length, so ``requests`` streams it with a Content-Length and
    reports progress as ``http.client`` reads it block by block."""

    def __init__(self, fh: Any, total: int, progress: Callable[[int, int | None], None] | None):
        self._fh, self._total, self._progress, self._done = fh, total, progress, 0

    def __len__(self) -> int:
        return self._total

    def read(self, size: int = -1) -> bytes:
        block = self._fh.read(size)
        self._done += len(block)
        if self._progress and block:
            self._progress(self._done, self._total)
        return block


class LtxClient(HttpClient):
    """LTX API client. ``base_url`` like ``https://api.ltx.video``."""

    provider = "ltx"
    provider_name = "LTX"
    key_setting = "LTXV_API_KEY"

    def submit_hdr(self, video_uri: str, *, output_colorspace: str | None = None) -> LtxJob:
        """``POST /v2/video-to-video-hdr`` (ltx.md §3). Returns the created job (status
        ``pending``). Never retried. Raises ``RateLimitedError`` (``kind="concurrency"`` when
        2 jobs already run), ``PaymentRequiredError``, ``ValidationError`` (e.g. too many
        frames for the input tier), ``NetworkError``."""
        body: dict[str, Any] = {"video_uri": video_uri}
        if output_colorspace:
            body["output_colorspace"] = output_colorspace
        data = self._json("POST", HDR_ROUTE, json=body, what="the HDR submit")
        if not isinstance(data, Mapping) or not data.get("id"):
            raise ApiError("LTX accepted the submit but returned no job id.", status=202,
                           provider="ltx")
        return LtxJob(id=str(data["id"]), status="pending", created_at=_iso(data.get("created_at")))

    def get_hdr(self, job_id: str) -> LtxJob:
        """``GET /v2/video-to-video-hdr/{id}`` (ltx.md §4). ``NotFoundError`` when unknown or
        expired (jobs and results are kept 24 h after they finish)."""
        data = self._json("GET", f"{HDR_ROUTE}/{quote(job_id)}", what="the status request")
        return LtxJob.from_json(data, self._secrets)

    def request_upload(self) -> UploadSlot:
        """``POST /v1/upload`` (ltx.md §7): a pre-signed slot valid for 1 hour."""
        data = self._json("POST", "/v1/upload", what="the upload request")
        return UploadSlot(
            upload_url=str(data["upload_url"]),
            storage_uri=str(data["storage_uri"]),
            expires_at=_iso(data.get("expires_at")),
            required_headers={str(k): str(v) for k, v in (data.get("required_headers") or {}).items()},
        )

    def upload_file(
        self, path: Path, *, progress: Callable[[int, int | None], None] | None = None
    ) -> UploadSlot:
        """Upload ``path`` (streamed) through a fresh slot; returns the slot whose
        ``storage_uri`` goes into ``video_uri``. Uploaded files are kept 24 h by LTX."""
        slot = self.request_upload()
        total = path.stat().st_size

        with open(path, "rb") as fh:
            body = ProgressReader(fh, total, progress)
            headers = {**slot.required_headers, "Content-Length": str(total)}
            self._request("PUT", slot.upload_url, data=body, headers=headers, auth=False,
                          timeout=(self.timeout[0], 600.0), what="the upload").close()
        return slot
