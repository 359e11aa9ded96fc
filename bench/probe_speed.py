"""Probe time vs a bare ``av.open`` + stream read of the same file (goal: ≤ 3×).

Prints the median of N runs for each shared clip and the ratio. Run: ``.venv/bin/python
bench/probe_speed.py``.
"""

from __future__ import annotations

import av
from _common import SHARED, median_ms, timed

from studio.media import probe

N = 200


def bare(path: str) -> None:
    with av.open(path) as c:
        s = c.streams.video[0]
        _ = (s.frames, s.duration, s.average_rate, s.codec_context.width,
             s.codec_context.height, s.codec_context.pix_fmt, c.duration)


def main() -> None:
    print(f"probe vs bare av.open + stream read, median of {N} runs")
    worst = 0.0
    for name in ("realshort.mp4", "cockatoo.mp4"):
        path = str(SHARED / "video" / name)
        probe(path), bare(path)  # warm the page cache
        ours = median_ms(timed(lambda p=path: probe(p), N))
        base = median_ms(timed(lambda p=path: bare(p), N))
        worst = max(worst, ours / base)
        print(f"  {name:14s} probe {ours:6.2f} ms   bare {base:6.2f} ms   ratio {ours / base:4.2f}×")
    print(f"worst ratio {worst:.2f}× (goal ≤ 3×): {'PASS' if worst <= 3 else 'FAIL'}")


if __name__ == "__main__":
    main()
