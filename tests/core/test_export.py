"""Copy as cURL / Python: the exact request, with the key as a variable, never the key."""

import json
import shlex

from studio import catalog
from studio.export import curl_command, python_snippet

BODY = {"model": catalog.STARLIGHT, "input_video": "https://hub.oxen.ai/api/repos/a/b/file/main/c.mp4",
        "resolution": "4k", "target_fps": 30, "interpolate_frames": False}


def test_curl_posts_the_exact_body_to_the_queue_with_the_key_variable():
    cmd = curl_command(catalog.STARLIGHT, BODY, "https://hub.oxen.ai")
    argv = shlex.split(cmd.replace("\\\n", " "))
    assert argv[:3] == ["curl", "-X", "POST"] and argv[3] == "https://hub.oxen.ai/api/ai/queue"
    assert "Authorization: Bearer $OXEN_API_KEY" in argv
    assert json.loads(argv[argv.index("-d") + 1]) == BODY


def test_sync_mode_and_ltx_route():
    assert "/api/ai/videos/generate" in curl_command(catalog.RHEA, {}, "http://x", mode="sync")
    cmd = curl_command(catalog.LTX_DIRECT, {"video_uri": "ltx://u/1"}, "https://api.ltx.video")
    assert "https://api.ltx.video/v2/video-to-video-hdr" in cmd and "$LTXV_API_KEY" in cmd


def test_python_snippet_runs_as_python_and_reads_the_key_from_the_environment():
    code = python_snippet(catalog.STARLIGHT, {**BODY, "note": "it's"}, "https://hub.oxen.ai")
    compile(code, "<snippet>", "exec")
    assert "os.environ['OXEN_API_KEY']" in code and "timeout=(10, 60)" in code
