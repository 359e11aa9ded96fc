"""Endpoints described from outside the package: ``python -m sandbox --model-file PATH``.

Owns the model file: a small JSON document giving the sandbox-side facts of one more Oxen
endpoint, the way a provider adding a model would describe it — its id, its request schema
as the vendor publishes it, its price list with sources, which of the sandbox's processors
runs it and the rule for its output size and timing. The sandbox checks the client, so the
file is never the client's model unit: it is a second, independent description (README
"Adding a model", step 3). :func:`load` reads and checks a file, :func:`install` makes the
sandbox serve it (the model list, validation, processing, charges); the five built-in
endpoints of :mod:`sandbox.models` stay as they are and cannot be replaced.

The file (a JSON object; unknown keys are refused)::

    {
      "id": "acme-deflicker-video",            the Oxen model id
      "api": "oxen",                           served on the Oxen queue (and sync) routes
      "display_name": "Acme Deflicker",
      "description": "…", "developer": "Acme", optional
      "source_field": "input_video",           the request field with the clip (default)
      "request_schema": {…} or "x.json",       the vendor's JSON Schema, inline or a path
                                               relative to the model file
      "processor": "upscale",                  upscale | hyperion | ltx_oxen | ltx_direct
      "geometry": {"rule": "input"},           optional (default "input"), see below
      "billing": {"unit": "output_second", "tier_param": "quality"},
      "prices": [{"tier": "fast", "usd": "0.01", "source": "https://…",
                  "as_of": "2026-11-30", "derivation": "…"}, …]
    }

Billing: ``unit`` is ``output_second``, ``input_second`` or ``output_megapixel`` (rounded up);
``tier_param`` names the request parameter whose value picks the price row (it needs an
``enum`` and every value a row); without it the list has exactly one row. A charge is units ×
the row's ``usd`` (a decimal string), rounded half-up to $0.0001 (:func:`sandbox.prices.charge`,
``--price-skew`` applies). Every row says where its price comes from (``source``, an http(s)
URL, and ``as_of``, an ISO date).

Geometry rules (pixels, frames/s, frames; the parameters they name must be in the schema with
a default or required):

* ``{"rule": "input"}``: the input's size and frames at its rate (sizes rounded to even
  for the processors that write 4:2:x video; ``ltx_direct`` writes EXR frames at any size).
* ``{"rule": "short_side", "param": "resolution", "lines": {"1080p": 1080, …},
  "fps_param": "target_fps"}``: the Starlight/Rhea rule — the short side is the tier's lines,
  the aspect is kept (even sizes), the clip's duration is kept, re-timed to ``fps_param``
  (the input's rate when absent).
* ``{"rule": "preset", "param": "resolution", "sizes": {"auto": null, "square": [512, 512]},
  "max_short_side": 704, "frames_param": "num_frames", "fps_param": "frames_per_second"}``:
  the LTX 2.3 rule — a preset size (``null`` = the input's) scaled down so the short side is
  at most ``max_short_side``, ``frames_param`` frames at ``fps_param``.

Which processor takes which rule: ``upscale`` input or short_side (it resizes and re-times,
never crops); ``ltx_oxen`` any (it centre-crops to the output's aspect and re-times);
``hyperion`` and ``ltx_direct`` input only (they keep every source frame). The outputs and
the sound follow the processor (:data:`PROCESSOR_OUTPUTS`).

Every problem in a file is reported at once, as one sentence naming the file and each field
(:class:`ModelFileError`); ``python -m sandbox`` prints it and exits with code 2.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sandbox import models, prices, processing, validation

#: What each processor returns (artifact labels, in the order a client lists them) and what
#: it does with sound: ``keep`` the source's audio, ``generate_audio`` (a track unless the
#: request's ``generate_audio`` is false) or ``none``.
PROCESSOR_OUTPUTS: dict[str, tuple[tuple[str, ...], str]] = {
    "upscale": (("video",), "keep"),
    "hyperion": (("video",), "keep"),
    "ltx_oxen": (("video", "exr_frames"), "generate_audio"),
    "ltx_direct": (("exr_frames",), "none"),
}
#: The geometry rules each processor can make (see the module docstring).
PROCESSOR_RULES: dict[str, tuple[str, ...]] = {
    "upscale": ("input", "short_side"),
    "hyperion": ("input",),
    "ltx_oxen": ("input", "short_side", "preset"),
    "ltx_direct": ("input",),
}
#: Largest model file read, in bytes (a description, not a data set).
MAX_FILE_BYTES = 1024 * 1024
_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")
#: What to write instead, for fields whose library message alone does not say.
_HINTS: dict[str, str] = {
    "api": "model files add Oxen models (the queue and sync routes); the LTX API has a "
           "single route, which the sandbox already serves",
    "as_of": "an ISO date, e.g. 2026-11-30",
    "usd": "a decimal amount in USD, e.g. \"0.0374\"",
}


class ModelFileError(ValueError):
    """A model file that cannot be served: unreadable, not JSON, or breaking the format
    (every problem at once). ``str()`` is one sentence for a person; ``problems`` lists them."""

    def __init__(self, path: Path | str, problems: Sequence[str], *, message: str | None = None):
        self.path = str(path)
        self.problems = tuple(problems)
        super().__init__(message or f"The model file {self.path} cannot be used: "
                                    f"{'; '.join(self.problems)}.")


# -- the file's shape ------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceRow(_Strict):
    """One list price: ``usd`` per billing unit at ``tier``, from ``source`` as of ``as_of``."""

    tier: str = Field(min_length=1)
    usd: Decimal = Field(ge=0, allow_inf_nan=False)
    source: str
    as_of: date
    derivation: str = ""

    @field_validator("source")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be the http(s) URL of the page the price comes from")
        return value


class BillingSpec(_Strict):
    unit: Literal["output_second", "input_second", "output_megapixel"]
    tier_param: str | None = None


class InputRule(_Strict):
    rule: Literal["input"]

    def apply(self, *, width: int, height: int, fps: float, frame_count: int,
              params: Mapping[str, Any]) -> models.Geometry:
        return models.Geometry(width, height, fps, frame_count)

    def params_used(self) -> dict[str, str]:
        return {}


class ShortSideRule(_Strict):
    rule: Literal["short_side"]
    param: str
    lines: dict[str, Annotated[int, Field(gt=0)]] = Field(min_length=1)
    fps_param: str | None = None

    def apply(self, *, width: int, height: int, fps: float, frame_count: int,
              params: Mapping[str, Any]) -> models.Geometry:
        lines = self.lines[str(params[self.param])]
        scale = lines / min(width, height)
        out_w, out_h = ((models.even(width * scale), lines) if width >= height
                        else (lines, models.even(height * scale)))
        out_fps = float(params[self.fps_param]) if self.fps_param else fps
        duration = frame_count / fps if fps else 0.0
        return models.Geometry(out_w, out_h, out_fps, max(1, round(duration * out_fps)))

    def params_used(self) -> dict[str, str]:
        used = {"geometry.param": self.param}
        if self.fps_param:
            used["geometry.fps_param"] = self.fps_param
        return used


class PresetRule(_Strict):
    rule: Literal["preset"]
    param: str
    sizes: dict[str, tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]] | None] = \
        Field(min_length=1)
    max_short_side: Annotated[int, Field(gt=0)] | None = None
    frames_param: str
    fps_param: str

    def apply(self, *, width: int, height: int, fps: float, frame_count: int,
              params: Mapping[str, Any]) -> models.Geometry:
        size = self.sizes[str(params[self.param])]
        w, h = (width, height) if size is None else size
        scale = min(1.0, self.max_short_side / min(w, h)) if self.max_short_side else 1.0
        return models.Geometry(models.even(w * scale), models.even(h * scale),
                               float(params[self.fps_param]), int(params[self.frames_param]))

    def params_used(self) -> dict[str, str]:
        return {"geometry.param": self.param, "geometry.frames_param": self.frames_param,
                "geometry.fps_param": self.fps_param}


GeometrySpec = Annotated[InputRule | ShortSideRule | PresetRule, Field(discriminator="rule")]


class ModelFile(_Strict):
    """A model file as written (see the module docstring)."""

    id: str
    api: Literal["oxen"]
    display_name: str = Field(min_length=1)
    description: str = ""
    developer: str = ""
    source_field: str = "input_video"
    #: The schema object, or a path relative to the model file (checked by :func:`load`).
    request_schema: Any
    processor: Literal["upscale", "hyperion", "ltx_oxen", "ltx_direct"]
    geometry: GeometrySpec = InputRule(rule="input")
    billing: BillingSpec
    prices: list[PriceRow] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _model_id(cls, value: str) -> str:
        if not _MODEL_ID.fullmatch(value):
            raise ValueError("must be an Oxen model id: lower-case letters, digits, '.', '_' "
                             "and '-', at most 128 (e.g. 'acme-deflicker-video')")
        return value


# -- loading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtraModel:
    """A checked model file, ready for :func:`install`: the ``spec`` as written, the file's
    ``path``, its request ``schema`` (resolved when the file names one), and the sandbox
    records built from them."""

    path: Path
    spec: ModelFile
    schema: dict[str, Any]
    model: models.Model
    billing: prices.Billing

    @property
    def id(self) -> str:
        return self.spec.id

    def geometry(self, *, width: int, height: int, fps: float, frame_count: int,
                 params: Mapping[str, Any]) -> models.Geometry:
        """The output geometry of an input of ``width`` × ``height`` pixels, ``frame_count``
        frames at ``fps`` frames/s with ``params`` (defaults filled), by the file's rule."""
        g = self.spec.geometry.apply(width=width, height=height, fps=fps,
                                     frame_count=frame_count, params=params)
        if self.spec.processor == "ltx_direct":  # EXR frames take any size
            return g
        return models.Geometry(models.even(g.width), models.even(g.height), g.fps,
                               g.frame_count)


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("input", "short_side", "preset") or not out.endswith("geometry"):
            out += f".{part}" if out else str(part)
    return out or "the file"


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _pydantic_problems(error: ValidationError) -> list[str]:
    found = []
    for e in error.errors(include_url=False):
        message = e["msg"].removeprefix("Value error, ")
        where = _where(e["loc"])
        if e["type"] not in ("missing", "extra_forbidden") and "input" in e and \
                not isinstance(e["input"], dict | list):
            message += f" (got {_shown(e['input'])})"
        hint = _HINTS.get(str(e["loc"][-1])) if e["loc"] else None
        found.append(f"{where}: {message}" + (f" — {hint}" if hint else ""))
    return found


def _read_json(path: Path, what: str) -> tuple[Any, str | None]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, f"{what} is {size:,} bytes; at most {MAX_FILE_BYTES:,} are read"
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, f"{what} cannot be read ({reason})"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"{what} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"


def load(path: str | Path) -> ExtraModel:
    """Read and check the model file at ``path``. Raises :class:`ModelFileError` naming every
    problem: an unreadable file, bad JSON, a missing or unknown key, a wrong type, an invalid
    request schema, a price list that does not cover the tier parameter, a geometry rule the
    processor cannot make or that names a parameter the schema lacks, or an id the sandbox
    already serves as a built-in."""
    path = Path(path)
    raw, problem = _read_json(path, "the file")
    if problem:
        raise ModelFileError(path, [problem])
    if not isinstance(raw, dict):
        raise ModelFileError(path, ["it must be a JSON object (see python -m sandbox --help)"])
    try:
        spec = ModelFile.model_validate(raw)
    except ValidationError as exc:
        raise ModelFileError(path, _pydantic_problems(exc)) from None
    schema, schema_label, problems = _schema_of(spec, path)
    if schema is not None:
        problems += _consistency_problems(spec, schema)
    if spec.id in models.BUILT_IN:
        problems.append(f"id: the sandbox already serves '{spec.id}' as a built-in model; a "
                        "model file can add a model, not replace one")
    if problems:
        raise ModelFileError(path, problems)
    assert schema is not None
    outputs, audio = PROCESSOR_OUTPUTS[spec.processor]
    model = models.Model(spec.id, spec.api, spec.display_name, spec.description,
                         spec.developer, schema_label, spec.source_field, outputs, audio)
    rows = tuple(
        prices.Price(spec.id, row.tier, spec.billing.unit, row.usd, row.source,
                     row.as_of.isoformat(), row.derivation or f"from {path.name}")
        for row in spec.prices
    )
    billing = prices.Billing(spec.billing.unit, spec.billing.tier_param, rows)
    return ExtraModel(path, spec, schema, model, billing)


def _schema_of(spec: ModelFile, path: Path) -> tuple[dict[str, Any] | None, str, list[str]]:
    """(the request schema, where it came from, problems)."""
    if isinstance(spec.request_schema, str) and spec.request_schema:
        schema_path = path.parent / spec.request_schema
        raw, problem = _read_json(schema_path, f"request_schema {spec.request_schema!r}")
        if problem:
            return None, "", [problem]
        label = str(schema_path)
    else:
        raw, label = spec.request_schema, f"{path} (inline)"
    if not isinstance(raw, dict):
        return None, "", ["request_schema: must be a JSON Schema object, or the path of a JSON "
                          "file holding one (relative to the model file)"]
    try:
        jsonschema.Draft202012Validator.check_schema(raw)
    except jsonschema.SchemaError as exc:
        at = "".join(f"[{p!r}]" for p in exc.path)
        return None, "", [f"request_schema{at}: not a valid JSON Schema ({exc.message})"]
    props = raw.get("properties")
    if raw.get("type", "object") != "object" or not isinstance(props, dict) or not props:
        return None, "", ["request_schema: must describe an object with properties (the "
                          "request's fields)"]
    return raw, label, []


def _consistency_problems(spec: ModelFile, schema: Mapping[str, Any]) -> list[str]:
    props: Mapping[str, Any] = schema["properties"]
    required = set(schema.get("required", ()))
    problems: list[str] = []

    def enum_of(name: str) -> list[str] | None:
        values = props[name].get("enum") if isinstance(props.get(name), dict) else None
        return [str(v) for v in values] if isinstance(values, list) else None

    def check_param(where: str, name: str) -> bool:
        if name not in props:
            problems.append(f"{where}: the request schema has no parameter '{name}' (it has "
                            f"{', '.join(props)})")
            return False
        if name not in required and "default" not in props[name]:
            problems.append(f"{where}: '{name}' needs a default in the request schema, or must "
                            "be required, so every request has a value")
            return False
        return True

    if spec.source_field not in props:
        problems.append(f"source_field: the request schema has no field '{spec.source_field}' "
                        "for the clip")

    tiers = [row.tier for row in spec.prices]
    for i, tier in enumerate(tiers):
        if tier in tiers[:i]:
            problems.append(f"prices[{i}].tier: '{tier}' has two prices")
    tier_param = spec.billing.tier_param
    if tier_param is None:
        if len(tiers) > 1:
            problems.append("billing.tier_param: with several prices, name the request "
                            "parameter whose value picks one")
    elif check_param("billing.tier_param", tier_param):
        values = enum_of(tier_param)
        if values is None:
            problems.append(f"billing.tier_param: '{tier_param}' has no enum in the request "
                            "schema, so its values cannot each have a price")
        else:
            problems += [f"prices: no price for {tier_param} '{v}'" for v in values
                         if v not in tiers]
            problems += [f"prices[{i}].tier: '{t}' is not a value of {tier_param} "
                         f"({', '.join(values)})" for i, t in enumerate(tiers) if t not in values]

    rule = spec.geometry
    allowed = PROCESSOR_RULES[spec.processor]
    if rule.rule not in allowed:
        problems.append(f"geometry.rule: the {spec.processor} processor makes "
                        f"{' or '.join(repr(r) for r in allowed)} geometry, not '{rule.rule}'")
    for where, name in rule.params_used().items():
        if check_param(where, name) and where == "geometry.param":
            values = enum_of(name)
            table = rule.lines if isinstance(rule, ShortSideRule) else \
                rule.sizes if isinstance(rule, PresetRule) else {}
            key = "lines" if isinstance(rule, ShortSideRule) else "sizes"
            if values is None:
                problems.append(f"geometry.param: '{name}' has no enum in the request schema, "
                                f"so geometry.{key} cannot cover its values")
            else:
                problems += [f"geometry.{key}: no entry for {name} '{v}'" for v in values
                             if v not in table]
    return problems


# -- serving -------------------------------------------------------------------------------


def install(extra: ExtraModel) -> None:
    """Serve ``extra``: listed by ``GET /api/ai/models``, validated against its schema,
    processed by its processor and charged from its prices. Raises :class:`ModelFileError`
    when its id is already served (a built-in or another file's)."""
    try:
        models.register(extra.model, extra.schema, extra.geometry)
    except ValueError as exc:
        raise ModelFileError(extra.path, [f"id: {exc}"]) from None
    prices.register(extra.id, extra.billing)
    processing.assign(extra.id, extra.spec.processor)
    validation.clear_cache()


def uninstall(model_id: str) -> None:
    """Stop serving a model :func:`install` added (built-ins are never removed)."""
    if model_id in models.BUILT_IN:
        return
    models.unregister(model_id)
    prices.unregister(model_id)
    processing.assign(model_id, None)
    validation.clear_cache()


def install_files(paths: Sequence[str | Path]) -> list[ExtraModel]:
    """Load every file in ``paths`` and serve them all, or none: every file's problems are
    collected first and raised as one :class:`ModelFileError` (per file), before anything is
    installed. Returns what was installed, in order."""
    loaded: list[ExtraModel] = []
    errors: list[ModelFileError] = []
    for p in paths:
        try:
            loaded.append(load(p))
        except ModelFileError as exc:
            errors.append(exc)
    seen: dict[str, Path] = {}
    for extra in loaded:
        if extra.id in seen:
            errors.append(ModelFileError(extra.path, [
                f"id: '{extra.id}' is already added by {seen[extra.id]}"]))
        seen.setdefault(extra.id, extra.path)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise ModelFileError(", ".join(e.path for e in errors),
                             [p for e in errors for p in e.problems],
                             message=" ".join(str(e) for e in errors))
    done: list[ExtraModel] = []
    try:
        for extra in loaded:
            install(extra)
            done.append(extra)
    except BaseException:
        for extra in done:
            uninstall(extra.id)
        raise
    return done


__all__ = ["PROCESSOR_OUTPUTS", "PROCESSOR_RULES", "ExtraModel", "ModelFile", "ModelFileError",
           "install", "install_files", "load", "uninstall"]
