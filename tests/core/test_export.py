"""Copy as Python / cURL / JavaScript: the exact request, with the key as a variable, never
the key. (Running each model's export against the sandbox is tests/app/test_export_run.py.)"""

import ast
import json
import shlex
import shutil
import subprocess

import pytest

from studio import export, models
from studio.export import curl_command, javascript_snippet, python_snippet
from tests.model_ids import LTX_DIRECT, RHEA, STARLIGHT

BODY = {"model": STARLIGHT, "input_video": "https://hub.oxen.ai/api/repos/a/b/file/main/c.mp4",
        "resolution": "4k", "target_fps": 30, "interpolate_frames": False}


def _body_in_python(code: str) -> dict:
    """The dict literal assigned to ``body`` in a Python snippet, read by the parser itself."""
    tree = ast.parse(code)
    [assign] = [n for n in tree.body if isinstance(n, ast.Assign)
                and getattr(n.targets[0], "id", None) == "body"]
    return ast.literal_eval(assign.value)


def test_curl_posts_the_exact_body_to_the_queue_with_the_key_variable():
    cmd = curl_command(STARLIGHT, BODY, "https://hub.oxen.ai")
    argv = shlex.split(cmd.replace("\\\n", " "))
    assert argv[0] == "curl" and argv[argv.index("-X") + 1] == "POST"
    assert "https://hub.oxen.ai/api/ai/queue" in argv
    assert "Authorization: Bearer $OXEN_API_KEY" in argv
    assert json.loads(argv[argv.index("-d") + 1]) == BODY


def test_sync_mode_and_ltx_route():
    assert "/api/ai/videos/generate" in curl_command(RHEA, {}, "http://x", mode="sync")
    cmd = curl_command(LTX_DIRECT, {"video_uri": "ltx://u/1"}, "https://api.ltx.video")
    assert "https://api.ltx.video/v2/video-to-video-hdr" in cmd and "$LTXV_API_KEY" in cmd


@pytest.mark.parametrize("model_id", list(models.MODELS))
def test_python_body_is_a_python_literal_equal_to_the_request(model_id):
    """Issue 10 item 1: the body was written with json.dumps, so ``false`` raised NameError.
    Every model's default request, booleans and all, must read back as the same dict."""
    unit = models.get(model_id)
    body = {**unit.with_defaults({"prompt": "cinematic HDR, it's \"bright\""}
                                 if unit.has_param("prompt") else {}),
            unit.source_field: "https://example.com/c.mp4"}
    code = python_snippet(model_id, body, "http://127.0.0.1:1")
    compile(code, "<snippet>", "exec")
    assert _body_in_python(code) == body
    assert "os.environ['OXEN_API_KEY']" in code or "os.environ['LTXV_API_KEY']" in code


def test_python_snippet_reads_the_key_from_the_environment():
    code = python_snippet(STARLIGHT, {**BODY, "note": "it's"}, "https://hub.oxen.ai")
    assert "os.environ['OXEN_API_KEY']" in code and "timeout=(10, 60)" in code
    assert "false" not in code and "False" in code


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node 18+ to parse the snippet")
@pytest.mark.parametrize("model_id", list(models.MODELS))
def test_javascript_snippet_parses_as_an_es_module_and_posts_the_body(model_id, tmp_path):
    unit = models.get(model_id)
    body = {**unit.with_defaults({}), unit.source_field: "https://example.com/c.mp4"}
    code = javascript_snippet(model_id, body, "https://hub.oxen.ai")
    path = tmp_path / "request.mjs"
    path.write_text(code)
    check = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 0, check.stderr
    assert "process.env.OXEN_API_KEY" in code or "process.env.LTXV_API_KEY" in code
    assert "JSON.stringify(body)" in code and export.endpoint(model_id) in code


def test_real_service_variant_has_the_real_base_url_and_a_placeholder_clip():
    body = {**BODY, "input_video": "http://127.0.0.1:47431/api/repos/studio/x/file/main/c.mp4"}
    real, base = export.for_real_service(STARLIGHT, body)
    assert base == "https://hub.oxen.ai" and real["input_video"] == export.PLACEHOLDER_CLIP_URL
    assert {k: v for k, v in real.items() if k != "input_video"} == \
        {k: v for k, v in body.items() if k != "input_video"}
    real, base = export.for_real_service(LTX_DIRECT, {"video_uri": "ltx://x"})
    assert base == "https://api.ltx.video" and real == {"video_uri": export.PLACEHOLDER_CLIP_URL}
