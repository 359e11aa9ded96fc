"""A throw-away sixth model unit, written into a temporary folder by tests.

"Acme Deflicker" is not a real endpoint: it exists to prove that a model is one unit — its
module, its vendored schema, its page file — and that the rest of the app (pages, quotes,
charts, forecasts) picks it up without a line changed elsewhere (README "Adding a model").
Its page file is a byte-for-byte copy of an existing model page file.

The third place is its sandbox side: a model file (``sandbox/acme-deflicker-video.json``,
format in :mod:`sandbox.model_files`) with the sandbox's own copy of the vendor's schema, the
provider's price list and the processor that runs it, served by
``python -m sandbox --model-file PATH``. It is written from "Acme's pricing page", not from
the unit: Acme lists "best" at $0.032 per output second where the unit's proxy rate says
$0.03, so a generation's charge differs from its quote as it would against a real provider.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL_ID = "acme-deflicker-video"
PAGE = "acme_deflicker"

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["input_video"],
    "properties": {
        "input_video": {"type": "string", "format": "uri", "description": "Video (URL)."},
        "quality": {"type": "string", "enum": ["fast", "best"], "default": "fast",
                    "description": "Speed or quality."},
        "strength": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5,
                     "description": "How strongly flicker is removed."},
    },
}

UNIT_SOURCE = '''"""Acme Deflicker (a test's throw-away unit): removes flicker, keeps the input's size."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.billing import Quote, RateLookup, per_unit, seconds
from studio.models import ChartLine, ModelUnit
from studio.models.schema import read_schema

HERE = Path(__file__).parent


@dataclass(frozen=True, kw_only=True, eq=False)
class Deflicker(ModelUnit):
    def quote(self, clip: Any, params: Mapping[str, Any], *, rate: RateLookup) -> Quote:
        units = seconds(clip.duration_s)
        tier = str(params["quality"])
        return per_unit(self.id, units, f"{units} s", tier, rate(tier))

    def chart_lines(self) -> list[ChartLine]:
        return [ChartLine(q, {"quality": q}) for q in self.param("quality").enum]


def _rate(tier: str, usd: str) -> dict[str, str]:
    return {"model_id": "acme-deflicker-video", "tier": tier, "unit": "output_second",
            "usd": usd, "provenance": "proxy", "source_url": "https://example.com/acme-pricing",
            "as_of": "2026-11-30", "confidence": "A test fixture's made-up price."}


UNIT = Deflicker(
    id="acme-deflicker-video",
    display_name="Acme Deflicker",
    short_name="Deflicker",
    provider="oxen",
    route="/api/ai/queue",
    source_field="input_video",
    task="restore",
    output_kind="video",
    description="Removes flicker; keeps the input's size and frame rate.",
    schema=read_schema(HERE / "acme-deflicker-video.json"),
    page="acme_deflicker",
    page_file=str(HERE / "pages" / "acme_deflicker.py"),
    sandbox_processor="upscale",
    order=60,
    bundled_rates=(_rate("fast", "0.01"), _rate("best", "0.03")),
)
'''


#: The provider's price list as the sandbox bills it (USD per output second, by ``quality``).
SANDBOX_PRICES = {"fast": "0.01", "best": "0.032"}
_ACME_PRICING = "https://example.com/acme-pricing"

#: The sandbox side: what ``python -m sandbox --model-file`` reads (sandbox/model_files.py).
SANDBOX_MODEL = {
    "id": MODEL_ID,
    "api": "oxen",
    "display_name": "Acme Deflicker",
    "description": "Removes flicker; keeps the input's size and frame rate.",
    "developer": "Acme Video",
    "source_field": "input_video",
    "request_schema": f"{MODEL_ID}.schema.json",
    # A re-encode at the input's size and rate: the upscale processor with the input rule.
    "processor": "upscale",
    "geometry": {"rule": "input"},
    "billing": {"unit": "output_second", "tier_param": "quality"},
    "prices": [
        {"tier": tier, "usd": usd, "source": _ACME_PRICING, "as_of": "2026-11-30",
         "derivation": f"Acme's list price for quality={tier} (a test fixture's)"}
        for tier, usd in SANDBOX_PRICES.items()
    ],
}


def sandbox_model_file(folder: Path) -> Path:
    """Where :func:`write_sixth_unit` puts the sandbox's model file in ``folder``."""
    return folder / "sandbox" / f"{MODEL_ID}.json"


def write_sixth_unit(folder: Path) -> Path:
    """Write the three places of "Adding a model" into ``folder``: the unit module with its
    schema, its page file, and its sandbox side (:func:`sandbox_model_file`, with the
    sandbox's own copy of the schema). Returns the unit module's path (for
    :func:`studio.models.load_unit_file`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MODEL_ID}.json").write_text(json.dumps(SCHEMA, indent=2))
    unit = folder / f"{PAGE}_unit.py"
    unit.write_text(UNIT_SOURCE)
    (folder / "pages").mkdir(exist_ok=True)
    shutil.copyfile(REPO / "pages" / "starlight.py", folder / "pages" / f"{PAGE}.py")
    sandbox_file = sandbox_model_file(folder)
    sandbox_file.parent.mkdir(exist_ok=True)
    (sandbox_file.parent / f"{MODEL_ID}.schema.json").write_text(json.dumps(SCHEMA, indent=2))
    sandbox_file.write_text(json.dumps(SANDBOX_MODEL, indent=2))
    return unit
