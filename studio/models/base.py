"""The shape of a model unit: what every endpoint knows about itself, with sensible defaults.

Owns :class:`ModelUnit` — one endpoint's request schema (vendored JSON, parameters derived
from it), UI facts, output geometry, billing rule, chart lines, limits and forecast hooks —
and the small records it answers with (:class:`Geometry`, :class:`ChartLine`,
:class:`Coverage`, :class:`Suggestion`). A unit module (``studio/models/<page>.py``)
subclasses :class:`ModelUnit` where its endpoint differs from the defaults and exposes one
instance as ``UNIT``; :mod:`studio.models.registry` finds it. Nothing outside a unit branches
on a model id: pricing, charts, forecast, pages and the sandbox ask the unit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio.errors import Problem
from studio.models import schema as _schema
from studio.models.schema import FieldUI, ParamSpec

if TYPE_CHECKING:
    from studio.billing import Quote, RateLookup
    from studio.media import ClipInfo

#: Output height in pixels per resolution tier name (model_params.md §3, §4; "2k" = 1440
#: lines). The words every upscaler and the forecast's target resolution use.
RESOLUTION_HEIGHTS: dict[str, int] = {"720p": 720, "1080p": 1080, "2k": 1440, "4k": 2160}

#: Navigation section of each task (``ModelUnit.task``); another task gets its own name.
TASK_LABELS: dict[str, str] = {"hdr": "HDR (SDR → HDR)", "upscale": "Upscaling"}

#: Oxen request-level ``num_generations`` (oxen.md §3.1; docs say 1–4, spec 0.243.1 says 12 —
#: 4 is the safe client limit).
NUM_GENERATIONS_RANGE = (1, 4)


def even(x: float) -> int:
    """``x`` rounded to the nearest even whole number, at least 2 (encoders need even sizes)."""
    return max(2, int(round(x / 2)) * 2)


def fps_text(fps: float) -> str:
    """A frame rate as people write it: ``20``, ``23.976``, ``29.97`` (never ``20.000``)."""
    return f"{fps:.3f}".rstrip("0").rstrip(".")


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


@dataclass(frozen=True)
class ChartLine:
    """One line of a cost-vs-duration chart: its ``label`` (a resolution tier), the parameter
    ``overrides`` that put a generation on it, and an input size ``box`` (width, height in
    pixels) that replaces the clip's when the tier is picked by input size (``None`` = the
    clip's own size)."""

    label: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    box: tuple[int, int] | None = None


@dataclass(frozen=True)
class Coverage:
    """How much of a clip one generation's output covers, when a parameter (not the clip)
    sets the output length: ``output_s`` seconds of the ``clip_s`` s clip
    (``fraction`` = output_s / clip_s, at most 1). ``field`` is the parameter, ``value`` its
    value now, ``whole_clip_value`` the value that covers the whole clip (within the
    parameter's maximum), ``capped`` whether that maximum stops short of the clip, and
    ``frame_s`` the duration of one output frame (the tolerance of "whole")."""

    output_s: float
    clip_s: float
    field: str
    value: Any
    whole_clip_value: Any
    capped: bool
    frame_s: float = 0.0

    @property
    def fraction(self) -> float:
        return min(1.0, self.output_s / self.clip_s) if self.clip_s > 0 else 1.0

    @property
    def whole(self) -> bool:
        """True when the output covers the whole clip (to within one output frame)."""
        return self.output_s + self.frame_s >= self.clip_s - 1e-9 or \
            self.value == self.whole_clip_value


@dataclass(frozen=True)
class Suggestion:
    """A one-click change the page offers: set ``field`` to ``value``. ``label`` is the
    button text, ``reason`` the sentence beside it."""

    field: str
    value: Any
    label: str
    reason: str


@dataclass(frozen=True, kw_only=True, eq=False)
class ModelUnit:
    """One enhancement endpoint, defined in one place.

    Identity: ``id`` (the Oxen model id; the LTX route has none, so it is named after the
    route), ``display_name`` (the one name shown on screen), ``short_name`` (an alias
    accepted in plan CSVs, never shown), ``provider`` (``"oxen"`` or ``"ltx"``), ``route``
    (submit path), ``source_field`` (the request field with the clip URL: ``input_video`` on
    Oxen, ``video_uri`` on LTX), ``task`` (``"hdr"`` or ``"upscale"``), ``output_kind``
    (``"video"``, ``"hdr_video"``, ``"video+exr"`` or ``"exr"``).

    Request: ``schema`` is the JSON Schema of the request body (vendored, or a live
    ``request_schema`` via :meth:`with_schema`); ``ui`` adds the facts it lacks;
    ``params`` are derived from both. ``schema_origin`` says which (``"bundled"`` or
    ``"live"``).

    Wiring: ``page`` is the page file stem in ``pages/`` and the page's URL path
    (``page_file`` = the page file's own path, for a unit kept outside this package); ``icon`` a
    Material Symbol for the navigation; ``sandbox_processor`` names the sandbox's processor
    for this endpoint by key; ``order`` sorts the navigation.

    Price: ``bundled_rates`` are this endpoint's rate records (``model_id``, ``tier``,
    ``unit``, ``usd`` as a decimal string, ``provenance``, ``source_url``, ``as_of``,
    ``confidence``, ``derivation``), the quotes' fallback when no live price or team override
    exists (:func:`studio.ratebook.bundled_rates`).
    """

    id: str
    display_name: str
    short_name: str
    provider: str
    route: str
    source_field: str
    task: str
    output_kind: str
    description: str
    schema: Mapping[str, Any]
    ui: Mapping[str, FieldUI] = field(default_factory=dict)
    page: str
    page_file: str | None = None
    icon: str = ":material/movie:"
    sandbox_processor: str
    order: int = 100
    limits: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    typical_minutes: str = "5–15"
    schema_origin: str = "bundled"
    notes: tuple[str, ...] = ()
    bundled_rates: tuple[Mapping[str, str], ...] = ()
    #: What the duration axis of this endpoint's cost chart measures: ``"clip"`` (the
    #: input's length) or ``"output"`` (a parameter sets the output length).
    duration_axis: str = "clip"
    params: tuple[ParamSpec, ...] = field(init=False)

    def __post_init__(self) -> None:
        params = list(_schema.params_from_schema(self.schema, self.ui))
        if self.source_field not in {p.name for p in params}:
            params.insert(0, ParamSpec(self.source_field, "string", "Source clip (URL).",
                                       required=True, format="uri"))
        object.__setattr__(self, "params", tuple(params))

    # -- the request -------------------------------------------------------------------------
    def param(self, name: str) -> ParamSpec:
        """The parameter ``name``; raises ``KeyError`` when the schema has none."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def has_param(self, name: str) -> bool:
        return any(p.name == name for p in self.params)

    @property
    def form_params(self) -> tuple[ParamSpec, ...]:
        """Every parameter but the source clip field (the source picker provides that)."""
        return tuple(p for p in self.params if p.name != self.source_field)

    @property
    def supports_queue(self) -> bool:
        return self.provider == "oxen"

    @property
    def task_label(self) -> str:
        """The navigation section of this unit's task."""
        return TASK_LABELS.get(self.task, self.task.replace("_", " ").capitalize())

    def with_schema(self, schema: Mapping[str, Any], *, origin: str = "live") -> ModelUnit:
        """This unit with its parameters derived from ``schema`` (e.g. the live
        ``request_schema`` of ``GET /api/ai/models/{id}``); the UI facts still apply by
        field name. Raises ``ValueError`` when the schema has no properties."""
        _schema.params_from_schema(schema)  # raises before a half-built unit exists
        return dataclasses.replace(self, schema=dict(schema), schema_origin=origin)

    def validate(self, params: Mapping[str, Any], *, require_source: bool = True
                 ) -> list[Problem]:
        """Every problem with ``params`` at once (:func:`studio.models.schema.validate`):
        unknown fields, missing required ones, wrong types, values outside the schema's enum
        or bounds. ``require_source=False`` skips the source field (the form validates
        before the clip has a URL). Request-level Oxen fields are not problems."""
        skip = frozenset() if require_source else frozenset({self.source_field})
        return _schema.validate(self.params, params, model_name=self.display_name, skip=skip)

    def with_defaults(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` with every schema default filled in."""
        return _schema.with_defaults(self.params, params)

    def wire_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The model parameters to put on the wire (:func:`studio.models.schema.wire_params`)."""
        return _schema.wire_params(self.params, params)

    def request_schema(self) -> dict[str, Any]:
        """The parameters as the ``request_schema`` object Oxen serves (oxen.md §11.1)."""
        return _schema.schema_document(self.params, source_field=self.source_field)

    # -- what comes out ----------------------------------------------------------------------
    def output_geometry(self, *, width: int, height: int, fps: float, frame_count: int,
                        params: Mapping[str, Any]) -> Geometry:
        """Output geometry for an input of ``width`` × ``height`` pixels, ``fps`` frames/s
        and ``frame_count`` frames with ``params`` (defaults filled). Default: the input's."""
        return Geometry(width, height, fps, frame_count)

    def check_limits(self, clip: ClipInfo, params: Mapping[str, Any]) -> list[Problem]:
        """Every way ``clip`` breaks the endpoint's documented input limits (``field=None``,
        ``code="limit"``); ``[]`` = the clip fits. Default: no documented limit."""
        return []

    def frame_cap(self, clip: ClipInfo) -> int | None:
        """The most input frames the endpoint takes for ``clip``'s size, ``None`` = no
        documented cap (the page offers to trim a clip over it)."""
        return None

    def coverage(self, clip: ClipInfo, params: Mapping[str, Any]) -> Coverage | None:
        """How much of ``clip`` the output covers when a parameter sets the output length;
        ``None`` when the output always follows the whole clip (the default)."""
        return None

    def suggestions(self, clip: ClipInfo, params: Mapping[str, Any]) -> list[Suggestion]:
        """One-click changes worth offering for ``clip`` with ``params`` (defaults filled),
        e.g. the listed frame rate nearest the source's. Default: none."""
        return []

    def request_notes(self, clip: ClipInfo, params: Mapping[str, Any]) -> list[str]:
        """Sentences about what valid ``params`` will do to ``clip`` that the page should
        say (the output frame rate, an output longer than the clip). Default: none."""
        return []

    # -- money -------------------------------------------------------------------------------
    def quote(self, clip: ClipInfo, params: Mapping[str, Any], *, rate: RateLookup) -> Quote:
        """The billing rule: one generation on ``clip`` with ``params`` (defaults filled,
        valid), rates from ``rate(tier)``. Every unit implements it."""
        raise NotImplementedError(f"{self.id} has no billing rule")

    def chart_lines(self) -> list[ChartLine]:
        """The lines of this endpoint's cost-vs-duration chart, one per resolution tier.
        Default: one per value of a ``resolution`` parameter, else a single line."""
        tiers = self.param("resolution").enum if self.has_param("resolution") else None
        if tiers:
            return [ChartLine(str(v), {"resolution": v}) for v in tiers]
        return [ChartLine("any")]

    # -- forecasts ---------------------------------------------------------------------------
    def params_to_cover(self, duration_s: float, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` for a generation that covers a ``duration_s`` s clip (within the
        parameters' bounds). Default: unchanged — the output follows the clip."""
        return dict(params)

    def max_output_s(self, params: Mapping[str, Any]) -> float | None:
        """The longest output one generation can have with ``params``, in seconds; ``None``
        when the clip sets it."""
        return None

    def chart_seconds(self, clip: ClipInfo, params: Mapping[str, Any]) -> float:
        """Where this generation sits on the chart's duration axis (seconds): the clip's
        duration, or the output's when ``duration_axis == "output"``."""
        return clip.duration_s

    def reachable_resolutions(self) -> tuple[str, ...]:
        """The resolution tiers (:data:`RESOLUTION_HEIGHTS` names) this endpoint can be asked
        to output; ``()`` when the output size follows the input."""
        return ()

    def params_for_target(self, params: Mapping[str, Any], target: str | None
                          ) -> dict[str, Any]:
        """``params`` asking for output at ``target`` resolution when the endpoint offers it
        (:meth:`reachable_resolutions`); unchanged otherwise."""
        return dict(params)


__all__ = ["NUM_GENERATIONS_RANGE", "RESOLUTION_HEIGHTS", "TASK_LABELS", "ChartLine", "Coverage", "FieldUI",
           "Geometry", "ModelUnit", "ParamSpec", "Suggestion", "even", "fps_text"]
