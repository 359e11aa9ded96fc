"""MaxCLL/MaxFALL over a 14 s 1080p HDR clip vs a bare PyAV decode of it (goal ≤ 1.5×).

The clip is cockatoo.mp4 upscaled to 1920×1080 and lifted to HDR by the sandbox's Hyperion
processing (HEVC Main 10, 280 frames), once PQ and once HLG. Ours is
:func:`studio.media.hdr.analyse_clip` with an empty cache each run (decode + CTA-861.3
light level of every pixel of every frame); the baseline decodes every frame with the same
threaded PyAV decoder and does nothing else. Alternating runs, median of N. Run:
``.venv/bin/python bench/maxcll_speed.py``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import av
from _hdr_media import hdr_clip_1080p

from studio.media import hdr

N = int(os.environ.get("BENCH_RUNS", "3"))


def bare_decode(path) -> None:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for _ in c.decode(s):
            pass


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for transfer in ("pq", "hlg"):
        path = hdr_clip_1080p(transfer)
        ours, base = [], []
        for _ in range(N):
            t0 = time.perf_counter()
            bare_decode(path)
            base.append(time.perf_counter() - t0)
            with tempfile.TemporaryDirectory() as cache:
                t0 = time.perf_counter()
                result = hdr.analyse_clip(path, cache)
                ours.append(time.perf_counter() - t0)
        o, b = statistics.median(ours), statistics.median(base)
        print(f"  {transfer.upper()} 1920×1080, {result.frame_count} frames: analyse_clip "
              f"{o:.2f} s, bare PyAV decode {b:.2f} s → {o / b:.2f}×  (MaxCLL "
              f"{result.max_cll:.0f} cd/m², MaxFALL {result.max_fall:.0f} cd/m²)")
        if transfer == "pq":
            print(f"goal ≤ 1.5× (PQ): {'PASS' if o / b <= 1.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
