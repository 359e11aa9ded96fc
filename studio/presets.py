"""Named parameter presets per model, kept in ``<data_dir>/presets.json``.

Owns the file format and its rules:

- a preset is a name and the model's *form* parameters only (never the source clip, whose
  URL may be signed, and never anything from :class:`studio.config.Settings`, so no key can
  end up here); every value is checked with :func:`studio.catalog.validate` before it is
  stored and again when it is read, so a preset made for an older catalog is skipped, not
  sent;
- writes are atomic (a temporary file in the same folder, then ``os.replace``) and
  serialised by an advisory lock on ``presets.json.lock``, so two tabs or processes saving at
  once cannot leave half a file or lose each other's preset;
- an unreadable file is moved aside as ``presets.json.bad`` before the next save rather than
  overwritten, so nothing a person made is silently destroyed.

Format (version 1)::

    {"version": 1,
     "presets": {"<model id>": {"<name>": {"params": {...}, "saved_at": "<ISO 8601 UTC>"}}}}
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from studio import catalog
from studio.errors import ParamError

FILE_NAME = "presets.json"
VERSION = 1
MAX_NAME_LEN = 60

_lock = threading.Lock()


def presets_path(data_dir: Path) -> Path:
    """Where the presets of a data directory live."""
    return Path(data_dir) / FILE_NAME


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time: a thread lock plus, where available, ``fcntl.flock``."""
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # not POSIX: the thread lock is all we have
            yield
            return
        with open(path.with_name(path.name + ".lock"), "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _read(path: Path) -> dict[str, Any] | None:
    """The raw document, ``{}`` when there is no file, ``None`` when it is unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("presets", {}), dict):
        return None
    return doc


def _write(path: Path, doc: Mapping[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def clean_params(model_id: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``params`` reduced to the model's form parameters, plus every problem with them.

    Unset values (``None``, empty text) are dropped. A missing required field (an empty
    prompt) is not a problem for a preset: it only means the preset leaves it to be filled
    in. Raises ``ParamError`` for an unknown model id.
    """
    spec = catalog.get(model_id)
    allowed = {p.name for p in spec.form_params}
    kept = {k: v for k, v in params.items()
            if k in allowed and v is not None and not (isinstance(v, str) and not v.strip())}
    problems = [str(p) for p in spec.validate(kept, require_source=False)
                if p.code != "required"]
    problems += [f"{k}: not a form parameter of {spec.display_name}"
                 for k in params if k not in allowed]
    return kept, problems


def check_name(name: str) -> str:
    """The preset name stripped; raises ``ParamError`` when it is empty or too long."""
    name = (name or "").strip()
    if not name:
        raise ParamError(["name: give the preset a name"])
    if len(name) > MAX_NAME_LEN:
        raise ParamError([f"name: at most {MAX_NAME_LEN} characters (got {len(name)})"])
    return name


def load(path: Path, model_id: str) -> dict[str, dict[str, Any]]:
    """The valid presets of ``model_id`` as ``{name: params}``, sorted by name.

    Never raises for file trouble: a missing or unreadable file means no presets; a preset
    that no longer validates against the catalog is left out.
    """
    doc = _read(Path(path)) or {}
    entries = (doc.get("presets") or {}).get(model_id) or {}
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(entries, dict):
        return out
    for name in sorted(entries, key=str.casefold):
        entry = entries[name]
        raw = entry.get("params") if isinstance(entry, dict) else None
        if not isinstance(raw, dict):
            continue
        try:
            params, problems = clean_params(model_id, raw)
        except ParamError:
            continue
        if not problems:
            out[name] = params
    return out


def save(path: Path, model_id: str, name: str, params: Mapping[str, Any],
         *, now: datetime | None = None) -> dict[str, Any]:
    """Store ``params`` as preset ``name`` of ``model_id`` (replacing one of the same name);
    returns what was stored. Raises ``ParamError`` listing every problem (bad name, unknown
    model, invalid or non-form fields); nothing is written then."""
    path = Path(path)
    name = check_name(name)
    kept, problems = clean_params(model_id, params)
    if problems:
        raise ParamError(problems)
    with _locked(path):
        doc = _read(path)
        if doc is None:  # keep the unreadable file for a person to look at
            os.replace(path, path.with_name(path.name + ".bad"))
            doc = {}
        presets = doc.setdefault("presets", {})
        presets.setdefault(model_id, {})[name] = {
            "params": kept,
            "saved_at": (now or datetime.now(UTC)).isoformat(),
        }
        doc["version"] = VERSION
        _write(path, doc)
    return kept


def delete(path: Path, model_id: str, name: str) -> bool:
    """Remove preset ``name`` of ``model_id``; ``False`` when there was none."""
    path = Path(path)
    with _locked(path):
        doc = _read(path)
        if not doc:
            return False
        entries = (doc.get("presets") or {}).get(model_id)
        if not isinstance(entries, dict) or name not in entries:
            return False
        del entries[name]
        if not entries:
            del doc["presets"][model_id]
        _write(path, doc)
    return True
