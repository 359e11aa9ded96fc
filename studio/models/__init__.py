"""Model units: each enhancement endpoint defined in one place, and the registry of them.

One module per endpoint (``hyperion_hdr``, ``ltx_hdr``, ``ltx_direct``, ``rhea``,
``starlight``) holds its vendored request schema (``schemas/``), the UI facts the schema
lacks, its output geometry, billing rule, chart lines, limits and forecast hooks
(:class:`ModelUnit`). Everything else asks the unit: ``models.get(model_id)``,
``models.MODELS`` (id → unit, navigation order), ``models.by_page(stem)``.

See README "Adding a model".
"""

from studio.errors import Problem
from studio.models.base import (
    NUM_GENERATIONS_RANGE,
    RESOLUTION_HEIGHTS,
    ChartLine,
    Coverage,
    Geometry,
    ModelUnit,
    Suggestion,
    even,
    fps_text,
)
from studio.models.registry import REGISTRY, Registry, load_unit_file
from studio.models.schema import FieldUI, ParamSpec

#: Model id → unit, in navigation order; a live view of the registry.
MODELS = REGISTRY


def get(model_id: str) -> ModelUnit:
    """The unit for ``model_id``; raises ``ParamError`` naming the known ids when unknown."""
    return REGISTRY.unit(model_id)


def by_page(page: str) -> ModelUnit:
    """The unit whose page file is ``pages/<page>.py``; raises ``KeyError`` when none is."""
    return REGISTRY.by_page(page)


def tasks() -> list[tuple[str, str]]:
    """``(task, navigation section label)`` of every task some unit has, in navigation order."""
    out: dict[str, str] = {}
    for u in REGISTRY.values():
        out.setdefault(u.task, u.task_label)
    return list(out.items())


def units(task: str | None = None) -> list[ModelUnit]:
    """Every unit in navigation order, or only those of ``task`` (``"hdr"``, ``"upscale"``)."""
    return [u for u in REGISTRY.values() if task is None or u.task == task]


__all__ = ["MODELS", "NUM_GENERATIONS_RANGE", "REGISTRY", "RESOLUTION_HEIGHTS", "ChartLine",
           "Coverage", "FieldUI", "Geometry", "ModelUnit", "ParamSpec", "Problem", "Registry",
           "Suggestion", "by_page", "even", "fps_text", "get", "load_unit_file", "tasks", "units"]
