"""Issue 11 §4: media work scales past one machine.

An "app" process (the tracker with ``STUDIO_MEDIA_WORKERS=0``: it polls, it runs no media
work) and a ``python -m studio worker`` process share one PostgreSQL store (and, as a shared
volume would, one data dir). A real HDR generation is submitted to the sandbox; the app
process sees it succeed; the worker downloads the HEVC PQ result, makes its SDR preview and
measures its MaxCLL/MaxFALL into the data dir where the HDR inspector reads it. The work rows
name who did the work: the worker's process, never the app's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from studio import media
from studio.config import Settings
from studio.jobs import JobStore
from studio.local_sandbox import start_sandbox
from studio.media import hdr
from studio.service import Source, Studio
from studio.tracking.work import WorkQueue
from tests.model_ids import HYPERION

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def pg_url():
    base_url = os.environ.get("TEST_DATABASE_URL")
    if not base_url:
        if os.environ.get("CI"):
            pytest.fail("CI must run the scale-out test on PostgreSQL: TEST_DATABASE_URL unset")
        pytest.skip("TEST_DATABASE_URL is unset (scripts/test starts PostgreSQL and sets it)")
    base = sa.make_url(base_url).set(drivername="postgresql+psycopg")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "studio", *args], cwd=REPO, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)  # noqa: SIM115


def test_a_worker_downloads_previews_and_analyses_while_the_app_does_none_of_it(
        tmp_path, pg_url, realshort):
    sandbox = start_sandbox(tmp_path / "sandbox", port=None)
    data = tmp_path / "data"  # one data dir, as a volume shared by both machines would be
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OXEN_", "LTX", "STUDIO_"))}
    env.update(DATABASE_URL=pg_url, OXEN_BASE_URL=sandbox.url, LTX_BASE_URL=sandbox.url,
               STUDIO_DATA_DIR=str(data), PYTHONPATH=str(REPO))
    procs: list[subprocess.Popen] = []
    try:
        settings = Settings.from_mapping(env)
        store = JobStore(pg_url)
        submitter = Studio(settings, store, sandbox_url=sandbox.url)
        prepared = submitter.prepare(HYPERION, Source("upload", "realshort.mp4",
                                                              path=realshort),
                                     {"transfer_function": "pq"})
        [job] = submitter.submit(prepared)
        submitter.close()

        app = _spawn(["track"], {**env, "STUDIO_MEDIA_WORKERS": "0"}, tmp_path / "app.log")
        worker = _spawn(["worker", "--threads", "2"], env, tmp_path / "worker.log")
        procs += [app, worker]

        def analysed(j) -> bool:
            video = (j.result_files or {}).get("video")
            return bool(video) and hdr.load_clip_analysis(video, data / "analysis") is not None

        def settled() -> bool:
            # A worker writes its file (result, preview, analysis) and then marks its work
            # row done: wait for the rows too (ci e1, at load 11: the analysis file was there
            # a moment before its row said done).
            rows = WorkQueue(store).for_job(job.id)
            return all(kind in rows and rows[kind].status == "done"
                       for kind in ("download", "preview", "hdr_analysis"))

        deadline = time.time() + 240
        done = store.get(job.id)
        while time.time() < deadline:
            done = store.get(job.id)
            if done.result_files and done.preview_path and analysed(done) and settled():
                break
            assert app.poll() is None, (tmp_path / "app.log").read_text()[-2000:]
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(0.5)
        assert done.status == "succeeded", done.error
        assert done.result_files and done.preview_path and analysed(done), (
            f"not downloaded/previewed/analysed in time: {done}\napp:\n"
            + (tmp_path / "app.log").read_text()[-1500:] + "\nworker:\n"
            + (tmp_path / "worker.log").read_text()[-1500:])

        result = media.probe(done.result_files["video"])
        assert result.codec == "hevc" and result.color_transfer == "smpte2084"
        assert media.browser_playable(media.probe(done.preview_path))
        light = hdr.load_clip_analysis(done.result_files["video"], data / "analysis")
        assert light.frame_count >= 30 and light.max_cll > 0  # realshort: 36 frames

        rows = WorkQueue(store).for_job(job.id)
        assert set(rows) >= {"download", "preview", "hdr_analysis"}
        for kind in ("download", "preview", "hdr_analysis"):
            who = rows[kind].done_by or ""
            assert rows[kind].status == "done"
            assert who.startswith("worker@") and f":{worker.pid}:" in who, (kind, who)
            assert f":{app.pid}:" not in who
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        sandbox.stop()
    # Both stopped on SIGTERM without a traceback.
    for name in ("app.log", "worker.log"):
        assert "Traceback" not in (tmp_path / name).read_text(), (tmp_path / name).read_text()
