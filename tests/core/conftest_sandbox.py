"""Helpers for the sandbox tests: an in-process server, an API client, an SSE reader, schemas.

* :func:`running_sandbox` starts :func:`sandbox.server.create_app` under uvicorn on a
  free loopback port in a thread (the shape of Streamlit's e2e conftest: pick a port, start,
  wait until it answers, yield, stop), and shuts the worker pool down afterwards.
* :class:`Api` is a tiny requests wrapper that adds the Bearer header.
* :class:`SseReader` collects ``/api/events`` frames in a background thread.
* :func:`validate` checks a body against the vendored schemas in ``tests/schemas`` (OpenAPI
  ``nullable: true`` rewritten to ``type: [T, "null"]``).
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import requests
import uvicorn

from sandbox.server import create_app

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
SCHEMA_FILES = {
    "oxen": "oxen-hub-openapi-components.json",
    "ltx": "ltx-video-to-video-hdr.json",
    "extra": "sandbox-extra.json",
}


# -- schemas -----------------------------------------------------------------------------------


def openapi_to_jsonschema(node: Any) -> Any:
    """Copy of ``node`` with OpenAPI 3.0 ``nullable: true`` expressed in JSON Schema terms:
    ``type: T`` becomes ``type: [T, "null"]`` and an ``enum`` gains ``null``."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_to_jsonschema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
        elif isinstance(t, list) and "null" not in t:
            out["type"] = [*t, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


@cache
def _document(kind: str) -> dict[str, Any]:
    raw = json.loads((SCHEMAS / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    return openapi_to_jsonschema({"components": copy.deepcopy(raw["components"])})


def validate(kind: str, name: str, body: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``body`` matches ``components.schemas.name``
    of the ``kind`` document (``"oxen"``, ``"ltx"`` or ``"extra"``). Local ``$ref``s resolve
    inside that document; ``format`` (uuid, date-time) is checked where a checker exists."""
    schema = {**_document(kind), "$ref": f"#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(body)


# -- server ------------------------------------------------------------------------------------


@dataclass
class RunningSandbox:
    url: str
    app: Any
    data_dir: Path

    @property
    def sandbox(self) -> Any:
        return self.app.state.sandbox


@contextmanager
def running_sandbox(data_dir: Path, **app_kwargs: Any) -> Iterator[RunningSandbox]:
    """Serve ``create_app(data_dir, **app_kwargs)`` on ``127.0.0.1:<free port>`` in a thread."""
    app = create_app(data_dir, **app_kwargs)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-process sandbox did not start")
        time.sleep(0.01)
    try:
        yield RunningSandbox(url=f"http://127.0.0.1:{port}", app=app, data_dir=data_dir)
    finally:
        app.state.sandbox.broker.close()  # end open event streams so the server can drain
        server.should_exit = True
        thread.join(timeout=30)
        app.state.sandbox.close()  # idempotent; lifespan shutdown normally did it already
        sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- client ------------------------------------------------------------------------------------


class Api:
    """requests against a sandbox as one user (``token=None`` sends no Authorization)."""

    def __init__(self, base: str, token: str | None):
        self.base = base
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 60)
        url = path if path.startswith("http") else self.base + path
        return self.session.request(method, url, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def upload(
        self,
        local: Path,
        repo_path: str,
        *,
        namespace: str = "studio",
        repo: str = "inputs",
        field_name: str = "file",
    ) -> str:
        """PUT ``local`` into a repo (oxen.md §13.1) and return its download URL."""
        with local.open("rb") as fh:
            r = self.put(
                f"/api/repos/{namespace}/{repo}/file/main/{repo_path}",
                files={field_name: (local.name, fh, "video/mp4")},
                data={"message": "test upload", "name": "tester", "email": "t@example.com"},
            )
        assert r.status_code == 200, r.text
        return f"{self.base}/api/repos/{namespace}/{repo}/file/main/{repo_path}"

    def wait_queue(
        self,
        generation_id: str,
        *,
        timeout: float = 120,
        until: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Poll ``GET /api/ai/queue/{id}`` until terminal (or ``until(row)``)."""
        until = until or (lambda row: row["status"] in ("succeeded", "failed", "cancelled"))
        return _poll(lambda: self.get(f"/api/ai/queue/{generation_id}"), until, timeout)

    def wait_ltx(self, job_id: str, *, timeout: float = 120) -> dict[str, Any]:
        return _poll(
            lambda: self.get(f"/v2/video-to-video-hdr/{job_id}"),
            lambda job: job["status"] in ("completed", "failed"),
            timeout,
        )


def _poll(
    fetch: Callable[[], requests.Response], done: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = fetch()
        assert r.status_code == 200, r.text
        body = r.json()
        if done(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last body {body}")
        time.sleep(0.1)


# -- SSE ---------------------------------------------------------------------------------------


@dataclass
class SseReader:
    """Reads ``GET /api/events`` in a thread; ``events`` holds ``(event, data)`` pairs and
    ``comments`` the comment lines. Connected (subscribed) once the constructor returns."""

    api: Api
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    content_type: str = ""

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._resp = self.api.get("/api/events", stream=True, timeout=(5, 30))
        assert self._resp.status_code == 200, self._resp.text
        self.content_type = self._resp.headers.get("content-type", "")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        event = None
        try:
            for line in self._resp.iter_lines(chunk_size=None, decode_unicode=True):
                if self._stop.is_set():
                    return
                with self._cond:
                    if line.startswith(":"):
                        self.comments.append(line)
                    elif line.startswith("event:"):
                        event = line[len("event:") :].strip()
                    elif line.startswith("data:") and event is not None:
                        self.events.append((event, json.loads(line[len("data:") :].strip())))
                        event = None
                    self._cond.notify_all()
        except (requests.RequestException, AttributeError, ValueError):
            return  # closed under us

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def for_generation(self, generation_id: str) -> list[dict[str, Any]]:
        with self._cond:
            return [d for _, d in self.events if d.get("generation_id") == generation_id]

    def close(self) -> None:
        self._stop.set()
        self._resp.close()
        self._thread.join(timeout=5)
