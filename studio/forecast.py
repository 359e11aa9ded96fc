"""What-if plans: clips × models × settings priced before anyone spends.

Owns the plan row (:class:`PlanRow`), the plan CSV format, pricing a whole plan
(:func:`price_plan` → :class:`PricedPlan`), the same plan on every model that can do each
row's job (:func:`compare_models`) and the duration × resolution grid behind the heatmap
(:func:`heatmap_grid`). Every amount comes from :func:`studio.pricing.quote` itself — the
same rule, rates and provenance as a single quote — so the Forecast page, its exports and
``python -m studio forecast`` agree to the cent. Money is :class:`~decimal.Decimal` in USD.

Plan CSV (UTF-8, a header row, one clip × model per row; column order does not matter,
unknown columns are ignored, so an exported priced plan re-imports)::

    clip,duration_s,width,height,fps,model_id,params,generations,path
    cockatoo,14.0,1280,720,20.0,topazlabs-upscale-starlight-2-5-video,"{""resolution"": ""4k""}",1,

- ``clip``: a label (blank → the file name from ``path``, else ``row N``).
- ``duration_s``: clip length in seconds, more than 0 and at most 36000 (10 h).
  ``width``, ``height``: whole pixels from 16 to 8192. ``fps``: frame rate from 1 to 240
  frames/s. The clip has round(duration_s × fps) frames. (The plan editor's limits; every
  reader applies them, and :func:`price_plan` refuses rows built outside them.)
- ``model_id``: a catalog model id, or its short or display name (``Starlight upscale``,
  ``Topaz Rhea``), any case. Exports always write the id.
- ``params``: the model's request parameters as a JSON object (``{"resolution": "4k"}``);
  blank = the model's defaults. Defaults fill every omitted field
  (:meth:`~studio.models.ModelUnit.with_defaults`) and the result must pass
  :meth:`~studio.models.ModelUnit.validate`. Fields that are required but do not change the price
  (the source clip URL, LTX 2.3's ``prompt``) are not demanded.
- ``generations``: whole number from 1 to 4 (blank → 1); the row costs quote × generations.
- ``path``: optional local file or URL the row was probed from.

Required columns: ``duration_s, width, height, fps, model_id``. ``clip``, ``params``,
``generations`` and ``path`` may be left out. Problems are reported all at once as
``row N, column: what is wrong`` where N counts data rows from 1 (the header is not a row).
A sample plan is ``samples/plans/twenty_clips.csv``.

Reading and writing: :func:`read_plan_text` parses CSV text (uploads), :func:`read_plan_csv`
a file; :func:`plan_csv` writes the plan columns only (no pricing) and
:meth:`PricedPlan.to_csv` the plan plus its quotes. Readers raise only ``ParamError``.
Writers neutralise text cells a spreadsheet would run as a formula (a leading ``'``,
:mod:`studio.csvsafe`); the readers take it off again, so an export re-imports unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from studio import models, pricing
from studio.csvsafe import SafeWriter, restore_cell
from studio.errors import ParamError, StudioError, shown_value
from studio.media import ClipInfo

if TYPE_CHECKING:
    from studio.ratebook import RateBook
    from studio.store import JobStore

PLAN_COLUMNS: tuple[str, ...] = ("clip", "duration_s", "width", "height", "fps", "model_id",
                                 "params", "generations", "path")
REQUIRED_COLUMNS: tuple[str, ...] = ("duration_s", "width", "height", "fps", "model_id")
QUOTE_COLUMNS: tuple[str, ...] = ("quote_usd", "unit_usd", "tier", "units", "unit", "rate_usd",
                                  "provenance", "source_url", "as_of", "basis", "notes",
                                  "problem")
ZERO = Decimal("0.0000")
# The plan editor's limits (components/plan_editor.py), applied to every way a row comes in.
MAX_DURATION_S = 36000.0  # duration_s in (0, 10 h], seconds
SIZE_RANGE_PX = (16, 8192)  # width and height, whole pixels
FPS_RANGE = (1.0, 240.0)  # frames/s
GENERATIONS_RANGE = models.NUM_GENERATIONS_RANGE  # whole generations per row


# ================================ Plan rows ======================================================


@dataclass(frozen=True)
class PlanRow:
    """One clip on one model: what would it cost?

    Attributes:
        clip: a label for the clip.
        duration_s: clip length in seconds.
        width, height: picture size in pixels.
        fps: frame rate in frames/s.
        model_id: a :data:`studio.models.MODELS` id.
        params: the model's request parameters (the readers fill defaults with
            :meth:`~studio.models.ModelUnit.with_defaults`; pricing fills them again, so a hand-built
            row may give only what differs).
        generations: how many generations of this row (≥ 1); the row costs quote × this.
        path: the local file or URL the row was probed from, if any.
    """

    clip: str
    duration_s: float
    width: int
    height: int
    fps: float
    model_id: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    generations: int = 1
    path: str | None = None

    @property
    def frame_count(self) -> int:
        """round(duration_s × fps), at least 1."""
        return max(1, round(self.duration_s * self.fps))

    def clip_info(self) -> ClipInfo:
        """The :class:`~studio.media.ClipInfo` a quote needs (codec and pixel format unknown)."""
        return ClipInfo(duration_s=float(self.duration_s), width=int(self.width),
                        height=int(self.height), fps=float(self.fps),
                        frame_count=self.frame_count, codec="", pix_fmt="",
                        color_transfer=None)

    def to_record(self) -> dict[str, Any]:
        """The plan columns as a record (``params`` as JSON text); :func:`rows_from_records`
        reads it back."""
        return {"clip": self.clip, "duration_s": self.duration_s, "width": self.width,
                "height": self.height, "fps": self.fps, "model_id": self.model_id,
                "params": _params_json(self.params), "generations": self.generations,
                "path": self.path or ""}


def _model_aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for mid, spec in models.MODELS.items():
        for name in (mid, spec.short_name, spec.display_name):
            out.setdefault(name.strip().lower(), mid)
    return out


def resolve_model(name: str) -> str:
    """A model id from its id, short name or display name (any case).

    Raises ``ParamError`` naming the known ids when nothing matches.
    """
    mid = _model_aliases().get(str(name).strip().lower())
    if mid is None:
        raise ParamError([f"model_id: unknown model '{name}' (known: {', '.join(models.MODELS)})"])
    return mid


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    if isinstance(value, Decimal):
        return value.is_nan()  # pd.isna raises for a signalling NaN
    try:  # pandas NA / NaT from a DataFrame's records
        return bool(pd.isna(value)) if not isinstance(value, str | dict | list) else False
    except (TypeError, ValueError, ArithmeticError):
        return False


def _as_number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (not a number, NaN, ±inf, too large for a
    float). Never raises."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, Decimal) and value.is_nan():
            return None  # float(Decimal("sNaN")) raises
        out = float(value.strip()) if isinstance(value, str) else float(value)  # numpy too
    except (TypeError, ValueError, ArithmeticError):  # OverflowError: an int of 400 digits
        return None
    return out if math.isfinite(out) else None




def _number_problem(column: str, value: Any) -> str | None:
    """The limit ``value`` breaks as ``"column: …"``, or ``None`` when it is allowed:
    ``duration_s`` in (0, 36000] s, ``width``/``height`` whole pixels in [16, 8192], ``fps``
    in [1, 240] frames/s, ``generations`` a whole number in [1, 4] — the plan editor's
    limits. Never raises."""
    x = _as_number(value)
    got = shown_value(value)
    if column == "duration_s":
        if x is None:
            return f"duration_s: must be a number of seconds (got {got})"
        if not 0 < x <= MAX_DURATION_S:
            return (f"duration_s: must be more than 0 and at most {MAX_DURATION_S:g} seconds "
                    f"(got {_fmt_num(x)})")
        return None
    if column in ("width", "height"):
        lo, hi = SIZE_RANGE_PX
        if x is None or not x.is_integer():
            return f"{column}: must be a whole number of pixels (got {got})"
        if not lo <= x <= hi:
            return f"{column}: must be between {lo} and {hi} pixels (got {_fmt_num(x)})"
        return None
    if column == "fps":
        flo, fhi = FPS_RANGE
        if x is None:
            return f"fps: must be a number of frames/s (got {got})"
        if not flo <= x <= fhi:
            return f"fps: must be between {flo:g} and {fhi:g} frames/s (got {_fmt_num(x)})"
        return None
    if column == "generations":
        glo, ghi = GENERATIONS_RANGE
        if x is None or not x.is_integer() or not glo <= x <= ghi:
            return f"generations: must be a whole number from {glo} to {ghi} (got {got})"
        return None
    raise ValueError(f"no limits for column {column!r}")  # pragma: no cover - programming error


def _fmt_num(x: float) -> str:
    """``14`` or ``29.97``: a finite float without a trailing ``.0`` (plain ``repr`` for a
    value beyond a float)."""
    try:
        f = float(x)
    except (TypeError, ValueError, ArithmeticError):
        return shown_value(x)
    if not math.isfinite(f):
        return repr(f)
    return str(int(f)) if f.is_integer() and abs(f) < 1e16 else repr(f)


def _dec(d: Decimal | None) -> str | None:
    """A Decimal as plain digits (``30``, never ``3E+1``), or ``None``."""
    return None if d is None else format(d, "f")


def _params_json(params: Mapping[str, Any]) -> str:
    """``params`` as JSON text (keys sorted), ``""`` when empty; never raises."""
    if not params:
        return ""
    try:
        return json.dumps(dict(params), sort_keys=True)
    except (TypeError, ValueError):  # a hand-built row with keys or values JSON cannot hold
        return json.dumps({str(k): v for k, v in dict(params).items()}, sort_keys=True,
                          default=str)


def _priceable_problems(model_id: str, params: Mapping[str, Any]) -> list[str]:
    """:meth:`ModelUnit.validate <studio.models.ModelUnit.validate>` problems that matter for a price: required fields without a
    value (the source URL, LTX's prompt) change nothing in a quote, so they are not asked."""
    return [str(p) for p in models.get(model_id).validate(params, require_source=False)
            if p.code != "required"]


def _params_problems(model_id: str, params: Mapping[str, Any]) -> list[str]:
    """:func:`_priceable_problems`, with values the catalog cannot even compare (an integer of
    400 digits) turned into a sentence. Never raises."""
    try:
        return _priceable_problems(model_id, params)
    except ParamError as exc:
        return exc.problems
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        return ["a value is too large or not a number the model accepts; use the model's "
                "documented values"]


def _parse_record(n: int, rec: Mapping[str, Any]) -> tuple[PlanRow | None, list[str]]:
    """Record number ``n`` (1-based) → a row, or ``None`` and every problem with it."""
    problems: list[str] = []

    def bad(column: str, what: str) -> None:
        problems.append(f"row {n}, {column}: {what}")

    def number(column: str) -> float | None:
        raw = rec.get(column)
        if _blank(raw):
            bad(column, "is missing")
            return None
        problem = _number_problem(column, raw)
        if problem:
            problems.append(f"row {n}, {problem}")
            return None
        return _as_number(raw)

    duration = number("duration_s")
    width = number("width")
    height = number("height")
    fps = number("fps")

    gens = 1
    raw_gens = rec.get("generations")
    if not _blank(raw_gens):
        g = number("generations")
        gens = int(g) if g is not None else gens

    params: dict[str, Any] = {}
    raw_params = rec.get("params")
    if isinstance(raw_params, Mapping):
        params = dict(raw_params)
    elif not _blank(raw_params):
        try:
            loaded = json.loads(str(raw_params))
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, 5000-digit ints, nesting
            loaded = exc
        if isinstance(loaded, dict):
            params = loaded
        elif isinstance(loaded, Exception) and not isinstance(loaded, json.JSONDecodeError):
            bad("params", "has a number too long or nesting too deep to read; use the model's "
                          f"documented values (got {shown_value(str(raw_params))})")
        else:
            bad("params", 'must be a JSON object such as {"resolution": "4k"} '
                          f"(got {shown_value(str(raw_params))})")

    model_id: str | None = None
    raw_model = rec.get("model_id")
    if _blank(raw_model):
        bad("model_id", "is missing")
    else:
        try:
            model_id = resolve_model(str(raw_model))
        except ParamError:
            bad("model_id", f"unknown model '{raw_model}' (known: {', '.join(models.MODELS)})")
    if model_id is not None:
        params = models.get(model_id).with_defaults(params)
        for problem in _params_problems(model_id, params):
            bad("params", problem)

    path = None if _blank(rec.get("path")) else str(rec.get("path")).strip()
    raw_clip = rec.get("clip")
    if _blank(raw_clip):
        clip = path.replace("\\", "/").rsplit("/", 1)[-1] if path else f"row {n}"
    else:
        clip = str(raw_clip).strip()

    if problems or model_id is None or None in (duration, width, height, fps):
        return None, problems
    assert duration is not None and width is not None and height is not None and fps is not None
    return PlanRow(clip=clip, duration_s=duration, width=int(width), height=int(height), fps=fps,
                   model_id=model_id, params=params, generations=gens, path=path), []


def rows_from_records(records: Iterable[Mapping[str, Any]]) -> tuple[list[PlanRow], list[str]]:
    """Records (e.g. ``DataFrame.to_dict("records")`` from the plan editor) → rows and problems.

    Keys are the plan columns (see the module docstring); missing keys, ``None``, ``NaN`` and
    blank strings read as empty; ``params`` may be a dict or JSON text. A record with every
    plan column empty (the editor's fresh row) is skipped. The editor's limits apply:
    ``duration_s`` more than 0 and at most 36000 s, ``width``/``height`` whole pixels from 16
    to 8192, ``fps`` from 1 to 240 frames/s, ``generations`` a whole number from 1 to 4
    (:data:`studio.models.NUM_GENERATIONS_RANGE`). Returns ``(rows, problems)``: the rows
    that parse, and one sentence per problem, ``"row N, column: …"`` (N = position of the
    record, from 1), e.g. ``"row 2, fps: must be between 1 and 240 frames/s (got 1e+30)"``.
    Never raises, whatever the records hold (a non-mapping record is a ``"row N: …"``
    problem).
    """
    rows: list[PlanRow] = []
    problems: list[str] = []
    for n, rec in enumerate(records, 1):
        if not isinstance(rec, Mapping):
            problems.append(f"row {n}: must be a record of the plan columns "
                            f"({', '.join(PLAN_COLUMNS)}), not {type(rec).__name__}")
            continue
        if all(_blank(rec.get(c)) for c in PLAN_COLUMNS):
            continue
        row, row_problems = _parse_record(n, rec)
        problems += row_problems
        if row is not None:
            rows.append(row)
    return rows, problems


def read_plan_text(text: str) -> list[PlanRow]:
    """Parse plan CSV *text* (format in the module docstring) into rows; never a path.

    For uploads and saved plans read into memory: a leading UTF-8 BOM is dropped and line
    endings may be ``\\n``, ``\\r\\n`` or ``\\r`` alone. A header with no rows (with or
    without a final line break) is an empty plan (``[]``).

    Raises ``ParamError`` — and nothing else, whatever the text — listing every problem at
    once: an empty text (``"plan: the file is empty; …"``), text that is not CSV, missing
    columns, and per row (``"row 3, width: must be between 16 and 8192 pixels (got 0)"``)
    non-numbers, values outside the editor's limits (see :func:`rows_from_records`), unknown
    models and parameters that break the model's spec.
    """
    if not isinstance(text, str):
        raise ParamError([f"plan: expected CSV text, not {type(text).__name__}; use "
                          "read_plan_csv for a file"])
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ParamError(["plan: the file is empty; a plan needs a header row "
                          f"({', '.join(PLAN_COLUMNS)}) and one row per clip"])
    try:
        # newline="" lets the csv module split on \n, \r\n and a lone \r alike.
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise ParamError(["columns: the plan has no header row "
                              f"(needs {', '.join(PLAN_COLUMNS)})"])
        names = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            raise ParamError([f"columns: missing {', '.join(missing)} (a plan has "
                              f"{', '.join(PLAN_COLUMNS)}; found {', '.join(names)})"])
        # Cells our exports neutralised against spreadsheet formulas read back as written.
        records = [dict(zip(names, (restore_cell(c) for c in cells), strict=False))
                   for cells in reader if any(c.strip() for c in cells)]
    except csv.Error as exc:  # e.g. a field over the csv module's size limit (128 KiB)
        raise ParamError([f"plan: not a readable CSV file ({exc}); save it again as CSV "
                          "(UTF-8, comma-separated)"]) from None
    rows, problems = rows_from_records(records)
    if problems:
        raise ParamError(problems)
    return rows


def read_plan_csv(path: str | Path) -> list[PlanRow]:
    """Read the plan CSV file at ``path`` (a :class:`~pathlib.Path` or a path ``str``) into
    rows with :func:`read_plan_text` (UTF-8, BOM allowed).

    Raises ``ParamError`` listing every problem: no file at ``path``, an unreadable or
    non-UTF-8 file, and everything :func:`read_plan_text` reports.
    """
    if not isinstance(path, str | Path):
        raise ParamError([f"plan: expected a file path, not {type(path).__name__}"])
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ParamError([f"plan: no file at {file}; check the path"]) from None
    except UnicodeDecodeError:
        raise ParamError([f"plan: {file} is not UTF-8 text; save it as a UTF-8 CSV file"]
                         ) from None
    except (OSError, ValueError) as exc:  # a directory, no permission, a NUL in the path
        raise ParamError([f"plan: cannot read {file} ({exc})"]) from None
    return read_plan_text(text)


def plan_csv(rows: Sequence[PlanRow]) -> str:
    """The plan columns of ``rows`` as CSV text (``\\n`` line ends, header first, ``params``
    as JSON, blank ``path`` when none) — no pricing, so saving a plan never reprices it.

    :func:`read_plan_text` reads it back to equal rows (rows as the readers make them:
    defaults filled in). An empty plan is the header alone.
    """
    buf = io.StringIO()
    w = SafeWriter(buf, lineterminator="\n")
    w.writerow(PLAN_COLUMNS)
    for row in rows:
        w.writerow(_plan_cells(row))
    return buf.getvalue()


def save_plan(store: JobStore, owner: str, rows: Sequence[PlanRow],
              *, now: datetime | None = None) -> None:
    """Save ``rows`` as ``owner``'s plan (one per owner) in the store's database, where
    every app replica finds it; replaces the last one."""
    store.plans.put(owner, [r.to_record() for r in rows], now or datetime.now(UTC))


def load_plan(store: JobStore, owner: str) -> tuple[list[PlanRow], list[str]] | None:
    """``owner``'s saved plan as ``(rows, problems)`` (rows that no longer read are left out
    and named, as :func:`rows_from_records` does), or ``None`` when none was saved."""
    saved = store.plans.get(owner)
    if saved is None:
        return None
    return rows_from_records(saved[0])


def _plan_cells(row: PlanRow) -> list[Any]:
    """One plan row's cells in :data:`PLAN_COLUMNS` order."""
    return [row.clip, _fmt_num(row.duration_s), _fmt_num(row.width), _fmt_num(row.height),
            _fmt_num(row.fps), row.model_id, _params_json(row.params), row.generations,
            row.path or ""]


# ================================ Pricing ========================================================


def _quote_kwargs(book: RateBook | None, live_pricing: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keyword arguments for :func:`pricing.quote`: the rate book and live pricing."""
    return {"live_pricing": live_pricing, "book": book}


@dataclass(frozen=True)
class PricedRow:
    """A plan row with its quote, or the sentence that says why it has none.

    ``quote`` is one generation; ``amount_usd`` = quote × ``row.generations`` (USD, 4 dp).
    ``notes`` are the quote's notes plus coverage and limit warnings. ``index`` is the row's
    1-based position in the plan.
    """

    index: int
    row: PlanRow
    quote: pricing.Quote | None
    amount_usd: Decimal | None
    notes: tuple[str, ...] = ()
    problem: str | None = None

    @property
    def settings(self) -> str:
        """The parameters that differ from the model's defaults (resolution always), as
        ``"resolution=4k, target_fps=60"``; ``"defaults"`` when none."""
        return settings_label(self.row.model_id, self.row.params)


def settings_label(model_id: str, params: Mapping[str, Any]) -> str:
    """Short text for a row's settings: non-default parameters, ``resolution`` always."""
    try:
        defaults = models.get(model_id).with_defaults({})
    except StudioError:
        defaults = {}
    shown = [f"{k}={_fmt_value(v)}" for k, v in params.items()
             if k == "resolution" or defaults.get(k) != v]
    return ", ".join(shown) or "defaults"


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _freeze(params: Mapping[str, Any]) -> Any:
    try:
        return tuple(sorted(params.items()))
    except TypeError:
        return json.dumps(params, sort_keys=True, default=str)


def _coverage_note(model_id: str, clip: ClipInfo, params: Mapping[str, Any]) -> str | None:
    """When a parameter, not the clip, sets the output's length (LTX 2.3 on Oxen renders
    ``num_frames`` frames): say so when that output is shorter than the clip (the quote
    covers only the output)."""
    unit = models.get(model_id)
    try:
        cover = unit.coverage(clip, params)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None
    if cover is None or cover.whole:
        return None
    return (f"{unit.display_name} renders {cover.field}={cover.value} "
            f"({cover.output_s:.1f} s) of this {clip.duration_s:.1f} s clip; the quote covers "
            f"that output only (at most {unit.param(cover.field).maximum:g} per generation).")


def _row_problems(row: PlanRow) -> list[str]:
    """The editor's limits on a row's numbers (:func:`_number_problem`), for rows built
    directly rather than read; ``generations`` must also be an ``int``. Never raises."""
    problems = [problem for column, value in (
        ("duration_s", row.duration_s), ("width", row.width), ("height", row.height),
        ("fps", row.fps), ("generations", row.generations),
    ) if (problem := _number_problem(column, value))]
    if not isinstance(row.params, Mapping):
        problems.append(f"params: must be a mapping of the model's parameters such as "
                        f'{{"resolution": "4k"}} (got {shown_value(row.params)})')
    if not any(p.startswith("generations") for p in problems) and (
            not isinstance(row.generations, int) or isinstance(row.generations, bool)):
        lo, hi = GENERATIONS_RANGE
        problems.append(f"generations: must be a whole number from {lo} to {hi} "
                        f"(got {shown_value(row.generations)})")
    return problems


def _unpriceable(exc: BaseException) -> str:
    """The problem sentence of a row whose arithmetic failed (a rate or value too large for a
    4-decimal quote, a division by zero, a value of the wrong type)."""
    if isinstance(exc, StudioError):
        return str(exc)
    return ("this row cannot be priced: its numbers or the rate are out of range "
            f"({type(exc).__name__}); check duration_s, width, height, fps, generations and "
            "params")


_Priced = tuple[pricing.Quote | None, tuple[str, ...], str | None]


def _price_one(model_id: str, row: PlanRow, params: Mapping[str, Any],
               kwargs: Mapping[str, Any], cache: dict[Any, _Priced]) -> _Priced:
    """(quote of one generation, notes, problem) for ``row`` on ``model_id`` with ``params``;
    cached by everything that can change the price. Rows outside the editor's limits are not
    priced (nor cached)."""
    problems = _row_problems(row)
    if problems:
        return None, (), "; ".join(problems)
    key = (model_id, float(row.duration_s), int(row.width), int(row.height), float(row.fps),
           _freeze(params))
    hit = cache.get(key)
    if hit is not None:
        return hit
    out: _Priced
    try:
        full = models.get(model_id).with_defaults(params)
    except ParamError as exc:
        problems += exc.problems
        full = dict(params)
    else:
        problems += _params_problems(model_id, full)
    if problems:
        out = (None, (), "; ".join(problems))
    else:
        clip = row.clip_info()
        try:
            q = pricing.quote(model_id, clip, full, **kwargs)
        except ParamError as exc:
            out = (None, (), "; ".join(exc.problems))
        except KeyError as exc:
            out = (None, (), f"no sourced rate: {exc.args[0] if exc.args else exc}")
        except (StudioError, ValueError, ArithmeticError, TypeError) as exc:
            out = (None, (), _unpriceable(exc))
        else:
            notes = list(q.notes)
            cover = _coverage_note(model_id, clip, full)
            if cover:
                notes.append(cover)
            notes += [str(p) for p in models.get(model_id).check_limits(clip, full)]
            out = (q, tuple(notes), None)
    cache[key] = out
    return out


@dataclass(frozen=True)
class PricedPlan:
    """A priced plan: one :class:`PricedRow` per plan row, in plan order.

    ``notes`` are plan-wide (e.g. team overrides could not be applied). Amounts are USD
    :class:`~decimal.Decimal` at 4 decimal places.
    """

    rows: tuple[PricedRow, ...]
    notes: tuple[str, ...] = ()

    @property
    def total_usd(self) -> Decimal:
        """Sum of every priced row's quote × generations (USD); rows with a problem add 0."""
        return sum((r.amount_usd for r in self.rows if r.amount_usd is not None), ZERO)

    @property
    def problems(self) -> list[str]:
        """``"row N (clip): …"`` for every row that could not be priced."""
        return [f"row {r.index} ({r.row.clip}): {r.problem}" for r in self.rows if r.problem]

    def by_model(self) -> dict[str, Decimal]:
        """Model id → total USD of its priced rows, in order of first appearance."""
        out: dict[str, Decimal] = {}
        for r in self.rows:
            if r.amount_usd is not None:
                out[r.row.model_id] = out.get(r.row.model_id, ZERO) + r.amount_usd
        return out

    def _record(self, r: PricedRow) -> dict[str, Any]:
        q, row = r.quote, r.row
        spec = models.MODELS.get(row.model_id)
        return {
            "row": r.index, "clip": row.clip, "model_id": row.model_id,
            "model_name": spec.display_name if spec else row.model_id,
            "settings": r.settings, "duration_s": row.duration_s, "width": row.width,
            "height": row.height, "fps": row.fps, "generations": row.generations,
            "params": _params_json(row.params), "path": row.path or "",
            "quote_usd": r.amount_usd, "unit_usd": q.amount_usd if q else None,
            "tier": q.tier if q else None,
            "units": Decimal(format(q.units, "f")) if q else None,
            "unit": q.rate.unit if q else None, "rate_usd": q.rate.usd if q else None,
            "provenance": q.provenance if q else None,
            "source_url": q.rate.source_url if q else None,
            "as_of": q.rate.as_of if q else None, "basis": q.basis if q else None,
            "notes": " | ".join(r.notes), "problem": r.problem,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per plan row. Columns: ``row`` (1-based), the plan columns (``params`` as
        JSON text, so ``to_dict("records")`` feeds :func:`rows_from_records`), ``model_name``,
        ``settings``, then ``quote_usd`` (× generations) and ``unit_usd`` (one generation)
        and ``rate_usd`` (Decimal USD), ``tier``, ``units`` (Decimal, in ``unit``),
        ``provenance``, ``source_url``, ``as_of``, ``basis``, ``notes`` (joined by `` | ``),
        ``problem`` (``None`` when priced)."""
        columns = ["row", "clip", "model_id", "model_name", "settings", "duration_s", "width",
                   "height", "fps", "generations", "params", "path", *QUOTE_COLUMNS]
        data: dict[str, list[Any]] = {c: [] for c in columns}
        for r in self.rows:
            for k, v in self._record(r).items():
                data[k].append(v)
        return pd.DataFrame(data, columns=columns)

    def to_csv(self) -> str:
        """The plan columns first (so it re-imports with :func:`read_plan_text`), then the
        quote columns: ``quote_usd`` (quote × generations, USD 4 dp), ``unit_usd``, ``tier``,
        ``units``, ``unit``, ``rate_usd``, ``provenance``, ``source_url``, ``as_of``,
        ``basis``, ``notes``, ``problem``. Summing ``quote_usd`` gives :attr:`total_usd`."""
        buf = io.StringIO()
        w = SafeWriter(buf, lineterminator="\n")
        w.writerow([*PLAN_COLUMNS, *QUOTE_COLUMNS])
        for r in self.rows:
            rec = self._record(r)
            row = r.row
            w.writerow([
                *_plan_cells(row),
                *("" if rec[c] is None else _dec(rec[c]) if isinstance(rec[c], Decimal)
                  else str(rec[c]) for c in QUOTE_COLUMNS),
            ])
        return buf.getvalue()

    def to_json(self, *, comparison: pd.DataFrame | None = None) -> str:
        """The priced plan as JSON text: ``{"total_usd", "by_model", "rows", "notes"}``,
        amounts as decimal strings (USD). Each row has the plan fields, ``quote_usd``
        (× generations), ``quote`` (:meth:`pricing.Quote.to_json` of one generation, or
        ``null``), ``notes`` and ``problem``. ``comparison`` (a :func:`compare_models` frame)
        adds a ``"comparison"`` list."""
        rows = []
        for r in self.rows:
            row = r.row
            rows.append({
                "row": r.index, "clip": row.clip, "duration_s": row.duration_s,
                "width": row.width, "height": row.height, "fps": row.fps,
                "model_id": row.model_id, "params": dict(row.params),
                "generations": row.generations, "path": row.path,
                "settings": r.settings,
                "quote_usd": str(r.amount_usd) if r.amount_usd is not None else None,
                "quote": _quote_json(r.quote),
                "notes": list(r.notes), "problem": r.problem,
            })
        out: dict[str, Any] = {
            "total_usd": str(self.total_usd),
            "by_model": {k: str(v) for k, v in self.by_model().items()},
            "rows": rows,
            "notes": list(self.notes),
        }
        if comparison is not None:
            out["comparison"] = [
                {k: (_dec(v) if isinstance(v, Decimal) else _plain(v)) for k, v in rec.items()}
                for rec in comparison.to_dict("records")
            ]
        return json.dumps(out, indent=2, ensure_ascii=False, default=str)


def _quote_json(q: pricing.Quote | None) -> dict[str, Any] | None:
    if q is None:
        return None
    out = q.to_json()
    out["units"] = _dec(q.units)  # plain digits: Decimal("30").normalize() prints 3E+1
    return out


def _plain(v: Any) -> Any:
    """numpy scalars → Python (json cannot write ``numpy.bool_``)."""
    item = getattr(v, "item", None)
    return item() if callable(item) else v


def price_plan(
    rows: Sequence[PlanRow],
    *,
    book: RateBook | None = None,
    live_pricing: Mapping[str, Mapping[str, Any]] | None = None,
) -> PricedPlan:
    """Quote every row with :func:`studio.pricing.quote` (defaults filled, × generations).

    ``book`` is the team's rate book (``studio.ratebook.load_book``), passed to
    ``pricing.quote(book=…)`` when that accepts one; ``live_pricing`` maps a model id to its
    live Oxen ``pricing`` object (oxen.md §11.2). A row that cannot be priced — a number
    outside the editor's limits (see :func:`rows_from_records`; rows built directly are
    checked too, e.g. ``"width: must be between 16 and 8192 pixels (got 1e+30)"``), an
    unknown model, no sourced rate, or arithmetic that fails (a rate too large for a
    4-decimal quote) — gets a ``problem`` sentence instead of a quote and adds nothing to
    the total; the rest of the plan is still priced. Never raises for bad rows.
    Identical rows are quoted once per call.
    """
    kwargs_by_model: dict[str, dict[str, Any]] = {}
    cache: dict[Any, _Priced] = {}
    out: list[PricedRow] = []
    for i, row in enumerate(rows, 1):
        try:
            out.append(_price_row(i, row, book, live_pricing, kwargs_by_model, cache))
        except (ArithmeticError, ValueError, TypeError, AttributeError, StudioError) as exc:
            out.append(PricedRow(i, row, None, None, (), _unpriceable(exc)))
    return PricedPlan(tuple(out), ())


def _price_row(i: int, row: PlanRow, book: RateBook | None,
               live_pricing: Mapping[str, Mapping[str, Any]] | None,
               kwargs_by_model: dict[str, dict[str, Any]],
               cache: dict[Any, _Priced]) -> PricedRow:
    """Row ``i`` of :func:`price_plan`; may raise for a hand-built row (the caller turns that
    into the row's problem)."""
    mid = row.model_id
    if not isinstance(mid, str) or mid not in models.MODELS:
        try:
            mid = resolve_model(str(mid))
        except ParamError as exc:
            return PricedRow(i, row, None, None, (), exc.problems[0])
    kwargs = kwargs_by_model.get(mid)
    if kwargs is None:
        kwargs = _quote_kwargs(book, (live_pricing or {}).get(mid))
        kwargs_by_model[mid] = kwargs
    q, notes, problem = _price_one(mid, row, row.params, kwargs, cache)
    if q is None:
        return PricedRow(i, row, None, None, notes, problem)
    return PricedRow(i, row, q, q.amount_usd * row.generations, notes, None)


# ================================ Comparison and grids ===========================================


def resolution_tiers(model_id: str) -> tuple[str, ...]:
    """The output resolution tiers ``model_id`` can be asked for (``"720p"`` … ``"4k"``,
    smallest first; :meth:`studio.models.ModelUnit.reachable_resolutions`), or ``()`` when
    its output keeps the input's size."""
    return tuple(sorted(models.get(model_id).reachable_resolutions(),
                        key=models.RESOLUTION_HEIGHTS.__getitem__))


def tier_for_target(model_id: str, target: str) -> str | None:
    """The tier a model with resolution tiers is priced at for ``target``: the target itself
    when offered, else the smallest offered tier above it (Starlight has no 720p: 1080p),
    else ``None`` (it offers nothing that large)."""
    need = models.RESOLUTION_HEIGHTS[target]
    return next((t for t in resolution_tiers(model_id)
                 if models.RESOLUTION_HEIGHTS[t] >= need), None)


def _priced_tier(model_id: str, target: str | None) -> str | None:
    """The tier ``model_id`` is priced at in a comparison for ``target``
    (:func:`tier_for_target`, else its largest tier); ``None`` without a target or tiers."""
    tiers = resolution_tiers(model_id)
    if not tiers or target is None:
        return None
    return tier_for_target(model_id, target) or tiers[-1]


# The box a target resolution names (width × height, landscape), for outputs that keep the
# input's size: an output reaches the target when its long side reaches the box's long side
# or its short side the box's short side (1920×800 is a 1080p-class frame).
TARGET_BOXES = {"720p": (1280, 720), "1080p": (1920, 1080), "2k": (2560, 1440),
                "4k": (3840, 2160)}


def reaches(width: int, height: int, target: str) -> bool:
    """True when a ``width`` × ``height`` output (either orientation) is at least ``target``
    by :data:`TARGET_BOXES`."""
    long_side, short_side = TARGET_BOXES[target]
    return max(width, height) >= long_side or min(width, height) >= short_side


def _candidate_params(row: PlanRow, candidate: str, target: str | None) -> dict[str, Any]:
    """The row's job on ``candidate``: the row's settings that ``candidate`` also has and
    accepts, its defaults for the rest; a model with resolution tiers is priced at
    :func:`tier_for_target` (its largest tier when none reaches the target); LTX 2.3 (when
    the row is on another model) renders enough frames to cover the clip (capped at 481)."""
    spec = models.get(candidate)
    if candidate == row.model_id:
        params = dict(row.params)
    else:
        params = {}
        for p in spec.params:
            if p.name in row.params and p.name != spec.source_field:
                value = row.params[p.name]
                if not _priceable_problems(candidate, {p.name: value}):
                    params[p.name] = value
        params = spec.params_to_cover(row.duration_s, params)
    tier = _priced_tier(candidate, target)
    return spec.with_defaults(spec.params_for_target(params, tier or target))


def _priced_at(tiers_used: set[str], sizes: list[tuple[int, int]], same_as_input: bool,
               target: str | None) -> str:
    """What a comparison bar is priced at, in words: ``"1080p tier"``, ``"1080p tier (its
    lowest; it has no 720p)"``, ``"input resolution"`` (the output keeps each clip's size),
    ``"output 1252×704 … 1690×704"``."""
    if tiers_used:
        ordered = sorted(tiers_used, key=models.RESOLUTION_HEIGHTS.__getitem__)
        text = ", ".join(ordered) + (" tier" if len(ordered) == 1 else " tiers")
        if target is not None and len(ordered) == 1 and ordered[0] != target:
            above = models.RESOLUTION_HEIGHTS[ordered[0]] > models.RESOLUTION_HEIGHTS[target]
            text += (f" (its lowest; it has no {target})" if above
                     else f" (its highest; it has no {target})")
        return text
    if same_as_input:
        return "input resolution"
    return f"output {_size_range(sizes)}"


def compare_models(
    rows: Sequence[PlanRow],
    *,
    target_resolution: str | None,
    book: RateBook | None = None,
    live_pricing: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """The same plan priced on every model that can do each row's job.

    A row's job is its model's catalog task: ``"upscale"`` rows go to every upscaler,
    ``"hdr"`` rows to every HDR model. On each candidate a row keeps the settings the
    candidate also has; a model with resolution tiers (:func:`resolution_tiers`) is priced
    at :func:`tier_for_target` — the target, or its smallest tier above it — and LTX 2.3 on
    Oxen renders enough frames to cover the clip (capped at 481) when the row is on another
    model.

    *Meets the target*: every row of the task is priced and reaches the target — for a model
    with resolution tiers, the tier it is priced at is the target or above; for a model
    whose output size follows the input, the output reaches the target's box
    (:func:`reaches`). With ``target_resolution=None`` every fully priced model meets it.

    Returns one row per (task, candidate model), columns: ``task``, ``model_id``,
    ``model_name``, ``rows`` (plan rows of that task), ``total_usd`` (Decimal USD, quote ×
    generations summed), ``priced_at`` (what the total is priced at, in words:
    :func:`_priced_at`), ``output_resolution`` (``"3840×2160"``, or the smallest and largest
    output by short side ``"1280×720 … 3840×2160"``), ``min_short_side_px``,
    ``meets_target`` (bool), ``short_rows`` (rows below the target), ``limit_rows`` (rows
    the model cannot do whole: over its documented input limits,
    :meth:`~studio.models.ModelUnit.check_limits`, or — LTX 2.3 — output shorter than the clip),
    ``problems`` (rows not priced), ``provenance`` (the rate provenances behind
    ``total_usd``, sorted and joined; ``""`` when no row is priced) and
    ``cheapest_meeting_target`` (bool): per task, exactly one True — the cheapest model that
    meets the target with ``limit_rows == 0`` — when any does. Ties go to catalog order.
    ``attrs["target_resolution"]`` holds the target.

    Raises ``ParamError`` for an unknown target resolution.
    """
    if target_resolution is not None and target_resolution not in models.RESOLUTION_HEIGHTS:
        raise ParamError([f"target_resolution: must be one of "
                          f"{', '.join(models.RESOLUTION_HEIGHTS)} (got {target_resolution!r})"])
    by_task: dict[str, list[PlanRow]] = {}
    for row in rows:
        spec = models.MODELS.get(row.model_id)
        if spec is not None:
            by_task.setdefault(spec.task, []).append(row)
    records: list[dict[str, Any]] = []
    cache: dict[Any, _Priced] = {}
    for task, task_rows in by_task.items():
        first = len(records)
        for candidate, spec in models.MODELS.items():
            if spec.task != task:
                continue
            kwargs = _quote_kwargs(book, (live_pricing or {}).get(candidate))
            tiered = bool(resolution_tiers(candidate))
            total, problems, limit_rows, short_rows = ZERO, 0, 0, 0
            sizes: list[tuple[int, int]] = []
            tiers_used: set[str] = set()
            same_as_input = True
            provenances: set[str] = set()
            for row in task_rows:
                if _row_problems(row):
                    problems += 1
                    continue
                params = _candidate_params(row, candidate, target_resolution)
                q, _notes, problem = _price_one(candidate, row, params, kwargs, cache)
                if q is None:
                    problems += 1
                    continue
                total += q.amount_usd * row.generations
                provenances |= _provenances(q)
                clip = row.clip_info()
                geo = models.get(candidate).output_geometry(width=clip.width, height=clip.height,
                                              fps=clip.fps, frame_count=clip.frame_count,
                                              params=params)
                sizes.append((geo.width, geo.height))
                same_as_input &= (geo.width, geo.height) == (clip.width, clip.height)
                if tiered:
                    tier = _priced_tier(candidate, target_resolution) or str(
                        params.get("resolution"))
                    tiers_used.add(tier)
                    below = target_resolution is not None and (
                        models.RESOLUTION_HEIGHTS[tier]
                        < models.RESOLUTION_HEIGHTS[target_resolution])
                else:
                    below = target_resolution is not None and not reaches(
                        geo.width, geo.height, target_resolution)
                short_rows += below
                if models.get(candidate).check_limits(clip, params) or \
                        _coverage_note(candidate, clip, params):
                    limit_rows += 1
            short = min((min(s) for s in sizes), default=0)
            records.append({
                "task": task, "model_id": candidate, "model_name": spec.display_name,
                "rows": len(task_rows), "total_usd": total,
                "priced_at": _priced_at(tiers_used, sizes, same_as_input, target_resolution)
                if sizes else "not priced",
                "output_resolution": _size_range(sizes), "min_short_side_px": short,
                "meets_target": bool(sizes) and problems == 0 and short_rows == 0,
                "short_rows": short_rows, "limit_rows": limit_rows, "problems": problems,
                "provenance": ", ".join(sorted(provenances)),
                "cheapest_meeting_target": False,
            })
        group = records[first:]
        eligible = [r for r in group if r["meets_target"] and r["limit_rows"] == 0]
        if eligible:
            min(eligible, key=lambda r: r["total_usd"])["cheapest_meeting_target"] = True
    frame = pd.DataFrame(records, columns=[
        "task", "model_id", "model_name", "rows", "total_usd", "priced_at",
        "output_resolution", "min_short_side_px", "meets_target", "short_rows", "limit_rows",
        "problems", "provenance", "cheapest_meeting_target"])
    frame.attrs["target_resolution"] = target_resolution
    return frame


def _provenances(q: pricing.Quote) -> set[str]:
    """The provenances of the rates behind ``q``: its rate's and its surcharge factors'."""
    return {q.provenance, *(s.provenance for s in q.surcharges)}


def _size_range(sizes: list[tuple[int, int]]) -> str:
    if not sizes:
        return "—"
    lo = min(sizes, key=lambda s: (min(s), s))
    hi = max(sizes, key=lambda s: (min(s), s))
    if lo == hi:
        return f"{lo[0]}×{lo[1]}"
    return f"{lo[0]}×{lo[1]} … {hi[0]}×{hi[1]}"


def duration_row(model_id: str, params: Mapping[str, Any], duration_s: float, width: int,
                 height: int, fps: float) -> PlanRow:
    """A plan row for a chart point: ``model_id`` on a ``duration_s`` s, ``width`` × ``height``
    px, ``fps`` frames/s clip. For LTX 2.3 on Oxen ``num_frames`` follows the duration (the
    chart's x axis is then output duration), capped at 481 frames."""
    unit = models.get(model_id)
    p = unit.params_to_cover(duration_s, params)
    return PlanRow(clip=f"{duration_s:g} s", duration_s=duration_s, width=width, height=height,
                   fps=fps, model_id=model_id, params=models.get(model_id).with_defaults(p))


def heatmap_grid(
    model_id: str,
    params: Mapping[str, Any],
    durations_s: Sequence[float],
    resolutions: Sequence[tuple[int, int]],
    *,
    fps: float = 30.0,
    book: RateBook | None = None,
) -> pd.DataFrame:
    """Cost of one generation for each duration × input resolution.

    Returns a DataFrame indexed by ``duration_s`` (seconds, index name ``"duration_s"``) with
    one column per resolution labelled ``"W×H"`` (pixels); cells are USD ``Decimal`` quotes,
    or ``None`` where no quote exists. Clips are at ``fps`` frames/s. LTX 2.3 on Oxen renders
    enough frames to cover each duration (capped at 481, so long durations plateau).
    ``attrs`` holds ``model_id``, ``settings`` and ``provenance`` (sorted list of the rate
    provenances used, surcharge factors included).
    """
    rows = [duration_row(model_id, params, float(d), int(w), int(h), fps)
            for d in durations_s for (w, h) in resolutions]
    priced = price_plan(rows, book=book)
    labels = [f"{w}×{h}" for (w, h) in resolutions]
    values: dict[str, list[Decimal | None]] = {label: [] for label in labels}
    it = iter(priced.rows)
    for _d in durations_s:
        for label in labels:
            values[label].append(next(it).amount_usd)
    frame = pd.DataFrame(values, index=pd.Index([float(d) for d in durations_s],
                                                name="duration_s"), columns=labels)
    frame.attrs.update(model_id=model_id, settings=settings_label(model_id, params),
                       provenance=sorted(set().union(*(_provenances(r.quote)
                                                       for r in priced.rows if r.quote))))
    return frame


__all__ = [
    "PLAN_COLUMNS",
    "QUOTE_COLUMNS",
    "REQUIRED_COLUMNS",
    "PlanRow",
    "PricedPlan",
    "PricedRow",
    "compare_models",
    "duration_row",
    "heatmap_grid",
    "load_plan",
    "plan_csv",
    "price_plan",
    "read_plan_csv",
    "read_plan_text",
    "resolve_model",
    "rows_from_records",
    "save_plan",
    "settings_label",
]
