"""The registry: every model unit, found once, in navigation order.

A unit is a module of this package (``studio/models/<page>.py``) that exposes ``UNIT``, a
:class:`~studio.models.base.ModelUnit`; the registry imports each module of the package on
first use and keeps the units it finds. Adding a model is adding such a module (plus its page
file and its sandbox processor) — no list to edit. :func:`load_unit_file` registers a unit
from a file outside the package (a private model, or a test's throw-away one).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from studio.errors import ParamError, Problem
from studio.models.base import ModelUnit


class Registry(Mapping[str, ModelUnit]):
    """Model id → :class:`ModelUnit`, iterated in navigation order (``order``, then display
    name). Read-only as a mapping; :meth:`register` / :meth:`unregister` change it."""

    def __init__(self, package: str) -> None:
        self._package = package
        self._units: dict[str, ModelUnit] | None = None
        self._lock = threading.RLock()

    def _discover(self) -> dict[str, ModelUnit]:
        pkg = importlib.import_module(self._package)
        found: dict[str, ModelUnit] = {}
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("_") or info.ispkg:
                continue
            module = importlib.import_module(f"{self._package}.{info.name}")
            unit = getattr(module, "UNIT", None)
            if isinstance(unit, ModelUnit):
                self._check_new(found, unit)
                found[unit.id] = unit
        return self._sorted(found)

    @staticmethod
    def _sorted(units: Mapping[str, ModelUnit]) -> dict[str, ModelUnit]:
        return dict(sorted(units.items(), key=lambda kv: (kv[1].order, kv[1].display_name)))

    @staticmethod
    def _check_new(units: Mapping[str, ModelUnit], unit: ModelUnit) -> None:
        if unit.id in units:
            raise ValueError(f"two model units share the id {unit.id!r}")
        for other in units.values():
            if other.page == unit.page:
                raise ValueError(f"{unit.id} and {other.id} both use the page {unit.page!r}")
            if other.display_name == unit.display_name:
                raise ValueError(f"{unit.id} and {other.id} share the name {unit.display_name!r}")

    @property
    def _all(self) -> dict[str, ModelUnit]:
        units = self._units
        if units is None:
            with self._lock:
                if self._units is None:
                    self._units = self._discover()
                units = self._units
        return units

    def __getitem__(self, model_id: str) -> ModelUnit:
        return self._all[model_id]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._all))

    def __len__(self) -> int:
        return len(self._all)

    def unit(self, model_id: str) -> ModelUnit:
        """The unit for ``model_id``; raises ``ParamError`` naming the known ids when unknown."""
        try:
            return self._all[model_id]
        except (KeyError, TypeError):
            raise ParamError([Problem("model", "unknown_model",
                                      f"unknown model '{model_id}' (known: "
                                      f"{', '.join(self._all)})")]) from None

    def by_page(self, page: str) -> ModelUnit:
        """The unit whose page file stem (and URL path) is ``page``; ``KeyError`` if none."""
        for unit in self._all.values():
            if unit.page == page:
                return unit
        raise KeyError(page)

    def register(self, unit: ModelUnit) -> ModelUnit:
        """Add ``unit``; raises ``ValueError`` when its id, page or display name is taken."""
        with self._lock:
            units = dict(self._all)
            self._check_new(units, unit)
            units[unit.id] = unit
            self._units = self._sorted(units)
        return unit

    def unregister(self, model_id: str) -> None:
        """Remove the unit ``model_id`` (no error when absent)."""
        with self._lock:
            units = dict(self._all)
            units.pop(model_id, None)
            self._units = self._sorted(units)


REGISTRY = Registry("studio.models")


def load_unit_file(path: str | Path) -> ModelUnit:
    """Import the unit module at ``path`` (a ``.py`` file exposing ``UNIT``) and register
    it. Raises ``ValueError`` when the file has no ``UNIT`` or its id, page or name is taken,
    and whatever importing the file raises."""
    path = Path(path).resolve()
    name = f"studio_model_unit_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look a class's module up while building it
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    unit = getattr(module, "UNIT", None)
    if not isinstance(unit, ModelUnit):
        raise ValueError(f"{path} defines no UNIT (a studio.models.ModelUnit)")
    return REGISTRY.register(unit)


__all__ = ["REGISTRY", "Registry", "load_unit_file"]
