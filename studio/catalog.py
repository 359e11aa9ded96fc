"""The model catalog: the five enhancement endpoints as data.

Owns: every request parameter (type, default, range or enum, required flag, help text),
each endpoint's provider/route/source field, output kind, output geometry rules and input
limits, plus validation that reports every problem at once.

Source of truth: ``shared/api/model_params.md`` (Oxen per-model "Request parameters" tables,
generated from each model's ``json_request_schema``; LTX OpenAPI for the direct route) and
``shared/api/ltx.md`` §3.2 for the LTX input tiers. With a live Oxen key, a model's
``request_schema`` from ``GET /api/ai/models/{id}`` can replace the bundled parameters
(:func:`spec_from_request_schema`); the bundled data is the offline default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from studio.errors import ParamError

if TYPE_CHECKING:  # only for type hints; media imports nothing from here
    from studio.media import ClipInfo

# Model ids (Oxen model ids; the LTX direct route has no model id, so we name it after its route).
HYPERION = "topazlabs-hyperion-hdr-video"
LTX_OXEN = "ltx-2-3-quality-hdr"
LTX_DIRECT = "ltx-video-to-video-hdr"
RHEA = "topazlabs-rhea-video"
STARLIGHT = "topazlabs-upscale-starlight-2-5-video"

# Output height per resolution tier name (model_params.md §3, §4; "2k" = 1440 lines).
RESOLUTION_HEIGHTS: dict[str, int] = {"720p": 720, "1080p": 1080, "2k": 1440, "4k": 2160}

# Frame rates Topaz models accept since the 2026-05-29 schema (model_params.md §3, §4).
TOPAZ_FPS: tuple[float, ...] = (24, 23.976, 25, 29.97, 30, 50, 59.94, 60)

# fal ImageSize presets behind ltx-2-3-quality-hdr's `resolution` (width, height in pixels).
LTX_PRESET_SIZES: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
LTX_OXEN_MAX_SHORT_SIDE = 704  # "output capped around 720p (short side ≤ 704 px)", model_params.md §2


@dataclass(frozen=True)
class LtxTier:
    """An LTX input resolution tier: the smallest box that contains the input by pixel count.

    Source: ltx.md §3.2 (frame caps from the July-2026 OpenAPI; a later ComfyUI node doc
    lists 273/193/65 — we pre-validate against the conservative set and let the server's 400
    be authoritative).
    """

    name: str
    box: tuple[int, int]  # pixels, landscape orientation
    max_frames: int

    @property
    def pixels(self) -> int:
        return self.box[0] * self.box[1]


LTX_TIERS: tuple[LtxTier, ...] = (
    LtxTier("1080p", (1920, 1080), 181),
    LtxTier("1440p", (2560, 1440), 101),
    LtxTier("4k", (3840, 2160), 41),
)


def ltx_tier(width: int, height: int) -> LtxTier | None:
    """The LTX input tier for a ``width`` × ``height`` (pixels) clip, or ``None`` above 4K.

    Tier = the smallest box whose pixel count holds the input's, in either orientation
    (1080×1920 portrait is the ≤1080p tier; 1920×1082 is the ≤1440p tier). An input whose long
    side exceeds 3840 or short side exceeds 2160 is above 4K. Source: ltx.md §3.2.
    """
    long_side, short_side = max(width, height), min(width, height)
    if long_side > 3840 or short_side > 2160:
        return None
    for tier in LTX_TIERS:
        if width * height <= tier.pixels:
            return tier
    return None


@dataclass(frozen=True)
class ParamSpec:
    """One request parameter of a model.

    ``type`` is the JSON Schema type: ``"string"``, ``"number"``, ``"integer"`` or
    ``"boolean"``. ``default`` is ``None`` when the schema declares none (the field is then
    omitted from the request unless the user sets it). ``send_default=False`` marks a field
    that is only sent when the user moves it off its default (used for fields whose support is
    unconfirmed, e.g. LTX ``output_colorspace``).
    """

    name: str
    type: str
    help: str
    default: Any = None
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    format: str | None = None
    send_default: bool = True
    label: str | None = None

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class ModelSpec:
    """One enhancement endpoint.

    ``provider`` is ``"oxen"`` or ``"ltx"``; ``route`` the submit path; ``source_field`` the
    request field that carries the clip URL (``input_video`` on Oxen, ``video_uri`` on LTX).
    ``output_kind``: ``"video"`` (H.264 MP4), ``"hdr_video"`` (HEVC/ProRes PQ or HLG),
    ``"video+exr"`` (MP4 preview + ZIP of EXR frames) or ``"exr"`` (ZIP of EXR frames).
    """

    id: str
    display_name: str
    short_name: str
    provider: str
    route: str
    source_field: str
    task: str  # "hdr" or "upscale"
    output_kind: str
    description: str
    params: tuple[ParamSpec, ...]
    limits: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    typical_minutes: str = "5–15"
    schema_origin: str = "bundled"  # "bundled" or "live" (replaced from request_schema)
    notes: tuple[str, ...] = field(default=())

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def form_params(self) -> tuple[ParamSpec, ...]:
        """Every parameter but the source clip field (the source picker provides that)."""
        return tuple(p for p in self.params if p.name != self.source_field)

    @property
    def supports_queue(self) -> bool:
        return self.provider == "oxen"


def _source(field_name: str, help_text: str) -> ParamSpec:
    return ParamSpec(field_name, "string", help_text, required=True, format="uri", label="Source clip")


def _topaz_fps_param() -> ParamSpec:
    # The seed docs and the hand-written walkthrough say integer 1–60, default 24; the newer
    # generated schema (2026-05-29, model_params.md §3/§4) says a number from an 8-value list,
    # default 30. We follow the newer schema: an arbitrary integer like 48 may now be rejected.
    return ParamSpec(
        "target_fps",
        "number",
        "Output frame rate (frames/s) after re-timing or interpolation.",
        default=30,
        enum=TOPAZ_FPS,
        label="Target frame rate",
    )


_INTERPOLATE = ParamSpec(
    "interpolate_frames",
    "boolean",
    "Generate in-between frames to reach the target frame rate instead of repeating frames "
    "(documented as more expensive).",
    default=False,
)

MODELS: dict[str, ModelSpec] = {
    HYPERION: ModelSpec(
        id=HYPERION,
        display_name="Topaz Hyperion HDR",
        short_name="Hyperion HDR",
        provider="oxen",
        route="/api/ai/queue",
        source_field="input_video",
        task="hdr",
        output_kind="hdr_video",
        description="SDR→HDR conversion (Topaz HYP-1): expands highlights and colour into an "
        "HDR10 (PQ) or HLG master, H.265 or ProRes. Keeps the input resolution and frame rate.",
        params=(
            _source("input_video", "SDR source video (URL)."),
            ParamSpec(
                "transfer_function",
                "string",
                "HDR transfer function: HLG for broadcast-style delivery, PQ (SMPTE ST 2084) "
                "for HDR10 mastering.",
                default="hlg",
                enum=("pq", "hlg"),
            ),
            ParamSpec(
                "adjust_exposure",
                "number",
                "Exposure change applied while converting (0.5 = neutral).",
                default=0.5,
                minimum=0,
                maximum=1,
            ),
            ParamSpec(
                "boost_saturation",
                "number",
                "Saturation boost applied while converting (0.5 = neutral).",
                default=0.5,
                minimum=0,
                maximum=1,
            ),
            ParamSpec(
                "highlight_threshold",
                "number",
                "SDR level above which highlights are expanded into the HDR range "
                "(the API default is 0.65; Topaz's desktop app uses 0.70).",
                default=0.65,
                minimum=0.45,
                maximum=0.85,
            ),
            ParamSpec(
                "output_encoder",
                "string",
                "Encoder of the rendered file: H.265 (MP4) or ProRes (MOV, for editing).",
                default="H265",
                enum=("H265", "ProRes"),
            ),
            ParamSpec(
                "output_profile",
                "string",
                "ProRes profile; only used when the encoder is ProRes.",
                default="422 HQ",
                enum=("422 Proxy", "422 LT", "422 Std", "422 HQ"),
            ),
        ),
        limits=("Maximum clip length: not documented.",),
        sources=("https://docs.oxen.ai/inference-api/reference/models/topazlabs-hyperion-hdr-video",),
        notes=("Oxen marks this model legacy (2026-07-10) in favour of topazlabs-hyperion-2-video.",),
    ),
    LTX_OXEN: ModelSpec(
        id=LTX_OXEN,
        display_name="LTX 2.3 Quality HDR",
        short_name="LTX 2.3 HDR",
        provider="oxen",
        route="/api/ai/queue",
        source_field="input_video",
        task="hdr",
        output_kind="video+exr",
        description="Prompt-guided SDR→HDR lift (LTX 2.3 Quality via fal): an MP4 preview plus a "
        "ZIP of 16-bit EXR frames, output capped around 720p (short side ≤ 704 px).",
        params=(
            ParamSpec(
                "prompt",
                "string",
                "Text guidance for the HDR lift, e.g. 'cinematic HDR, natural highlights'.",
                required=True,
            ),
            _source("input_video", "SDR video to lift to HDR (URL)."),
            ParamSpec(
                "num_frames",
                "integer",
                "Frames to generate.",
                default=121,
                minimum=9,
                maximum=481,
                label="Number of frames",
            ),
            ParamSpec(
                "resolution",
                "string",
                "Output size preset; output is capped at short side 704 px, larger sizes are "
                "scaled down keeping aspect. 'auto' keeps the source aspect.",
                default="auto",
                enum=("auto", "square_hd", "square", "portrait_4_3", "portrait_16_9",
                      "landscape_4_3", "landscape_16_9"),
            ),
            ParamSpec(
                "frames_per_second",
                "number",
                "Output frame rate (frames/s).",
                default=24,
                minimum=1,
                maximum=60,
                label="Frame rate",
            ),
            ParamSpec(
                "generate_audio",
                "boolean",
                "Keep an audio track in the MP4 (off returns the MP4 without audio).",
                default=True,
            ),
            ParamSpec(
                "video_quality",
                "string",
                "Quality preset.",
                default="high",
                enum=("low", "medium", "high", "maximum"),
            ),
            ParamSpec(
                "negative_prompt",
                "string",
                "What to steer away from (optional; no default declared since 2026-07-01).",
            ),
            ParamSpec("seed", "integer", "Random seed; leave empty for a random one."),
        ),
        limits=("9–481 frames at 1–60 frames/s.", "Output short side ≤ 704 px."),
        sources=("https://docs.oxen.ai/inference-api/reference/models/ltx-2-3-quality-hdr",),
    ),
    LTX_DIRECT: ModelSpec(
        id=LTX_DIRECT,
        display_name="LTX HDR (direct)",
        short_name="LTX HDR direct",
        provider="ltx",
        route="/v2/video-to-video-hdr",
        source_field="video_uri",
        task="hdr",
        output_kind="exr",
        description="SDR→HDR on the LTX API itself: a ZIP of half-float EXR frames at the input "
        "resolution, one per input frame. Billed per input second by input resolution tier.",
        params=(
            _source("video_uri", "HTTPS URL, base64 data URI or storage_uri from /v1/upload."),
            ParamSpec(
                "output_colorspace",
                "string",
                "Colour space of the EXR frames. Only in the later Comfy Router schema, not the "
                "July-2026 OpenAPI: sent only when you change it from the default.",
                default="acescg",
                enum=("acescg", "acescct", "srgb_linear", "aces2065-1"),
                send_default=False,
            ),
        ),
        limits=(
            "≤ 181 frames up to 1920×1080, ≤ 101 up to 2560×1440, ≤ 41 up to 3840×2160 "
            "(July-2026 OpenAPI; later docs say 273/193/65).",
            "Inputs above 3840×2160 are rejected.",
            "At most 2 generations in flight per account.",
        ),
        sources=(
            "https://docs.ltx.video/api-documentation/api-reference/async-video-generation/"
            "submit-video-to-video-hdr",
        ),
        typical_minutes="2–10",
    ),
    RHEA: ModelSpec(
        id=RHEA,
        display_name="Topaz Rhea",
        short_name="Rhea upscale",
        provider="oxen",
        route="/api/ai/queue",
        source_field="input_video",
        task="upscale",
        output_kind="video",
        description="Fine-detail upscaler (Proteus family) to 720p, 1080p, 2K or 4K with "
        "optional frame interpolation and restoration controls.",
        params=(
            _source("input_video", "Video to upscale (URL)."),
            ParamSpec(
                "resolution",
                "string",
                "Target output resolution (height 720 / 1080 / 1440 / 2160 px).",
                default="1080p",
                enum=("720p", "1080p", "2k", "4k"),
            ),
            _INTERPOLATE,
            _topaz_fps_param(),
            ParamSpec("blur", "number", "Anti-blur: higher = sharper.", default=0, minimum=-1, maximum=1),
            ParamSpec(
                "compression",
                "number",
                "Compression-artifact removal: higher = stronger.",
                default=0,
                minimum=-1,
                maximum=1,
            ),
            ParamSpec("details", "number", "Fine-detail enhancement.", default=0, minimum=-1, maximum=1),
            ParamSpec("grain", "number", "Film grain amount.", default=0.05, minimum=0, maximum=0.1),
            ParamSpec(
                "grain_type",
                "string",
                "Film grain style (optional; no default declared).",
                enum=("silver_rich", "gaussian", "grey"),
            ),
            ParamSpec("halo", "number", "Halo suppression: higher = stronger.", default=0, minimum=-1, maximum=1),
            ParamSpec(
                "noise",
                "number",
                "Negative denoises, positive adds grain-like noise.",
                default=0,
                minimum=-1,
                maximum=1,
            ),
        ),
        limits=("Maximum clip length: not documented.",),
        sources=("https://docs.oxen.ai/inference-api/reference/models/topazlabs-rhea-video",),
    ),
    STARLIGHT: ModelSpec(
        id=STARLIGHT,
        display_name="Topaz Starlight 2.5",
        short_name="Starlight upscale",
        provider="oxen",
        route="/api/ai/queue",
        source_field="input_video",
        task="upscale",
        output_kind="video",
        description="Generative restoration and upscaling (Starlight Precise 2.5) to 1080p, 2K or "
        "4K. 2K and 4K are billed at Oxen's high-res rate.",
        params=(
            _source("input_video", "Video to upscale (URL)."),
            ParamSpec(
                "resolution",
                "string",
                "Target output resolution (height 1080 / 1440 / 2160 px); 2k and 4k are billed "
                "at the high-res rate.",
                default="4k",
                enum=("1080p", "2k", "4k"),
            ),
            _INTERPOLATE,
            _topaz_fps_param(),
        ),
        limits=("Maximum clip length on Oxen: not documented (Topaz's cloud app caps at 9000 frames).",),
        sources=(
            "https://docs.oxen.ai/inference-api/reference/models/topazlabs-upscale-starlight-2-5-video",
        ),
    ),
}

# Oxen request-level field valid for the queue only (oxen.md §3.1; docs say 1–4, spec 0.243.1
# says 12 — 4 is the safe client limit).
NUM_GENERATIONS_RANGE = (1, 4)


def get(model_id: str, *, specs: Mapping[str, ModelSpec] | None = None) -> ModelSpec:
    """The spec for ``model_id``; raises ``ParamError`` naming the known ids when unknown."""
    table = specs if specs is not None else MODELS
    try:
        return table[model_id]
    except KeyError:
        raise ParamError([f"model: unknown model '{model_id}' (known: {', '.join(table)})"]) from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_param(p: ParamSpec, value: Any) -> str | None:
    """One problem sentence for ``value`` against ``p``, or ``None`` when it is allowed."""
    if p.type == "boolean":
        if not isinstance(value, bool):
            return f"{p.name}: must be true or false (got {value!r})"
        return None
    if p.type == "integer":
        if not (_is_number(value) and float(value).is_integer()):
            return f"{p.name}: must be a whole number (got {value!r})"
    elif p.type == "number":
        if not _is_number(value):
            return f"{p.name}: must be a number (got {value!r})"
    elif p.type == "string":
        if not isinstance(value, str):
            return f"{p.name}: must be text (got {value!r})"
        if p.required and not value.strip():
            return f"{p.name}: is required and must not be empty"
    if p.enum is not None:
        if p.type in ("number", "integer"):
            ok = any(_is_number(value) and abs(float(value) - float(e)) < 1e-9 for e in p.enum)
        else:
            ok = value in p.enum
        if not ok:
            allowed = ", ".join(_fmt(e) for e in p.enum)
            return f"{p.name}: must be one of {allowed} (got {value!r})"
    if p.minimum is not None and _is_number(value) and value < p.minimum:
        return f"{p.name}: must be between {_fmt(p.minimum)} and {_fmt(p.maximum)} (got {_fmt(value)})"
    if p.maximum is not None and _is_number(value) and value > p.maximum:
        return f"{p.name}: must be between {_fmt(p.minimum)} and {_fmt(p.maximum)} (got {_fmt(value)})"
    return None


def validate(
    model_id: str,
    params: Mapping[str, Any],
    *,
    require_source: bool = True,
    specs: Mapping[str, ModelSpec] | None = None,
) -> list[str]:
    """Every problem with ``params`` for ``model_id`` at once; an empty list means valid.

    Each problem names the field and what is allowed, e.g.
    ``"resolution: must be one of 1080p, 2k, 4k (got '8k')"``. Unknown fields are problems
    too (the real services pass them through to the model, where they fail late).
    ``require_source=False`` skips the source field (the form validates before the clip has
    been uploaded and has a URL). Request-level Oxen fields (``model``, ``num_generations``,
    ``target_namespace``, ``response_format``) are not model parameters and are ignored here.
    """
    spec = get(model_id, specs=specs)
    problems: list[str] = []
    known = {p.name for p in spec.params}
    request_level = {"model", "num_generations", "target_namespace", "target_repo",
                     "target_directory", "response_format"}
    for name in params:
        if name not in known and name not in request_level:
            problems.append(f"{name}: not a parameter of {spec.display_name} "
                            f"(allowed: {', '.join(sorted(known))})")
    for p in spec.params:
        if p.name == spec.source_field and not require_source:
            continue
        value = params.get(p.name)
        if value is None:
            if p.required:
                problems.append(f"{p.name}: is required")
            continue
        problem = _check_param(p, value)
        if problem:
            problems.append(problem)
    return problems


def check(model_id: str, params: Mapping[str, Any], *, require_source: bool = True) -> None:
    """Raise :class:`ParamError` listing every problem when ``params`` are not valid."""
    problems = validate(model_id, params, require_source=require_source)
    if problems:
        raise ParamError(problems)


def with_defaults(
    model_id: str, params: Mapping[str, Any], *, specs: Mapping[str, ModelSpec] | None = None
) -> dict[str, Any]:
    """``params`` with every declared default filled in (fields without a default stay absent)."""
    spec = get(model_id, specs=specs)
    out = {p.name: p.default for p in spec.params if p.default is not None}
    out.update({k: v for k, v in params.items() if v is not None})
    return out


def request_params(model_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The model parameters to put on the wire: ``None`` values dropped, and fields marked
    ``send_default=False`` dropped while they equal their default."""
    spec = get(model_id)
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        try:
            p = spec.param(name)
        except KeyError:
            out[name] = value
            continue
        if not p.send_default and value == p.default:
            continue
        if p.type == "integer" and _is_number(value):
            value = int(value)
        out[name] = value
    return out


def request_schema(model_id: str) -> dict[str, Any]:
    """The model's parameters as a JSON Schema object, in the shape Oxen serves as a model's
    ``request_schema`` (oxen.md §11.1: properties, required, type, default, enum, minimum,
    maximum, format, description, ``x-order``, ``renderType``)."""
    spec = get(model_id)
    props: dict[str, Any] = {}
    for order, p in enumerate(spec.params):
        prop: dict[str, Any] = {"type": p.type, "description": p.help, "title": p.title,
                                "x-order": order}
        if p.default is not None:
            prop["default"] = p.default
        if p.enum is not None:
            prop["enum"] = list(p.enum)
        if p.minimum is not None:
            prop["minimum"] = p.minimum
        if p.maximum is not None:
            prop["maximum"] = p.maximum
        if p.format:
            prop["format"] = p.format
        if p.name == spec.source_field:
            prop["renderType"] = "video-url"
        props[p.name] = prop
    return {
        "type": "object",
        "properties": props,
        "required": [p.name for p in spec.params if p.required],
        "basic": [p.name for p in spec.params if p.required or p.enum],
    }


def spec_from_request_schema(base: ModelSpec, schema: Mapping[str, Any]) -> ModelSpec:
    """``base`` with its parameters replaced by those of a live ``request_schema``.

    Reads the keys Oxen's own tooling uses (oxen.md §11.1): ``properties``, ``required``,
    per-property ``type``, ``default``, ``enum``, ``minimum``, ``maximum``, ``format``,
    ``description``/``title``, ``x-order``. Properties of a type the form cannot render
    (arrays, objects) are left out. Raises ``ValueError`` when the schema has no properties.
    """
    props = schema.get("properties")
    if not isinstance(props, Mapping) or not props:
        raise ValueError("request_schema has no properties")
    required = set(schema.get("required") or ())
    items = sorted(props.items(), key=lambda kv: (kv[1].get("x-order", 1_000), kv[0]))
    params: list[ParamSpec] = []
    for name, prop in items:
        ptype = prop.get("type")
        if isinstance(ptype, list):  # ["number", "null"]
            ptype = next((t for t in ptype if t != "null"), None)
        if ptype not in ("string", "number", "integer", "boolean"):
            continue
        enum = tuple(prop["enum"]) if isinstance(prop.get("enum"), list) else None
        params.append(
            ParamSpec(
                name=name,
                type=ptype,
                help=str(prop.get("description") or prop.get("title") or ""),
                default=prop.get("default"),
                enum=enum,
                minimum=prop.get("minimum"),
                maximum=prop.get("maximum"),
                required=name in required,
                format=prop.get("format"),
            )
        )
    if base.source_field not in {p.name for p in params}:
        params.insert(0, base.param(base.source_field))
    return replace(base, params=tuple(params), schema_origin="live")


@dataclass(frozen=True)
class Geometry:
    """Output size and timing of a generation: pixels, frames/s and frames."""

    width: int
    height: int
    fps: float
    frame_count: int

    @property
    def duration_s(self) -> float:
        """Output duration in seconds (frame_count / fps)."""
        return self.frame_count / self.fps if self.fps else 0.0

    @property
    def megapixels(self) -> float:
        """Output pixels over all frames, in millions (width × height × frames / 10⁶)."""
        return self.width * self.height * self.frame_count / 1e6


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def output_geometry(
    model_id: str,
    *,
    width: int,
    height: int,
    fps: float,
    frame_count: int,
    params: Mapping[str, Any],
) -> Geometry:
    """Output geometry for an input of ``width`` × ``height`` pixels, ``fps`` frames/s and
    ``frame_count`` frames. ``params`` may omit fields; defaults apply.

    Rules (model_params.md): Starlight/Rhea resize to the tier height (720/1080/1440/2160),
    width keeping the source aspect rounded to even, and re-time to ``target_fps`` keeping the
    duration; Hyperion and LTX direct keep the input; LTX on Oxen renders ``num_frames`` at
    ``frames_per_second`` with the preset size (``auto`` = source) scaled down to a short side
    of at most 704 px, even dimensions.
    """
    spec = get(model_id)
    p = with_defaults(model_id, params)
    if spec.task == "upscale":
        out_h = RESOLUTION_HEIGHTS[str(p["resolution"])]
        out_w = _even(width * out_h / height)
        out_fps = float(p["target_fps"])
        duration = frame_count / fps if fps else 0.0
        return Geometry(out_w, out_h, out_fps, max(1, round(duration * out_fps)))
    if model_id == LTX_OXEN:
        preset = str(p.get("resolution", "auto"))
        w, h = (width, height) if preset == "auto" else LTX_PRESET_SIZES[preset]
        scale = min(1.0, LTX_OXEN_MAX_SHORT_SIDE / min(w, h))
        return Geometry(_even(w * scale), _even(h * scale), float(p["frames_per_second"]),
                        int(p["num_frames"]))
    return Geometry(width, height, fps, frame_count)


def check_limits(model_id: str, clip: ClipInfo, params: Mapping[str, Any]) -> list[str]:
    """Sentences for every way ``clip`` breaks the model's documented input limits.

    LTX direct (ltx.md §3.2): above 3840×2160 is rejected; the frame cap depends on the input
    tier (181 / 101 / 41 frames). Empty list = the clip fits.
    """
    problems: list[str] = []
    if model_id == LTX_DIRECT:
        tier = ltx_tier(clip.width, clip.height)
        if tier is None:
            problems.append(
                f"The clip is {clip.width}×{clip.height}; LTX HDR rejects inputs larger than "
                "3840×2160. Downscale it first."
            )
        elif clip.frame_count > tier.max_frames:
            seconds = tier.max_frames / clip.fps if clip.fps else 0
            problems.append(
                f"The clip has {clip.frame_count} frames; LTX HDR accepts at most "
                f"{tier.max_frames} frames for inputs up to {tier.box[0]}×{tier.box[1]} "
                f"(≈ {seconds:.1f} s at {clip.fps:g} frames/s). Trim it to fit."
            )
    return problems


def ltx_max_frames(clip: ClipInfo) -> int | None:
    """The LTX direct frame cap for ``clip``'s tier, or ``None`` when it is above 4K."""
    tier = ltx_tier(clip.width, clip.height)
    return tier.max_frames if tier else None
