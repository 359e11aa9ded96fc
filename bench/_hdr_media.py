"""HDR media the media benchmarks need, made once and kept in a cache folder.

* :func:`hyperion_result` — the sandbox's Hyperion HDR processing of cockatoo.mp4 (HLG or PQ,
  1280×720, 14 s), i.e. what a Hyperion generation returns in sandbox mode;
* :func:`ltx_direct_zip` — the sandbox's LTX direct processing of the first 181 frames of
  cockatoo.mp4 (181 half-float EXRs, 1280×720), and a 1920×1080 variant made by upscaling;
* :func:`hdr_clip_1080p` — cockatoo upscaled to 1920×1080 and lifted to PQ by the same
  processing (14 s, 280 frames);
* :func:`pq_frame_4k` — one 3840×2160 PQ HEVC frame from that clip.

The folder is ``$BENCH_MEDIA_DIR`` or ``/tmp/vestudio-bench-media``.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import av
from _common import SHARED

CACHE = Path(os.environ.get("BENCH_MEDIA_DIR", "/tmp/vestudio-bench-media"))
COCKATOO = SHARED / "video" / "cockatoo.mp4"


def _processing():
    from sandbox import processing

    return processing


def _with_defaults(model_id: str, params: dict) -> dict:
    from sandbox.models import with_defaults

    return with_defaults(model_id, params)


def hyperion_result(transfer: str = "hlg", source: Path = COCKATOO, tag: str = "") -> Path:
    """The sandbox Hyperion output (HEVC Main 10 MP4) for ``source``."""
    from studio.models import hyperion_hdr

    out = CACHE / f"hyperion-{transfer}{tag}"
    video = out / "output.mp4"
    if not video.exists():
        params = _with_defaults(hyperion_hdr.MODEL_ID, {"transfer_function": transfer})
        _processing().process(hyperion_hdr.MODEL_ID, params, source, out, preset="veryfast")
    return video


def _scaled_source(width: int, height: int, max_frames: int | None = None) -> Path:
    from studio import media

    dst = CACHE / f"cockatoo-{width}x{height}{'-' + str(max_frames) if max_frames else ''}.mp4"
    if not dst.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with av.open(str(COCKATOO)) as src, media.H264Writer(
            dst, width=width, height=height, fps=20, crf=16
        ) as writer:
            for frame in src.decode(video=0):
                writer.write(frame.reformat(width=width, height=height, format="yuv420p"))
                if max_frames and writer.frames >= max_frames:
                    break
    return dst


def hdr_clip_1080p(transfer: str = "pq") -> Path:
    """A 14 s 1920×1080 HDR clip (HEVC Main 10, PQ or HLG), 280 frames."""
    return hyperion_result(transfer, _scaled_source(1920, 1080), tag="-1080p")


def pq_frame_4k() -> Path:
    """A one-frame 3840×2160 PQ HEVC clip."""
    src = _scaled_source(3840, 2160, max_frames=1)
    return hyperion_result("pq", src, tag="-4k-1frame")


def ltx_direct_zip(width: int = 1280, height: int = 720) -> Path:
    """A ZIP of 181 half-float EXR frames as the sandbox's LTX direct returns it."""
    from studio.models import ltx_direct

    out = CACHE / f"ltx-direct-{width}x{height}"
    archive = out / "frames_exr.zip"
    if not archive.exists():
        source = _scaled_source(width, height, max_frames=181)
        params = _with_defaults(ltx_direct.MODEL_ID, {})
        _processing().process(ltx_direct.MODEL_ID, params, source, out, preset="veryfast")
    with zipfile.ZipFile(archive) as zf:
        assert len(zf.namelist()) == 181, len(zf.namelist())
    return archive
