"""The sampler: a short segment of one clip sent through 2–6 variants (model × settings), each
quoted for the segment and extrapolated to the whole clip before anything is sent.

Pure planning on top of :meth:`studio.service.Studio.prepare`: the segment itself is cut by
:func:`studio.segment.cut_segment`, the batch is sent by :meth:`Studio.submit_plan` (budget
guard and confirmation on the batch total, rows stored before each paid POST, the segment
uploaded once per provider through the upload cache).

The extrapolated cost of a variant is not a ratio of seconds: it is that variant's own quote
for the full clip (same model, parameters and rate book), so it follows every billing rule —
LTX 2.3's output megapixels, LTX direct's input tier, Rhea's surcharge — exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from studio import models
from studio.media import ClipInfo

MIN_VARIANTS = 2  # issue 7 §3: "2–6 variants"
MAX_VARIANTS = 6
# Parameters that name what a variant *is*, shown first in its label when set.
_HEADLINE = ("resolution", "transfer_function", "output_encoder", "output_colorspace",
             "target_fps", "frames_per_second", "num_frames")


@dataclass(frozen=True)
class Variant:
    """One model × settings to try: ``model_id`` and its form ``params`` (defaults omitted
    are filled in when sent); ``origin`` says where it came from (``"preset <name>"``,
    ``"form"``, ``"added"``) for the table."""

    model_id: str
    params: dict[str, Any] = field(default_factory=dict)
    origin: str = "added"

    @property
    def label(self) -> str:
        """``"Topaz Starlight 2.5 · 1080p · 30 fps"``: the display name and key settings."""
        return variant_label(self.model_id, self.params)

    def same_as(self, other: Variant) -> bool:
        """True when both would send the same request (defaults filled in)."""
        return self.model_id == other.model_id and \
            models.get(self.model_id).with_defaults(self.params) == \
            models.get(other.model_id).with_defaults(other.params)

    def to_json(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "params": dict(self.params), "origin": self.origin}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Variant:
        return cls(str(data["model_id"]), dict(data.get("params") or {}),
                   str(data.get("origin") or "added"))


def key_params(model_id: str, params: Mapping[str, Any]) -> list[str]:
    """The settings that tell variants of one model apart, as short phrases in the model's
    own words: every form parameter that differs from its default plus the headline ones
    (resolution, output format, frame rate…), e.g. ``["1080p", "30 fps"]``. Prompts are
    left out (too long for a label)."""
    spec = models.get(model_id)
    full = models.get(model_id).with_defaults(params)
    names = [p.name for p in spec.form_params]
    ordered = [n for n in _HEADLINE if n in names] + [n for n in names if n not in _HEADLINE]
    out = []
    for name in ordered:
        p = spec.param(name)
        value = full.get(name)
        if value is None or name in ("prompt", "negative_prompt", "seed"):
            continue
        if (name not in _HEADLINE or isinstance(value, bool)) and value == p.default:
            continue
        out.append(_phrase(name, value))
    return out


def _phrase(name: str, value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if name in ("target_fps", "frames_per_second"):
        return f"{value} fps"
    if name == "num_frames":
        return f"{value} frames"
    if isinstance(value, bool):
        return name.replace("_", " ") + (" on" if value else " off")
    if name == "transfer_function":
        return str(value).upper()
    if name in ("resolution", "output_encoder"):
        return str(value)
    return f"{name.replace('_', ' ')} {value}"


def variant_label(model_id: str, params: Mapping[str, Any]) -> str:
    """The model's display name followed by :func:`key_params`, joined by `` · ``."""
    return " · ".join([models.get(model_id).display_name, *key_params(model_id, params)])


def check_variants(variants: Sequence[Variant]) -> list[str]:
    """Problems with a list of variants as a whole (count 2–6, no two identical), as
    sentences; empty when it can be sent."""
    problems = []
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        problems.append(f"A sampler runs {MIN_VARIANTS}–{MAX_VARIANTS} variants "
                        f"(there are {len(variants)}).")
    for i, a in enumerate(variants):
        for j in range(i + 1, len(variants)):
            if a.same_as(variants[j]):
                problems.append(f"Variants {i + 1} and {j + 1} are the same request.")
    return problems


def segment_clip(full: ClipInfo, frame_count: int) -> ClipInfo:
    """The header facts of a segment of ``frame_count`` frames of ``full`` (same picture
    and rate) — what the segment's quote is computed from before it is cut."""
    from dataclasses import replace

    return replace(full, frame_count=frame_count, duration_s=frame_count / full.fps,
                   size_bytes=None)


def total_usd(amounts: Sequence[Decimal | None]) -> Decimal:
    """The sum of the known amounts in USD (a batch total)."""
    return sum((a for a in amounts if a is not None), Decimal(0))


__all__ = ["MAX_VARIANTS", "MIN_VARIANTS", "Variant", "check_variants", "key_params",
           "segment_clip", "total_usd", "variant_label"]
