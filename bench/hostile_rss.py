"""Peak RSS of the tracker process under hostile results (issue 9; goal ≤ 512 MB each).

For each case a fresh data dir holds one live Oxen generation pointed at the hostile provider
(``tests/hostile/server.py``, its own process); ``python -m studio track --until-done`` runs
it to the end while this script samples the peak resident set (``VmHWM``) of the tracker
process and of any media child process it starts. Cases:

- ``good``: a normal 0.2 MB MP4 result (the baseline the others are divided by);
- ``zipbomb``: a 1 MB ZIP holding a 1 GiB member;
- ``bigexr``: a 3.3 MB ZIP of two 16384×16384 half-float EXR frames (over the preview's
  pixel budget: the frames are checked from their headers, never decoded);
- ``bigexr-decode``: the same with the pixel budget raised (``STUDIO_MAX_FRAME_MP=300``), so
  the preview child really tries to decode a 16k frame and meets its memory cap;
- ``hugejson``: a 500 MB JSON status body on every poll.

Default limits otherwise (20 GB result cap, 2048 MB media-child cap). Prints one line per case
and the ratio to the baseline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO

from studio.jobs import Job, JobStore, utcnow

KEY = "sk-live-BENCH0123456789abcdef"
GOAL_MB = 512


def vm_hwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def descendants(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def run_case(server_url: str, case: str, extra_env: dict[str, str]) -> tuple[float, float, float,
                                                                           str]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        store = JobStore(data / "jobs.sqlite3")
        job = store.insert(Job(
            model_id="topazlabs-rhea-video", provider="oxen", owner="bench", params={},
            source={"kind": "url", "label": case, "url": "https://example.com/in.mp4"},
            status="queued", remote_id=case, target="live", next_poll_at=0.0,
            submitted_at=utcnow()))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OXEN_", "LTX", "STUDIO_"))}
        env.update(OXEN_API_KEY=KEY, OXEN_BASE_URL=server_url, LTX_BASE_URL=server_url,
                   STUDIO_DATA_DIR=str(data), PYTHONPATH=str(REPO), **extra_env)
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "studio", "track", "--until-done",
                                 "--interval", "0.5"], cwd=tmp, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = child_peak = 0.0
        while proc.poll() is None:
            peak = max(peak, vm_hwm_mb(proc.pid) or 0.0)
            for kid in descendants(proc.pid):
                child_peak = max(child_peak, vm_hwm_mb(kid) or 0.0)
            time.sleep(0.05)
        secs = time.monotonic() - started
        row = store.get(job.id)
        outcome = (row.error or ("downloaded" if row.result_files else row.status))[:110]
        store.close()
    return peak, child_peak, secs, outcome


def main() -> None:
    files = REPO / "artifacts" / "hostile"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.hostile.server", "--port", "0", "--key", KEY,
         "--files", str(files)], cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        line = server.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        cases = [("good", {}), ("zipbomb", {}), ("bigexr", {}),
                 ("bigexr-decode", {"STUDIO_MAX_FRAME_MP": "300"}), ("hugejson", {})]
        results = {}
        for name, env in cases:
            results[name] = run_case(url, name.split("-")[0], env)
        base = results["good"][0]
        print(f"{'case':14} {'tracker peak':>12} {'× good':>7} {'media child':>11} "
              f"{'time':>6}  outcome")
        worst = 0.0
        for name, (peak, child, secs, outcome) in results.items():
            worst = max(worst, peak) if name != "good" else worst
            child_s = f"{child:.0f} MB" if child else "—"
            print(f"{name:14} {peak:>9.0f} MB {peak / base:>6.2f}× {child_s:>11} {secs:>5.0f}s"
                  f"  {outcome}")
        print(f"worst tracker peak under a hostile result: {worst:.0f} MB "
              f"(goal ≤ {GOAL_MB} MB): {'PASS' if worst <= GOAL_MB else 'FAIL'}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
