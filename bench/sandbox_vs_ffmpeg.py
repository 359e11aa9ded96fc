"""Sandbox Starlight 1080p on cockatoo.mp4 vs a bare ffmpeg resize + libx264 encode at the
same preset (goal: ≤ 1.5×).

Both sides: 1280×720 yuv444p 20 fps in → 1920×1080 yuv420p 30 fps H.264 out, same x264
preset, the source's audio copied (Topaz models keep it; the sandbox does too). ffmpeg is the static binary from imageio-ffmpeg (a test dependency).
Prints the median of N runs of each.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg
from _common import SHARED, timed

from sandbox.models import STARLIGHT
from sandbox.processing import process
from studio.media import probe

N = 3
PRESET = "veryfast"


def main() -> None:
    src = SHARED / "video" / "cockatoo.mp4"
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    params = {"resolution": "1080p", "target_fps": 30, "interpolate_frames": False}
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) / "sandbox"
        ours = timed(lambda: process(STARLIGHT, params, src, out_dir, preset=PRESET), N)
        clip = probe(out_dir / "output.mp4")
        ff_out = Path(tmp) / "ffmpeg.mp4"
        cmd = [ffmpeg, "-v", "error", "-y", "-i", str(src), "-c:a", "copy",
               "-vf", "scale=1920:1080:flags=bicubic,fps=30", "-c:v", "libx264",
               "-preset", PRESET, "-crf", "20", "-pix_fmt", "yuv420p", str(ff_out)]
        theirs = timed(lambda: subprocess.run(cmd, check=True), N)
        ff = probe(ff_out)
    o, t = sorted(ours)[N // 2], sorted(theirs)[N // 2]
    print(f"Starlight 1080p on cockatoo.mp4 (preset {PRESET}), median of {N} runs")
    print(f"  sandbox  {o:6.2f} s → {clip.width}×{clip.height} {clip.fps:g} fps {clip.frame_count} frames")
    print(f"  ffmpeg   {t:6.2f} s → {ff.width}×{ff.height} {ff.fps:g} fps {ff.frame_count} frames")
    print(f"ratio {o / t:.2f}× (goal ≤ 1.5×): {'PASS' if o / t <= 1.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
