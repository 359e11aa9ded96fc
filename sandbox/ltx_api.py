"""The LTX half of the sandbox: the async video-to-video HDR job and pre-signed uploads.

Owns the LTX wire shapes (ltx.md; validated against ``shared/api/schemas/ltx-video-to-video-hdr.json``):

=======  ==================================  =================================================
method   path                                answer (ltx.md section)
=======  ==================================  =================================================
POST     /v2/video-to-video-hdr              202 ``{id, created_at}`` (§3)
GET      /v2/video-to-video-hdr/{id}         job status: pending / processing / completed /
                                             failed (§4)
POST     /v1/upload                          ``UploadResponse`` (§7)
PUT      /_sandbox/uploads/{token}           the pre-signed ``upload_url`` (no Bearer)
GET      /_sandbox/ltx-results/{id}/{name}   result files (stand-in for LTX's storage URLs)
=======  ==================================  =================================================

Unlike Oxen, LTX checks the input at submit time: ``video_uri`` is fetched (an upload slot,
a URL — one this sandbox serves resolves to its local file — or a ≤ 15 MB base64 data URI)
and probed, and clips over their tier's frame cap or above 3840×2160 are refused with 400
(§3.2). At most 2 jobs per key may be pending/processing (429 ``concurrency_limit_error`` with
``Retry-After``, §6). Every 4xx/5xx uses the LTX envelope (§5). Timestamps are ISO-8601 UTC.

The body is checked against the vendored ``VideoToVideoHdrRequest`` schema (plus the later
``output_colorspace``; :mod:`sandbox.validation`): unknown fields, wrong types and values
outside an enum are a 400 naming the field.

With ``--credits USD`` a submit whose charge (:func:`sandbox.runner.estimate` of the probed
input, the sandbox's own price list) is over the caller's balance gets 402 ``insufficient_funds_error`` "Insufficient funds.
Required: N credits. ..." (§5, §8; a credit is taken to be one US dollar, as LTX credits are
USD-denominated). ``--ttl S`` shortens the 24 h after which a terminal job's GET is 404.
``--result-ttl S`` signs result URLs so they 403 S seconds after a GET handed them out
(:mod:`sandbox.signing`).
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sandbox import codec, models, validation
from sandbox.auth import CurrentUser, User
from sandbox.credits import InsufficientCredits
from sandbox.files import UnsafePath, media_type_for, remove_tree
from sandbox.inputs import (
    DATA_URI_MAX_CHARS,
    InputError,
    InputTooLarge,
    decode_data_uri,
    is_data_uri,
    resolve_url,
)
from sandbox.problems import ApiProblem
from sandbox.runner import estimate
from sandbox.state import Sandbox, SandboxDep, base_url, iso, json_object
from sandbox.store import API_LTX, Generation, Upload

router = APIRouter()

MODEL_ID = models.LTX_DIRECT
CONCURRENCY_LIMIT = 2  # "concurrent generations per account: 2 by default" (ltx.md §6)
RETRY_AFTER_S = 30  # a guess at "after a running job finishes"; the docs give no number
UPLOAD_TTL_S = 3600  # upload_url valid 1 hour (ltx.md §7)
RETENTION_S = 24 * 3600  # uploads, jobs and result URLs are kept 24 h (ltx.md §4.2, §7)
URL_MAX_BYTES = 200 * 1024 * 1024  # later docs: "up to 200 MB by URL" (ltx.md §3.3)
UPLOAD_MAX_BYTES = 2 * 1024 * 1024 * 1024  # not documented; bounded so a runaway PUT stops
MAX_BODY_BYTES = DATA_URI_MAX_CHARS + 64 * 1024  # a 15 MB data URI plus JSON around it
REQUIRED_UPLOAD_HEADERS = {"Content-Type": "application/octet-stream"}
_STORAGE_URI = re.compile(r"^ltx://uploads/([A-Za-z0-9_-]+)$")
_STATUS = {
    "queued": "pending",
    "processing": "processing",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "failed",
}


def _too_many(active: int) -> ApiProblem:
    return ApiProblem(
        429,
        f"Too many concurrent generations: {active} of {CONCURRENCY_LIMIT} are pending or "
        "processing for this API key. Retry after one finishes.",
        code="concurrency_limit_error",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _admit(
    sb: Sandbox, user: User, job_id: str, clip: codec.ClipInfo, body: dict[str, Any]
) -> None:
    """With ``--credits``: hold the job's charge or refuse it with 402 (ltx.md §5, §8)."""
    if not sb.ledger.enabled:
        return
    amount = estimate(MODEL_ID, clip, body, skew=sb.price_skew)
    if amount is None:  # unpriceable: the run will not be charged either
        return
    try:
        sb.ledger.admit(user.user_id, {job_id: amount})
    except InsufficientCredits as exc:
        raise ApiProblem(
            402,
            f"Insufficient funds. Required: {format(exc.required, 'f')} credits. "
            f"Balance: {format(exc.balance, 'f')} credits.",
            code="insufficient_funds_error",
        ) from None


def _resolve_source(sb: Sandbox, user: User, uri: str, work: Path) -> Path:
    """The local file behind ``video_uri`` (runs in a worker thread: it may download)."""
    m = _STORAGE_URI.match(uri)
    if m:
        upload = sb.store.get_upload(m.group(1))
        if upload is None or upload.user_id != user.user_id:
            raise InputError(
                "video_uri names an unknown upload; pass the storage_uri returned "
                "by POST /v1/upload."
            )
        if upload.size is None:
            raise InputError(
                "Nothing was uploaded to this storage_uri yet; PUT the file to its "
                "upload_url first."
            )
        if time.time() > upload.created_at + RETENTION_S:
            raise InputError("This upload has expired (uploads are kept 24 hours); upload again.")
        return Path(upload.path)
    if uri.startswith("ltx://"):
        raise InputError("video_uri is not a valid storage_uri (expected ltx://uploads/<token>).")
    if is_data_uri(uri):
        return decode_data_uri(uri, dest_dir=work, field="video_uri")
    if uri.lower().startswith(("http://", "https://")):
        # LTX fetches with a 30 s timeout and follows no redirects (ltx.md §3.3).
        return resolve_url(
            uri,
            field="video_uri",
            data=sb.data,
            own=sb.own,
            dest_dir=work,
            follow_redirects=False,
            max_bytes=URL_MAX_BYTES,
            timeout_s=30.0,
        )
    raise InputError(
        "video_uri must be an HTTPS URL, a data:video/<type>;base64, URI or the "
        "storage_uri from POST /v1/upload."
    )


def _stored_params(body: dict[str, Any]) -> dict[str, Any]:
    """Request fields worth keeping in the database: a data URI is replaced by a stub (the
    decoded file is what the job reads; 15 MB of base64 has no place in a row)."""
    params = dict(body)
    uri = params.get("video_uri")
    if isinstance(uri, str) and is_data_uri(uri):
        params["video_uri"] = f"{uri[: uri.find(',') + 1]}<{len(uri)} characters>"
    return params


@router.post("/v2/video-to-video-hdr", status_code=202)
async def submit(request: Request, user: CurrentUser, sb: SandboxDep) -> JSONResponse:
    """Submit an SDR→HDR job: validate, fetch + probe the input, check limits, queue it."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise ApiProblem(
            413,
            f"Request body is {int(length) / 1e6:.1f} MB; the limit is about "
            "15 MB. Use POST /v1/upload for larger files.",
        )
    body = await json_object(request)
    problems = validation.problems(MODEL_ID, body)
    if problems:
        raise ApiProblem(400, "; ".join(f"{p.field}: {p.text} ({p.hint})" for p in problems))
    uri = body["video_uri"]
    if not uri.strip():
        raise ApiProblem(
            400,
            "video_uri is required: an HTTPS URL, a data:video/<type>;base64, "
            "URI or the storage_uri from POST /v1/upload.",
        )
    active = sb.store.count_active(user.user_id, API_LTX)
    if active >= CONCURRENCY_LIMIT:  # fail fast, before fetching anything
        raise _too_many(active)

    job_id = str(uuid.uuid4())
    work = sb.data.work_dir(job_id)
    queued = False
    admitted = False
    try:
        try:
            source = await run_in_threadpool(_resolve_source, sb, user, uri.strip(), work)
            clip = await run_in_threadpool(codec.probe, source)
        except InputTooLarge as exc:
            raise ApiProblem(413, str(exc)) from None
        except InputError as exc:
            raise ApiProblem(400, str(exc)) from None
        except codec.MediaError as exc:
            raise ApiProblem(400, f"video_uri is not a usable video: {exc}") from None
        limits = models.input_problems(MODEL_ID, width=clip.width, height=clip.height,
                                       frame_count=clip.frame_count, fps=clip.fps)
        if limits:
            raise ApiProblem(400, " ".join(limits))
        _admit(sb, user, job_id, clip, body)
        admitted = True
        gen = Generation.queued(
            api=API_LTX, user=user, model_name=MODEL_ID, base_url=base_url(request),
            params=_stored_params(body), generation_id=job_id, source_path=str(source))
        # Re-checked atomically: another submit may have taken the slot while we fetched.
        if not sb.store.insert_if_capacity(gen, limit=CONCURRENCY_LIMIT):
            raise _too_many(CONCURRENCY_LIMIT)
        sb.runner.submit(job_id)
        queued = True
        sb.stats.paid(1)
    finally:
        if not queued:
            remove_tree(work)
            if admitted:
                sb.ledger.release([job_id])
    return JSONResponse({"id": job_id, "created_at": iso(gen.enqueued_at)}, status_code=202)


@router.get("/v2/video-to-video-hdr/{job_id}")
async def get_job(job_id: str, user: CurrentUser, sb: SandboxDep) -> dict[str, Any]:
    """The job status object (ltx.md §4.1); 404 for unknown ids, other keys' jobs and jobs
    more than 24 h (``--ttl``: that many seconds) past their terminal state (§4.2)."""
    gen = sb.store.get_for_user(job_id, user.user_id, (API_LTX,))
    ttl = RETENTION_S if sb.ttl_s is None else sb.ttl_s
    if gen is None or sb.expired(gen, ttl_s=ttl):
        raise ApiProblem(404, f"Job not found: {job_id}")
    status = _STATUS[gen.status]
    job: dict[str, Any] = {
        "status": status,
        "id": gen.generation_id,
        "created_at": iso(gen.enqueued_at),
    }
    if status == "completed":
        job["completed_at"] = iso(gen.completed_at or time.time())
        result = {"exr_frames_url": sb.links.sign(gen.outputs.get("exr_frames"))}
        if "video" in gen.outputs:  # later docs add an HLG MP4 as video_url (ltx.md §4.2)
            result["video_url"] = sb.links.sign(gen.outputs["video"])
        job["result"] = {k: v for k, v in result.items() if v}
    elif status == "failed":
        job["completed_at"] = iso(gen.completed_at or time.time())
        if gen.status == "cancelled":
            job["error"] = {"type": "api_error", "message": "The job was cancelled."}
        else:
            job["error"] = {
                "type": gen.error_type or "api_error",
                "message": gen.error_message or "The job failed.",
            }
    return job


@router.post("/v1/upload")
async def create_upload(request: Request, user: CurrentUser, sb: SandboxDep) -> dict[str, Any]:
    """A pre-signed upload slot valid for 1 hour (ltx.md §7)."""
    token = secrets.token_urlsafe(24)
    now = time.time()
    sb.store.create_upload(
        Upload(
            token=token,
            user_id=user.user_id,
            created_at=now,
            expires_at=now + UPLOAD_TTL_S,
            path=str(sb.data.upload_file(token)),
            size=None,
        )
    )
    return {
        "upload_url": f"{base_url(request)}/_sandbox/uploads/{token}",
        "storage_uri": f"ltx://uploads/{token}",
        "expires_at": iso(now + UPLOAD_TTL_S),
        "required_headers": dict(REQUIRED_UPLOAD_HEADERS),
    }


@router.put("/_sandbox/uploads/{token}")
async def put_upload(token: str, request: Request, sb: SandboxDep) -> Response:
    """The pre-signed PUT: no Bearer (the URL is the credential). 404 unknown slot, 403 past
    ``expires_at``, 400 without the required ``Content-Type``. The body is streamed to disk."""
    upload = sb.store.get_upload(token)
    if upload is None:
        raise ApiProblem(404, "No such upload URL.")
    if time.time() > upload.expires_at:
        raise ApiProblem(
            403,
            f"This upload URL expired at {iso(upload.expires_at)}; request a "
            "new one with POST /v1/upload.",
        )
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != REQUIRED_UPLOAD_HEADERS["Content-Type"]:
        raise ApiProblem(
            400,
            "Missing required header 'Content-Type: application/octet-stream' "
            "(send every header listed in required_headers).",
        )
    dest = Path(upload.path)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    size = 0
    try:
        # Chunks arrive as the client sends them (~64 KiB); small blocking writes to local disk
        # are cheaper than a thread hop per chunk.
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > UPLOAD_MAX_BYTES:
                    raise ApiProblem(413, "Upload is larger than the sandbox's 2 GiB limit.")
                out.write(chunk)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    sb.store.set_upload_size(token, size)
    return Response(status_code=200)


@router.api_route("/_sandbox/ltx-results/{job_id}/{name}", methods=["GET", "HEAD"])
async def get_result(job_id: str, name: str, request: Request, sb: SandboxDep) -> Response:
    """A finished job's output file (public, like a pre-signed storage URL); Range-capable.
    With ``--result-ttl`` it needs its signed link and 403s once that expired."""
    try:
        local = sb.data.ltx_result_file(job_id, name)
    except UnsafePath:
        local = None
    if local is None or not local.is_file():
        raise ApiProblem(404, "No such result file (results are kept 24 hours).")
    refusal = sb.links.refusal(request.url.path, request.query_params)
    if refusal is not None:
        return refusal
    return FileResponse(local, media_type=media_type_for(local))
