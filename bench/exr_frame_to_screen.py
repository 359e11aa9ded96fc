"""One 1920×1080 half-float frame from a 181-member ZIP to screen (goal ≤ 150 ms).

"To screen" = read the member from the (already opened) ZIP, decode it with OpenEXR within the
pixel budget, make the 8-bit sRGB view at the chosen exposure, and JPEG-encode it the way
``st.image`` sends it. Frames are visited in a scrubbing order (different members each
time, so nothing is cached). Median of N. Run: ``.venv/bin/python bench/exr_frame_to_screen.py``.
"""

from __future__ import annotations

import io
import os
import statistics
import time

from _hdr_media import ltx_direct_zip
from PIL import Image

from studio.media import exr

N = 30


def main() -> None:
    zip_path = ltx_direct_zip(1920, 1080)
    steps = {"read+decode": [], "view": [], "jpeg": [], "total": []}
    cpu = []
    with exr.ExrSequence(zip_path) as seq:
        assert seq.frame_count == 181
        seq.frame(0)  # warm-up
        for i in range(N):
            index = (i * 37 + 11) % seq.frame_count
            t0, c0 = time.perf_counter(), time.process_time()
            frame = seq.frame(index)
            t1 = time.perf_counter()
            rgb8 = exr.view_rgb8(frame, exposure_stops=0.5)
            t2 = time.perf_counter()
            buf = io.BytesIO()
            Image.fromarray(rgb8).save(buf, format="JPEG", quality=90)
            t3 = time.perf_counter()
            cpu.append(time.process_time() - c0)
            for k, v in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                steps[k].append(v)
    assert (frame.width, frame.height, frame.dtype) == (1920, 1080, "float16")
    print(f"one 1920×1080 half-float frame from a 181-member ZIP to screen, median of {N} "
          f"(load average {os.getloadavg()[0]:.1f}):")
    for k, v in steps.items():
        print(f"  {k:12s} {statistics.median(v) * 1000:6.1f} ms")
    total = statistics.median(steps["total"]) * 1000
    print(f"  CPU time    {statistics.median(cpu) * 1000:6.1f} ms (all threads)")
    print(f"goal ≤ 150 ms: {'PASS' if total <= 150 else 'FAIL'} (wall)")


if __name__ == "__main__":
    main()
