"""Scopes for one 3840×2160 PQ frame (goal ≤ 250 ms).

Times :func:`studio.media.hdr.frame_scopes` on a decoded frame (luminance, log-nits
histogram, waveform, false colour, gamut flags, the SDR view and the full-resolution peak and
average light level), median of N runs after one warm-up. Decoding the frame is not counted:
the inspector decodes once and re-measures when the exposure changes. Run:
``.venv/bin/python bench/hdr_scopes.py``.
"""

from __future__ import annotations

import os
import statistics
import time

import av
from _common import median_ms
from _hdr_media import pq_frame_4k

from studio.media import hdr, probe

N = 15


def main() -> None:
    path = pq_frame_4k()
    clip = probe(path)
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
    assert (frame.width, frame.height) == (3840, 2160), (frame.width, frame.height)
    hdr.frame_scopes(frame, clip)  # warm-up: LUT file, graph, numpy tables
    samples, cpu = [], []
    for _ in range(N):
        w0, c0 = time.perf_counter(), time.process_time()
        hdr.frame_scopes(frame, clip)
        samples.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    t0 = time.perf_counter()
    hdr.read_frame_at(path, 0.0)
    decode_ms = (time.perf_counter() - t0) * 1000
    ms = median_ms(samples)
    print(f"scopes for one {frame.width}×{frame.height} PQ frame ({clip.codec} {clip.pix_fmt}):")
    print(f"  frame_scopes median {ms:.0f} ms (min {min(samples) * 1000:.0f}, "
          f"p90 {statistics.quantiles(samples, n=10)[-1] * 1000:.0f}) over {N} runs")
    print(f"  CPU time median {statistics.median(cpu) * 1000:.0f} ms (all threads; what an "
          "idle machine's wall time is bounded by)")
    print(f"  (decoding that frame: {decode_ms:.0f} ms, not counted; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"goal ≤ 250 ms: {'PASS' if ms <= 250 else 'FAIL'} (wall)")


if __name__ == "__main__":
    main()
