"""SDR preview of the Hyperion HLG result of cockatoo.mp4 vs a bare ffmpeg decode + libx264
encode of the same file at the same preset (goal ≤ 1.5×).

The Hyperion result is made by the sandbox's own processing (HEVC Main 10, HLG, 1280×720,
14 s, 280 frames). The baseline is imageio-ffmpeg's ``ffmpeg -i SRC -c:v libx264 -preset
veryfast -crf 20 -pix_fmt yuv420p -movflags +faststart`` (8-bit 4:2:0, as a browser needs;
audio copied when there is any); ours is :func:`studio.media.make_sdr_preview` (decode,
3D-LUT tone map, x264 at the same preset and CRF, sound kept). Alternating runs, median of
N. Also times the same for cockatoo.mp4 itself (4:4:4 SDR source) and the EXR-sequence
preview of a 181-frame LTX direct ZIP against OpenEXR decode + x264. Run:
``.venv/bin/python bench/sdr_preview_speed.py``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
from _common import SHARED
from _hdr_media import hyperion_result, ltx_direct_zip

from studio.media import make_exr_zip_preview, make_sdr_preview, probe
from studio.media.previews import PREVIEW_CRF, PREVIEW_PRESET

N = int(os.environ.get("BENCH_RUNS", "3"))
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def bare_ffmpeg(src: Path, dst: Path) -> None:
    audio = ["-c:a", "copy"] if probe(src).has_audio else ["-an"]
    subprocess.run([FFMPEG, "-y", "-v", "error", "-i", str(src), "-c:v", "libx264", "-preset",
                    PREVIEW_PRESET, "-crf", str(PREVIEW_CRF), "-pix_fmt", "yuv420p",
                    *audio, "-movflags", "+faststart", str(dst)], check=True)


def bare_exr(zip_path: Path, dst: Path) -> None:
    """OpenEXR decode of every member + x264 of the values clipped to 8 bits (no tone map)."""
    import io
    import zipfile

    import numpy as np
    import OpenEXR

    from studio.media import H264Writer

    with zipfile.ZipFile(zip_path) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".exr"))
        writer = None
        for name in names:
            with OpenEXR.File(io.BytesIO(zf.read(name))) as f:
                rgb = f.channels()["RGB"].pixels
            rgb8 = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
            if writer is None:
                writer = H264Writer(dst, width=rgb8.shape[1], height=rgb8.shape[0], fps=20,
                                    preset=PREVIEW_PRESET, crf=PREVIEW_CRF)
            writer.write_rgb(rgb8)
        writer.close()


def compare(label: str, ours, base) -> float:
    ours_s, base_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(N):
            t0 = time.perf_counter()
            base(Path(tmp) / f"b{i}.mp4")
            base_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ours(Path(tmp) / f"o{i}.mp4")
            ours_s.append(time.perf_counter() - t0)
    o, b = statistics.median(ours_s), statistics.median(base_s)
    print(f"  {label}: ours {o:.2f} s, baseline {b:.2f} s (medians of {N}) → {o / b:.2f}×")
    return o / b


def main() -> None:
    hlg = hyperion_result("hlg")
    clip = probe(hlg)
    print(f"Hyperion HLG result: {clip.codec} {clip.pix_fmt} {clip.width}×{clip.height} "
          f"{clip.frame_count} frames, transfer {clip.color_transfer}")
    make_sdr_preview(hlg, Path(tempfile.gettempdir()) / "warm.mp4")  # bakes the LUT once
    load = os.getloadavg()[0]
    print(f"preset {PREVIEW_PRESET}, CRF {PREVIEW_CRF}; load average {load:.1f} on "
          f"{os.cpu_count()} cores")
    ratio = compare("HLG → SDR preview vs ffmpeg decode + libx264",
                    lambda d: make_sdr_preview(hlg, d), lambda d: bare_ffmpeg(hlg, d))
    cockatoo = SHARED / "video" / "cockatoo.mp4"
    compare("cockatoo.mp4 (4:4:4 SDR, with audio) vs ffmpeg",
            lambda d: make_sdr_preview(cockatoo, d), lambda d: bare_ffmpeg(cockatoo, d))
    if "--no-exr" not in sys.argv:
        zip_path = ltx_direct_zip()
        compare("EXR ZIP (181 × 1280×720 half) preview vs OpenEXR decode + x264",
                lambda d: make_exr_zip_preview(zip_path, d, fps=20), lambda d: bare_exr(zip_path, d))
    print(f"goal ≤ 1.5× for the HLG preview: {'PASS' if ratio <= 1.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
