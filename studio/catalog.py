"""The model catalog — a thin façade over :mod:`studio.models` kept while other code moves.

Every fact here comes from a model unit (``studio/models/<page>.py``) and its registry; this
module only keeps the old names working (``catalog.get``, ``catalog.MODELS``,
``catalog.validate`` returning sentences, ``catalog.output_geometry``, the model-id
constants, …). New code asks the unit: ``models.get(model_id).validate(...)`` returns
structured :class:`~studio.errors.Problem`\\ s. To be removed once no caller is left.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from studio.errors import ParamError
from studio.models import (
    MODELS,
    NUM_GENERATIONS_RANGE,
    RESOLUTION_HEIGHTS,
    Geometry,
    ModelUnit,
    ParamSpec,
    hyperion_hdr,
    ltx_direct,
    ltx_hdr,
    rhea,
    starlight,
)
from studio.models import get as _get

if TYPE_CHECKING:
    from studio.media import ClipInfo

ModelSpec = ModelUnit

# Model ids, for callers that still name them (new code asks a unit instead).
HYPERION = hyperion_hdr.MODEL_ID
LTX_OXEN = ltx_hdr.MODEL_ID
LTX_DIRECT = ltx_direct.MODEL_ID
RHEA = rhea.MODEL_ID
STARLIGHT = starlight.MODEL_ID

TOPAZ_FPS: tuple[float, ...] = tuple(starlight.UNIT.param("target_fps").enum or ())
LTX_PRESET_SIZES = ltx_hdr.PRESET_SIZES
LTX_OXEN_MAX_SHORT_SIDE = ltx_hdr.MAX_SHORT_SIDE
LtxTier = ltx_direct.LtxTier
LTX_TIERS = ltx_direct.TIERS
ltx_tier = ltx_direct.tier


def get(model_id: str, *, specs: Mapping[str, ModelUnit] | None = None) -> ModelUnit:
    """The unit for ``model_id``; raises ``ParamError`` naming the known ids when unknown."""
    if specs is None:
        return _get(model_id)
    try:
        return specs[model_id]
    except KeyError:
        raise ParamError([f"model: unknown model '{model_id}' (known: {', '.join(specs)})"]
                         ) from None


def validate(model_id: str, params: Mapping[str, Any], *, require_source: bool = True,
             specs: Mapping[str, ModelUnit] | None = None) -> list[str]:
    """Every problem with ``params`` as sentences (``"field: message"``); ``[]`` = valid.
    Code that decides on problems uses ``models.get(id).validate`` (structured) instead."""
    unit = get(model_id, specs=specs)
    return [str(p) for p in unit.validate(params, require_source=require_source)]


def check(model_id: str, params: Mapping[str, Any], *, require_source: bool = True) -> None:
    """Raise :class:`ParamError` listing every problem when ``params`` are not valid."""
    problems = get(model_id).validate(params, require_source=require_source)
    if problems:
        raise ParamError(problems)


def with_defaults(model_id: str, params: Mapping[str, Any], *,
                  specs: Mapping[str, ModelUnit] | None = None) -> dict[str, Any]:
    return get(model_id, specs=specs).with_defaults(params)


def request_params(model_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return get(model_id).wire_params(params)


def request_schema(model_id: str) -> dict[str, Any]:
    return get(model_id).request_schema()


def spec_from_request_schema(base: ModelUnit, schema: Mapping[str, Any]) -> ModelUnit:
    """``base`` with its parameters derived from a live ``request_schema``."""
    return base.with_schema(schema, origin="live")


def output_geometry(model_id: str, *, width: int, height: int, fps: float, frame_count: int,
                    params: Mapping[str, Any]) -> Geometry:
    return get(model_id).output_geometry(width=width, height=height, fps=fps,
                                         frame_count=frame_count, params=params)


def check_limits(model_id: str, clip: ClipInfo, params: Mapping[str, Any]) -> list[str]:
    return [str(p) for p in get(model_id).check_limits(clip, params)]


def ltx_max_frames(clip: ClipInfo) -> int | None:
    return ltx_direct.UNIT.frame_cap(clip)


__all__ = ["HYPERION", "LTX_DIRECT", "LTX_OXEN", "LTX_OXEN_MAX_SHORT_SIDE", "LTX_PRESET_SIZES",
           "LTX_TIERS", "MODELS", "NUM_GENERATIONS_RANGE", "RESOLUTION_HEIGHTS", "RHEA",
           "STARLIGHT", "TOPAZ_FPS", "Geometry", "LtxTier", "ModelSpec", "ParamSpec", "check",
           "check_limits", "get", "ltx_max_frames", "ltx_tier", "output_geometry",
           "request_params", "request_schema", "spec_from_request_schema", "validate",
           "with_defaults"]
