"""The media work kinds after a generation succeeds: ``download`` its result, then
``preview`` and ``hdr_analysis``.

Each runs from the work queue (:mod:`studio.tracking.work`) in whichever process claims it —
the app's pool or a ``python -m studio worker`` — with what :class:`MediaServices` gives it.

``download`` fetches every result link of the generation with the bounded fetcher
(:mod:`studio.tracking.downloads`) into ``<results>/<job id>/<label><ext>`` and checks each
file is what the model promises. An expired link is refreshed once from the provider (a new
status read may carry a freshly signed link). A failure that settles is written on the
generation as "Succeeded at the provider — result could not be downloaded: …", and a person
can retry (:func:`retry_download`). ``preview`` makes the browser-playable SDR preview in a
memory-capped child process (:mod:`studio.tracking.isolate`); EXR frames over the pixel
budget get a sentence instead of a decode.

``hdr_analysis`` measures MaxCLL/MaxFALL of a PQ or HLG video result
(:func:`studio.media.hdr.analyse_clip`, at the inspector's default HLG nominal peak of
1000 cd/m²) into ``<data dir>/analysis``, where the HDR inspector finds it; a result that is
not PQ/HLG (or has no video) settles as done after a header read, decoding nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.jobs import Job, JobStore
from studio.store import Status
from studio.tracking.downloads import (
    DownloadError,
    DownloadLimits,
    FailureKind,
    check_exr_zip,
    check_result,
    link_host,
    result_name,
)
from studio.tracking.isolate import run_isolated
from studio.tracking.work import WorkContext, WorkFailed, WorkKind, WorkQueue, register

log = logging.getLogger(__name__)

DOWNLOAD, PREVIEW, HDR_ANALYSIS = "download", "preview", "hdr_analysis"
DOWNLOAD_FAILED = "Succeeded at the provider — result could not be downloaded: {}."
PREVIEW_FAILED = "The result downloaded, but no preview could be made: {}."
PREVIEW_FN = "studio.tracking.results:make_preview"
ANALYSIS_FN = "studio.tracking.results:measure_light_levels"


@dataclass
class MediaServices:
    """What media work needs from the process running it.

    ``client_for(job)`` is the provider client (its transfer session and the auth rule);
    ``results_dir`` / ``previews_dir`` the data dir folders; ``limits`` the download bounds;
    ``media_memory_mb`` the memory cap of the preview child process (``None`` runs previews
    in this process); ``scrub`` removes configured keys from any text stored;
    ``refresh(job)`` returns fresh result links from the provider (or ``{}``); ``probe`` reads
    a video's header (:func:`studio.media.probe`) to check a downloaded video;
    ``analysis_dir`` is where HDR analyses are cached (default: ``analysis`` beside
    ``previews_dir``, i.e. ``<data dir>/analysis``).
    """

    store: JobStore
    client_for: Callable[[Job], Any]
    results_dir: Path
    previews_dir: Path
    limits: DownloadLimits
    media_memory_mb: int | None = 2048
    scrub: Callable[[str], str] = str
    refresh: Callable[[Job], Mapping[str, str]] | None = None
    probe: Callable[[Path], Any] | None = None
    analysis_dir: Path | None = None

    @property
    def analysis_cache(self) -> Path:
        """The folder of cached HDR analyses (:func:`studio.media.hdr.load_clip_analysis`)."""
        return self.analysis_dir if self.analysis_dir is not None else \
            self.previews_dir.parent / "analysis"


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _fps(job: Job) -> float:
    raw = (job.params or {}).get("frames_per_second") or (job.clip or {}).get("fps") or 24
    try:
        fps = float(raw)
    except (TypeError, ValueError):
        fps = 24.0
    return fps if 0 < fps <= 240 else 24.0


def run_download(ctx: WorkContext) -> None:
    """Download every result link of ``ctx.job`` and record the files on the generation."""
    s: MediaServices = ctx.services
    job = ctx.job
    if job.status != Status.SUCCEEDED:
        return  # cancelled or re-polled since: nothing to fetch
    if not job.result_urls:
        raise WorkFailed("the provider gave no result link", failure=FailureKind.EXPIRED)
    client = s.client_for(job)
    folder = s.results_dir / job.id
    # Files already here (an inline sync result beside a link) are kept as they are.
    files: dict[str, str] = {k: v for k, v in (job.result_files or {}).items()
                             if v and Path(v).is_file()}
    urls = dict(job.result_urls)
    refreshed = False
    for label in [k for k in urls if k not in files]:
        dest = folder / result_name(label, urls[label])
        ctx.cleanup(dest.with_name(dest.name + ".part"))

        def report(done: int, total: int | None, label: str = label) -> None:
            shown = _mb(done) + (f" of {_mb(total)}" if total else "")
            ctx.progress(done / total if total else None, f"downloading {label}: {shown}")

        while True:
            try:
                client.download(urls[label], dest, progress=report, limits=s.limits,
                                cancel=ctx.cancel, on_response=ctx.on_response)
                break
            except DownloadError as exc:
                if exc.kind is not FailureKind.EXPIRED or refreshed or s.refresh is None:
                    raise
                refreshed = True
                fresh = _fresh_links(s, job)
                if not fresh.get(label) or fresh[label] == urls[label]:
                    raise
                log.info("result link of %s expired; the provider gave a fresh one", job.id)
                urls.update({k: v for k, v in fresh.items() if k in urls})
                s.store.update(job.id, result_urls=urls)  # refresh() removed any key
                dest = folder / result_name(label, urls[label])
        try:
            check_result(label, dest, s.limits, probe=s.probe)
        except DownloadError:
            dest.unlink(missing_ok=True)  # never kept where a good result would be
            raise
        files[label] = str(dest)
    changes: dict[str, Any] = {"result_files": files}
    previous = ctx.item.error
    if previous and job.error == DOWNLOAD_FAILED.format(previous):
        changes["error"] = None  # a retry worked: the old sentence no longer holds
    s.store.update(job.id, **changes)


def _fresh_links(s: MediaServices, job: Job) -> dict[str, str]:
    try:
        return dict(s.refresh(job) or {}) if s.refresh else {}
    except Exception:  # noqa: BLE001 - refreshing is a bonus; the expiry stands
        log.info("could not refresh the result links of %s", job.id, exc_info=True)
        return {}


def settle_download(ctx: WorkContext, sentence: str) -> None:
    """Write the settled download failure on the generation (it stays ``succeeded``)."""
    s: MediaServices = ctx.services
    s.store.update(ctx.job.id, error=DOWNLOAD_FAILED.format(s.scrub(sentence)))


def run_preview(ctx: WorkContext) -> None:
    """Make the SDR preview of a downloaded result, when a browser cannot play it as is."""
    s: MediaServices = ctx.services
    job = s.store.get(ctx.job.id)
    files = {k: Path(v) for k, v in (job.result_files or {}).items()
             if k in ("video", "exr_frames") and v and Path(v).is_file()}
    if not files:
        return
    video = files.get("video")
    if video is not None and s.probe is not None:
        from studio import media

        clip = s.probe(video)  # header only, in this process: is a preview needed at all?
        if media.browser_playable(clip):
            s.store.update(job.id, preview_path=None)
            return
    exr = files.get("exr_frames")
    if exr is not None and "video" not in files:
        found = check_exr_zip(exr, s.limits, verify=False)
        problem = found.preview_problem(s.limits)
        if problem:
            raise WorkFailed(problem, failure=FailureKind.TOO_LARGE)
    dest = s.previews_dir / f"{job.id}.mp4"
    existed = dest.exists()
    if not existed:
        ctx.cleanup(dest)

    def progress(fraction: float) -> None:
        ctx.progress(fraction, "making SDR preview")

    plain_files = {k: str(v) for k, v in files.items()}
    if s.media_memory_mb:
        made = run_isolated(PREVIEW_FN, {"files": plain_files, "dest": str(dest),
                                         "fps": _fps(job)},
                            memory_mb=s.media_memory_mb, progress=progress, cancel=ctx.cancel,
                            on_process=ctx.on_process)
    else:
        made = make_preview(plain_files, str(dest), _fps(job), progress=progress)
    s.store.update(job.id, preview_path=str(made) if made else None)


def make_preview(files: Mapping[str, str], dest: str, fps: float,
                 progress: Callable[[float], None] | None = None) -> str | None:
    """:func:`studio.service.preview_for` with plain (JSON) arguments: what the preview child
    process runs. Returns the preview's path, or ``None`` when the result plays as it is."""
    from studio.service import preview_for

    made = preview_for({k: Path(v) for k, v in files.items()}, Path(dest), fps=float(fps),
                       progress=progress)
    return str(made) if made else None


def settle_preview(ctx: WorkContext, sentence: str) -> None:
    s: MediaServices = ctx.services
    s.store.update(ctx.job.id, error=PREVIEW_FAILED.format(s.scrub(sentence)))


def run_analysis(ctx: WorkContext) -> None:
    """Measure MaxCLL/MaxFALL of the downloaded PQ/HLG video result of ``ctx.job`` into
    :attr:`MediaServices.analysis_cache` (HLG at the nominal 1000 cd/m² peak the inspector
    shows first). Nothing is decoded for an EXR-only or SDR result: the row is done."""
    from studio import media
    from studio.media import hdr

    s: MediaServices = ctx.services
    job = s.store.get(ctx.job.id)
    raw = (job.result_files or {}).get("video")
    video = Path(raw) if raw else None
    if video is None or not video.is_file():
        return
    clip = (s.probe or media.probe)(video)  # header only: is there light to measure?
    if not media.is_hdr(clip):
        return
    cache = s.analysis_cache
    if hdr.load_clip_analysis(video, cache) is not None:
        return  # measured before (same file, same size and time)

    def progress(fraction: float) -> None:
        ctx.progress(fraction, "measuring MaxCLL/MaxFALL")

    progress(0.0)
    if s.media_memory_mb:
        run_isolated(ANALYSIS_FN, {"source": str(video), "cache_dir": str(cache)},
                     memory_mb=s.media_memory_mb, progress=progress, cancel=ctx.cancel,
                     on_process=ctx.on_process)
    else:
        hdr.analyse_clip(video, cache, progress=progress, should_cancel=ctx.cancel.is_set)


def measure_light_levels(source: str, cache_dir: str,
                         progress: Callable[[float], None] | None = None) -> float:
    """:func:`studio.media.hdr.analyse_clip` with plain (JSON) arguments: what the analysis
    child process runs. Returns MaxCLL in cd/m²."""
    from studio.media import hdr

    return float(hdr.analyse_clip(source, cache_dir, progress=progress).max_cll)


def default_registry(*, download_tries: int = 5, download_backoff_s: float = 15.0
                     ) -> dict[str, WorkKind]:
    """A registry holding ``download`` (``download_tries`` tries at most, transient failures
    waiting ``download_backoff_s`` × 2ⁿ⁻¹ s up to 10 min), ``preview`` and
    ``hdr_analysis`` (both following a download)."""
    registry: dict[str, WorkKind] = {}
    register(WorkKind(DOWNLOAD, run=run_download, settle=settle_download,
                      max_tries=max(1, download_tries), backoff_base_s=download_backoff_s,
                      backoff_cap_s=600.0), registry)
    register(WorkKind(PREVIEW, run=run_preview, settle=settle_preview, follows=DOWNLOAD,
                      max_tries=2, backoff_base_s=30.0), registry)
    register(WorkKind(HDR_ANALYSIS, run=run_analysis, follows=DOWNLOAD, max_tries=2,
                      backoff_base_s=30.0), registry)
    return registry


# The process-wide registry gets the built-in kinds; more register beside them.
for _kind in default_registry().values():
    register(_kind)


def queue_downloads(queue: WorkQueue) -> int:
    """Queue a download for every finished generation that still needs one."""
    return queue.ensure_downloads(host_of=link_host, kind=DOWNLOAD)


def retry_download(queue: WorkQueue, store: JobStore, job: Job) -> None:
    """The retry action of a settled download: due again now, tries counted afresh; the
    link is refreshed from the provider if it has expired."""
    queue.reset(job.id, DOWNLOAD)


__all__ = ["DOWNLOAD", "DOWNLOAD_FAILED", "HDR_ANALYSIS", "MediaServices", "PREVIEW",
           "PREVIEW_FAILED", "default_registry", "measure_light_levels", "queue_downloads",
           "retry_download", "run_analysis", "run_download", "run_preview", "settle_download",
           "settle_preview"]
