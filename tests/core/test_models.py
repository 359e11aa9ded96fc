"""Model units (issue 11 §2): one place per endpoint, parameters and validation from the
vendored schema, structured problems, one registry — and nothing else branching on an id."""

from __future__ import annotations

import ast
import json
from decimal import Decimal
from pathlib import Path

import pytest

from studio import charts, forecast, models, pricing, ratebook
from studio.config import Settings
from studio.jobs import JobStore
from studio.media import ClipInfo
from studio.service import Source, Studio
from tests.sixth_unit import MODEL_ID as SIXTH
from tests.sixth_unit import write_sixth_unit

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO.parent / "shared" / "api" / "schemas"
IDS = ["topazlabs-hyperion-hdr-video", "ltx-2-3-quality-hdr", "ltx-video-to-video-hdr",
       "topazlabs-rhea-video", "topazlabs-upscale-starlight-2-5-video"]


def clip(w=1280, h=720, fps=20.0, frames=280):
    return ClipInfo(duration_s=frames / fps, width=w, height=h, fps=fps, frame_count=frames,
                    codec="h264", pix_fmt="yuv420p", color_transfer=None)


def test_registry_holds_the_five_endpoints_each_with_its_page_file():
    assert set(models.MODELS) == set(IDS)
    pages = [u.page for u in models.units()]
    assert len(set(pages)) == 5
    for unit in models.units():
        assert (REPO / "pages" / f"{unit.page}.py").is_file()
        assert models.by_page(unit.page) is unit
        assert unit.sandbox_processor  # the sandbox finds its processor by this key


@pytest.mark.parametrize("model_id", IDS)
def test_each_unit_vendors_the_shared_schema_and_derives_its_parameters(model_id):
    unit = models.get(model_id)
    shared = next(SCHEMAS.glob(f"{model_id}*.json"))
    vendored = Path(models.__file__).parent / "schemas" / shared.name
    assert json.loads(vendored.read_text()) == json.loads(shared.read_text())
    doc = json.loads(shared.read_text())
    if "components" in doc:  # the LTX route: an OpenAPI fragment
        req = doc["components"]["schemas"]["VideoToVideoHdrRequest"]
        props = {**req["properties"], **req["x-later-optional-field"]}
        required = set(req["required"])
    else:
        props, required = doc["properties"], set(doc["required"])
    assert [p.name for p in unit.params] == list(props)
    for p in unit.params:
        prop = props[p.name]
        assert p.type == prop["type"] and p.required == (p.name in required)
        assert p.default == prop.get("default") and p.enum == (
            tuple(prop["enum"]) if "enum" in prop else None)
        assert (p.minimum, p.maximum) == (prop.get("minimum"), prop.get("maximum"))


def test_validation_returns_structured_problems():
    starlight = models.get("topazlabs-upscale-starlight-2-5-video")
    problems = starlight.validate({"resolution": "8k", "target_fps": 48,
                                   "interpolate_frames": "yes", "creativity": "high"})
    by_field = {p.field: p.code for p in problems}
    assert by_field == {"creativity": "unknown_field", "input_video": "required",
                        "resolution": "enum", "target_fps": "enum", "interpolate_frames": "type"}
    ltx = models.get("ltx-2-3-quality-hdr")
    codes = {p.field: p.code for p in ltx.validate(
        {"prompt": "  ", "num_frames": 8, "frames_per_second": float("nan"), "seed": 1.5},
        require_source=False)}
    assert codes == {"prompt": "blank", "num_frames": "minimum",
                     "frames_per_second": "not_finite", "seed": "type"}
    # The sentence is for people; it still names the field and what is allowed.
    [p] = starlight.validate({"resolution": "8k"}, require_source=False)
    assert str(p) == "resolution: must be one of 1080p, 2k, 4k (got '8k')"


def test_a_live_request_schema_goes_through_the_same_path():
    base = models.get("topazlabs-upscale-starlight-2-5-video")
    live = base.with_schema({"properties": {
        "input_video": {"type": "string", "format": "uri", "x-order": 0},
        "resolution": {"type": "string", "enum": ["1080p", "4k", "8k"], "default": "8k",
                       "x-order": 1},
        "sharpness": {"type": "number", "minimum": 0, "maximum": 2, "default": 1, "x-order": 2},
    }, "required": ["input_video"]})
    assert live.schema_origin == "live" and base.schema_origin == "bundled"
    assert [p.name for p in live.params] == ["input_video", "resolution", "sharpness"]
    assert live.validate({"resolution": "8k", "sharpness": 1.5}, require_source=False) == []
    [p] = live.validate({"sharpness": 3}, require_source=False)
    assert (p.field, p.code) == ("sharpness", "maximum")
    assert base.validate({"resolution": "8k"}, require_source=False)[0].code == "enum"
    with pytest.raises(ValueError):
        base.with_schema({"properties": {}})


def test_prepare_checks_against_the_live_schema_the_form_was_built_from(tmp_path):
    base = models.get("topazlabs-upscale-starlight-2-5-video")
    live = base.with_schema({**base.request_schema(), "properties": {
        **base.request_schema()["properties"],
        "sharpness": {"type": "number", "minimum": 0, "maximum": 2, "default": 1}}})
    studio = Studio(Settings.from_mapping({"STUDIO_DATA_DIR": str(tmp_path),
                                           "OXEN_BASE_URL": "http://127.0.0.1:9",
                                           "LTX_BASE_URL": "http://127.0.0.1:9"}),
                    JobStore(tmp_path / "jobs.sqlite3"))
    source = Source("url", "c.mp4", url="https://example.com/c.mp4")
    kwargs = {"clip": clip(), "book": ratebook.bundled_book()}
    bundled = studio.prepare(base.id, source, {"sharpness": 1.5}, **kwargs)
    assert [(p.field, p.code) for p in bundled.problems] == [("sharpness", "unknown_field")]
    prepared = studio.prepare(base.id, source, {"sharpness": 1.5}, unit=live, **kwargs)
    assert prepared.ok and prepared.quote is not None
    [p] = studio.prepare(base.id, source, {"sharpness": 5}, unit=live, **kwargs).problems
    assert (p.field, p.code) == ("sharpness", "maximum")


def test_hyperion_sends_output_profile_only_with_prores():
    hyperion = models.get("topazlabs-hyperion-hdr-video")
    h265 = hyperion.with_defaults({})
    assert h265["output_profile"] == "422 HQ"  # the schema's default …
    assert "output_profile" not in hyperion.wire_params(h265)  # … not sent with H.265
    prores = hyperion.with_defaults({"output_encoder": "ProRes", "output_profile": "422 LT"})
    assert hyperion.wire_params(prores)["output_profile"] == "422 LT"


def test_prepare_validates_before_any_arithmetic(tmp_path):
    """Issue 9 item 6: frames_per_second=0 raised ZeroDivisionError in Studio.prepare."""
    studio = Studio(Settings.from_mapping({"STUDIO_DATA_DIR": str(tmp_path),
                                           "OXEN_BASE_URL": "http://127.0.0.1:9",
                                           "LTX_BASE_URL": "http://127.0.0.1:9"}),
                    JobStore(tmp_path / "jobs.sqlite3"))
    source = Source("url", "c.mp4", url="https://example.com/c.mp4")
    for fps in (0, -1, float("inf")):
        prepared = studio.prepare("ltx-2-3-quality-hdr", source,
                                  {"prompt": "x", "frames_per_second": fps}, clip=clip(),
                                  book=ratebook.bundled_book())
        assert prepared.quote is None and not prepared.ok
        assert [p.field for p in prepared.problems] == ["frames_per_second"]


# Where a model id or a model-id constant may appear in the client's code: the units
# themselves, nowhere else. The sandbox
# (top-level sandbox/) keeps its own model table on purpose and is not scanned. Docstrings
# may name models; code may not.
ALLOWED = ("studio/models/",)
CONSTANTS = {"HYPERION", "LTX_OXEN", "LTX_DIRECT", "RHEA", "STARLIGHT"}


def _model_names_in_code(source: str) -> list[int]:
    """Line numbers where code (not a docstring or comment) names a specific model: a string
    holding a model id, or one of the model-id constants (``RHEA`` …)."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings and any(i in node.value for i in IDS):
            lines.append(node.lineno)
        elif isinstance(node, ast.Name) and node.id in CONSTANTS \
                or isinstance(node, ast.Attribute) and node.attr in CONSTANTS:
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and any(a.name in CONSTANTS for a in node.names):
            lines.append(node.lineno)
    return sorted(set(lines))


def test_the_model_name_finder_finds_what_it_should():
    assert _model_names_in_code('"""topazlabs-rhea-video in a docstring"""\nx = 1\n') == []
    assert _model_names_in_code('if m == "topazlabs-rhea-video":\n    pass\n') == [1]
    assert _model_names_in_code("from tests.model_ids import RHEA\n") == [1]
    assert _model_names_in_code("x = model_ids.LTX_OXEN\n") == [1]


def test_no_code_outside_a_unit_names_a_model():
    offenders = []
    files = [*REPO.glob("studio/**/*.py"), *REPO.glob("components/*.py"),
             *REPO.glob("pages/*.py"), REPO / "app.py"]
    for path in files:
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith(ALLOWED):
            continue
        text = path.read_text()
        offenders += [f"{rel}:{n}: {text.splitlines()[n - 1].strip()}"
                      for n in _model_names_in_code(text)]
    assert not offenders, "model ids outside the model units:\n" + "\n".join(offenders)


# -- a throw-away sixth unit: a quote, a chart line and a forecast row, nothing else edited --
@pytest.fixture
def sixth(tmp_path):
    unit = models.load_unit_file(write_sixth_unit(tmp_path / "acme"))
    yield unit
    models.REGISTRY.unregister(unit.id)


def test_a_sixth_unit_is_quoted_charted_and_forecast(sixth):
    assert models.get(SIXTH) is sixth and ("restore", "Restore") in models.tasks()
    # 14 s sample × $0.01 per output second ("fast", the schema default) = $0.14.
    q = pricing.quote(SIXTH, clip(), {})
    assert (q.amount_usd, q.tier, q.provenance) == (Decimal("0.1400"), "fast", "proxy")
    fig = charts.cost_curve(SIXTH, clip(), {"quality": "best"})
    assert [t.name for t in fig.data] == ["fast (proxy)", "best (proxy)", "this clip"]
    # 10 minutes on the "best" line: 600 s × $0.03 = $18.
    assert fig.data[1].x[-1] == 10 and fig.data[1].y[-1] == pytest.approx(18.0)
    row = forecast.PlanRow(clip="a", duration_s=10.0, width=1920, height=1080, fps=24.0,
                           model_id=SIXTH, params={"quality": "best"}, generations=2)
    [priced] = forecast.price_plan([row]).rows
    assert priced.amount_usd == Decimal("0.6000")  # 2 × 10 s × $0.03
    compare = forecast.compare_models([row], target_resolution=None)
    assert list(compare["model_id"]) == [SIXTH]
    assert forecast.resolve_model("Acme Deflicker") == SIXTH
    entry = [r for r in ratebook.bundled_rates() if r.model_id == SIXTH]
    assert {r.tier for r in entry} == {"fast", "best"}


def test_units_cannot_collide(sixth):
    with pytest.raises(ValueError):
        models.REGISTRY.register(sixth)


def test_ltx_hdr_says_when_the_output_is_longer_than_the_clip_by_a_frame_or_more():
    ltx = models.get("ltx-2-3-quality-hdr")
    sample = clip()  # 14 s
    # 14 s × 29.97 = 419.58 → 420 frames cover it without a whole extra frame: no note.
    assert ltx.request_notes(sample, ltx.with_defaults({"num_frames": 420,
                                                        "frames_per_second": 29.97})) == []
    # 24 frames/s: 337 frames = 14.04 s, one frame past 336 = 14 s.
    [note] = ltx.request_notes(sample, ltx.with_defaults({"num_frames": 337}))
    assert "longer than the 14.0 s clip" in note
