"""Durability under faults: N generations submitted through the CLI against a sandbox that
injects faults into 10 % of requests (429 with Retry-After, 500/503, connections dropped
before and after a POST is accepted, slow and malformed answers, SSE disconnects).

    .venv/bin/python bench/fault_run.py --n 20 --kill     # kill -9 the tracker mid-way
    .venv/bin/python bench/fault_run.py --n 100

Checks, against the sandbox's own truth (read with ``X-Sandbox-Fault: none``):
- every submit is listed (one row per generation, none lost);
- every row with a generation id has the sandbox's final status;
- rows without an id are ``failed`` (the provider refused the POST: nothing was created) or
  ``unknown`` with the facts (the answer was lost and no match was found);
- paid POSTs accepted by the sandbox = generations that got an id, plus LTX generations
  whose answer was lost (LTX cannot be listed, so those stay ``unknown`` for a person):
  no duplicate paid POST;
- no traceback in any CLI output.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from _common import REPO, SHARED

from studio.local_sandbox import free_port
from studio.models import hyperion_hdr, ltx_direct, ltx_hdr, rhea, starlight

NONE = {"X-Sandbox-Fault": "none", "Authorization": "Bearer sandbox-local-key"}
PLAN = [
    (starlight.MODEL_ID, ["resolution=1080p"]),
    (rhea.MODEL_ID, ["resolution=720p"]),
    (hyperion_hdr.MODEL_ID, ["transfer_function=pq"]),
    (ltx_hdr.MODEL_ID, ["prompt=cinematic HDR", "num_frames=9"]),
    (ltx_direct.MODEL_ID, []),
]
OXEN_TO_OURS = {"queued": "queued", "processing": "processing", "succeeded": "succeeded",
                "failed": "failed", "cancelled": "cancelled"}
LTX_TO_OURS = {"pending": "queued", "processing": "processing", "completed": "succeeded",
               "failed": "failed"}


def cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def truth(base: str, job: dict) -> str | None:
    """The sandbox's status for a row's generation id, in our terms."""
    if job["provider"] == "oxen":
        r = requests.get(f"{base}/api/ai/generations/{job['remote_id']}", headers=NONE, timeout=10)
        return OXEN_TO_OURS[r.json()["generation"]["status"]] if r.ok else None
    r = requests.get(f"{base}/v2/video-to-video-hdr/{job['remote_id']}", headers=NONE, timeout=10)
    return LTX_TO_OURS[r.json()["status"]] if r.ok else None


def consistent(row: dict, truth_status: str | None) -> bool:
    """The row agrees with the sandbox. An LTX job past ``--ttl`` answers 404 (as real LTX
    does after 24 h): then the row must have finished with its result saved before that."""
    if truth_status is None and row["provider"] == "ltx":
        return row["status"] == "succeeded" and bool(row["result_files"]) or \
            row["status"] in ("failed", "expired")
    return truth_status == row["status"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--fault-rate", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--kill", action="store_true", help="kill -9 the tracker half-way")
    ap.add_argument("--ttl", type=float, default=3600,
                    help="sandbox --ttl: finished generations 404 on the queue route after it")
    ap.add_argument("--credits", type=str, default=None,
                    help="sandbox --credits USD: paid POSTs past the balance get 402")
    ap.add_argument("--keep", type=Path, help="keep the data dir here (for a browser check)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fault-run-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--data-dir",
         str(tmp / "sandbox"), "--fault-rate", str(args.fault_rate), "--seed", str(args.seed),
         "--slow-s", "1", "--ttl", str(args.ttl),
         *(["--credits", args.credits] if args.credits else [])],
        cwd=REPO, stdout=subprocess.PIPE, stderr=open(tmp / "sandbox.log", "w"), text=True)
    sandbox.stdout.readline()  # "Sandbox listening on …"
    env = {k: v for k, v in os.environ.items() if k not in ("OXEN_API_KEY", "LTXV_API_KEY")}
    env.update(OXEN_BASE_URL=base, LTX_BASE_URL=base, STUDIO_DATA_DIR=str(tmp / "app"))
    clip = str(SHARED / "video" / "realshort.mp4")
    t0 = time.time()
    tracker = subprocess.Popen([sys.executable, "-m", "studio", "track", "--interval", "0.5"],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=open(tmp / "tracker1.log", "w"))
    outputs, submitted, refused_before_row = [], 0, 0
    killed_at = None
    for i in range(args.n):
        model, params = PLAN[i % len(PLAN)]
        out = cli(["submit", "--model", model, "--input", clip,
                   *[x for p in params for x in ("--param", p)]], env)
        outputs.append(out.stdout + out.stderr)
        if out.stdout.strip():
            submitted += 1
        else:
            refused_before_row += 1
        if args.kill and killed_at is None and i + 1 >= args.n // 2:
            os.kill(tracker.pid, signal.SIGKILL)  # mid-way, with generations in flight
            killed_at = i + 1
    if not args.kill:
        tracker.send_signal(signal.SIGTERM)
    tracker.wait(30)
    done = cli(["track", "--until-done", "--interval", "0.5"], env, timeout=1200)
    outputs.append(done.stdout + done.stderr)
    rows = json.loads(cli(["status", "--json"], env).stdout)
    stats = requests.get(f"{base}/_sandbox/stats", timeout=10).json()
    try:
        mismatched = [(r["id"][:8], r["model_id"], r["status"], t) for r in rows if r["remote_id"]
                      for t in [truth(base, r)] if not consistent(r, t)]
    finally:
        sandbox.terminate()
    states = collections.Counter(r["status"] for r in rows)
    ids = [r["remote_id"] for r in rows if r["remote_id"]]
    no_id = [r for r in rows if not r["remote_id"]]
    bad_no_id = [r for r in no_id if r["status"] not in ("failed", "unknown")]
    ltx_unknown = sum(1 for r in no_id if r["status"] == "unknown" and r["provider"] == "ltx")
    lost_ltx = stats["paid_posts"] - len(ids)
    duplicates = len(ids) - len(set(ids))
    tracebacks = sum("Traceback" in o for o in outputs)

    print(f"{args.n} CLI submits, fault rate {args.fault_rate:.0%} (seed {args.seed})"
          + (f", tracker kill -9 after submit {killed_at}" if killed_at else "")
          + f", {time.time() - t0:.0f} s")
    print(f"  rows listed: {len(rows)} of {submitted} submits that created a row "
          f"({refused_before_row} stopped before any row, e.g. an upload failing 3 times)")
    print(f"  final states: {dict(states)}")
    refused = collections.Counter(
        "402" if "(402)" in (r["error"] or "") else "other" for r in rows
        if r["status"] == "failed" and not r["remote_id"])
    print(f"  refused by the provider (failed, nothing created): {dict(refused)}")
    print(f"  faults injected: {stats.get('faults')}")
    print(f"  sandbox paid_posts {stats['paid_posts']} · rows with an id {len(ids)} · "
          f"duplicate ids {duplicates} · LTX answers lost (unknown, no list route) {lost_ltx}")
    ok = (len(rows) == submitted and not mismatched and not bad_no_id and duplicates == 0
          and 0 <= lost_ltx <= ltx_unknown and tracebacks == 0
          and not any(r["status"] in ("submitting", "queued", "processing", "waiting")
                      for r in rows))
    for m in mismatched:
        print(f"  MISMATCH {m}")
    print(f"  tracebacks in CLI output: {tracebacks}")
    print(f"RESULT: {'PASS' if ok else 'FAIL'} — data in {tmp}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
