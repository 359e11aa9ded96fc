"""Peak memory of the media code on hostile EXR ZIPs (issue 9's media part; goal: the process
stays ≤ 512 MB).

Each case runs in a fresh child process that prints its peak RSS (``ru_maxrss``) after:
``exr_zip_summary`` + ``make_exr_zip_preview`` + ``ExrSequence.frame(0)`` on

* a 1 GiB member of zeros in a ~1 MB ZIP (the member is refused from its declared size);
* a ZIP of two 16384×16384 half-float frames (read in bands at reduced size);

and, for scale, the same on a 181-frame 1280×720 LTX direct ZIP. Run:
``.venv/bin/python bench/exr_budget_rss.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _common import REPO
from _hdr_media import CACHE, ltx_direct_zip

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from studio.errors import MediaError
from studio.media import exr, exr_zip_summary, make_exr_zip_preview
zip_path, out = sys.argv[1], sys.argv[2]
notes, t0 = [], time.perf_counter()
for step in ("summary", "preview", "frame"):
    try:
        if step == "summary":
            exr_zip_summary(zip_path)
        elif step == "preview":
            make_exr_zip_preview(zip_path, out, fps=24)
        else:
            with exr.ExrSequence(zip_path) as seq:
                f = seq.frame(0)
                notes.append(f.note or f"{{f.width}}x{{f.height}}")
    except MediaError as err:
        notes.append(f"{{step}}: " + str(err)[:110])
print(json.dumps({{"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - t0, "notes": notes}}))
"""


def bomb_zip() -> Path:
    path = CACHE / "bomb-1gib.zip"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            with zf.open("frame_000000.exr", "w", force_zip64=True) as member:
                chunk = bytes(8 << 20)
                for _ in range(128):
                    member.write(chunk)
    return path


def huge_frames_zip() -> Path:
    """Two 16384×16384 half-float RGB frames, written a band at a time (legacy OutputFile)."""
    import Imath
    import numpy as np
    import OpenEXR

    path = CACHE / "two-16k-frames.zip"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    side = 16384
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for i in range(2):
            tmp = CACHE / f"huge-{i}.exr"
            header = OpenEXR.Header(side, side)
            half = Imath.Channel(Imath.PixelType(Imath.PixelType.HALF))
            header["channels"] = {"R": half, "G": half, "B": half}
            header["compression"] = Imath.Compression(Imath.Compression.ZIP_COMPRESSION)
            out = OpenEXR.OutputFile(str(tmp), header)
            band = 256
            for top in range(0, side, band):
                value = np.float16(0.25 + 0.5 * top / side)
                plane = np.full((band, side), value, dtype=np.float16).tobytes()
                out.writePixels({"R": plane, "G": plane, "B": plane}, band)
            out.close()
            zf.write(tmp, f"frame_{i:06d}.exr")
            tmp.unlink()
    return path


def measure(label: str, zip_path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", CHILD.format(repo=str(REPO)), str(zip_path),
             str(Path(tmp) / "p.mp4")], capture_output=True, text=True, check=True)
        data = json.loads(result.stdout.strip().splitlines()[-1])
    size = zip_path.stat().st_size / 1e6
    print(f"  {label} ({size:,.1f} MB ZIP): peak RSS {data['rss_mb']:.0f} MB, "
          f"{time.perf_counter() - t0:.1f} s")
    for note in data["notes"]:
        print(f"      {note}")


def main() -> None:
    print("peak RSS of a fresh process running summary + preview + one frame:")
    measure("1 GiB member of zeros", bomb_zip())
    measure("two 16384×16384 half-float frames", huge_frames_zip())
    measure("181 × 1280×720 LTX direct frames", ltx_direct_zip())


if __name__ == "__main__":
    main()
