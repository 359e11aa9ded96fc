"""Seed a data dir with finished HDR generations whose files the sandbox really made.

The browser tests (and the README screenshots) need a Hyperion PQ result and an LTX EXR result
without waiting minutes for a run through the UI: the sandbox's own processing makes them
from realshort.mp4 (36 frames, 320×240) in seconds, and they are stored as succeeded
generations of this app's (sandbox) owner, exactly as the tracker leaves them after a
download.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sandbox import processing
from sandbox.models import with_defaults
from studio.config import Settings
from studio.jobs import Job, JobStore
from studio.models import MODELS
from tests.model_ids import HYPERION


def seed_hdr_generations(data: Path, source: Path, *, models: tuple[str, ...]) -> dict[str, Job]:
    """Process ``source`` with each model id in ``models`` (Hyperion → PQ) into ``data`` and
    insert one succeeded generation per model, newest last in ``models``."""
    settings = Settings.from_mapping({}, {k: v for k, v in os.environ.items()
                                         if k not in ("OXEN_API_KEY", "LTXV_API_KEY")})
    store = JobStore.from_settings(data, None)
    now = datetime.now(UTC)
    out: dict[str, Job] = {}
    for i, model_id in enumerate(models):
        params = {"transfer_function": "pq"} if model_id == HYPERION else {}
        params = with_defaults(model_id, params)
        folder = data / "results" / f"seed-{i}"
        result = processing.process(model_id, params, source, folder, preset="ultrafast")
        from studio.service import preview_for

        fps = float(params.get("frames_per_second") or 30.0)
        preview = preview_for(result.files, data / "previews" / f"seed-{i}.mp4", fps=fps)
        spec = MODELS[model_id]
        job = Job(
            model_id=model_id, provider=spec.provider, owner=settings.owner(),
            params=params, source={"kind": "sample", "label": source.name, "path": str(source)},
            status="succeeded", remote_id=f"seed-{i}",
            created_at=now - timedelta(minutes=10 - i), completed_at=now - timedelta(minutes=9 - i),
            result_urls={k: f"http://sandbox.invalid/{k}" for k in result.files},
            result_files={k: str(v) for k, v in result.files.items()},
            preview_path=str(preview) if preview else None,
        )  # fmt: skip
        out[model_id] = store.insert(job)
    return out
