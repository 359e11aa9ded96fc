"""Peak RSS growth while downloading a 1 GB result (goal ≤ 64 MB).

A separate process serves a 1 GiB file over loopback; this process downloads it with the
app's own streamed download (HttpClient.download) and reports the growth of its peak
resident set (ru_maxrss) and the throughput.
"""

from __future__ import annotations

import http.server
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO  # noqa: F401

from studio.config import Secret
from studio.local_sandbox import free_port
from studio.providers.oxen import OxenClient

SIZE = 1 << 30


def serve(directory: str, port: int) -> None:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                    lambda *a: Quiet(*a, directory=directory)).serve_forever()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(os.environ["PORT"]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "result.mp4"
        with open(src, "wb") as fh:  # real bytes, not a sparse file
            block = os.urandom(1 << 20)
            for _ in range(SIZE >> 20):
                fh.write(block)
        port = free_port()
        server = subprocess.Popen([sys.executable, __file__, "--serve", tmp],
                                  env={**os.environ, "PORT": str(port)})
        try:
            time.sleep(1.0)
            client = OxenClient(f"http://127.0.0.1:{port}", Secret("bench"))
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB
            t0 = time.perf_counter()
            done = client.download(f"http://127.0.0.1:{port}/result.mp4", Path(tmp) / "out.mp4")
            secs = time.perf_counter() - t0
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        finally:
            server.terminate()
        assert done.size == SIZE
    growth = peak - before
    print(f"downloaded 1 GiB in {secs:.1f} s ({SIZE / secs / 1e6:.0f} MB/s); peak RSS "
          f"{before:.0f} → {peak:.0f} MiB, growth {growth:.1f} MiB (goal ≤ 64 MB): "
          f"{'PASS' if growth <= 64 else 'FAIL'}")


if __name__ == "__main__":
    main()
