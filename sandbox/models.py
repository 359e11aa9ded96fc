"""The sandbox's own model table: the five endpoints as the providers describe them, plus any
added from a model file (:func:`register`, called by :mod:`sandbox.model_files`).

Owns, for each endpoint the sandbox emulates: its id, provider, display name, which request
field carries the clip, which artifacts it returns, its request schema (the vendored JSON in
``sandbox/schemas/``, copied from ``shared/api/schemas/``), its output geometry and its input
limits. Written from the vendor docs (``shared/api/model_params.md``, ``ltx.md`` §3), not from
the client's model units: the sandbox exists to check the client, so a client-side transcription
error shows up as a disagreement instead of being mirrored.

Geometry rules (model_params.md; pixels, frames/s, frames):

* Starlight, Rhea (``resolution`` = a tier of output lines, ``target_fps`` = output rate):
  the short side of the output is the tier's lines (720p = 720, 1080p = 1080, 2k = 1440,
  4k = 2160), the long side keeps the source's aspect rounded to an even number; the clip's
  duration is kept, re-timed to ``target_fps`` (frames = round(duration × target_fps)).
* Hyperion: the input's size (even, for 4:2:x chroma) and frames at the input's rate.
* LTX 2.3 on Oxen: ``num_frames`` frames at ``frames_per_second``; size = the ``resolution``
  preset (``auto`` = the input's), scaled down keeping the aspect so the short side is at
  most 704 px ("output capped around 720p (short side ≤ 704 px)"), even dimensions.
* LTX direct: the input's size and frames (ltx.md §3.1 "Output keeps input resolution").

Input tiers of LTX direct (ltx.md §3.2): the smallest box (either orientation) whose pixel
count holds the input's — ≤1920×1080 (181 frames), ≤2560×1440 (101), ≤3840×2160 (41); larger
inputs are refused. The caps are the July-2026 OpenAPI's, the conservative set.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

HYPERION = "topazlabs-hyperion-hdr-video"
LTX_OXEN = "ltx-2-3-quality-hdr"
LTX_DIRECT = "ltx-video-to-video-hdr"
RHEA = "topazlabs-rhea-video"
STARLIGHT = "topazlabs-upscale-starlight-2-5-video"

#: Output lines of the short side per ``resolution`` tier (model_params.md §3–4; "2k" is
#: 2560×1440 QHD, the tier Oxen bills at the high-res rate with 4k).
TIER_LINES: dict[str, int] = {"720p": 720, "1080p": 1080, "2k": 1440, "4k": 2160}

#: fal's ImageSize presets behind ``ltx-2-3-quality-hdr``'s ``resolution`` (width, height px;
#: model_params.md §2: the upstream is fal-ai/ltx-2.3-quality/hdr).
LTX_PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
#: "output capped around 720p (short side ≤ 704 px)" (model_params.md §2).
LTX_OXEN_MAX_SHORT_SIDE = 704


@dataclass(frozen=True)
class LtxTier:
    """An LTX direct input tier: name, pixel box (landscape) and frame cap (ltx.md §3.2)."""

    name: str
    box: tuple[int, int]
    max_frames: int


LTX_TIERS: tuple[LtxTier, ...] = (
    LtxTier("1080p", (1920, 1080), 181),
    LtxTier("1440p", (2560, 1440), 101),
    LtxTier("4k", (3840, 2160), 41),
)


@dataclass(frozen=True)
class Model:
    """One emulated endpoint.

    ``provider`` is ``"oxen"`` or ``"ltx"``; ``source_field`` the request field holding the
    clip; ``outputs`` the artifacts it returns (``"video"``, ``"exr_frames"``) in the order
    a client lists them; ``audio`` what happens to sound: ``"keep"`` (the source's audio is
    kept), ``"generate_audio"`` (the request's ``generate_audio`` decides) or ``"none"``.
    """

    id: str
    provider: str
    display_name: str
    description: str
    developer: str
    schema_file: str
    source_field: str
    outputs: tuple[str, ...]
    audio: str


MODELS: dict[str, Model] = {
    m.id: m
    for m in (
        Model(
            HYPERION,
            "oxen",
            "Topaz Hyperion HDR",
            "SDR to HDR conversion (PQ or HLG, BT.2020) as H.265 or ProRes.",
            "Topaz Labs",
            "topazlabs-hyperion-hdr-video.reconstructed.json",
            "input_video",
            ("video",),
            "keep",
        ),
        Model(
            LTX_OXEN,
            "oxen",
            "LTX 2.3 Quality HDR",
            "Video to HDR with LTX 2.3: an MP4 preview plus a ZIP of 16-bit EXR frames.",
            "Lightricks",
            "ltx-2-3-quality-hdr.reconstructed.json",
            "input_video",
            ("video", "exr_frames"),
            "generate_audio",
        ),
        Model(
            RHEA,
            "oxen",
            "Topaz Rhea",
            "Fine-detail video upscaler (Proteus family) to 720p, 1080p, 2k or 4k.",
            "Topaz Labs",
            "topazlabs-rhea-video.reconstructed.json",
            "input_video",
            ("video",),
            "keep",
        ),
        Model(
            STARLIGHT,
            "oxen",
            "Topaz Starlight Precise 2.5",
            "Generative video upscaler to 1080p, 2k or 4k.",
            "Topaz Labs",
            "topazlabs-upscale-starlight-2-5-video.reconstructed.json",
            "input_video",
            ("video",),
            "keep",
        ),
        Model(
            LTX_DIRECT,
            "ltx",
            "LTX HDR (video-to-video-hdr)",
            "LTX API SDR to HDR: a ZIP of half-float EXR frames at the input's size.",
            "Lightricks",
            "ltx-video-to-video-hdr.json",
            "video_uri",
            ("exr_frames",),
            "none",
        ),
    )
}
OXEN_MODEL_IDS: tuple[str, ...] = tuple(m.id for m in MODELS.values() if m.provider == "oxen")
#: The five endpoints above, which a model file may not replace.
BUILT_IN: frozenset[str] = frozenset(MODELS)

#: Endpoints added from outside the package (``--model-file``, :mod:`sandbox.model_files`):
#: their request schema (as the provider publishes it) and output geometry rule, by model id.
_EXTRA_SCHEMAS: dict[str, dict[str, Any]] = {}
_EXTRA_GEOMETRY: dict[str, GeometryRule] = {}

# Researcher's annotations in the vendored files that a live schema does not carry.
_ANNOTATIONS = ("$comment", "$schema")


def _load(name: str) -> dict[str, Any]:
    text = resources.files("sandbox").joinpath("schemas", name).read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@cache
def _vendored(model_id: str) -> dict[str, Any]:
    model = MODELS[model_id]
    if model_id in _EXTRA_SCHEMAS:
        raw = _EXTRA_SCHEMAS[model_id]
        return {k: copy.deepcopy(v) for k, v in raw.items()
                if k not in _ANNOTATIONS and not k.startswith("x-")}
    raw = _load(model.schema_file)
    if model.provider == "ltx":
        # The July-2026 OpenAPI request, plus the field a later schema adds (ltx.md §3.1 lists
        # output_colorspace from the Comfy Router schema only): accept both versions.
        req = copy.deepcopy(raw["components"]["schemas"]["VideoToVideoHdrRequest"])
        later = req.pop("x-later-optional-field", {})
        for name, prop in later.items():
            req["properties"][name] = {k: v for k, v in prop.items() if not k.startswith("x-")}
        req["properties"]["video_uri"].pop("x-note", None)
        return req
    return {k: v for k, v in raw.items() if k not in _ANNOTATIONS and not k.startswith("x-")}


def request_schema(model_id: str) -> dict[str, Any]:
    """The JSON Schema of ``model_id``'s parameters, as a live Oxen model object carries it.

    The vendored schema's properties, ``required`` and ``type``, plus the keys Oxen's own
    tooling reads and the tables do not show (oxen.md §11.1): ``x-order`` (the order of the
    doc's table), ``renderType: "video-url"`` on the clip field and ``basic`` (the required
    fields, shown by default). Raises ``KeyError`` for an unknown model id.
    """
    schema = copy.deepcopy(_vendored(model_id))
    source = MODELS[model_id].source_field
    for order, (name, prop) in enumerate(schema["properties"].items()):
        prop["x-order"] = order
        if name == source:
            prop["renderType"] = "video-url"
    schema["basic"] = list(schema.get("required", []))
    return schema


@cache
def validation_schema(model_id: str) -> dict[str, Any]:
    """The schema requests are checked against: the vendored one with unknown fields refused
    (``additionalProperties: false``, so a client's misspelt field is caught)."""
    return {**copy.deepcopy(_vendored(model_id)), "additionalProperties": False}


def defaults(model_id: str) -> dict[str, Any]:
    """Every declared default of ``model_id``'s parameters (fields without one are absent)."""
    props = _vendored(model_id)["properties"]
    return {name: p["default"] for name, p in props.items() if "default" in p}


def with_defaults(model_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` over the declared defaults (``None`` values count as absent)."""
    out = defaults(model_id)
    out.update({k: v for k, v in params.items() if v is not None})
    return out


# ================================ Geometry =======================================================


@dataclass(frozen=True)
class Geometry:
    """Output size and timing: ``width`` × ``height`` pixels, ``fps`` frames/s, ``frame_count``
    frames."""

    width: int
    height: int
    fps: float
    frame_count: int

    @property
    def duration_s(self) -> float:
        """Seconds: frame_count / fps."""
        return self.frame_count / self.fps if self.fps else 0.0


class GeometryRule(Protocol):
    """An output geometry rule of an endpoint added by a model file: called like
    :func:`output_geometry` (``params`` with defaults filled), returns a :class:`Geometry`."""

    def __call__(self, *, width: int, height: int, fps: float, frame_count: int,
                 params: Mapping[str, Any]) -> Geometry: ...


def even(x: float) -> int:
    """Nearest even integer ≥ 2 (4:2:0 and 4:2:2 chroma need even sizes)."""
    return max(2, int(round(x / 2.0)) * 2)


def output_geometry(
    model_id: str, *, width: int, height: int, fps: float, frame_count: int,
    params: Mapping[str, Any],
) -> Geometry:
    """The output an endpoint makes from a ``width`` × ``height`` input of ``frame_count``
    frames at ``fps`` frames/s with ``params`` (defaults fill gaps). Rules in the module
    docstring. Raises ``KeyError`` for an unknown model or tier."""
    p = with_defaults(model_id, params)
    if model_id in (STARLIGHT, RHEA):
        lines = TIER_LINES[str(p["resolution"])]
        scale = lines / min(width, height)
        out_w, out_h = (even(width * scale), lines) if width >= height else (
            lines, even(height * scale))
        out_fps = float(p["target_fps"])
        duration = frame_count / fps if fps else 0.0
        return Geometry(out_w, out_h, out_fps, max(1, round(duration * out_fps)))
    if model_id == LTX_OXEN:
        preset = str(p["resolution"])
        w, h = (width, height) if preset == "auto" else LTX_PRESETS[preset]
        scale = min(1.0, LTX_OXEN_MAX_SHORT_SIDE / min(w, h))
        return Geometry(even(w * scale), even(h * scale), float(p["frames_per_second"]),
                        int(p["num_frames"]))
    if model_id == HYPERION:
        return Geometry(even(width), even(height), fps, frame_count)
    if model_id == LTX_DIRECT:
        return Geometry(width, height, fps, frame_count)
    rule = _EXTRA_GEOMETRY.get(model_id)
    if rule is not None:
        return rule(width=width, height=height, fps=fps, frame_count=frame_count, params=p)
    raise KeyError(model_id)


def ltx_tier(width: int, height: int) -> LtxTier | None:
    """The LTX direct input tier of a ``width`` × ``height`` clip, ``None`` above 3840×2160
    (ltx.md §3.2: the smallest box holding the input by pixel count, either orientation)."""
    if max(width, height) > 3840 or min(width, height) > 2160:
        return None
    return next((t for t in LTX_TIERS if width * height <= t.box[0] * t.box[1]), None)


def input_problems(model_id: str, *, width: int, height: int, frame_count: int,
                   fps: float) -> list[str]:
    """Sentences for every documented input limit the clip breaks (LTX direct only: size
    above 3840×2160, or more frames than its tier allows, ltx.md §3.2); empty = it fits."""
    if model_id != LTX_DIRECT:
        return []
    tier = ltx_tier(width, height)
    if tier is None:
        return [f"The input is {width}×{height}; inputs larger than 3840×2160 (either "
                "orientation) are not supported."]
    if frame_count > tier.max_frames:
        seconds = math.floor(tier.max_frames / fps * 10) / 10 if fps else 0
        return [f"The input has {frame_count} frames; inputs up to {tier.box[0]}×{tier.box[1]} "
                f"may have at most {tier.max_frames} frames (about {seconds:g} s at "
                f"{fps:g} frames/s)."]
    return []


# ================================ Endpoints from model files =====================================


def register(model: Model, schema: Mapping[str, Any], geometry: GeometryRule) -> None:
    """Serve one more Oxen endpoint: ``model`` (its ``schema_file`` is only a label), its
    request ``schema`` (a JSON Schema object, as the provider publishes it) and its output
    ``geometry`` rule. Called by :func:`sandbox.model_files.install`, which checks the file
    first. Raises ``ValueError`` when the id is taken (a built-in or another added one)."""
    if model.id in MODELS:
        origin = "built in" if model.id in BUILT_IN else "added by another model file"
        raise ValueError(f"the sandbox already serves the model '{model.id}' ({origin}); a "
                         "model file can add a model, not replace one")
    global OXEN_MODEL_IDS
    MODELS[model.id] = model
    _EXTRA_SCHEMAS[model.id] = copy.deepcopy(dict(schema))
    _EXTRA_GEOMETRY[model.id] = geometry
    OXEN_MODEL_IDS = (*OXEN_MODEL_IDS, model.id)
    _clear_caches()


def unregister(model_id: str) -> None:
    """Stop serving an endpoint added with :func:`register` (built-ins stay; no error when
    ``model_id`` is unknown)."""
    if model_id in BUILT_IN or model_id not in MODELS:
        return
    global OXEN_MODEL_IDS
    del MODELS[model_id]
    _EXTRA_SCHEMAS.pop(model_id, None)
    _EXTRA_GEOMETRY.pop(model_id, None)
    OXEN_MODEL_IDS = tuple(m for m in OXEN_MODEL_IDS if m != model_id)
    _clear_caches()


def _clear_caches() -> None:
    _vendored.cache_clear()
    validation_schema.cache_clear()
