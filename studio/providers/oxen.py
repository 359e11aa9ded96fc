"""Client for the Oxen.ai inference API (and the repo file API used for uploads).

Contract: ``shared/api/oxen.md``. Wire JSON becomes frozen dataclasses here; an unknown
status string raises. Paid calls (:meth:`OxenClient.enqueue`, :meth:`OxenClient.generate`)
are sent exactly once: the HTTP layer never retries a POST that may have arrived.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote

from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

from studio.errors import ApiError, NetworkError, UnreadableAnswerError, ValidationError
from studio.providers.http import HttpClient
from studio.redact import scrub, scrub_optional

OXEN_STATUSES = ("queued", "processing", "succeeded", "failed", "cancelled")

# Keys of a queue row that are not echoed request parameters (oxen.md §4.1, §6.2).
_ROW_KEYS = {
    "generation_id", "model_name", "media_type", "status", "enqueued_at", "started_at",
    "completed_at", "result_url", "error_message", "target_namespace", "target_repo",
    "target_directory", "cost", "user_id", "username", "user_image", "result_urls",
}


def _ts(value: Any) -> datetime | None:
    """Unix epoch seconds (oxen.md §1) → aware UTC datetime."""
    if value is None:
        return None
    return datetime.fromtimestamp(float(value), tz=UTC)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def artifact_label(url: str) -> str:
    """``"exr_frames"`` for a ZIP of EXR frames, else ``"video"``."""
    path = url.split("?", 1)[0].lower()
    return "exr_frames" if path.endswith(".zip") else "video"


def collect_artifacts(urls: list[str]) -> dict[str, str]:
    """Map result URLs to artifact labels (first URL of each kind wins)."""
    out: dict[str, str] = {}
    for url in urls:
        out.setdefault(artifact_label(url), url)
    return out


@dataclass(frozen=True)
class OxenGeneration:
    """A queue row or history row (oxen.md §4.1, §6.2).

    ``artifacts`` maps ``"video"`` / ``"exr_frames"`` to URLs. How ``ltx-2-3-quality-hdr``
    returns its EXR ZIP is undocumented (oxen.md §9.2), so every URL-valued field is
    considered: ``result_url``, a ``result_urls`` list, and any other ``*_url`` field.
    ``cost`` is the charged USD amount (history rows only; ``None`` until charged).
    """

    generation_id: str
    model_name: str
    status: str
    enqueued_at: datetime | None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result_url: str | None = None
    error_message: str | None = None
    cost: Decimal | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, row: Mapping[str, Any], secrets: tuple[Any, ...] = ()) -> OxenGeneration:
        """Parse a row; raises ``UnreadableAnswerError`` for a row that is not an object,
        a missing id or an unknown status. ``error_message`` is scrubbed of ``secrets`` and
        anything shaped like a token (:func:`studio.redact.scrub`)."""
        if not isinstance(row, Mapping):
            raise UnreadableAnswerError("Oxen answered with a generation that is not an "
                                        "object; the app cannot read it.", status=200,
                                        provider="oxen")
        status = row.get("status")
        if not row.get("generation_id"):
            raise UnreadableAnswerError("Oxen answered with a generation without an id; the "
                                        "app cannot read it.", status=200, provider="oxen")
        if status not in OXEN_STATUSES:
            shown = scrub(status, secrets, limit=40) if isinstance(status, str) else \
                type(status).__name__
            raise UnreadableAnswerError(
                f"Oxen reports this generation as “{shown}”, a status this app does not know "
                f"(it knows {', '.join(OXEN_STATUSES)}); it keeps checking. An app update may "
                "be needed.", status=200, provider="oxen")
        urls: list[str] = []
        if row.get("result_url"):
            urls.append(str(row["result_url"]))
        if isinstance(row.get("result_urls"), list):
            urls.extend(str(u) for u in row["result_urls"] if u)
        for key, value in row.items():
            if (key.endswith("_url") and key not in ("result_url", "user_image", "input_video")
                    and isinstance(value, str) and value.startswith("http")):
                urls.append(value)
        return cls(
            generation_id=str(row["generation_id"]),
            model_name=str(row.get("model_name", "")),
            status=str(status),
            enqueued_at=_ts(row.get("enqueued_at")),
            started_at=_ts(row.get("started_at")),
            completed_at=_ts(row.get("completed_at")),
            result_url=row.get("result_url"),
            error_message=scrub_optional(row.get("error_message"), secrets),
            cost=_decimal(row.get("cost")),
            artifacts=collect_artifacts(urls),
            params={k: v for k, v in row.items() if k not in _ROW_KEYS},
        )


class OxenClient(HttpClient):
    """Oxen inference + repo API client. ``base_url`` like ``https://hub.oxen.ai``."""

    provider = "oxen"
    provider_name = "Oxen"
    key_setting = "OXEN_API_KEY"

    # -- paid -----------------------------------------------------------------------------
    def enqueue(
        self,
        model: str,
        params: Mapping[str, Any],
        *,
        num_generations: int = 1,
        target_namespace: str | None = None,
    ) -> list[tuple[str, str]]:
        """``POST /api/ai/queue`` (oxen.md §3): enqueue ``num_generations`` (1–4) runs.

        Returns ``[(generation_id, status), ...]``. Never retried. Parameters are validated
        by Oxen only when a job runs (a bad one ends as ``failed``). Raises ``ApiError``
        subclasses or ``NetworkError``.
        """
        body: dict[str, Any] = {"model": model, **params}
        if num_generations != 1:
            body["num_generations"] = int(num_generations)
        if target_namespace:
            body["target_namespace"] = target_namespace
        data = self._json("POST", "/api/ai/queue", json=body, what="the enqueue request")
        gens = data.get("generations") if isinstance(data, Mapping) else None
        if not isinstance(gens, list) or not gens:
            raise ApiError("Oxen accepted the enqueue request but returned no generation ids.",
                           status=200, provider="oxen")
        return [(str(g["generation_id"]), str(g.get("status", "queued"))) for g in gens]

    def generate(
        self, model: str, params: Mapping[str, Any], *, read_timeout: float = 1800.0,
        target_namespace: str | None = None,
    ) -> list[str]:
        """``POST /api/ai/videos/generate`` (oxen.md §9): run synchronously and block.

        Returns the output URLs in order (for ``ltx-2-3-quality-hdr`` the EXR ZIP, if
        returned, is one of them). Read timeout defaults to 30 min. Never retried.
        ``target_namespace`` bills (and stores the output in) that user or organisation.
        """
        body = {"model": model, **params, "response_format": "url"}
        if target_namespace:
            body["target_namespace"] = target_namespace
        data = self._json("POST", "/api/ai/videos/generate", json=body,
                          timeout=(self.timeout[0], read_timeout), what="the generate request")
        videos = data.get("videos") if isinstance(data, Mapping) else None
        urls = [str(v["url"]) for v in videos or () if isinstance(v, Mapping) and v.get("url")]
        if not urls:
            raise ApiError("Oxen finished the generation but returned no output URL.",
                           status=200, provider="oxen")
        return urls

    def generate_inline(
        self, model: str, params: Mapping[str, Any], dest_dir: Path, *,
        read_timeout: float = 1800.0, target_namespace: str | None = None,
        max_file_bytes: int = 20 << 30,
    ) -> tuple[list[str], list[Path]]:
        """``POST /api/ai/videos/generate`` with ``response_format: "b64_json"`` (oxen.md
        §9.1–9.2): the outputs come back inline as base64 and are decoded into
        ``dest_dir/inline-<n>.bin`` *while the answer streams in* — the base64 text is never
        held whole in memory nor kept anywhere. An output the service still answers with a
        ``url`` is returned as a URL. Returns ``(urls, files)`` in answer order. Never
        retried. Raises ``ApiError`` for an answer with no output, ``UnreadableAnswerError``
        for one that is not the documented shape, ``NetworkError`` when it breaks off.
        """
        import requests

        from studio.providers.http import iter_body
        from studio.providers.inline import InlineError, InlineSplitter

        body = {"model": model, **params, "response_format": "b64_json"}
        if target_namespace:
            body["target_namespace"] = target_namespace
        dest_dir.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []

        def open_file(n: int) -> Any:
            path = dest_dir / f"inline-{n}.bin"
            written.append(path)
            return open(path, "wb")  # noqa: SIM115 - closed by the splitter

        resp = self._request("POST", "/api/ai/videos/generate", json=body,
                             timeout=(self.timeout[0], read_timeout), what="the generate request")
        splitter = InlineSplitter(open_file, max_file=max_file_bytes)
        try:
            with resp:
                for piece in iter_body(resp, 1 << 20):
                    splitter.feed(piece)
            splitter.close()
            data = json.loads(splitter.json_text)
        except (InlineError, ValueError) as exc:
            for path in written:
                path.unlink(missing_ok=True)
            raise UnreadableAnswerError(
                f"Oxen's inline (b64_json) answer could not be read: {exc}.", status=200,
                provider="oxen") from None
        except requests.RequestException:
            for path in written:
                path.unlink(missing_ok=True)
            raise NetworkError("The connection to Oxen dropped while it sent the inline "
                               "result.", maybe_sent=True) from None
        videos = data.get("videos") if isinstance(data, Mapping) else None
        urls = [str(v["url"]) for v in videos or () if isinstance(v, Mapping) and v.get("url")]
        if not urls and not written:
            raise ApiError("Oxen finished the generation but returned no output.",
                           status=200, provider="oxen")
        return urls, written

    # -- reads ----------------------------------------------------------------------------
    def get_generation(self, generation_id: str) -> OxenGeneration:
        """``GET /api/ai/queue/{id}`` (oxen.md §4). Raises ``NotFoundError`` when unknown."""
        data = self._json("GET", f"/api/ai/queue/{quote(generation_id)}",
                          what="the status request")
        return OxenGeneration.from_json(data, self._secrets)

    def list_queue(self, **filters: str) -> list[OxenGeneration]:
        """``GET /api/ai/queue`` (oxen.md §5): active rows by default; filters such as
        ``status``, ``model``, ``media_type``."""
        data = self._json("GET", "/api/ai/queue", params=filters, what="the queue listing")
        return [OxenGeneration.from_json(r, self._secrets) for r in data.get("generations", [])]

    def generation_history(self, generation_id: str) -> OxenGeneration:
        """``GET /api/ai/generations/{id}`` (oxen.md §6.3): the row with its ``cost``."""
        data = self._json("GET", f"/api/ai/generations/{quote(generation_id)}",
                          what="the history request")
        if not isinstance(data, Mapping) or not isinstance(data.get("generation"), Mapping):
            raise UnreadableAnswerError("Oxen answered the history request without a "
                                        "generation; the app cannot read it.", status=200,
                                        provider="oxen")
        return OxenGeneration.from_json(data["generation"], self._secrets)

    def list_generations(
        self, *, page: int = 1, page_size: int = 50, **filters: str
    ) -> tuple[list[OxenGeneration], Decimal | None, int]:
        """``GET /api/ai/generations`` (oxen.md §6.1): (rows, total_cost USD, total_pages)."""
        data = self._json("GET", "/api/ai/generations",
                          params={"page": page, "page_size": page_size, **filters},
                          what="the history listing")
        rows = [OxenGeneration.from_json(r, self._secrets) for r in data.get("generations", [])]
        return rows, _decimal(data.get("total_cost")), int(data.get("total_pages", 1))

    def cancel(self, generation_id: str) -> None:
        """``DELETE /api/ai/queue/{id}`` (oxen.md §8). No effect on a finished generation."""
        self._request("DELETE", f"/api/ai/queue/{quote(generation_id)}",
                      what="the cancel request").close()

    def model(self, model_id: str) -> dict[str, Any]:
        """``GET /api/ai/models/{id}`` (oxen.md §11): the model object incl. ``pricing`` and
        ``request_schema`` (``json_request_schema`` on some builds)."""
        data = self._json("GET", f"/api/ai/models/{quote(model_id)}", what="the model lookup")
        return dict(data)

    # -- uploads --------------------------------------------------------------------------
    def ensure_repo(self, namespace: str, repo: str) -> None:
        """Create ``namespace/repo`` if it does not exist (``POST /api/repos``; 409 = exists).

        oxen.md §13.1. The repo is created public because whether model workers can read a
        private repo's files without a token is undocumented.
        """
        resp = self._session.post(
            self.url("/api/repos"),
            json={"namespace": namespace, "name": repo, "is_public": True,
                  "description": "Source clips uploaded by Video Enhance Studio",
                  "user": {"name": "Video Enhance Studio", "email": "studio@localhost"}},
            headers=self._auth_headers(self.url("/api/repos")), timeout=self.timeout,
        )
        with resp:
            if resp.status_code in (200, 201, 409):
                return
            from studio.providers.http import error_from_response

            raise error_from_response("oxen", "Oxen", resp, what="creating the upload repo",
                                      key_setting=self.key_setting)

    def upload_file(
        self,
        path: Path,
        *,
        namespace: str,
        repo: str,
        dest_path: str,
        branch: str = "main",
        progress: Callable[[int, int | None], None] | None = None,
    ) -> str:
        """Upload and commit ``path`` with ``PUT /api/repos/{ns}/{repo}/file/{branch}/{path}``
        (oxen.md §13.1: the docs walkthrough's single full-path upload with a ``file`` part),
        streamed as multipart (the file is never read whole into memory).

        ``dest_path`` is the path inside the repo. Returns the file URL to pass as
        ``input_video``. Raises ``ApiError`` subclasses or ``NetworkError``.
        """
        name = dest_path.rpartition("/")[2]
        total = path.stat().st_size
        with open(path, "rb") as fh:
            encoder = MultipartEncoder(fields={
                "file": (name, fh, "video/mp4"),
                "message": f"Upload {name} for enhancement",
                "name": "Video Enhance Studio",
                "email": "studio@localhost",
            })
            body: Any = encoder
            if progress:
                body = MultipartEncoderMonitor(
                    encoder, lambda m: progress(min(m.bytes_read, total), total))
            self._request(
                "PUT",
                f"/api/repos/{quote(namespace)}/{quote(repo)}/file/{quote(branch)}/{quote(dest_path)}",
                data=body, headers={"Content-Type": body.content_type},
                timeout=(self.timeout[0], 600.0), what="the upload",
            ).close()
        return self.url(f"/api/repos/{quote(namespace)}/{quote(repo)}/file/{quote(branch)}/"
                        f"{quote(dest_path)}")


def require_namespace(namespace: str | None) -> str:
    """The namespace for live uploads; raises ``ValidationError``-free ``ConfigError``."""
    from studio.errors import ConfigError

    if not namespace:
        raise ConfigError("Set OXEN_NAMESPACE (your Oxen username or organisation) so local "
                          "clips can be uploaded to an Oxen repo, or give a public URL instead.")
    return namespace


__all__ = ["OxenClient", "OxenGeneration", "ValidationError", "collect_artifacts"]
