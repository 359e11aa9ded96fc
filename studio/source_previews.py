"""Browser-playable previews of source clips, made in the background the moment a clip is
chosen — never only after a result arrives.

One :class:`SourcePreviews` per cache folder and process (:func:`for_dir`): a single worker
thread turns clips a browser cannot decode (H.264 4:4:4, 10-bit, HEVC, HDR) into the cached
H.264 SDR preview of :func:`studio.service.source_preview`; clips that already play are
answered at once with themselves. Callers poll :meth:`SourcePreviews.state`, which never
blocks, and show its progress. Work is keyed by the file's path, size and modification time,
so a re-saved file is previewed again; the preview file itself is named by content hash, so
the same clip under two names is converted once. Memory is bounded: at most
:data:`MAX_TRACKED` clips are remembered (least recently asked first out).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from studio.errors import StudioError

MAX_TRACKED = 256



class PreviewStatus(StrEnum):
    """Where a source preview stands: waiting for the worker, being made, playable, or not."""

    PENDING = "pending"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class PreviewState:
    """Where the preview of one clip stands.

    ``status``: ``"pending"`` (waiting for the worker), ``"running"``, ``"ready"`` or
    ``"failed"``. ``fraction`` 0–1 while running; ``path`` the file to play once ready
    (the clip itself when ``is_preview`` is False); ``error`` the sentence when failed;
    ``seconds`` how long making it took (0 for a clip that plays as is).
    """

    status: PreviewStatus
    fraction: float = 0.0
    path: Path | None = None
    is_preview: bool = False
    error: str | None = None
    seconds: float | None = None

    @property
    def ready(self) -> bool:
        return self.status == PreviewStatus.READY

    @property
    def done(self) -> bool:
        return self.status in (PreviewStatus.READY, PreviewStatus.FAILED)


Maker = Callable[[Path, Path, Callable[[float], None]], tuple[Path, bool]]
Fast = Callable[[Path, Path], "tuple[Path, bool] | None"]


def _default_fast(path: Path, cache_dir: Path) -> tuple[Path, bool] | None:
    """The answer when no work is needed, from the header alone: the clip itself when a
    browser plays it. (Whether a preview is already on disk needs the content hash, which
    the worker computes: a large upload is never hashed on the caller's thread.)"""
    from studio import media

    clip = media.probe(path)
    return (path, False) if media.browser_playable(clip) else None


def _default_maker(path: Path, cache_dir: Path, progress: Callable[[float], None]
                   ) -> tuple[Path, bool]:
    from studio.service import source_preview

    return source_preview(path, cache_dir, progress=progress)


class SourcePreviews:
    """Previews of source clips under ``cache_dir``, made one at a time in the background.

    ``maker(path, cache_dir, progress) -> (playable path, is_preview)`` does the work
    (default: :func:`studio.service.source_preview`); it raises ``StudioError`` with a
    sentence for a clip it cannot read.
    """

    def __init__(self, cache_dir: Path, *, maker: Maker | None = None,
                 fast: Fast | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self._maker = maker or _default_maker
        self._fast = fast if fast is not None else (_default_fast if maker is None else None)
        self._lock = threading.Lock()
        self._states: OrderedDict[tuple[str, int, int], PreviewState] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="source-preview")

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int]:
        st = path.stat()
        return str(path.resolve()), st.st_size, st.st_mtime_ns

    def request(self, path: str | Path) -> PreviewState:
        """Start making the preview of ``path`` if nobody has (a no-op afterwards) and return
        its state. A clip that plays as is is answered ``"ready"`` at once (a header probe,
        once per file version); a preview already on disk is found by the worker within
        milliseconds. A missing file is a ``"failed"`` state with a sentence, not an error."""
        path = Path(path)
        try:
            key = self._key(path)
        except OSError:
            return PreviewState(PreviewStatus.FAILED, error=f"The clip '{path.name}' is no longer on disk.")
        with self._lock:
            state = self._states.get(key)
            if state is not None:
                self._states.move_to_end(key)
                return state
        ready = None
        if self._fast is not None:
            try:
                ready = self._fast(path, self.cache_dir)
            except StudioError as exc:
                ready = None
                failed = PreviewState(PreviewStatus.FAILED, error=str(exc))
                self._remember(key, failed)
                return failed
        with self._lock:
            if key in self._states:  # another thread answered meanwhile
                return self._states[key]
            state = (PreviewState(PreviewStatus.READY, 1.0, ready[0], ready[1], seconds=0.0) if ready
                     else PreviewState(PreviewStatus.PENDING))
            self._remember_locked(key, state)
        if ready is None:
            self._pool.submit(self._make, key, path)
        return state

    def _remember(self, key: tuple[str, int, int], state: PreviewState) -> None:
        with self._lock:
            self._remember_locked(key, state)

    def _remember_locked(self, key: tuple[str, int, int], state: PreviewState) -> None:
        self._states[key] = state
        self._states.move_to_end(key)
        while len(self._states) > MAX_TRACKED:
            self._states.popitem(last=False)

    def state(self, path: str | Path) -> PreviewState | None:
        """The state of ``path``'s preview, ``None`` when it was never requested."""
        try:
            key = self._key(Path(path))
        except OSError:
            return None
        with self._lock:
            return self._states.get(key)

    def wait(self, path: str | Path, timeout: float) -> PreviewState:
        """Request and block until done or ``timeout`` seconds pass (CLI, tests, benches)."""
        deadline = time.monotonic() + timeout
        state = self.request(path)
        while not state.done and time.monotonic() < deadline:
            time.sleep(0.05)
            state = self.state(path) or state
        return state

    def _set(self, key: tuple[str, int, int], state: PreviewState) -> None:
        with self._lock:
            if key in self._states:
                self._states[key] = state

    def _make(self, key: tuple[str, int, int], path: Path) -> None:
        started = time.monotonic()
        running = PreviewState(PreviewStatus.RUNNING)
        self._set(key, running)

        def progress(fraction: float) -> None:
            self._set(key, replace(running, fraction=max(0.0, min(1.0, fraction))))

        try:
            playable, is_preview = self._maker(path, self.cache_dir, progress)
        except StudioError as exc:
            self._set(key, PreviewState(PreviewStatus.FAILED, error=str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a worker thread must record, not die
            self._set(key, PreviewState(
                PreviewStatus.FAILED, error=f"The preview of '{path.name}' could not be made "
                                f"({type(exc).__name__})."))
            return
        self._set(key, PreviewState(PreviewStatus.READY, 1.0, Path(playable), is_preview,
                                    seconds=time.monotonic() - started if is_preview else 0.0))

    def close(self) -> None:
        """Stop the worker after the preview it is making (tests)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


_registry: dict[str, SourcePreviews] = {}
_registry_lock = threading.Lock()


def for_dir(cache_dir: str | Path) -> SourcePreviews:
    """The process-wide :class:`SourcePreviews` of ``cache_dir`` (created on first use)."""
    key = str(Path(cache_dir).resolve())
    with _registry_lock:
        previews = _registry.get(key)
        if previews is None:
            previews = _registry[key] = SourcePreviews(Path(cache_dir))
        return previews


__all__ = ["MAX_TRACKED", "PreviewState", "SourcePreviews", "for_dir"]
