"""The five endpoints' model units: their parameters, validation and output geometry."""

import pytest

from studio import models
from studio.errors import ParamError
from studio.media import ClipInfo
from studio.models import MODELS, ltx_direct
from tests.model_ids import HYPERION, LTX_DIRECT, LTX_OXEN, RHEA, STARLIGHT


def validate(model_id, params, *, require_source=True):
    """The unit's problems as the sentences a person reads (``"field: message"``)."""
    return [str(p) for p in models.get(model_id).validate(params, require_source=require_source)]


def check_limits(model_id, clip_info, params):
    return [str(p) for p in models.get(model_id).check_limits(clip_info, params)]


def clip(w=1280, h=720, fps=20.0, frames=280):
    return ClipInfo(duration_s=frames / fps, width=w, height=h, fps=fps, frame_count=frames,
                    codec="h264", pix_fmt="yuv420p", color_transfer=None)


def test_five_endpoints_with_provider_route_and_source_field():
    assert set(MODELS) == {HYPERION, LTX_OXEN, LTX_DIRECT, RHEA, STARLIGHT}
    for mid, spec in MODELS.items():
        assert spec.id == mid
        if mid == LTX_DIRECT:
            assert (spec.provider, spec.route, spec.source_field) == (
                "ltx", "/v2/video-to-video-hdr", "video_uri")
        else:
            assert (spec.provider, spec.source_field) == ("oxen", "input_video")
        assert spec.param(spec.source_field).required


def test_starlight_target_fps_follows_newer_schema():
    p = MODELS[STARLIGHT].param("target_fps")
    assert p.default == 30 and len(p.enum) == 8 and 48 not in p.enum
    assert MODELS[STARLIGHT].param("resolution").default == "4k"


def test_defaults_validate_for_every_model():
    for mid in MODELS:
        params = models.get(mid).with_defaults({})
        if mid == LTX_OXEN:
            params["prompt"] = "cinematic HDR"
        assert validate(mid, params, require_source=False) == [], mid


def test_validation_reports_every_problem_at_once_naming_fields():
    problems = validate(STARLIGHT, {"resolution": "8k", "target_fps": 48, "interpolate_frames": "yes",
                                    "creativity": "high"})
    text = " | ".join(problems)
    assert len(problems) == 5  # 4 bad fields + missing input_video
    for field in ("resolution", "target_fps", "interpolate_frames", "creativity", "input_video"):
        assert field in text
    assert "1080p, 2k, 4k" in text and "24, 23.976, 25, 29.97, 30, 50, 59.94, 60" in text


@pytest.mark.parametrize("model, params, field", [
    (HYPERION, {"highlight_threshold": 0.9}, "highlight_threshold"),
    (HYPERION, {"transfer_function": "sdr"}, "transfer_function"),
    (LTX_OXEN, {"prompt": "x", "num_frames": 8}, "num_frames"),
    (LTX_OXEN, {"prompt": "x", "num_frames": 12.5}, "num_frames"),
    (LTX_OXEN, {"prompt": "   "}, "prompt"),
    (LTX_OXEN, {"prompt": "x", "frames_per_second": 61}, "frames_per_second"),
    (RHEA, {"grain": 0.2}, "grain"),
    (RHEA, {"noise": True}, "noise"),
    (LTX_DIRECT, {"output_colorspace": "rec709"}, "output_colorspace"),
])
def test_out_of_range_values_are_named(model, params, field):
    problems = models.get(model).validate(params, require_source=False)
    assert problems and all(p.field == field for p in problems), problems


def test_a_param_error_reads_the_problem_as_a_sentence():
    problems = models.get(RHEA).validate({"resolution": "8k"}, require_source=False)
    assert "resolution: must be one of 720p, 1080p, 2k, 4k" in str(ParamError(problems))


def test_output_geometry_rules():
    g = models.get(STARLIGHT).output_geometry(width=1280, height=720, fps=20, frame_count=280, params={})
    assert (g.width, g.height, g.fps, g.frame_count, g.duration_s) == (3840, 2160, 30.0, 420, 14.0)
    g = models.get(STARLIGHT).output_geometry(width=320, height=240, fps=30000 / 1001, frame_count=36,
                        params={"resolution": "1080p"})
    assert (g.width, g.height) == (1440, 1080)
    g = models.get(RHEA).output_geometry(width=1080, height=1920, fps=30, frame_count=30, params={"resolution": "720p"})
    assert g.height == 720 and g.width % 2 == 0 and abs(g.width - 405) <= 1  # portrait aspect kept
    g = models.get(LTX_OXEN).output_geometry(width=1280, height=720, fps=20, frame_count=280,
                        params={"num_frames": 33})
    assert min(g.width, g.height) <= 704 and g.frame_count == 33 and g.width % 2 == 0
    g = models.get(LTX_OXEN).output_geometry(width=1280, height=720, fps=20, frame_count=280,
                        params={"resolution": "square_hd"})
    assert (g.width, g.height) == (704, 704)
    g = models.get(LTX_DIRECT).output_geometry(width=320, height=240, fps=29.97, frame_count=36, params={})
    assert (g.width, g.height, g.frame_count) == (320, 240, 36)


def test_ltx_tiers_by_pixel_count_either_orientation():
    assert ltx_direct.tier(1920, 1080).name == "1080p"
    assert ltx_direct.tier(1080, 1920).name == "1080p"
    assert ltx_direct.tier(1920, 1082).name == "1440p"
    assert ltx_direct.tier(3840, 2160).name == "4k"
    assert ltx_direct.tier(4096, 2160) is None


def test_ltx_direct_limits():
    assert check_limits(LTX_DIRECT, clip(frames=181), {}) == []
    [msg] = check_limits(LTX_DIRECT, clip(frames=280), {})
    assert "280 frames" in msg and "181" in msg
    [msg] = check_limits(LTX_DIRECT, clip(w=2560, h=1440, frames=102), {})
    assert "101" in msg
    [msg] = check_limits(LTX_DIRECT, clip(w=7680, h=4320, frames=10), {})
    assert "3840×2160" in msg
    assert check_limits(STARLIGHT, clip(frames=100000), {}) == []


def test_request_params_drop_unconfirmed_defaults_and_none():
    wire = models.get(LTX_DIRECT).wire_params({"output_colorspace": "acescg"})
    assert wire == {}
    assert models.get(LTX_DIRECT).wire_params({"output_colorspace": "acescct"}) == {
        "output_colorspace": "acescct"}
    assert models.get(LTX_OXEN).wire_params({"seed": None, "num_frames": 33.0}) == {"num_frames": 33}


def test_request_schema_round_trips_into_a_spec():
    for mid in MODELS:
        schema = MODELS[mid].request_schema()
        rebuilt = MODELS[mid].with_schema(schema, origin="live")
        assert [p.name for p in rebuilt.params] == [p.name for p in MODELS[mid].params]
        assert rebuilt.schema_origin == "live"


def test_live_schema_replaces_bundled_params():
    schema = {"properties": {
        "input_video": {"type": "string", "format": "uri", "x-order": 0},
        "resolution": {"type": "string", "enum": ["1080p", "4k", "8k"], "default": "8k", "x-order": 1},
        "sharpness": {"type": "number", "minimum": 0, "maximum": 2, "default": 1, "x-order": 2},
        "tags": {"type": "array", "items": {"type": "string"}},
    }, "required": ["input_video"]}
    spec = MODELS[STARLIGHT].with_schema(schema, origin="live")
    assert [p.name for p in spec.params] == ["input_video", "resolution", "sharpness"]
    assert spec.param("resolution").default == "8k"
    with pytest.raises(ValueError):
        MODELS[STARLIGHT].with_schema({"properties": {}}, origin="live")
