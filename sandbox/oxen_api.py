"""The Oxen.ai half of the sandbox: ``/api/ai/*``, ``/api/events`` and repo files.

Owns the Oxen wire shapes (oxen.md; JSON validated against the hub OpenAPI components in
``shared/api/schemas/oxen-hub-openapi-components.json``):

==========  ==============================================  =====================================
method      path                                            body (oxen.md section)
==========  ==============================================  =====================================
POST        /api/ai/queue                                   QueueCreateResponse (§3)
GET         /api/ai/queue                                   QueueListResponse (§5)
GET         /api/ai/queue/{generation_id}                   QueueGenerationResponse (§4)
DELETE      /api/ai/queue/{generation_id}                   QueueDeleteResponse (§8)
POST        /api/ai/videos/generate                         VideoGenerateResponse (§9)
GET         /api/ai/generations                             GenerationsListResponse (§6.1-6.2)
GET         /api/ai/generations/{generation_id}             GenerationsShowResponse (§6.3)
GET         /api/events                                     text/event-stream (§10)
GET         /api/ai/models, /api/ai/models/{id}             ListModelsResponse / Model (§11)
POST        /api/repos                                      create a repo (§13.1 step 1)
PUT         /api/repos/{ns}/{repo}/file/{branch}/{path}     CommitResponse (§13.1 step 2)
GET, HEAD   /api/repos/{ns}/{repo}/file/{branch}/{path}     the file, Range-capable (§13.1 step 3)
==========  ==============================================  =====================================

Timestamps are Unix epoch integer seconds, ids uuid4 strings, ``cost``/``total_cost`` decimal
strings. Every route but the repo-file GET needs a Bearer token; each user sees only their own
generations.

Parameters are checked against the vendored JSON Schemas (:mod:`sandbox.validation`): at
once on the sync route (400 ``invalid_params``, ``title`` = the vendor's error texts such as
"Field required" or "Invalid resolution", ``detail`` = what to send per field), when the job
runs on the queue (the generation fails with the same words). Models, prices and schemas are
the sandbox's own (:mod:`sandbox.models`, :mod:`sandbox.prices`), never the client's.

Options of the sandbox that change answers here: ``--ttl S`` brings back the old queue
behaviour (oxen.md §4.3): a generation terminal for more than S seconds is gone from the queue
routes (GET/DELETE ``/api/ai/queue/{id}`` answer 404 ``resource_not_found``, the list leaves it
out) while ``/api/ai/generations`` still shows it. ``--credits USD`` refuses a paid POST whose
quote is over the caller's balance with 402 ``insufficient_credits`` (see
:mod:`sandbox.credits`; the sync route also answers 402 when its worker finds the
balance short). ``--result-ttl S`` makes every result URL a signed link that expires S
seconds after it was handed out (:mod:`sandbox.signing`). ``--price-skew F`` moves every
``cost`` off the list price (:mod:`sandbox.prices`).
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from sandbox import codec, events, models, prices, validation
from sandbox.auth import CurrentUser, User
from sandbox.credits import InsufficientCredits, usd
from sandbox.files import UnsafePath, media_type_for, safe_parts, url_path, write_stream
from sandbox.problems import ApiProblem
from sandbox.runner import estimate, primary_url
from sandbox.state import Sandbox, SandboxDep, base_url, iso, json_object
from sandbox.store import (
    ACTIVE,
    API_OXEN_QUEUE,
    API_OXEN_SYNC,
    OXEN_APIS,
    STATUSES,
    Filters,
    Generation,
)

router = APIRouter()

MAX_GENERATIONS = 4  # docs: 1–4 per request (oxen.md §3.1; the spec's 12 is not what docs promise)
B64_MAX_BYTES = 32 * 1024 * 1024  # larger outputs fall back to a url entry, see generate()
# Request-level fields (oxen.md §3.1, §9.1); everything else is a model parameter.
QUEUE_FIELDS = ("model", "num_generations", "target_namespace", "target_repo", "target_directory")
SYNC_FIELDS = ("model", "response_format", "target_namespace", "target_repo", "target_directory")
# A failed sync run's error_type → the answer's status and Oxen code (default 500).
_SYNC_FAILURES = {
    "invalid_request_error": (400, None),
    "insufficient_funds_error": (402, "insufficient_credits"),
}
# The models have no creation date we know; a fixed value keeps responses stable.
MODEL_CREATED = 1_777_593_600  # 2026-05-01T00:00:00Z


# -- helpers ---------------------------------------------------------------------------------


def _oxen_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ApiProblem(
            400,
            "model is required: pass the model id, e.g. 'topazlabs-upscale-starlight-2-5-video'.",
        )
    if model not in models.OXEN_MODEL_IDS:
        raise ApiProblem(404, f"Model not found: {model}")
    return model


def _targets(body: dict[str, Any], user: User) -> tuple[str, str | None, str | None]:
    """``target_namespace`` (default: the caller), ``target_repo``, ``target_directory``."""
    values: list[str | None] = []
    for name in ("target_namespace", "target_repo", "target_directory"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ApiProblem(400, f"{name} must be a non-empty string or null.")
        if isinstance(value, str):
            try:
                parts = safe_parts(value)
            except UnsafePath:
                raise ApiProblem(400, f"{name} is not a valid path: {value!r}.") from None
            if name != "target_directory" and len(parts) != 1:
                raise ApiProblem(400, f"{name} must be a single name without '/': {value!r}.")
            value = "/".join(parts)
        values.append(value)
    return values[0] or user.username, values[1], values[2]


def _new_generation(
    request: Request,
    user: User,
    *,
    api: str,
    model: str,
    params: dict[str, Any],
    targets: tuple[str, str | None, str | None],
) -> Generation:
    return Generation.queued(
        api=api, user=user, model_name=model, base_url=base_url(request), params=params,
        target_namespace=targets[0],
        target_repo=targets[1],
        target_directory=targets[2],
    )


def _ts(value: float | None) -> int | None:
    return None if value is None else int(value)


def queue_row(gen: Generation, sb: Sandbox) -> dict[str, Any]:
    """A ``QueueGenerationResponse`` (oxen.md §4.1): the enqueue parameters echoed at the top
    level, then the row's own fields (which win over a parameter of the same name). Result
    URLs are signed afresh when ``--result-ttl`` is set."""
    sign = sb.links.sign
    row: dict[str, Any] = dict(gen.params)
    row.update(
        generation_id=gen.generation_id,
        model_name=gen.model_name,
        media_type=gen.media_type,
        status=gen.status,
        enqueued_at=int(gen.enqueued_at),
        started_at=_ts(gen.started_at),
        completed_at=_ts(gen.completed_at),
        result_url=sign(primary_url(gen.outputs)) if gen.status == "succeeded" else None,
        error_message=gen.error_message if gen.status == "failed" else None,
        target_namespace=gen.target_namespace,
        target_repo=gen.target_repo,
        target_directory=gen.target_directory,
    )
    if gen.status == "succeeded" and "exr_frames" in gen.outputs and "video" in gen.outputs:
        # ltx-2-3-quality-hdr makes two artifacts. The real API does not document where the EXR
        # ZIP goes (oxen.md §9.2): the sandbox keeps result_url = the MP4 and adds result_urls.
        row["result_urls"] = [sign(gen.outputs["video"]), sign(gen.outputs["exr_frames"])]
    return row


def history_row(gen: Generation, sb: Sandbox) -> dict[str, Any]:
    """A generations-history row (oxen.md §6.2): a queue row plus cost and user fields."""
    row = queue_row(gen, sb)
    row.update(cost=gen.cost, user_id=gen.user_id, username=gen.username, user_image=None)
    return row


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name)
    if value is not None and value not in allowed:
        raise ApiProblem(400, f"{name} must be one of {', '.join(allowed)} (got {value!r}).")
    return value


def _filters(request: Request, *, active_by_default: bool) -> Filters:
    q = request.query_params
    status = _choice(request, "status", STATUSES)
    statuses: tuple[str, ...] | None = (
        (status,) if status else (ACTIVE if active_by_default else None)
    )
    return Filters(
        statuses=statuses,
        model=q.get("model"),
        media_type=_choice(request, "media_type", ("image", "video")),
        namespace=q.get("namespace"),
        repo=q.get("repo"),
        folder=q.get("folder"),
    )


def _int_query(request: Request, name: str, default: int, lo: int, hi: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
    try:
        value = int(raw)
    except ValueError:
        raise ApiProblem(400, f"{name} must be an integer {bound} (got {raw!r}).") from None
    if value < lo or (hi is not None and value > hi):
        raise ApiProblem(400, f"{name} must be an integer {bound} (got {value}).")
    return value


def _found(sb: Sandbox, generation_id: str, user: User, apis: tuple[str, ...]) -> Generation:
    gen = sb.store.get_for_user(generation_id, user.user_id, apis)
    if gen is None:
        raise ApiProblem(404, f"Generation not found: {generation_id}")
    return gen


def _in_queue(sb: Sandbox, generation_id: str, user: User) -> Generation:
    """A queue row of ``user`` that has not outlived ``--ttl`` (else 404, oxen.md §4.3)."""
    gen = _found(sb, generation_id, user, (API_OXEN_QUEUE,))
    if sb.expired(gen):
        raise ApiProblem(404, f"Generation not found: {generation_id}")
    return gen


def _quote_now(sb: Sandbox, model: str, params: dict[str, Any]) -> Decimal | None:
    """The quote of one generation if the input is a file this sandbox serves and the request
    can be priced; ``None`` leaves the credit check to the worker (runs in a thread)."""
    source = params.get(models.MODELS[model].source_field)
    if not isinstance(source, str) or not sb.own.matches(source):
        return None
    local = sb.data.local_file_for_path(url_path(source))
    if local is None or not local.is_file() or validation.problems(model, params):
        return None
    try:
        clip = codec.probe(local)
    except Exception:  # unprobeable: the job itself will say what is wrong
        return None
    return estimate(model, clip, params, skew=sb.price_skew)


async def _admit(
    sb: Sandbox, user: User, model: str, params: dict[str, Any], ids: list[str]
) -> None:
    """With ``--credits``: hold the quote of each of ``ids`` or refuse the request with 402."""
    if not sb.ledger.enabled:
        return
    each = await run_in_threadpool(_quote_now, sb, model, params)
    if each is None:
        return
    try:
        sb.ledger.admit(user.user_id, dict.fromkeys(ids, each))
    except InsufficientCredits as exc:
        raise ApiProblem(
            402,
            f"Insufficient credits: this request costs {usd(exc.required)} and your balance "
            f"is {usd(exc.balance)}.",
            code="insufficient_credits",
        ) from None


# -- queue -----------------------------------------------------------------------------------


@router.post("/api/ai/queue")
async def enqueue(request: Request, user: CurrentUser, sb: SandboxDep) -> dict[str, Any]:
    """Enqueue ``num_generations`` (1–4) generations. Only the model and the count are checked
    here; model parameters are validated when each job runs (oxen.md §3.3)."""
    body = await json_object(request)
    model = _oxen_model(body)
    n = body.get("num_generations", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_GENERATIONS:
        raise ApiProblem(400, f"num_generations must be an integer between 1 and {MAX_GENERATIONS}")
    targets = _targets(body, user)
    params = {k: v for k, v in body.items() if k not in QUEUE_FIELDS}
    gens = [
        _new_generation(
            request, user, api=API_OXEN_QUEUE, model=model, params=params, targets=targets
        )
        for _ in range(n)
    ]
    await _admit(sb, user, model, params, [g.generation_id for g in gens])
    for gen in gens:
        sb.store.insert(gen)
        sb.runner.submit(gen.generation_id)
    sb.stats.paid(len(gens))
    return {"generations": [{"generation_id": g.generation_id, "status": "queued"} for g in gens]}


@router.get("/api/ai/queue")
async def list_queue(request: Request, user: CurrentUser, sb: SandboxDep) -> dict[str, Any]:
    """Queue rows, oldest first; active (queued + processing) unless ``status`` is given."""
    filters = _filters(request, active_by_default=True)
    rows = sb.store.query(user.user_id, (API_OXEN_QUEUE,), filters, newest_first=False)
    rows = [g for g in rows if not sb.expired(g)]
    return {"count": len(rows), "generations": [queue_row(g, sb) for g in rows]}


@router.get("/api/ai/queue/{generation_id}")
async def get_queue_item(generation_id: str, user: CurrentUser, sb: SandboxDep) -> dict[str, Any]:
    return queue_row(_in_queue(sb, generation_id, user), sb)


@router.delete("/api/ai/queue/{generation_id}")
async def cancel_queue_item(
    generation_id: str, user: CurrentUser, sb: SandboxDep
) -> dict[str, Any]:
    """Cancel a queued/processing generation; terminal ones are left as they are (§7, §8)."""
    _in_queue(sb, generation_id, user)
    if sb.store.cancel(generation_id, time.time()):
        sb.runner.cancel(generation_id)
    return {"status": "success", "generation_id": generation_id}


# -- synchronous generation -------------------------------------------------------------------


@router.post("/api/ai/videos/generate")
async def generate(request: Request, user: CurrentUser, sb: SandboxDep) -> dict[str, Any]:
    """Validate at once (400 listing every problem), run the job, answer with the outputs.

    ``videos`` lists the MP4 first and, for ltx-2-3-quality-hdr, the EXR ZIP second (oxen.md
    §9.2 leaves the second artifact's place undocumented). With ``response_format="b64_json"``
    each output is inlined as ``videos[i].b64_json``, the base64 of the file's bytes, as the
    Starlight page documents (model_params.md §4) — up to 32 MiB; a larger one is returned as
    ``url`` rather than failing a finished (and charged) run or holding a huge file in memory.
    The run is recorded in the generations history like a queued one.
    """
    body = await json_object(request)
    model = _oxen_model(body)
    response_format = body.get("response_format", "url")
    if response_format not in ("url", "b64_json"):
        raise ApiProblem(
            400, f"response_format must be 'url' or 'b64_json' (got {response_format!r})."
        )
    targets = _targets(body, user)
    params = {k: v for k, v in body.items() if k not in SYNC_FIELDS}
    problems = validation.problems(model, params)
    if problems:
        raise ApiProblem(400, validation.title(problems), detail=validation.detail(problems))
    gen = _new_generation(
        request, user, api=API_OXEN_SYNC, model=model, params=params, targets=targets
    )
    await _admit(sb, user, model, params, [gen.generation_id])
    sb.store.insert(gen)
    try:
        future = sb.runner.submit(gen.generation_id)
    except RuntimeError:
        raise ApiProblem(503, "The sandbox is shutting down.") from None
    sb.stats.paid(1)
    await asyncio.wrap_future(future)
    done = sb.store.get(gen.generation_id)
    if done is None or done.status != "succeeded":
        if done is not None and done.status == "failed":
            status, code = _SYNC_FAILURES.get(done.error_type or "", (500, None))
            raise ApiProblem(status, done.error_message or "The generation failed.", code=code)
        raise ApiProblem(500, "The generation did not finish (the sandbox stopped).")
    videos = []
    for label in ("video", "exr_frames"):
        url = done.outputs.get(label)
        if url is None:
            continue
        entry: dict[str, str] = {"url": sb.links.sign(url) or url}
        if response_format == "b64_json":
            local = sb.data.local_file_for_path(url_path(url))
            if local is not None and local.is_file() and local.stat().st_size <= B64_MAX_BYTES:
                raw = await run_in_threadpool(local.read_bytes)
                entry = {"b64_json": base64.b64encode(raw).decode("ascii")}
        videos.append(entry)
    return {"model": model, "created": int(done.enqueued_at), "videos": videos}


# -- history ---------------------------------------------------------------------------------


@router.get("/api/ai/generations")
async def list_generations(request: Request, user: CurrentUser, sb: SandboxDep) -> dict[str, Any]:
    """Paginated history, newest first, with ``cost`` per row and ``total_cost`` over the
    whole filter set (oxen.md §6.1–6.2). Pages are 1-indexed; ``total_pages`` is at least 1
    (the hub's paginator reports one empty page for an empty set)."""
    page = _int_query(request, "page", 1, 1, None)
    page_size = _int_query(request, "page_size", 50, 1, 1000)
    filters = _filters(request, active_by_default=False)
    total = sb.store.count(user.user_id, OXEN_APIS, filters)
    rows = sb.store.query(
        user.user_id,
        OXEN_APIS,
        filters,
        newest_first=True,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    costs = sb.store.costs(user.user_id, OXEN_APIS, filters)
    total_cost = format(sum((Decimal(c) for c in costs), Decimal(0)), "f") if costs else None
    return {
        "count": len(rows),
        "generations": [history_row(g, sb) for g in rows],
        "page_number": page,
        "page_size": page_size,
        "total_pages": max(1, math.ceil(total / page_size)),
        "total_entries": total,
        "total_cost": total_cost,
    }


@router.get("/api/ai/generations/{generation_id}")
async def get_generation(generation_id: str, user: CurrentUser, sb: SandboxDep) -> dict[str, Any]:
    gen = _found(sb, generation_id, user, OXEN_APIS)
    return {"generation": history_row(gen, sb), "status": "success",
            "status_message": "resource_found"}


# -- events ----------------------------------------------------------------------------------


@router.get("/api/events")
async def event_stream(user: CurrentUser, sb: SandboxDep) -> StreamingResponse:
    """Per-user SSE stream (oxen.md §10). The subscription is registered before the response
    starts, so once a client has the headers it will not miss a completion."""
    sub = sb.broker.subscribe(user.user_id)
    return StreamingResponse(
        events.stream(sb.broker, sub, keepalive_s=sb.keepalive_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# -- models ----------------------------------------------------------------------------------


def model_object(model_id: str) -> dict[str, Any]:
    """A ``Model`` (oxen.md §11.1) from the sandbox's own model table and price list.

    The parameter schema is served under both names the docs use: ``request_schema`` (the
    OpenAPI spec and the models overview) and ``json_request_schema`` (each model's page says
    the model object includes it; oxen.md §11.1 naming caveat) — the same vendored schema.
    """
    spec = models.MODELS[model_id]
    schema = models.request_schema(model_id)
    return {
        "id": model_id,
        "object": "model",
        "created": MODEL_CREATED,
        "owned_by": "oxen",
        "display_name": spec.display_name,
        "description": spec.description,
        "summary": None,
        "model_type": "base",
        "endpoint": "/videos/generate",
        "capabilities": {"input": ["video"], "output": ["video"]},
        "pricing": prices.pricing_object(model_id),
        "fine_tuning": None,
        "deployments": [],
        "developer": {"name": spec.developer, "logo": None},
        "source_model": None,
        "image_url": None,
        "released_at": None,
        "request_schema": schema,
        "json_request_schema": schema,
        "showcase": None,
    }


@router.get("/api/ai/models")
async def list_models(user: CurrentUser) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(mid) for mid in models.OXEN_MODEL_IDS]}


@router.get("/api/ai/models/{model_id}")
async def get_model(model_id: str, user: CurrentUser) -> dict[str, Any]:
    if model_id not in models.OXEN_MODEL_IDS:
        raise ApiProblem(404, f"Model not found: {model_id}")
    return model_object(model_id)


# -- repositories and files ------------------------------------------------------------------


@router.post("/api/repos")
async def create_repo(request: Request, user: CurrentUser, sb: SandboxDep) -> JSONResponse:
    """Create ``{namespace, name}`` (oxen.md §13.1 step 1); 409 when it exists. Optional: the
    file PUT below creates missing repos itself."""
    body = await json_object(request)
    namespace, name = body.get("namespace"), body.get("name")
    if not isinstance(namespace, str) or not isinstance(name, str):
        raise ApiProblem(400, "namespace and name are required strings.")
    try:
        if sb.data.repo_exists(namespace, name):
            raise ApiProblem(409, f"Repository already exists: {namespace}/{name}")
        sb.data.create_repo(namespace, name)
    except UnsafePath:
        raise ApiProblem(400, "namespace and name must be single path segments.") from None
    return JSONResponse(
        {
            "status": "success",
            "status_message": "resource_created",
            "repository": {"namespace": namespace, "name": name, "is_empty": True},
        }
    )


_FILE_ROUTE = "/api/repos/{namespace}/{repo}/file/{branch}/{path:path}"


@router.put(_FILE_ROUTE)
async def put_file(
    namespace: str,
    repo: str,
    branch: str,
    path: str,
    request: Request,
    user: CurrentUser,
    sb: SandboxDep,
) -> dict[str, Any]:
    """Upload and commit files (multipart ``files[]`` into the directory ``path``, or one
    ``file`` at the full path ``path`` — into ``path`` when that is a directory — plus
    ``message``/``name``/``email``). Starlette's parser spools each part to a temp file past
    1 MiB; we copy it into the repo in 1 MiB chunks, so no upload is held in memory whole."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiProblem(
            400,
            "Upload with multipart/form-data: the file in files[] (or file), "
            "plus message, name and email.",
        )
    form = await request.form()
    try:
        parts = [
            (key, value)
            for key, value in form.multi_items()
            if key in ("files[]", "files", "file") and isinstance(value, UploadFile)
        ]
        if not parts:
            raise ApiProblem(400, "No file in the upload: send it as files[] (or file).")
        targets: list[tuple[Path, UploadFile]] = []
        for key, upload in parts:
            filename = Path(upload.filename or "").name
            try:
                full_path = (
                    key == "file"
                    and len(parts) == 1
                    and path.strip("/") != ""
                    and not path.endswith("/")
                )
                if full_path and not sb.data.repo_file(namespace, repo, branch, path).is_dir():
                    dest = sb.data.repo_file(namespace, repo, branch, path)
                else:
                    if not filename:
                        raise ApiProblem(400, "Each uploaded file part needs a filename.")
                    rel = f"{path.strip('/')}/{filename}" if path.strip("/") else filename
                    dest = sb.data.repo_file(namespace, repo, branch, rel)
            except UnsafePath:
                raise ApiProblem(400, f"Not a valid repository path: {path!r}.") from None
            targets.append((dest, upload))
        for dest, upload in targets:
            if dest.is_dir():
                raise ApiProblem(400, f"{path!r} is a directory; upload files[] into it instead.")
            await run_in_threadpool(write_stream, dest, upload.file)
        message = str(form.get("message") or "Upload files")
        author = str(form.get("name") or user.username)
        email = str(form.get("email") or f"{user.username}@sandbox.invalid")
    finally:
        await form.close()
    commit_id = uuid.uuid4().hex
    parent = sb.store.swap_head(namespace, repo, branch, commit_id)
    return {
        "status": "success",
        "status_message": "resource_created",
        "commit": {
            "id": commit_id,
            "message": message,
            "author": author,
            "email": email,
            "parent_ids": [parent] if parent else [],
            # oxen-server serialises commit times as RFC 3339 strings (Commit.timestamp,
            # format date-time, oxen-server 0.52.0 Files API), unlike the /api/ai objects.
            "timestamp": iso(time.time()),
        },
    }


def _is_result(sb: Sandbox, path: str) -> bool:
    """Whether a repo path is a generation's output (``…/<generation_id>/<file>``)."""
    parts = path.strip("/").split("/")
    if len(parts) < 2:
        return False
    gen = sb.store.get(parts[-2])
    return gen is not None and gen.api in OXEN_APIS


@router.api_route(_FILE_ROUTE, methods=["GET", "HEAD"])
async def get_file(
    namespace: str, repo: str, branch: str, path: str, request: Request, sb: SandboxDep
) -> Response:
    """Download a repo file. Public (no Bearer) like a public hub repo, so a ``<video>`` tag
    or a model worker can fetch it; ``Range`` requests get 206 so players can seek. With
    ``--result-ttl`` a generation's output needs its signed link, and 403s once it expired."""
    try:
        local = sb.data.repo_file(namespace, repo, branch, path)
    except UnsafePath:
        local = None
    if local is None or not local.is_file():
        raise ApiProblem(404, f"File not found: {path} on {branch} of {namespace}/{repo}")
    if sb.links.enabled and _is_result(sb, path):
        refusal = sb.links.refusal(request.url.path, request.query_params)
        if refusal is not None:
            return refusal
    return FileResponse(local, media_type=media_type_for(local))
